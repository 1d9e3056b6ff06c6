"""Structured values read from free text: money amounts, headcounts, the start date.

They are added beside the text, never instead of it, and each keeps the line
it was read from and the exact snippet, so a reader can check it. The rules
are deliberately plain regular expressions over French number formats
("2 300 €", "600,50 €", "1.350 €", "45,00€", "1400 euros"); their precision
and recall are measured against a hand-annotated gold file in the tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

# -- numbers -----------------------------------------------------------------------------------

# A French number: thousands grouped by space, no-break space, narrow no-break space or dot,
# decimals after a comma ("1.350" is one thousand three hundred and fifty, as in the exports).
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f.]\d{3})+(?:,\d{1,2})?|\d+(?:,\d{1,2})?"
_CURRENCY = r"(?:€|euros?\b|eur\b)"
_AMOUNT = re.compile(rf"(?<![\d,.])(?P<num>{_NUMBER})\s?{_CURRENCY}", re.IGNORECASE)
# "Aide aux séjours Caf : 3000": a budget line with a label and a bare number.
_BARE_AMOUNT = re.compile(rf"\s*(?P<num>{_NUMBER})\s*(?:{_CURRENCY})?\s*", re.IGNORECASE)
_LABEL = re.compile(r"[^\W\d]")
_UNIT_PRICE = re.compile(rf"(?<![\d,.])(?P<num>{_NUMBER})\s?[xX×]\s?\d+\b")
_TOTAL_WORD = re.compile(r"\btotal\b", re.IGNORECASE)
_RATE = re.compile(r"\bpar (?:session|s[ée]ance|personne|participant|famille|enfant|mois|an|ann[ée]e"
                   r"|semaine|jour|atelier|heure|h)\b|\bmaxi(?:mum)?\b|\bchacun|\bchaque\b", re.IGNORECASE)


def parse_number(text: str) -> Decimal:
    """``"2 300"`` → 2300, ``"600,50"`` → 600.50, ``"1.350"`` → 1350."""
    digits = re.sub(r"[ \u00a0\u202f.]", "", text).replace(",", ".")
    return Decimal(digits)


@dataclass(frozen=True)
class Amount:
    line: int  # offset of the value line in its field (0 = first value line)
    value: Decimal
    label: str  # the rest of the line, as a name for the item
    is_total: bool
    snippet: str
    unit_price: bool = False  # "150 X2": a price per unit, not part of a total


def amounts(text: str) -> list[Amount]:
    """Every amount in euros, line by line; a line may hold several ("200€TOTAL : 1550€")."""
    found: list[Amount] = []
    for offset, line in enumerate(text.split("\n")):
        matches = sorted([*_AMOUNT.finditer(line), *_UNIT_PRICE.finditer(line)],
                         key=lambda m: m.start())
        if not matches:
            label, colon, value = line.rpartition(":")
            number = _BARE_AMOUNT.fullmatch(value) if colon else None
            if number and _LABEL.search(label) and not any(c.isdigit() for c in label):
                found.append(Amount(offset, parse_number(number["num"]), label.strip(" -"),
                                    bool(_TOTAL_WORD.search(label)), line.strip()))
            continue
        for k, match in enumerate(matches):
            before = line[matches[k - 1].end() if k else 0:match.start()]
            after = line[match.end():matches[k + 1].start() if k + 1 < len(matches) else len(line)]
            is_total = bool(_TOTAL_WORD.search(before))
            label = (before if before.strip(" :-=") else after).strip(" :-=()")
            found.append(Amount(offset, parse_number(match["num"]), label, is_total,
                                match.group(0), match.re is _UNIT_PRICE))
    return found


def budget_total(found: list[Amount], text: str) -> tuple[Decimal, str] | None:
    """The action's total: the one the text states, else the sum of an itemised budget.

    Returns ``(value, "stated" | "sum")``. A single amount that reads as a rate
    ("150€ par session", "20 euros maxi") is not a total.
    """
    stated = [a for a in found if a.is_total]
    if stated:
        return stated[-1].value, "stated"
    found = [a for a in found if not a.unit_price]
    if not found:
        return None
    lines = text.split("\n")
    if len(found) == 1:
        line = lines[found[0].line]
        return None if _RATE.search(line) else (found[0].value, "sum")
    if any(_RATE.search(lines[a.line]) for a in found):
        return None
    return sum((a.value for a in found), Decimal(0)), "sum"


# -- headcounts --------------------------------------------------------------------------------

STAFF, VOLUNTEERS, PARTICIPANTS = "professionnels", "bénévoles", "participants"

_WORD_NUMBERS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
    "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "quinze": 15, "vingt": 20,
    "une dizaine": 10, "une quinzaine": 15, "une vingtaine": 20, "une trentaine": 30,
    "une quarantaine": 40, "une cinquantaine": 50, "une centaine": 100,
}
_KIND_WORDS = [
    (VOLUNTEERS, r"b[ée]n[ée]voles?"),
    (STAFF, r"professionn?e?l+(?:le)?s?|salari[ée]e?s?|travailleurs? sociaux|travailleurs? social"
            r"|secr[ée]taires?|agents?|formatri?ce?s?|formateurs?|animat(?:eur|rice)s?"
            r"|intervenante?s?|conseill[èe]re?s?|coordinat(?:eur|rice)s?|[ée]ducat(?:eur|rice)s?"
            r"|responsables?|AS|CESF|ECSF|ESF"),
    (PARTICIPANTS, r"habitante?s?|personnes?|participante?s?|adh[ée]rente?s?|parents|retrait[ée]e?s?"
                   r"|jeunes|enfants|b[ée]b[ée]s|s[ée]niors?"),
]
_KIND = "|".join(f"(?P<k{i}>{pattern})" for i, (_, pattern) in enumerate(_KIND_WORDS))
_COUNT_WORD = "|".join(sorted((re.escape(w) for w in _WORD_NUMBERS), key=len, reverse=True))
_HEADCOUNT = re.compile(
    rf"(?<![\w,.])(?P<approx>près de |environ |plus de )?"
    rf"(?P<min>\d+|{_COUNT_WORD})(?:\s*(?:à|-)\s*(?P<max>\d+))?(?: de)?"
    rf"\s*(?:[\w'’]+\s+)??(?:{_KIND})\b(?P<rest>\s+b[ée]n[ée]voles?\b)?",
    re.IGNORECASE)


@dataclass(frozen=True)
class Headcount:
    line: int
    kind: str
    minimum: int
    maximum: int
    snippet: str


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _WORD_NUMBERS[word.lower()]


def headcounts(text: str) -> list[Headcount]:
    """Numbers of people by kind: "6 professionnels", "8 à 15 habitants bénévoles"…"""
    found = []
    for offset, line in enumerate(text.split("\n")):
        for match in _HEADCOUNT.finditer(line):
            kind = next(k for i, (k, _) in enumerate(_KIND_WORDS) if match[f"k{i}"])
            if match["rest"]:  # "habitants bénévoles", "personnes bénévoles": volunteers
                kind = VOLUNTEERS
            low = _count(match["min"])
            high = int(match["max"]) if match["max"] else low
            if high < low:
                continue
            found.append(Headcount(offset, kind, low, high, match.group(0).strip()))
    return found


# -- start date --------------------------------------------------------------------------------

MONTHS = {"janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6,
          "juillet": 7, "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11,
          "décembre": 12, "decembre": 12}
_MONTH = "|".join(MONTHS)
_START = re.compile(
    rf"(?:d[ée]but(?:[ée]e?)?(?: de l'action)?|d[ée]marrage|d[ée]marr[ée]e?|commenc[ée]e?|lanc[ée]e?|depuis"
    rf"|entre|à partir de)\s*(?::|en|le|au mois de|de)?\s*"
    rf"(?:(?P<month>{_MONTH})(?:\s+(?:et|à)\s+(?:{_MONTH}))?\s+)?(?P<year>(?:19|20)\d\d)\b",
    re.IGNORECASE)


# Holidays named with a year: the month they begin in.
_HOLIDAYS = {"toussaint": 10, "noël": 12, "noel": 12, "hiver": 2, "février": 2, "printemps": 4,
             "pâques": 4, "paques": 4, "été": 7, "ete": 7}
_HOLIDAY = re.compile(rf"vacances (?:de la |de |d'|d’)(?P<name>{'|'.join(_HOLIDAYS)})"
                      r"\s+(?P<year>(?:19|20)\d\d)\b", re.IGNORECASE)
# "sur l'année 2018-2019", "saison 2018/2019": a school year, which begins in its first year.
_SCHOOL_YEAR = re.compile(r"(?:ann[ée]e|saison)(?: scolaire)? (?P<year>(?:19|20)\d\d)\s*[-/]\s*(?:19|20)\d\d",
                          re.IGNORECASE)
_FROM_MONTH = re.compile(rf"\bd'(?P<month>{_MONTH}) à (?:{_MONTH})\b", re.IGNORECASE)
# "Depuis de nombreuses années…": the action is older than any date the text gives.
_LONG_STANDING = re.compile(r"depuis (?:de nombreuses|plusieurs|des|quelques) ann[ée]es", re.IGNORECASE)


@dataclass(frozen=True)
class StartDate:
    line: int
    year: int
    month: int | None
    snippet: str
    key: str = ""  # the field it was read from (set by start_date_of)

    @property
    def iso(self) -> str:
        return f"{self.year:04d}-{self.month:02d}" if self.month else f"{self.year:04d}"


_YEAR = re.compile(r"(?:19|20)\d\d")


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index)


def start_date(text: str) -> StartDate | None:
    """The first "débuté en mars 2018", "Début de l'action : février 2019"… of a text."""
    if not _YEAR.search(text) or _LONG_STANDING.search(text):
        return None
    match = _START.search(text)
    if match is None:
        return None
    month = MONTHS[match["month"].lower()] if match["month"] else None
    return StartDate(_line_of(text, match.start()), int(match["year"]), month, match.group(0))


def start_date_of(texts: list[tuple[str, str]]) -> StartDate | None:
    """The start of an action from its text fields ``(key, text)``, in the order given.

    An explicit start ("a débuté en…") wins; else holidays with a year ("vacances de la
    Toussaint 2019" → October 2019); else a school year ("sur l'année 2018-2019"),
    with its month when another text says "d'octobre à juin".
    """
    dated = [(key, text) for key, text in texts if _YEAR.search(text)]
    if not dated:
        return None
    for key, text in dated:
        found = start_date(text)
        if found:
            return StartDate(found.line, found.year, found.month, found.snippet, key)
    if any(_LONG_STANDING.search(text) for _, text in dated):
        return None
    for pattern in (_HOLIDAY, _SCHOOL_YEAR):
        for key, text in dated:
            match = pattern.search(text)
            if not match:
                continue
            if pattern is _HOLIDAY:
                month = _HOLIDAYS[match["name"].lower()]
            else:
                months = (_FROM_MONTH.search(t) for _, t in texts)
                first = next((m for m in months if m), None)
                month = MONTHS[first["month"].lower()] if first else None
            return StartDate(_line_of(text, match.start()), int(match["year"]), month,
                             match.group(0), key)
    return None

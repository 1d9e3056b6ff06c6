"""A generated national export: structures in every department, placed or not by construction.

``../shared/tools/gen_senacs.py`` writes Haute-Garonne records only. This module takes its
records and gives each a structure of a department of France (overseas ones included),
named after a real commune of that department in the many forms exports use ("CENTRE
SOCIAL DE ST JEAN", "Maison des habitants du Havre", a delegated commune's old name, no
accents, no hyphens, the commune as the last words of a second part), or named so that it
must stay unplaced (a neighbourhood, a commune of another department, two communes, a
commune name followed by more words, a common noun). Each case knows its answer: the
current commune's INSEE code, or None.

The expectations are computed from the official files with plain set look-ups, never
with the gazetteer under test.
"""

from __future__ import annotations

import io
import random
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from mapping.paths import REFERENCE_DIR
from mapping.places import COMMON_NOUNS, words
from mapping.reference import read_rows

SHARED_TOOLS = Path(__file__).resolve().parents[2] / "shared" / "tools"
KINDS = ("CENTRE SOCIAL DE", "Centre social de", "MAISON DES HABITANTS DE",
         "Espace de vie sociale de", "CENTRE SOCIAL", "EVS", "MJC DE", "FOYER RURAL DE")
NEIGHBOURHOODS = ("LES GRANDS CHAMPS FLEURIS", "BEL HORIZON", "LES TROIS CITES",
                  "QUARTIER NORD EST", "LES PEUPLIERS BLEUS", "ARC EN CIEL")
# Departments of the COG that have no Caf of their own and never appear in SENACS.
NOT_IN_SENACS = {"975", "977", "978", "984", "986", "987", "988", "989"}


@dataclass(frozen=True)
class Case:
    structure: str  # the name as the export writes it
    department: str  # the department's name as the export writes it
    department_code: str
    expected: str | None  # INSEE code of the current commune, or None: must stay unplaced
    form: str  # which form of name this is


class Places:
    """The official files, as plain sets: what a name may be taken for, per department."""

    def __init__(self, folder: Path = REFERENCE_DIR) -> None:
        self.departments = {r["code"]: r["name"] for r in read_rows(folder / "departements.csv")
                            if r["code"] not in NOT_IN_SENACS}
        self.rows = [r for r in read_rows(folder / "communes.csv.gz")
                     if r["kind"] != "arrondissement-municipal"]
        self.keys: dict[str, set[str]] = defaultdict(set)  # department -> name keys
        for r in self.rows:
            self.keys[r["department"]].add(" ".join(words(r["name"])))

    def mentions_a_commune(self, text: str, department: str) -> bool:
        """Any run of words of ``text`` (also after le/les) is a commune name there."""
        w = words(text)
        runs = {" ".join(w[i:j]) for i in range(len(w)) for j in range(i + 1, len(w) + 1)}
        runs |= {f"{a} {run}" for run in runs for a in ("LE", "LES", "LA", "L")}
        return bool(runs & self.keys[department])

    def is_common_noun(self, name: str) -> bool:
        rest = [w for w in words(name) if w not in ("LE", "LA", "LES", "L")]
        return len(rest) == 1 and rest[0] in COMMON_NOUNS


def _forms(row: dict[str, str], rng: random.Random) -> list[tuple[str, str]]:
    """(the commune's name as a structure name would write it, form)."""
    name = row["name"]
    out = [(name, "as written"), (name.upper(), "upper case"),
           (name.upper().replace("-", " ").replace("'", " "), "no hyphens or apostrophes"),
           (words(name) and " ".join(words(name)), "no accents")]
    for long, short in (("Saint-", "ST "), ("Sainte-", "STE ")):
        if name.startswith(long):
            out.append((short + name[len(long):].upper(), f"{short.strip()} for {long[:-1]}"))
    return out


def cases(places: Places, per_department: int = 6, seed: int = 7) -> list[Case]:
    """Structures for every department: placeable ones in many forms, and unplaceable ones."""
    rng = random.Random(seed)
    by_department: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in places.rows:
        if r["department"] in places.departments:
            by_department[r["department"]].append(r)
    out: list[Case] = []
    for code, dept in sorted(places.departments.items()):
        rows = by_department[code]
        current = [r for r in rows if r["kind"] == "commune-actuelle"
                   and not places.is_common_noun(r["name"])]
        old = [r for r in rows if r["kind"] != "commune-actuelle"
               and not places.is_common_noun(r["name"])]
        for row in rng.sample(current, min(per_department, len(current))):
            text, form = rng.choice(_forms(row, rng))
            kind = rng.choice(KINDS)
            out.append(Case(f"{kind} {text}", dept, code, row["current"], form))
        for row in rng.sample(current, min(2, len(current))):
            article = words(row["name"])[0]
            if article in ("LE", "LES") and len(words(row["name"])) > 1:
                rest = row["name"].split(" ", 1)[1]
                if " ".join(words(rest)) not in places.keys[code]:
                    word = "DU" if article == "LE" else "DES"
                    out.append(Case(f"CENTRE SOCIAL {word} {rest.upper()}", dept, code,
                                    row["current"], f"{word.lower()} for de {article.lower()}"))
            filler = rng.choice(NEIGHBOURHOODS)
            if not places.mentions_a_commune(filler, code):
                out.append(Case(f"{filler} - CENTRE SOCIAL DE {row['name']}", dept, code,
                                row["current"], "commune in the second part"))
        for row in rng.sample(old, min(2, len(old))):
            out.append(Case(f"CENTRE SOCIAL DE {row['name']}", dept, code, row["current"],
                            f"{row['kind']}: its current commune"))
        out += _unplaceable(places, code, dept, current, rng)
    return out


def _unplaceable(places: Places, code: str, dept: str, current: list[dict[str, str]],
                 rng: random.Random) -> list[Case]:
    out = []
    for filler in NEIGHBOURHOODS[:3]:
        if not places.mentions_a_commune(filler, code):
            out.append(Case(f"CENTRE SOCIAL {filler}", dept, code, None, "a neighbourhood"))
    a, b = rng.sample(current, 2) if len(current) >= 2 else (None, None)
    if a and b and a["current"] != b["current"]:
        out.append(Case(f"CENTRE SOCIAL DE {a['name']} - MAISON DE {b['name']}", dept, code,
                        None, "two communes"))
        tail = "ESPACE JEUNES"
        if not places.mentions_a_commune(tail, code):
            out.append(Case(f"CENTRE SOCIAL DE {a['name']} {tail}", dept, code, None,
                            "the commune is not the last words"))
        if not places.mentions_a_commune("ESPACE MOSAIQUE", code):
            out.append(Case(f"ESPACE MOSAIQUE {a['name']}", dept, code, None,
                            "no preposition nor kind before the commune"))
    stranger = rng.choice(places.rows)
    while stranger["department"] == code or stranger["kind"] != "commune-actuelle" \
            or places.mentions_a_commune(stranger["name"], code):
        stranger = rng.choice(places.rows)
    out.append(Case(f"CENTRE SOCIAL DE {stranger['name']}", dept, code, None,
                    "a commune of another department"))
    if not places.mentions_a_commune("LA MOSAÏQUE", code):
        out.append(Case("LA MOSAÏQUE", dept, code, None,
                        "the department's name follows the name in the export"))
    return out


def export_text(cases_: list[Case], records: int | None = None, seed: int = 11) -> str:
    """An export of ``records`` records (default: one per case), gen_senacs's records with
    their structures replaced by the cases', in turn."""
    sys.path.insert(0, str(SHARED_TOOLS))
    try:
        import gen_senacs
    finally:
        sys.path.remove(str(SHARED_TOOLS))
    buffer = io.StringIO()
    gen_senacs.generate(records or len(cases_), seed, buffer)
    lines = buffer.getvalue().split("\n")
    label = "- " + gen_senacs.L_STRUCTURE
    k = 0
    for i, line in enumerate(lines):
        if line == label:
            case = cases_[k % len(cases_)]
            lines[i + 1] = f"- {case.structure} - {case.department}"
            k += 1
    return "\n".join(lines)


def write_export(path: Path, records: int | None = None) -> list[Case]:
    """Write a national export to ``path``; the cases its structures are drawn from."""
    found = cases(Places())
    path.write_text(export_text(found, records), encoding="utf-8")
    return found

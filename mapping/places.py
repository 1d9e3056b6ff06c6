"""Structures placed in their commune from their names: a gazetteer that never guesses.

SENACS gives a structure's name and department, not its commune; many names carry it
("CENTRE SOCIAL DE PLAISANCE DU TOUCH", "Maison des habitants de L'Union"). Within the
structure's department the name is compared with every commune name, the current ones
and the delegated and associated communes of the Code officiel géographique (a delegated
commune places the structure in the commune it now belongs to, the old name kept as
evidence). Names are compared as keys: case, accents, hyphens, spaces and apostrophes do
not matter, ``ST``/``STE`` read as Saint/Sainte, and "du Havre" / "des Mureaux" find
Le Havre / Les Mureaux.

A commune counts only as the *last words* of a part of the name (parts are separated by
`` - ``), and only where what comes before it says "this is a place": a preposition
(de, d', du, des, à, au, aux) or nothing but a kind of structure ("CENTRE SOCIAL
ESCALQUENS"). A name that matches no commune, or several different ones, leaves the
structure unplaced, with the reason; so does a commune whose name is also a common noun
of such names ("du Port", "de la Vallée"); a curated override (``data/reference/overrides``)
wins over the match.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

# What may stand right before a commune's name in a structure's name.
PREPOSITIONS = frozenset({"DE", "D", "DU", "DES", "A", "AU", "AUX"})
# "du X" may be "de Le X", "des X" "de Les X" (same for au/aux).
CONTRACTIONS = {"DU": "LE", "AU": "LE", "DES": "LES", "AUX": "LES"}
ABBREVIATIONS = {"ST": "SAINT", "STE": "SAINTE", "STS": "SAINTS", "STES": "SAINTES"}
# Names of kinds of structure, as words: a commune right after one of these is the place.
KINDS = ("CENTRE SOCIAL", "CENTRE SOCIAL ET CULTUREL", "CENTRE SOCIOCULTUREL",
         "CENTRE SOCIO CULTUREL", "CENTRE SOCIAL INTERCOMMUNAL", "CENTRE SOCIAL MUNICIPAL",
         "CENTRE SOCIAL RURAL", "CSC", "CS", "CSI", "EVS", "ESPACE DE VIE SOCIALE",
         "ESPACE SOCIAL", "ESPACE SOCIO CULTUREL", "MAISON DES HABITANTS", "MAISON POUR TOUS",
         "MAISON DE QUARTIER", "MAISON DES FAMILLES", "MJC", "FOYER RURAL",
         "MAISON DES JEUNES ET DE LA CULTURE", "CCAS", "CENTRE SOCIAL DU CCAS")
_KIND_KEYS = frozenset(KINDS)
# Commune names that are also common nouns of structure names ("centre social du Port",
# "de la Vallée", "des Pins"): a match on one of these alone (with its article) is no evidence.
COMMON_NOUNS = frozenset(
    "BOIS BOURG CHAMPS CHATEAU COTE CROIX ECOLE ETOILE FONTAINE JARDIN MONT PARC PINS PLAINE "
    "PONT PORT PRES QUARTIER ROCHE VAL VALLEE VILLE".split())
_ARTICLES = frozenset({"LE", "LA", "LES", "L"})


def words(text: str) -> list[str]:
    """The comparison words of a name: upper case, no accents, abbreviations spelt out."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return [ABBREVIATIONS.get(w, w) for w in re.findall(r"[A-Z0-9]+", ascii_text.upper())]


@dataclass(frozen=True)
class Named:
    """One name a current commune is known by in a department."""

    current: str  # the INSEE code of the current commune
    name: str  # the name as the COG writes it (a delegated commune's own name)
    kind: str  # commune-actuelle, commune-deleguee, commune-associee


@dataclass(frozen=True)
class Placement:
    """Where a structure is, and why: the current communes, the method, the evidence."""

    communes: tuple[str, ...]  # INSEE codes of current communes, in the name's order
    method: str  # "name" (the gazetteer) or "override" (a curated, sourced row)
    evidence: str


@dataclass(frozen=True)
class Unplaced:
    reason: str


class Gazetteer:
    """Commune names by department, indexed once per build."""

    def __init__(self, names: Iterable[tuple[str, Named]]) -> None:
        self.index: dict[tuple[str, str], set[Named]] = defaultdict(set)
        self.longest = 1
        for department, named in names:
            key = words(named.name)
            self.index[(department, " ".join(key))].add(named)
            self.longest = max(self.longest, len(key))

    def place(self, name: str, department: str) -> Placement | Unplaced:
        """Place a structure named ``name`` in the department with code ``department``."""
        found: dict[str, str] = {}  # current commune -> evidence, in the name's order
        key: list[str] = []
        for part in name.split(" - "):
            key += words(part)  # a commune's own name may hold " - " (Pont de Montvert - Sud…)
            match = self._match_part(key, department)
            if isinstance(match, Unplaced):
                return match
            if match is not None:
                named, said = match
                found.setdefault(named.current, self._evidence(named, said))
        if not found:
            return Unplaced(f"no commune of department {department} ends a part of the name "
                            "after a preposition or a kind of structure")
        if len(found) > 1:
            return Unplaced("the name names several communes: " + "; ".join(found.values()))
        return Placement(tuple(found), "name", next(iter(found.values())))

    def _match_part(self, key: list[str], department: str
                    ) -> tuple[Named, str] | Unplaced | None:
        """The commune ending this part of the name, the longest name first."""
        for size in range(min(self.longest, len(key)), 0, -1):
            before, said = key[:-size], key[-size:]
            keys = [" ".join(said)]
            if before and before[-1] in CONTRACTIONS:
                keys.append(f"{CONTRACTIONS[before[-1]]} {keys[0]}")
            candidates = {n for k in keys for n in self.index.get((department, k), ())}
            if not candidates:
                continue
            if not self._place_word_before(before):
                return None  # "ESPACE MOSAIQUE VILLENEUVE DE RIVIERE": not even Rivière
            if self._common_noun(said):
                return Unplaced(f"'{' '.join(said)}' is a commune of department {department} "
                                "but also a common noun")
            currents = {n.current for n in candidates}
            if len(currents) > 1:
                return Unplaced(f"'{' '.join(said)}' is the name of {len(currents)} communes "
                                f"of department {department} "
                                f"({', '.join(sorted(currents))})")
            # the current commune's own name first, then a delegated one's
            best = min(candidates, key=lambda n: (n.kind != "commune-actuelle", n.name))
            return best, " ".join(said)
        return None

    @staticmethod
    def _common_noun(said: list[str]) -> bool:
        meaningful = [w for w in said if w not in _ARTICLES]
        return len(meaningful) == 1 and meaningful[0] in COMMON_NOUNS

    @staticmethod
    def _place_word_before(before: list[str]) -> bool:
        return not before or before[-1] in PREPOSITIONS or " ".join(before) in _KIND_KEYS

    @staticmethod
    def _evidence(named: Named, said: str) -> str:
        if named.kind == "commune-actuelle":
            return f"the name ends with the commune {named.name} ({named.current})"
        old = "delegated" if named.kind == "commune-deleguee" else "associated"
        return (f"the name ends with {named.name}, a {old} commune of the commune "
                f"{named.current}")

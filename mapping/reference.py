"""Curated reference data (``data/reference/*.csv``): departments, communes, structures, bodies.

Each CSV opens with ``#`` comment lines saying where its values come from.
Lookups are by normalised name (case, accents, dashes and apostrophes do not
matter), so "HAUTE GARONNE" finds Haute-Garonne; nothing is ever guessed
beyond what a file states.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mapping.paths import REFERENCE_DIR


def name_key(text: str) -> str:
    """A comparison key: upper case, no accents, punctuation as single spaces."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Z0-9]+", " ", ascii_text.upper()).strip()


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The data rows of a reference CSV (its ``#`` header comments skipped)."""
    with path.open(encoding="utf-8", newline="") as handle:
        lines = (line for line in handle if not line.startswith("#"))
        yield from csv.DictReader(lines)


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    of_name: str  # "de la Haute-Garonne"
    wikidata: str = ""


@dataclass(frozen=True)
class Commune:
    insee: str
    name: str
    department: str
    wikidata: str = ""


@dataclass(frozen=True)
class Body:
    """A public body a partner category can name (its curated row, if any)."""

    kind: str
    department: str
    name: str
    siren: str = ""
    wikidata: str = ""


@dataclass
class Reference:
    departments: dict[str, Department] = field(default_factory=dict)  # by name key
    communes: dict[str, Commune] = field(default_factory=dict)  # by INSEE code
    structures: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    bodies: dict[tuple[str, str], Body] = field(default_factory=dict)  # (kind, dept code)

    @classmethod
    def load(cls, folder: Path = REFERENCE_DIR) -> Reference:
        ref = cls()
        for row in read_rows(folder / "departements.csv"):
            dept = Department(row["code"], row["name"], row["of_name"], row["wikidata"])
            ref.departments[name_key(dept.name)] = dept
        for row in read_rows(folder / "communes.csv"):
            ref.communes[row["insee"]] = Commune(row["insee"], row["name"], row["department"],
                                                 row["wikidata"])
        for row in read_rows(folder / "structures.csv"):
            codes = tuple(c for c in row["communes"].split(";") if c)
            unknown = [c for c in codes if c not in ref.communes]
            if unknown:
                raise ValueError(f"{folder / 'structures.csv'}: {row['name']!r} names communes "
                                 f"{unknown} that communes.csv does not list")
            ref.structures[(name_key(row["name"]), name_key(row["department"]))] = codes
        for row in read_rows(folder / "organisations.csv"):
            body = Body(row["kind"], row["department"], row["name"], row["siren"], row["wikidata"])
            ref.bodies[(body.kind, body.department)] = body
        return ref

    def department(self, name: str | None) -> Department | None:
        return self.departments.get(name_key(name)) if name else None

    def structure_communes(self, name: str, department: str | None) -> list[Commune]:
        codes = self.structures.get((name_key(name), name_key(department or "")), ())
        return [self.communes[c] for c in codes]

"""Reference data: places and public bodies from official sources, plus sourced overrides.

``data/reference/`` holds files *derived* by ``scripts/update_reference.py`` from Etalab's
*découpage administratif* (INSEE's Code officiel géographique and the DGCL's EPCI list;
``source.json`` says which version and vintage, with checksums): regions, departments,
communes (current, delegated, associated) with their SIREN and
EPCI, and the EPCI à fiscalité propre. ``data/reference/overrides/`` holds the few facts no
official source gives, each row with its source: structures placed by hand, bodies'
identifiers, Wikidata links, categories that must stay unresolved.

Lookups are by normalised name (case, accents, dashes and apostrophes do not matter), so
"HAUTE GARONNE" finds Haute-Garonne; nothing is guessed beyond what a file states or the
gazetteer (``mapping.places``) can show from a structure's name.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import gzip
import io
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mapping.paths import REFERENCE_DIR
from mapping.places import Gazetteer, Named, Placement, Unplaced, words

OVERRIDES = "overrides"


class ReferenceError(ValueError):
    """A reference or override file says something the others contradict."""


def name_key(text: str) -> str:
    """A comparison key: upper case, no accents, punctuation as single spaces."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Z0-9]+", " ", ascii_text.upper()).strip()


def source_info(folder: Path = REFERENCE_DIR) -> dict:
    """Where the reference data comes from (``source.json``): package, version, vintage, sha256."""
    return json.loads((folder / "source.json").read_text(encoding="utf-8"))


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The data rows of a reference CSV (plain or gzip; ``#`` comment lines skipped)."""
    raw = path.read_bytes()
    text = gzip.decompress(raw).decode("utf-8") if path.suffix == ".gz" else raw.decode("utf-8")
    lines = (line for line in io.StringIO(text, newline="") if not line.startswith("#"))
    for number, row in enumerate(csv.DictReader(lines), start=2):
        if None in row or None in row.values():
            raise ReferenceError(f"{path}: data row {number}: expected the header's "
                                 f"{len(row) - (None in row)} columns, found another count")
        yield row


@dataclass(frozen=True)
class Region:
    code: str
    name: str


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    of_name: str  # "de la Haute-Garonne"
    region: str = ""
    wikidata: str = ""


@dataclass(frozen=True)
class Commune:
    """A current commune (commune-actuelle)."""

    insee: str
    name: str
    department: str
    region: str = ""
    siren: str = ""
    epci: str = ""  # SIREN of its EPCI à fiscalité propre
    tncc: int = 0
    wikidata: str = ""

    @property
    def of_name(self) -> str:
        """"de Toulouse", "du Havre", "de L'Union" as INSEE's TNCC says."""
        article = {2: "Le ", 3: "La ", 4: "Les ", 6: "Aux "}.get(self.tncc)
        name = self.name[len(article):] if article and self.name.startswith(article) else \
            self.name
        return {1: "d'", 2: "du ", 4: "des ", 6: "des "}.get(self.tncc, "de ") + name


@dataclass(frozen=True)
class Epci:
    siren: str
    name: str
    kind: str  # CC, CA, CU, METRO, MET69
    financing: str = ""


@dataclass(frozen=True)
class Body:
    """A public body a partner category names in one department (its override row)."""

    kind: str
    department: str  # code
    name: str
    siren: str = ""
    wikidata: str = ""
    resolvable: bool = True
    source: str = ""


@dataclass
class Reference:
    regions: dict[str, Region] = field(default_factory=dict)  # by code
    departments: dict[str, Department] = field(default_factory=dict)  # by name key
    communes: dict[str, Commune] = field(default_factory=dict)  # current, by INSEE code
    epcis: dict[str, Epci] = field(default_factory=dict)  # by SIREN
    bodies: dict[tuple[str, str], Body] = field(default_factory=dict)  # (kind, dept code)
    members: dict[str, list[str]] = field(default_factory=dict)  # EPCI SIREN -> communes
    placed: dict[tuple[str, str], Placement] = field(default_factory=dict)  # overrides
    source: dict = field(default_factory=dict)  # source.json
    gazetteer: Gazetteer | None = None
    _placements: dict[tuple[str, str], Placement | Unplaced] = field(default_factory=dict)
    _epci_departments: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    @functools.cache
    def packaged(cls) -> Reference:
        """The repository's reference data, read once per process and shared: what a Mapper
        uses when given none. Reading it takes about 1.3 s (40,000 communes), which each
        small graph (``graph_of``, the tests' hundreds of them) paid again. Shared safely: a
        Reference is only read after ``load``, but for its memos of deterministic lookups."""
        return cls.load()

    @classmethod
    def load(cls, folder: Path = REFERENCE_DIR) -> Reference:
        ref = cls()
        ref.source = source_info(folder)
        for row in read_rows(folder / "regions.csv"):
            ref.regions[row["code"]] = Region(row["code"], row["name"])
        for row in read_rows(folder / "departements.csv"):
            ref.departments[name_key(row["name"])] = Department(
                row["code"], row["name"], row["of_name"], row["region"])
        links = ref._read_links(folder / OVERRIDES / "wikidata.csv")
        for key, dept in ref.departments.items():
            qid = links.pop(("departement", key, ""), "")
            if qid:
                ref.departments[key] = dataclasses.replace(dept, wikidata=qid)
        names: list[tuple[str, Named]] = []
        for row in read_rows(folder / "communes.csv.gz"):
            if row["kind"] == "commune-actuelle":
                ref.communes[row["code"]] = Commune(
                    row["code"], row["name"], row["department"], row["region"], row["siren"],
                    row["epci"], int(row["tncc"] or 0),
                    links.pop(("commune", name_key(row["name"]), row["department"]), ""))
            names.append((row["department"], Named(row["current"], row["name"], row["kind"])))
        ref.gazetteer = Gazetteer(names)
        for row in read_rows(folder / "epci.csv"):
            ref.epcis[row["siren"]] = Epci(row["siren"], row["name"], row["kind"],
                                           row["financing"])
        for commune in ref.communes.values():
            if commune.epci:
                ref.members.setdefault(commune.epci, []).append(commune.insee)
        if links:
            raise ReferenceError(f"{folder / OVERRIDES / 'wikidata.csv'}: no such place: "
                                 + ", ".join(" ".join(k).strip() for k in links))
        ref._read_bodies(folder / OVERRIDES / "bodies.csv")
        ref._read_structures(folder / OVERRIDES / "structures.csv")
        return ref

    # -- overrides ----------------------------------------------------------------------

    def _department_code(self, path: Path, written: str) -> str:
        dept = self.department(written)
        if dept is None:
            raise ReferenceError(f"{path}: {written!r} is not a department")
        return dept.code

    def _read_links(self, path: Path) -> dict[tuple[str, str, str], str]:
        """(kind, name key, department code, "" for a department) -> Wikidata item."""
        links = {}
        for row in read_rows(path):
            code = self._department_code(path, row["department"]) if row["department"] else ""
            links[(row["kind"], name_key(row["name"]), code)] = row["wikidata"]
        return links

    def _read_bodies(self, path: Path) -> None:
        for row in read_rows(path):
            code = self._department_code(path, row["department"])
            self.bodies[(row["kind"], code)] = Body(
                row["kind"], code, row["name"], row["siren"], row["wikidata"],
                row["resolvable"] == "yes", row["source"])

    def _read_structures(self, path: Path) -> None:
        """Structures placed by hand: their communes named by name within the department."""
        for row in read_rows(path):
            code = self._department_code(path, row["department"])
            communes = []
            for name in row["communes"].split(";"):
                found = [c.insee for c in self.communes.values()
                         if c.department == code and words(c.name) == words(name)]
                if len(found) != 1:
                    raise ReferenceError(f"{path}: {row['name']!r}: {name!r} names "
                                         f"{len(found)} communes of {row['department']}")
                communes.append(found[0])
            self.placed[(name_key(row["name"]), code)] = Placement(
                tuple(communes), "override", row["evidence"])

    # -- lookups ------------------------------------------------------------------------

    def department(self, name: str | None) -> Department | None:
        """The department an export names ("Haute-Garonne", "HAUTE GARONNE", "Réunion")."""
        if not name:
            return None
        key = name_key(name)
        found = self.departments.get(key)
        if found is None:  # "Réunion" for La Réunion
            found = next((d for k, d in self.departments.items()
                          if k.split(" ", 1)[-1] == key and k.split(" ", 1)[0] in
                          ("LA", "LE", "LES", "L")), None)
        return found

    def placement(self, name: str, department: str | None) -> Placement | Unplaced:
        """Where the structure ``name`` of the department so written is: override, else name."""
        dept = self.department(department)
        if dept is None:
            return Unplaced("its department is not known")
        key = (name_key(name), dept.code)
        if key not in self._placements:
            self._placements[key] = self.placed.get(key) or self.gazetteer.place(name, dept.code)
        return self._placements[key]

    def structure_communes(self, name: str, department: str | None) -> list[Commune]:
        placement = self.placement(name, department)
        if isinstance(placement, Unplaced):
            return []
        return [self.communes[code] for code in placement.communes]

    def epci_department(self, siren: str) -> str | None:
        """The department of an EPCI whose communes are all in one, else None (worked out
        once per EPCI: the mapping asks for it at every record placed in one)."""
        if siren not in self._epci_departments:
            departments = {self.communes[c].department for c in self.members.get(siren, ())}
            self._epci_departments[siren] = departments.pop() if len(departments) == 1 else None
        return self._epci_departments[siren]

    def epci_of(self, communes: list[Commune]) -> Epci | None:
        """The one EPCI all these communes belong to, if there is one."""
        sirens = {c.epci for c in communes}
        return self.epcis.get(sirens.pop()) if len(sirens) == 1 else None

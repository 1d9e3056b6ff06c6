"""Identity across campaigns: structures renamed between two campaigns (release ids: mapping/release.py).

IRIs are computed from what a record states (``mapping/vocab.py``), so a structure keeps its
IRI from one campaign to the next as long as its name and department do. A structure that
changes its name would get a new IRI, and so would every one of its actions. Where that is a
rename, not a new structure, ``data/reference/overrides/renames.csv`` says so, with its source:
from the release named in ``since`` on, the structure under its new name keeps the IRI it had
under its old one (its ``schema:name`` is the new name, as the export writes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mapping.paths import REFERENCE_DIR
from mapping.reference import OVERRIDES, Reference, ReferenceError, read_rows
from mapping.release import is_release_id, release_key
from mapping.vocab import Iris

RENAMES_FILE = REFERENCE_DIR / OVERRIDES / "renames.csv"
RENAME_COLUMNS = ("old_name", "department", "new_name", "since", "source")


@dataclass(frozen=True)
class Rename:
    """One row of renames.csv: ``old`` became ``new`` in ``department`` from release ``since``."""

    old: str
    department: str  # the department's code
    new: str
    since: str
    source: str


def read_renames(path: Path, reference: Reference) -> list[Rename]:
    """The rows of a renames file, checked: columns, a known department, a release id, a source."""
    if not path.is_file():
        return []
    rows = []
    for number, row in enumerate(read_rows(path), start=2):
        if tuple(row) != RENAME_COLUMNS:
            raise ReferenceError(f"{path}: the columns must be {','.join(RENAME_COLUMNS)}")
        where = f"{path}: data row {number - 1}"
        dept = reference.department(row["department"])
        if dept is None:
            raise ReferenceError(f"{where}: {row['department']!r} is not a department")
        if not is_release_id(row["since"]):
            raise ReferenceError(f"{where}: since {row['since']!r} is not a release id "
                                 "(YYYY or YYYY-N)")
        if not (row["old_name"].strip() and row["new_name"].strip() and row["source"].strip()):
            raise ReferenceError(f"{where}: old_name, new_name and source must not be empty")
        rows.append(Rename(row["old_name"], dept.code, row["new_name"], row["since"],
                           row["source"]))
    return rows


class Renames:
    """Structure slug under a new name → the slug the structure keeps (its first name's)."""

    def __init__(self, renames: list[Rename] = (), release_id: str | None = None) -> None:
        """Apply the rows whose ``since`` is at or before ``release_id`` (all of them for a
        build that is no release of a series)."""
        step: dict[str, str] = {}
        for rename in renames:
            if release_id is not None and release_key(rename.since) > release_key(release_id):
                continue
            new = Iris.structure_slug(rename.new, rename.department)
            old = Iris.structure_slug(rename.old, rename.department)
            if step.get(new, old) != old:
                raise ReferenceError(f"{rename.new!r} ({rename.department}) is declared the new "
                                     "name of two structures")
            if new != old:
                step[new] = old
        self.kept = {new: self._first(new, step) for new in step}

    @staticmethod
    def _first(slug: str, step: dict[str, str]) -> str:
        """Follow a chain of renames (A became B, then B became C) back to its first name."""
        seen = {slug}
        while slug in step:
            slug = step[slug]
            if slug in seen:
                raise ReferenceError(f"the renames go round in a circle through {slug!r}")
            seen.add(slug)
        return slug

    @classmethod
    def load(cls, path: Path | None, reference: Reference, release_id: str | None) -> Renames:
        return cls(read_renames(path or RENAMES_FILE, reference), release_id)

    def __call__(self, structure_slug: str) -> str:
        return self.kept.get(structure_slug, structure_slug)

    def names_seen(self) -> NamesSeen:
        return NamesSeen(self)


class NamesSeen:
    """The names a build writes each renamed structure with: more than one is refused."""

    def __init__(self, renames: Renames) -> None:
        self.renames = renames
        self.involved = set(renames.kept) | set(renames.kept.values())
        self.names: dict[str, dict[str, str]] = {}  # kept slug -> written slug -> a name

    def add(self, written_slug: str, name: str) -> None:
        if written_slug in self.involved:
            kept = self.renames(written_slug)
            self.names.setdefault(kept, {}).setdefault(written_slug, name)

    def check(self) -> None:
        for kept, written in sorted(self.names.items()):
            if len(written) > 1:
                both = " and ".join(repr(name) for _, name in sorted(written.items()))
                raise ReferenceError(
                    f"the inputs name the structure {kept} {both}: renames.csv makes them one "
                    "structure from its 'since' release on; correct the export, or the rename")

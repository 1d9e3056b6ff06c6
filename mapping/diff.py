"""What changed between two releases: one merge walk over their sorted canonical dumps.

Both releases' canonical dumps (``dataset.nt.gz``) are sorted N-Triples (``mapping/release.py``),
so a single pass over the two files side by side, one subject's block of lines at a time, finds every triple
added and removed while holding only the current blocks: memory stays flat whatever the size,
and no store is loaded. The walk writes the changeset as DBpedia and Wikidata publish theirs
(``added.nt.gz`` and ``removed.nt.gz``: sorted N-Triples, gzip without timestamp) and tells,
for each action, structure and public body, whether it was added, removed or changed, and
which of its properties changed (``summary.ttl``, in the vocabulary of ``ontology/senacs.ttl``;
shapes in ``shapes/changes.shapes.ttl``).

A resource's parts (``{action}#amount-1``) are folded into it: a changed amount is a change of
the action's ``senacs:budgetLine``. Where a record was read is not what it says: a change of
source file or of line numbers alone (records added above it, reordered) is in the changeset's
triples but does not make the action changed (:data:`LOCATION`). Nor does a shortcut
(``vocab.SHORTCUTS``, the ontology's direct statements beside qualified ones): it changes only
with what it is derived from, which is reported (a new budget total is a change of
``senacs:budgetTotal``; a structure's ``senacs:worksWith`` follows its actions' partners).
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox

from mapping import ntriples as nt
from mapping import release
from mapping.paths import SHAPES_DIR
from mapping.vocab import (
    DCTERMS,
    PROV,
    RDF,
    RDFS,
    SHORTCUTS,
    XSD,
    Iris,
    part_kind,
    prefixes,
    rebase,
)

ADDED_FILE, REMOVED_FILE, SUMMARY_FILE = "added.nt.gz", "removed.nt.gz", "summary.ttl"
CHANGES_DIR = "changes"  # a series release's changeset, beside its dumps
CHANGES_SHAPES = "changes.shapes.ttl"  # in shapes/
# The resources the summary reports, by the first segment of their IRI path.
KINDS = {"action": "action", "structure": "structure", "organisation": "body"}
PLURAL = {"action": "actions", "structure": "structures", "body": "bodies"}
ADDED, REMOVED, MODIFIED = "added", "removed", "changed"
STATUS_CLASS = {ADDED: "Addition", REMOVED: "Removal", MODIFIED: "Modification"}
# Where a record was read, not what it says: the source file and line numbers, and the whole
# derivation part ({action}#source: file, first and last line).
LOCATION_PARTS = ("source",)
SUMMARY_PREFIXES = ("senacs", "dcterms", "prov", "schema", "rdfs", "xsd", "org")
_HEX_ID = re.compile(r"[0-9a-f]{8,64}")
_IRI = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')  # an N-Triples IRI term
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DiffError(Exception):
    """An input the diff cannot read (not a release, unsorted dump, another base): one line."""


@dataclass(frozen=True)
class Change:
    """One action, structure or body added, removed or changed between the two releases."""

    kind: str  # action | structure | body
    iri: str
    status: str  # added | removed | changed
    types: tuple[str, ...]  # its classes (IRIs), in the release that holds it (the new one first)
    label: str | None  # its title or name, an N-Triples literal
    fields: tuple[str, ...] = ()  # the properties (IRIs) whose values changed, when changed


@dataclass
class Totals:
    """What the walk counted: triples added and removed, resources per kind and status."""

    old_id: str
    new_id: str
    base: str
    triples_added: int = 0
    triples_removed: int = 0
    resources: dict[str, dict[str, int]] = field(
        default_factory=lambda: {kind: {ADDED: 0, REMOVED: 0, MODIFIED: 0}
                                 for kind in KINDS.values()})

    def manifest(self) -> dict:
        """The changeset's figures as a release's manifest.json says them."""
        return {"previous": self.old_id, "triples_added": self.triples_added,
                "triples_removed": self.triples_removed, "resources": self.resources}

    def line(self) -> str:
        kinds = "; ".join(f"{PLURAL[kind]} {n[ADDED]} added, {n[REMOVED]} removed, "
                          f"{n[MODIFIED]} changed" for kind, n in self.resources.items())
        return (f"{self.old_id} → {self.new_id}: {kinds}; triples "
                f"+{self.triples_added} −{self.triples_removed}")


def short_name(iri: str, base: str) -> str:
    """A property as the prefixed name the dumps use (``senacs:budgetLine``)."""
    for name, namespace in prefixes(base).items():
        local = iri[len(namespace):]
        if iri.startswith(namespace) and local and "/" not in local and "#" not in local:
            return f"{name}:{local}"
    return f"<{iri}>"


@dataclass(frozen=True)
class Side:
    """One release to compare: its canonical dump and its id in the series."""

    dump: Path
    id: str


# -- reading a release -----------------------------------------------------------------------


def side_of(folder: Path) -> tuple[Side, dict]:
    """A release folder as a side of the diff, with its manifest; DiffError when unreadable."""
    try:
        manifest = release.read_manifest(folder)
    except release.NotARelease as err:
        raise DiffError(str(err)) from None
    dump = release.dump_file(folder, manifest)
    if dump is None:
        raise DiffError(f"{folder}: no {release.DUMP_GZ} in this release")
    return Side(dump, release_id_of(manifest, folder)), manifest


def release_id_of(manifest: dict, folder: Path) -> str:
    """The release's id in its series; a release built with --out has none, so the id its
    manifest gives it (the start of its dump's sha256) stands in."""
    series = manifest.get("series")
    if isinstance(series, dict) and isinstance(series.get("id"), str) \
            and release.is_release_id(series["id"]):
        return series["id"]
    own = manifest.get("release")
    if isinstance(own, str) and _HEX_ID.fullmatch(own):
        return own
    raise DiffError(f"{folder}: its manifest names no release id")


def _blocks(path: Path) -> Iterator[tuple[str, list[str]]]:
    """The dump's lines, one subject's block at a time; DiffError if the subjects are not in
    order (the walk would then report wrong changes, silently). Checked once a block, not once
    a line: the inner loop is the diff's cost."""
    try:
        handle = release.open_lines(path)
    except OSError as err:
        raise DiffError(f"{path}: cannot open: {err.strerror}") from None
    with handle:
        subject, head, lines, before = "", "\0", [], 0
        try:
            for line in handle:
                if line.startswith(head):
                    lines.append(line)
                    continue
                if lines:
                    yield subject, lines
                    before += len(lines)
                cut = line.find(" ")
                if cut < 1 or not line.endswith(" .\n"):
                    raise DiffError(f"{path}:{before + 1}: not an N-Triples line")
                if line[:cut] <= subject:
                    raise DiffError(f"{path}:{before + 1}: the lines are not sorted: not the "
                                    "canonical dump of a release")
                subject, head, lines = line[:cut], line[:cut + 1], [line]
        except UnicodeDecodeError as err:
            raise DiffError(f"{path}: not UTF-8 text: {err.reason}") from None
        except (OSError, EOFError, zlib.error) as err:  # a damaged or cut gzip file
            raise DiffError(f"{path}: cannot be read after line {before + len(lines)}: "
                            f"{err}") from None
        if lines:
            yield subject, lines


# -- the walk ----------------------------------------------------------------------------------


@dataclass
class _Resource:
    """What the walk knows of one action, structure or body whose parts or block changed."""

    kind: str
    changed_parts: set[str] = field(default_factory=set)  # part IRIs in N-Triples form


class Walk:
    """The merge walk: writes the changed triples, and reports each changed resource."""

    def __init__(self, base: str, write_added: Callable[[list[str]], None],
                 write_removed: Callable[[list[str]], None],
                 report: Callable[[Change], None]) -> None:
        self.base, self.iris = base, Iris(base)
        self.write_added, self.write_removed, self.report = write_added, write_removed, report
        self.pending: dict[str, _Resource] = {}  # resources whose parts changed, by N-T IRI
        self.type = nt.RDF_TYPE
        self.label_predicates = {nt.iri(str(DCTERMS.title)), nt.iri("https://schema.org/name")}
        self.location = {nt.iri(str(PROV.wasDerivedFrom)), nt.iri(str(self.iris.DEF.sourceLine))}
        # derived: never reported as changed fields (a title rank moves when others come or go)
        self.shortcuts = {nt.iri(str(self.iris.DEF[name])) for name in SHORTCUTS}
        self.prefix = "<" + base

    def run(self, old: Path, new: Path) -> None:
        olds, news = _blocks(old), _blocks(new)
        a, b = next(olds, None), next(news, None)
        while a is not None or b is not None:
            if b is None or (a is not None and a[0] < b[0]):
                self.block(a[0], a[1], None)
                a = next(olds, None)
            elif a is None or b[0] < a[0]:
                self.block(b[0], None, b[1])
                b = next(news, None)
            else:
                self.block(a[0], a[1], b[1])
                a, b = next(olds, None), next(news, None)

    def block(self, subject: str, old: list[str] | None, new: list[str] | None) -> None:
        """One subject's lines in each release (None: the release does not have it)."""
        same = old == new
        if same and subject not in self.pending:
            return  # the common case, kept cheap
        removed = added = ()
        if not same:
            old_set, new_set = set(old or ()), set(new or ())
            removed = sorted(old_set - new_set) if old else []
            added = sorted(new_set - old_set) if new else []
            if removed:
                self.write_removed(removed)
            if added:
                self.write_added(added)
        owner, kind, part = self._owner(subject)
        if kind is None:
            return
        if part is not None:
            if part not in LOCATION_PARTS and self._says(removed, added):
                self.pending.setdefault(owner, _Resource(kind)).changed_parts.add(subject)
            return
        self._finish(subject, kind, old, new, removed, added)

    def _owner(self, subject: str) -> tuple[str, str | None, str | None]:
        """(the resource, its kind or None if not reported, the part's kind or None)."""
        if not subject.startswith(self.prefix):
            return subject, None, None
        iri = subject[1:-1]
        kind = KINDS.get(iri[len(self.base):].split("/", 1)[0])
        if "#" not in iri:
            return subject, kind, None
        return nt.iri(iri.partition("#")[0]), kind, part_kind(iri) or "other"

    def _says(self, removed, added) -> bool:
        """Whether changed lines change what a part says (not only where it was read)."""
        return any(line.split(" ", 2)[1] not in self.location for line in (*removed, *added))

    def _finish(self, subject: str, kind: str, old, new, removed, added) -> None:
        """The resource's own block: everything about it is known now (its parts come before
        it in the sorted dumps, ``#`` sorting before ``>``)."""
        pending = self.pending.pop(subject, None)
        if not _IRI.fullmatch(subject):
            raise DiffError(f"{subject[:80]}: not an IRI (the dump is not N-Triples)")
        if old and new:
            fields = {line.split(" ", 2)[1] for line in (*removed, *added)} \
                - self.location - self.shortcuts
            if pending is not None:
                links = _links(subject, old + new)
                fields |= {links[part] for part in pending.changed_parts if part in links}
            if not fields:
                return
            status = MODIFIED
        else:
            status, fields = (ADDED if new else REMOVED), set()
        if not all(map(_IRI.fullmatch, fields)):
            raise DiffError(f"{subject[:80]}: a predicate that is not an IRI (the dump is not "
                            "N-Triples)")
        lines = new or old
        types = tuple(sorted({_object(line) for line in lines
                              if line.split(" ", 2)[1] == self.type
                              and _IRI.fullmatch(_object(line))}))
        label = next((_object(line) for line in lines
                      if line.split(" ", 2)[1] in self.label_predicates), None)
        self.report(Change(kind, subject[1:-1], status, tuple(t[1:-1] for t in types), label,
                           tuple(sorted(f[1:-1] for f in fields))))


def _object(line: str) -> str:
    return line.split(" ", 2)[2][:-3]  # drop " .\n"


def _links(subject: str, lines: list[str]) -> dict[str, str]:
    """Part IRI → the property that links the resource to it (``senacs:budgetLine``)."""
    head = subject[:-1] + "#"
    out = {}
    for line in lines:
        _, predicate, rest = line.split(" ", 2)
        if rest.startswith(head):
            out[rest[:-3]] = predicate
    return out


# -- writing the changeset ---------------------------------------------------------------------


class _GzipLines:
    """Sorted lines into a gzip file that has no timestamp (same input, same bytes)."""

    def __init__(self, path: Path) -> None:
        self.raw = path.open("wb")
        self.gz = release.gzip_writer(self.raw, 6)
        self.buffer: list[str] = []
        self.count = 0

    def __call__(self, lines: list[str]) -> None:
        self.buffer += lines
        self.count += len(lines)
        if len(self.buffer) >= 10_000:
            self.flush()

    def flush(self) -> None:
        self.gz.write("".join(self.buffer).encode("utf-8"))
        self.buffer = []

    def close(self) -> None:
        self.flush()
        self.gz.close()
        self.raw.close()


class SummaryWriter:
    """The summary graph, as N-Triples lines in sorted order, then as Turtle.

    Change records are named after the resource under the changeset:
    ``{base}release/{new}/changes#action/{structure}/{title}``. The walk reports resources in
    the dumps' order, and those names sort in the same order, before the changeset's own
    ``{base}release/{new}/changes`` (``#`` sorts before ``>``): the lines come out sorted.
    """

    def __init__(self, path: Path, base: str, old_id: str, new_id: str,
                 issued: str | None) -> None:
        self.path, self.base, self.issued = path, base, issued
        self.old_id, self.new_id = old_id, new_id
        self.changeset = f"{base}release/{new_id}/changes"
        self.d = Iris(base).DEF
        self.scratch = path.with_name(path.name + ".nt.tmp")
        self.out = self.scratch.open("w", encoding="utf-8")

    def add(self, change: Change) -> None:
        record = nt.iri(f"{self.changeset}#{change.iri[len(self.base):]}")
        d = self.d
        objects = [(nt.iri(str(RDF.type)), nt.iri(str(d[STATUS_CLASS[change.status]]))),
                   (nt.iri(str(DCTERMS.isPartOf)), nt.iri(self.changeset)),
                   (nt.iri(str(DCTERMS.subject)), nt.iri(change.iri))]
        objects += [(nt.iri(str(d.resourceType)), nt.iri(t)) for t in change.types]
        objects += [(nt.iri(str(d.changedProperty)), nt.iri(f)) for f in change.fields]
        if change.label is not None:
            objects.append((nt.iri(str(RDFS.label)), change.label))
        self.out.writelines(sorted(f"{record} {p} {o} .\n" for p, o in objects))

    def close(self) -> None:
        """The changeset's own description last, then Turtle from the sorted lines."""
        cs, d = nt.iri(self.changeset), self.d
        old, new = self.old_id, self.new_id
        objects = [(nt.iri(str(RDF.type)), nt.iri(str(d.Changeset))),
                   (nt.iri(str(RDFS.label)), nt.lang(f"Changements de {old} à {new}", "fr")),
                   (nt.iri(str(RDFS.label)), nt.lang(f"Changes from {old} to {new}", "en")),
                   (nt.iri(str(d.fromRelease)), nt.iri(f"{self.base}release/{old}/")),
                   (nt.iri(str(d.toRelease)), nt.iri(f"{self.base}release/{new}/"))]
        if self.issued:
            objects.append((nt.iri(str(DCTERMS.issued)), f'"{self.issued}"^^<{XSD}date>'))
        self.out.writelines(sorted(f"{cs} {p} {o} .\n" for p, o in objects))
        self.out.close()
        table = prefixes(self.base, metadata=False)
        try:
            ox.serialize(ox.parse(path=str(self.scratch), format=ox.RdfFormat.N_TRIPLES),
                         str(self.path), ox.RdfFormat.TURTLE,
                         prefixes={k: table[k] for k in SUMMARY_PREFIXES})
        except (SyntaxError, ValueError) as err:  # a label or type copied from a bad dump
            raise DiffError(f"a changed resource's triples are not valid N-Triples: "
                            f"{str(err).splitlines()[0]}") from None
        self.scratch.unlink()

    def discard(self) -> None:
        self.out.close()
        self.scratch.unlink(missing_ok=True)


def compare(old: Side, new: Side, base: str, out: Path | None,
            report: Callable[[Change], None] = lambda change: None,
            issued: str | None = None) -> Totals:
    """Walk the two dumps: report each changed resource, count, and with ``out`` write the
    changeset there (added.nt.gz, removed.nt.gz, summary.ttl), each file whole or not at all."""
    if issued is not None and not (isinstance(issued, str) and _DATE.fullmatch(issued)):
        raise DiffError(f"the new release's date {issued!r:.40} is not a date (YYYY-MM-DD)")
    totals = Totals(old.id, new.id, base)

    def counted(change: Change) -> None:
        totals.resources[change.kind][change.status] += 1
        report(change)
        if summary is not None:
            summary.add(change)

    summary = added = removed = None
    if out is None:
        walk = Walk(base, _count(totals, "triples_added"), _count(totals, "triples_removed"),
                    counted)
        walk.run(old.dump, new.dump)
        return totals
    out.mkdir(parents=True, exist_ok=True)
    temporary = {name: out / f".{name}.{os.getpid()}.tmp"
                 for name in (ADDED_FILE, REMOVED_FILE, SUMMARY_FILE)}
    added, removed = _GzipLines(temporary[ADDED_FILE]), _GzipLines(temporary[REMOVED_FILE])
    summary = SummaryWriter(temporary[SUMMARY_FILE], base, old.id, new.id, issued)
    try:
        Walk(base, added, removed, counted).run(old.dump, new.dump)
        added.close()
        removed.close()
        summary.close()
    except BaseException:
        for writer in (added, removed):
            writer.raw.close()
        summary.discard()
        for path in temporary.values():
            path.unlink(missing_ok=True)
        raise
    totals.triples_added, totals.triples_removed = added.count, removed.count
    for name, path in temporary.items():
        os.replace(path, out / name)
    return totals


def _count(totals: Totals, name: str) -> Callable[[list[str]], None]:
    def add(lines: list[str]) -> None:
        setattr(totals, name, getattr(totals, name) + len(lines))
    return add


def summary_shapes(base: str) -> str:
    """The shapes of the summary graph (Turtle), under ``base``."""
    return rebase((SHAPES_DIR / CHANGES_SHAPES).read_text(encoding="utf-8"), base)


def diff_releases(old: Path, new: Path, out: Path | None = None,
                  report: Callable[[Change], None] = lambda change: None) -> Totals:
    """``senacs-kg diff``: two release folders compared, the changeset written to ``out``."""
    old_side, old_manifest = side_of(old)
    new_side, new_manifest = side_of(new)
    base = new_manifest.get("base")
    if not isinstance(base, str) or old_manifest.get("base") != base:
        raise DiffError(f"{old} and {new} have different IRI bases "
                        f"({old_manifest.get('base')!r}, {base!r}): nothing to compare")
    return compare(old_side, new_side, base, out, report, new_manifest.get("release_date"))

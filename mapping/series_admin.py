"""Looking after a release series' disk: what each release takes (``senacs-kg series status``)
and retiring an old one (``senacs-kg series retire``).

A release is big (its dumps in four formats, two of them gzipped only, its tables, its network
files) and so is its store; after some campaigns the old ones are seldom asked for. Retiring a
release frees that space and keeps what says it existed and what changed:

- kept: ``manifest.json`` (rewritten: it lists the files kept and says ``"retired": DATE``),
  ``changes/`` (its changeset against its previous release), ``catalog.ttl``, ``summary.txt``
  and ``build-report.json`` (what the release was, a few kilobytes), and ``subjects.txt``, written
  by the retirement: the IRIs the release described, one N-Triples term a line, in the order of
  its sorted dump, so that the server can still say "this resource was in a retired release"
  by the same bisection it runs over dumps;
- removed: everything else (dumps, tables, network, ontology, shapes, reports) and, when the
  store folder is given, the release's store ``STORE_DIR/{id}`` (only if its marker says it is
  that release's store).

The later release's changeset (against the retired one) is not touched. The steps, under the
series' lock (``series.locked``), in the order that keeps every moment readable: write
``subjects.txt``; replace ``manifest.json`` (written beside, fsync, rename); replace
``series.json`` with the entry's ``"retired"`` (``series.write_series``: the one step readers
see); then remove the files and the store. A retirement interrupted after its ``series.json``
is finished by running the command again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from mapping import release, series
from mapping.build import REPORT, SUMMARY

KINDS = ("dumps", "tables", "changes", "other")
# the dumps of a release, whether built with the derived formats gzipped (now) or plain (before)
DUMPS = frozenset({release.DUMP, release.DUMP_GZ, release.TURTLE_GZ, release.JSONLD_GZ,
                   release.TURTLE, release.JSONLD})
# what a retired release keeps besides changes/ (and its manifest, rewritten); its ontology/
# (a few hundred kB) names the changed fields on its changes page as that release named them
KEPT = frozenset({release.CATALOG, SUMMARY, REPORT, release.SUBJECTS})
KEPT_FOLDERS = ("changes/", "ontology/")


# -- sizes ----------------------------------------------------------------------------------------


def kind_of(name: str) -> str:
    """The part of a release a file (a path relative to the release folder) belongs to."""
    if name in DUMPS:
        return "dumps"
    if name.startswith("tables/"):
        return "tables"
    if name.startswith("changes/"):
        return "changes"
    return "other"


def files_of(folder: Path) -> Iterator[tuple[str, int]]:
    """Every file under ``folder`` (symbolic links neither followed nor counted), as its path
    relative to ``folder`` and its size in bytes."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                yield (Path(entry.path).relative_to(folder).as_posix(),
                       entry.stat(follow_symlinks=False).st_size)


def tree_bytes(folder: Path) -> int:
    return sum(size for _, size in files_of(folder))


def human(size: int) -> str:
    """Bytes for people: kB, MB, GB of 1024 (as the server's *_MB settings)."""
    if size < 1024:
        return f"{size} B"
    for unit in ("kB", "MB", "GB", "TB"):
        size /= 1024
        if size < 1024 or unit == "TB":
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


# -- status ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseUse:
    """One release of the series and the disk it takes."""

    entry: series.Entry
    latest: bool
    triples: int | None  # from its manifest (None: the manifest cannot be read)
    records: int | None
    sizes: dict[str, int]  # KINDS -> bytes of its folder
    store: int | None  # bytes of its store, None when there is none (or no store folder given)

    @property
    def folder_bytes(self) -> int:
        return sum(self.sizes.values())

    def as_json(self) -> dict:
        return {"id": self.entry.id, "date": self.entry.date, "previous": self.entry.previous,
                "latest": self.latest, "retired": self.entry.retired, "triples": self.triples,
                "records": self.records,
                "bytes": {**self.sizes, "folder": self.folder_bytes, "store": self.store}}


@dataclass(frozen=True)
class SeriesUse:
    folder: Path
    store_root: Path | None
    releases: list[ReleaseUse]
    series_bytes: int  # the series' own files: series.json, catalogs, anything not a release

    def totals(self) -> dict[str, int]:
        sums = {kind: sum(r.sizes[kind] for r in self.releases) for kind in KINDS}
        sums["folder"] = sum(sums.values())
        sums["store"] = sum(r.store or 0 for r in self.releases)
        sums["series"] = self.series_bytes
        sums["all"] = sums["folder"] + sums["store"] + sums["series"]
        return sums

    def as_json(self) -> dict:
        return {"series": str(self.folder),
                "store": str(self.store_root) if self.store_root else None,
                "latest": self.releases[-1].entry.id,
                "releases": [r.as_json() for r in self.releases],
                "total": {"releases": len(self.releases),
                          "retired": sum(r.entry.retired is not None for r in self.releases),
                          "bytes": self.totals()}}


def entries_of(folder: Path) -> list[series.Entry]:
    """The releases of the series in ``folder``; SeriesError when it is no series."""
    if not (folder / series.SERIES_FILE).is_file():
        raise series.SeriesError(f"{folder}: no release series here (no {series.SERIES_FILE})")
    entries = series.read_series(folder)
    if not entries:
        raise series.SeriesError(f"{folder / series.SERIES_FILE}: the series lists no release")
    return entries


def status(folder: Path, store_root: Path | None) -> SeriesUse:
    """What each release of the series takes on disk, and its store under ``store_root``."""
    entries = entries_of(folder)
    uses = [_use(folder, entry, entry is entries[-1], store_root) for entry in entries]
    listed = {e.id for e in entries}
    own = sum(size for name, size in files_of(folder) if name.split("/", 1)[0] not in listed)
    return SeriesUse(folder, store_root, uses, own)


def _use(folder: Path, entry: series.Entry, latest: bool, store_root: Path | None) -> ReleaseUse:
    sizes = dict.fromkeys(KINDS, 0)
    for name, size in files_of(folder / entry.id):
        sizes[kind_of(name)] += size
    try:
        manifest = release.read_manifest(folder / entry.id)
    except release.NotARelease:
        manifest = {}
    inputs = manifest.get("inputs")
    records = sum(int(i.get("records", 0)) for i in inputs) if isinstance(inputs, list) else None
    store = store_root / entry.id if store_root else None
    return ReleaseUse(entry, latest, manifest.get("triples"), records, sizes,
                      tree_bytes(store) if store and store.is_dir() else None)


def status_text(use: SeriesUse) -> str:
    """The status as a table for people: one line per release, then the totals."""
    head = ("release", "date", "state", "triples", "records", *KINDS, "store")
    rows = [head]
    for r in use.releases:
        state = "latest" if r.latest else f"retired {r.entry.retired}" if r.entry.retired else ""
        rows.append((r.entry.id, r.entry.date or "-", state, _count(r.triples),
                     _count(r.records), *(human(r.sizes[k]) for k in KINDS),
                     "-" if r.store is None else human(r.store)))
    sums = use.totals()
    rows.append(("total", "", f"{len(use.releases)} releases", "", "",
                 *(human(sums[k]) for k in KINDS), human(sums["store"])))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    right = {3, 4, 5, 6, 7, 8, 9}
    lines = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
             for row in rows]
    stores = f"stores in {use.store_root}" if use.store_root else "no store folder given"
    lines.append(f"{use.folder}: {human(sums['folder'])} in its releases, "
                 f"{human(sums['series'])} of its own (series.json, catalogs), "
                 f"{human(sums['store'])} of stores ({stores}); {human(sums['all'])} in all")
    return "\n".join(lines) + "\n"


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


# -- retiring a release ---------------------------------------------------------------------------


@dataclass
class Retirement:
    """What retiring a release removes and keeps (a plan, then what was done)."""

    folder: Path
    release_id: str
    removed: list[tuple[str, int]]  # files of the release folder, with their bytes
    kept: list[str]
    store: Path | None  # the release's store folder, to be removed
    store_bytes: int = 0
    store_note: str | None = None  # why a store folder that exists is left alone
    date: str = ""
    finishing: bool = False  # the release was retired already: the removal is finished
    freed: int | None = None  # bytes actually freed (set once done)
    notes: list[str] = field(default_factory=list)

    @property
    def removed_bytes(self) -> int:
        return sum(size for _, size in self.removed)

    def line(self, dry_run: bool) -> str:
        """What was (or would be) done, in one line."""
        parts = [f"{len(self.removed)} file(s) of {self.folder / self.release_id} "
                 f"({human(self.removed_bytes)})"]
        if self.store is not None:
            parts.append(f"its store {self.store} ({human(self.store_bytes)})")
        kept = f"kept {', '.join(self.kept)}"
        if dry_run:
            return (f"would retire release {self.release_id}: would remove " + " and ".join(parts)
                    + f"; would keep {', '.join(self.kept)}; nothing changed")
        what = "finished retiring" if self.finishing else f"retired on {self.date}"
        return (f"release {self.release_id} {what}: freed {human(self.freed or 0)}, removed "
                + " and ".join(parts) + f"; {kept}")


def retire(folder: Path, release_id: str, store_root: Path | None = None, *,
           dry_run: bool = False, today: str | None = None,
           store_marker: str | None = None) -> Retirement:
    """Retire release ``release_id`` of the series in ``folder`` (see the module's docstring).

    ``store_marker`` names the file a store folder holds to say which release it was loaded
    from (``endpoint.store.MARKER``, passed by the CLI: mapping does not import the endpoint).
    Refusals raise SeriesError before anything changes.
    """
    entries = entries_of(folder)  # before the lock: the lock file is not created in a non-series
    with series.locked(folder):
        entries = entries_of(folder)
        entry = _retirable(folder, entries, release_id)
        plan = _plan(folder, entry, store_root, store_marker)
        if entry.retired is not None and not plan.removed and plan.store is None:
            raise series.SeriesError(f"release {release_id} was retired on {entry.retired}: "
                                     "nothing is left to remove")
        if dry_run:
            return plan
        before = tree_bytes(folder / release_id) + plan.store_bytes
        if entry.retired is None:
            plan.date = today or dt.date.today().isoformat()
            _write_subjects(folder / release_id)
            _rewrite_manifest(folder / release_id, plan.date)
            series.write_series(folder, [replace(e, retired=plan.date) if e.id == release_id
                                         else e for e in entries])
        else:
            plan.date, plan.finishing = entry.retired, True
        _remove(folder / release_id, plan.removed)
        if plan.store is not None:
            shutil.rmtree(plan.store)
        plan.freed = before - tree_bytes(folder / release_id)
        return plan


def _retirable(folder: Path, entries: list[series.Entry], release_id: str) -> series.Entry:
    """The entry to retire, or SeriesError saying why it may not be."""
    entry = next((e for e in entries if e.id == release_id), None)
    if entry is None:
        raise series.SeriesError(f"release {release_id} is not in the series {folder} (its "
                                 f"releases: {', '.join(e.id for e in entries)})")
    if entry is entries[-1]:
        raise series.SeriesError(f"release {release_id} is the latest release of {folder}: it "
                                 "answers the plain IRIs and cannot be retired")
    if not (folder / release_id).is_dir():
        raise series.SeriesError(f"{folder / release_id}: the release's folder is missing")
    if entry.retired is None and release.dump_file(folder / release_id) is None:
        raise series.SeriesError(f"{folder / release_id}: no {release.DUMP_GZ} to list the "
                                 "resources of the release from; nothing was changed")
    return entry


def _kept(name: str) -> bool:
    return name == release.MANIFEST or name in KEPT or name.startswith(KEPT_FOLDERS)


def _plan(folder: Path, entry: series.Entry, store_root: Path | None,
          store_marker: str | None) -> Retirement:
    files = sorted(files_of(folder / entry.id))
    plan = Retirement(folder, entry.id, [(n, s) for n, s in files if not _kept(n)],
                      sorted({n.split("/", 1)[0] + ("/" if "/" in n else "")
                              for n, _ in files if _kept(n)} | {release.SUBJECTS}), None)
    if store_root is not None:
        store = store_root / entry.id
        if store.is_dir():
            why = _not_its_store(folder / entry.id, store, store_marker)
            if why is None:
                plan.store, plan.store_bytes = store, tree_bytes(store)
            else:
                plan.store_note = why
    return plan


def _not_its_store(release_dir: Path, store: Path, marker: str | None) -> str | None:
    """Why ``store`` is not to be removed as the release's store (None: it is its store)."""
    if marker is None:
        return "no store marker to check it against"
    try:
        held = json.loads((store / marker).read_text(encoding="utf-8"))
        ours = release.read_manifest(release_dir).get("release")
    except (OSError, ValueError, release.NotARelease):
        held, ours = None, None
    if not isinstance(held, dict) or ours is None:
        return f"{store} holds no {marker} naming this release: left alone"
    if held.get("release") != ours:
        return f"{store} is the store of another release ({held.get('release')!r}): left alone"
    return None


def _write_subjects(release_dir: Path) -> None:
    """subjects.txt: the IRI subjects of the dump (hash IRIs aside: parts of a resource), once
    each, in the dump's order, which is their order as lines ``<iri>``: a resource's
    ``<iri>`` is never the start of another's (``>`` ends it). A release built since the build
    writes it keeps the one its manifest lists."""
    target = release_dir / release.SUBJECTS
    listed = release.read_manifest(release_dir).get("files", {}).get(release.SUBJECTS)
    if isinstance(listed, dict) and target.is_file() \
            and release.file_digest(target) == (listed.get("sha256"), listed.get("bytes")):
        return
    temporary = release_dir / f".{release.SUBJECTS}.{os.getpid()}.tmp"
    previous = ""
    source = release.dump_file(release_dir)
    try:
        with release.open_lines(source) as dump, \
                temporary.open("w", encoding="utf-8") as out:
            for line in dump:
                subject = line[:line.find(" ")]
                if subject == previous or not release.is_listed_subject(subject):
                    continue
                if subject < previous:
                    raise series.SeriesError(f"{source} is not sorted: the "
                                             "resources of the release cannot be listed")
                out.write(subject + "\n")
                previous = subject
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as err:
        temporary.unlink(missing_ok=True)
        raise series.SeriesError(f"{source} cannot be read, or {target.name} written ({err}): "
                                 "the resources of the release cannot be listed; nothing was "
                                 "changed") from None
    except series.SeriesError:
        temporary.unlink(missing_ok=True)
        raise
    release.replace_file(temporary, target)


def _rewrite_manifest(release_dir: Path, date: str) -> None:
    """The manifest of the retired release: the files kept (their sha256 and size as listed,
    the new subjects.txt hashed), ``"retired"``; everything else as it was, the release's
    checksum id too. Written beside and renamed over, with the old file's modification time
    (a release without a date stands for that time, endpoint/series.py)."""
    manifest = release.read_manifest(release_dir)
    listed = manifest.get("files", {})
    files = {}
    for name, _ in sorted(files_of(release_dir)):
        if _kept(name) and name != release.MANIFEST:
            if name in listed and name != release.SUBJECTS:
                files[name] = listed[name]
            else:
                digest, size = release.file_digest(release_dir / name)
                files[name] = {"sha256": digest, "bytes": size}
    manifest.update(files=files, retired=date)
    path = release_dir / release.MANIFEST
    stat = path.stat()
    temporary = release_dir / f".{release.MANIFEST}.{os.getpid()}.tmp"
    with temporary.open("w", encoding="utf-8") as out:
        out.write(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    os.utime(temporary, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    release.replace_file(temporary, path)


def _remove(release_dir: Path, removed: list[tuple[str, int]]) -> None:
    """The files, then the folders they leave empty (deepest first)."""
    folders = set()
    for name, _ in removed:
        (release_dir / name).unlink(missing_ok=True)
        parent = Path(name).parent
        while parent != Path("."):
            folders.add(parent)
            parent = parent.parent
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        try:
            (release_dir / folder).rmdir()
        except OSError:  # not empty: something the release keeps is in it
            pass

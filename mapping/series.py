"""A release series: one release per campaign in one folder, each published atomically.

``DIR/{id}/`` is a complete release (what ``senacs-kg build --out`` writes) and, for every
release after the first, ``DIR/{id}/changes/``: its changeset against the previous release
(``mapping/diff.py``), listed in its manifest like its other files. ``DIR/series.json`` is the
series' state and the only pointer readers trust: a folder it does not list is no release.

Publishing ``ID`` (``senacs-kg build --series DIR --release-id ID``), under a lock so that two
builds cannot publish at once:

1. refuse an id the series has, or one that sorts before its latest release (a series grows at
   its end: a release's ``previous`` link and changeset never have to change once published);
2. build into a staging folder inside ``DIR``, compute the changeset there against the latest
   release, and rename the staging folder to ``DIR/ID`` (``mapping/release.py``);
3. write the series' DCAT catalog under a new name (``mapping/series_catalog.py``), then
   replace ``series.json``, which names it, atomically (a temporary file, fsync,
   ``os.replace``, fsync of ``DIR``): a reader sees the old series and its catalog or the new
   ones, never half of them.

A crash between 2 and 3 leaves ``DIR/ID`` unlisted: readers ignore it, and publishing ``ID``
again replaces it.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mapping import diff, metadata, release, series_catalog
from mapping.build import BuildConfig, BuildOutcome, build
from mapping.release import is_release_id, release_key
from mapping.vocab import Iris

SERIES_FILE = "series.json"
LOCK_FILE = ".series.lock"
FORMAT = 1


class SeriesError(Exception):
    """A publication refused, or a series that cannot be read: one line, nothing changed."""


@dataclass(frozen=True)
class Entry:
    """One release of the series, as series.json lists it."""

    id: str
    date: str | None  # the release date given to the build (YYYY-MM-DD), if any
    previous: str | None  # the release its changeset is against; None for the first
    retired: str | None = None  # the day its data was retired (its changeset stays), if it was

    def as_json(self) -> dict:
        data = {"id": self.id, "date": self.date, "previous": self.previous}
        if self.retired is not None:
            data["retired"] = self.retired
        return data


def read_series(folder: Path) -> list[Entry]:
    """The releases series.json lists, in order (none when the series is new)."""
    path = folder / SERIES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as err:
        raise SeriesError(f"{path}: cannot be read: {err}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or not isinstance(data.get("releases"), list):
        raise SeriesError(f"{path}: not a series of format {FORMAT}")
    entries = []
    for item in data["releases"]:
        if not (isinstance(item, dict) and isinstance(item.get("id"), str)
                and is_release_id(item["id"])):
            raise SeriesError(f"{path}: a release without a valid id: {item!r:.80}")
        entries.append(Entry(item["id"], item.get("date"), item.get("previous"),
                             item.get("retired")))
    return sorted(entries, key=lambda e: release_key(e.id))


def write_series(folder: Path, entries: list[Entry], base: str | None = None) -> None:
    """The series' new state, published in one step: its DCAT catalog written first under a new
    name, then series.json, which names it, written beside, flushed to disk and renamed over;
    the catalog it named before is kept (a server may not have reloaded yet), older ones go.
    Every change of the series goes through here (a publication, a retirement), under its lock.
    ``base``: the IRI base, else the latest release's manifest's."""
    entries = sorted(entries, key=lambda e: release_key(e.id))
    before = _catalog_named(folder)
    catalog = series_catalog.write(folder, entries, base or _base_of(folder, entries)) \
        if entries else None
    data = {"format": FORMAT, "releases": [e.as_json() for e in entries],
            "latest": entries[-1].id if entries else None, "catalog": catalog}
    temporary = folder / f".{SERIES_FILE}.{os.getpid()}.tmp"
    with temporary.open("w", encoding="utf-8") as out:
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    release.replace_file(temporary, folder / SERIES_FILE)
    series_catalog.remove_old(folder, (catalog, before))


def _catalog_named(folder: Path) -> str | None:
    """The catalog series.json names now, if any."""
    try:
        named = json.loads((folder / SERIES_FILE).read_text(encoding="utf-8")).get("catalog")
    except (OSError, ValueError, AttributeError):
        return None
    return named if isinstance(named, str) else None


def _base_of(folder: Path, entries: list[Entry]) -> str:
    """The series' IRI base, as its latest release's manifest records it."""
    try:
        base = release.read_manifest(folder / entries[-1].id).get("base")
    except release.NotARelease as err:
        raise SeriesError(f"the latest release cannot be read: {err}") from None
    if not isinstance(base, str):
        raise SeriesError(f"the latest release {entries[-1].id} records no IRI base")
    return base


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """The series' lock, held until the publication ends (the system drops it if the build
    dies, even by ``kill -9``); refused at once if another build holds it."""
    handle = (folder / LOCK_FILE).open("a")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SeriesError(f"another build is publishing into {folder} (it holds "
                              f"{LOCK_FILE}); try again when it has finished") from None
        yield
    finally:
        handle.close()


def publish(config: BuildConfig, folder: Path, release_id: str) -> BuildOutcome:
    """Build ``config.sources`` as release ``release_id`` of the series in ``folder``."""
    if not is_release_id(release_id):
        raise SeriesError(f"{release_id!r} is not a release id (YYYY or YYYY-N)")
    folder.mkdir(parents=True, exist_ok=True)
    with locked(folder):
        entries = read_series(folder)
        previous = _admit(folder, entries, release_id, Iris(config.base).base)
        config.out, config.release_id = folder / release_id, release_id
        config.finish = _changeset(folder, previous, release_id, config)
        config.in_series = metadata.SeriesRelease(release_id, previous.id if previous else None)
        outcome = build(config)
        if outcome.published:
            write_series(folder, [*entries, Entry(release_id, config.release_date,
                                                  previous.id if previous else None)],
                         Iris(config.base).base)
        return outcome


def _admit(folder: Path, entries: list[Entry], release_id: str, base: str) -> Entry | None:
    """Whether ``release_id`` may be published next; the release it follows, if any."""
    latest = entries[-1] if entries else None
    if any(e.id == release_id for e in entries):
        raise SeriesError(f"release {release_id} is already in the series {folder}; a published "
                          "release is never replaced (publish the next one under another id)")
    if latest is not None and release_key(release_id) < release_key(latest.id):
        raise SeriesError(f"release {release_id} sorts before the latest release {latest.id}: "
                          "a series grows at its end only")
    _clear_unlisted(folder / release_id, release_id)
    if latest is not None:
        try:
            manifest = release.read_manifest(folder / latest.id)
        except release.NotARelease as err:
            raise SeriesError(f"the latest release cannot be read: {err}") from None
        if manifest.get("base") != base:
            raise SeriesError(f"the series' releases have the IRI base {manifest.get('base')!r}, "
                              f"not {base!r}: IRIs must not change within a series")
        if release.dump_file(folder / latest.id, manifest) is None:
            raise SeriesError(f"the latest release {latest.id} has no {release.DUMP_GZ} to "
                              "compare with")
    return latest


def _clear_unlisted(target: Path, release_id: str) -> None:
    """A folder the series does not list, left by a publication that died before series.json
    was replaced, is removed; anything else there is not ours to remove."""
    if not target.exists():
        return
    try:
        series = release.read_manifest(target).get("series") or {}
    except release.NotARelease:
        series = {}
    if not (isinstance(series, dict) and series.get("id") == release_id):
        raise SeriesError(f"{target} exists and is no release of this series: move it away")
    shutil.rmtree(target)


def _changeset(folder: Path, previous: Entry | None, release_id: str, config: BuildConfig):
    """The build's last step: the changeset against the previous release, written into the
    staged release before its manifest; the manifest's series fields."""

    def finish(staged: Path, dump: Path) -> dict:
        fields = {"series": {"id": release_id, "previous": previous.id if previous else None}}
        if previous is None:
            return fields
        before = release.dump_file(folder / previous.id)
        totals = diff.compare(diff.Side(before, previous.id),
                              diff.Side(dump, release_id), Iris(config.base).base,
                              staged / diff.CHANGES_DIR, issued=config.release_date)
        return {**fields, "changes": totals.manifest()}

    return finish

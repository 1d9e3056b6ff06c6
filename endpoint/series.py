"""Serving a release series (``senacs-kg serve --series DIR``): every release, the latest at the
plain IRIs, each one pinned under ``/release/{id}/``.

The series folder holds one complete release per campaign, ``DIR/{id}/``, and ``series.json``,
the one pointer readers trust::

    {"format": 1, "latest": "2025", "catalog": "catalogs/catalog-2025-1a2b3c4d5e6f.ttl",
     "releases": [{"id": "2024", "date": "2024-06-01", "previous": null}, ...]}

(``catalog``, the series' DCAT catalog that ``/catalog`` answers, is optional: without it,
``/catalog`` answers the latest release's, as for one release.)

Requests are routed by ``SeriesServer``, a WSGI application in front of one Flask application
per release (``app.release_app``: the very routes ``--release`` serves, over a store chain of
their own: guard, answer caches keyed by the release, fair share shared by all releases):

- ``/release/{id}/…`` goes to release ``id``'s application, mounted there (``SCRIPT_NAME``):
  its pages (which link their own release), ``dumps/``, ``catalog``, ``sparql``…;
- ``/release/``, ``/timemap/…`` and ``/healthz`` to the series' own routes (``bp``);
- every other path to the latest release's application, as ``--release`` serves it.

A ``{id}`` that is no release id (``mapping.release.RELEASE_ID``) or that series.json does
not list is a 404: no path from a request ever names a file (releases are found by the ids series.json lists).
Each release's store is ``STORE_DIR/{id}``, opened on demand by the bounded pool of
``endpoint/pool.py``. series.json is looked at (one ``stat``) at most every
``SERIES_CHECK_SECONDS``, on a request; when it changed, it is read once, in the background:
the new latest release's store is built and opened, then the new series replaces the old in
one assignment, and the replayed responses are forgotten. Until then the previous series is
served whole, so a publication never shows half a series.

A release whose entry says ``"retired"`` (``senacs-kg series retire``, mapping/series_admin.py)
has lost its dumps and its store: only its changeset is routed to its application
(``CHANGESET``), every other path under ``/release/{id}/`` is a 410 (``retired_release``); it is
no memento, and its ``subjects.txt`` stands for its dump when a resource's last holder is asked
for. A retirement is picked up like a publication; then the retired release's store is closed
and its dump unmapped (``SeriesServer._forget``), so that the space it freed is free.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html import escape
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, render_template, request
from werkzeug.http import http_date

from endpoint import app as release_apps
from endpoint import changelog, errors, fairness, headers, memento, proxies, sparql
from endpoint.cache import DISK_FILE, CachedStore, ResponseCache
from endpoint.conneg import choose
from endpoint.errors import ProtocolError
from endpoint.pool import PooledStore, StorePool
from endpoint.resources import EXTENSIONS, ROOTS
from endpoint.state import server_state
from endpoint.store import EmbeddedStore, ReleaseError, prepare_store
from mapping import release as release_files

log = logging.getLogger(__name__)

SERIES_FILE = "series.json"
FORMAT = 1
# The series catalog series.json may name (mapping/series_catalog.py writes it): a file of DIR's
# catalogs/ folder, never a path taken as it is.
SERIES_CATALOG = re.compile(r"catalogs/catalog-[0-9]{4}(?:-[0-9]+)?-[0-9a-f]{12}\.ttl")
# A release with no date stands for the time its manifest says it was built, under the first
# of these keys it has; a manifest without any (the build writes no clock time, so that the
# same input gives the same bytes) falls back on when its manifest.json was written here.
BUILD_TIME_KEYS = ("built", "build_time", "issued")
OPEN_WAIT = 120.0  # seconds a new latest release's store may take to open before a reload gives up
MAX_PATH = 2048  # characters of a TimeMap's resource path (longer: no such resource)
# What a retired release still serves under /release/{id}/: its changeset's files and page
CHANGESET = re.compile(r"dumps/changes/.+|changes(?:\.[a-z]+)?")


class SeriesError(ReleaseError):
    """series.json or a release it lists cannot be read: the series is not served (at start),
    or the previous one stays (on a reload)."""


# -- the series, as series.json and the releases' manifests say ----------------------------------


@dataclass(frozen=True)
class Release:
    """One release of the series, as served."""

    id: str
    date: str | None  # series.json's
    previous: str | None
    folder: Path
    manifest: dict
    datetime: dt.datetime  # its Memento-Datetime
    dated_by: str  # what that datetime was taken from: "date", "build time" or "publication"
    dump: memento.Dump  # a retired release's: its subjects.txt
    retired: str | None = None  # the day it was retired (series.json's): only its changeset is served


@dataclass(frozen=True)
class Series:
    folder: Path
    releases: tuple[Release, ...]  # by id
    latest: Release
    catalog: Path | None = None  # the series' DCAT catalog, when series.json names one

    def get(self, release_id: str) -> Release | None:
        return next((r for r in self.releases if r.id == release_id), None)

    def mementos(self, iri: str) -> list[Release]:
        """The releases still served that hold ``iri``, oldest first (a retired release is
        no memento: its data are no longer served)."""
        return sorted((r for r in self.releases if r.retired is None and r.dump.holds(iri)),
                      key=lambda r: (r.datetime, r.id))

    def retired_holder(self, iri: str) -> memento.Retired | None:
        """The last retired release that held ``iri`` (from its subjects.txt), and the
        release after it, whose changeset says what it lost."""
        for index in range(len(self.releases) - 1, -1, -1):
            release = self.releases[index]
            if release.retired is not None and release.dump.holds(iri):
                after = self.releases[index + 1].id if index + 1 < len(self.releases) else None
                return memento.Retired(release.id, release.retired, after)
        return None


def signature(folder: Path) -> tuple[int, ...] | None:
    """What changes when series.json is replaced (an atomic rename: a new inode); None if it
    cannot be seen."""
    try:
        stat = os.stat(folder / SERIES_FILE)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size


def read_series(folder: Path, dumps: dict[Path, memento.Dump] | None = None) -> Series:
    """The series in ``folder``, checked: series.json's form and every release it lists.
    ``dumps`` keeps the mapped dumps from one reading to the next."""
    dumps = {} if dumps is None else dumps
    path = folder / SERIES_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeriesError(f"{folder}: no release series here (no {SERIES_FILE})") from None
    except (OSError, ValueError) as err:
        raise SeriesError(f"{path} cannot be read: {err}") from None
    entries, latest = _entries(data, path)
    releases = tuple(_release(folder, entry, dumps) for entry in entries)
    return Series(folder, releases, next(r for r in releases if r.id == latest),
                  _catalog(data, folder, path))


def _catalog(data: dict, folder: Path, path: Path) -> Path | None:
    """The series catalog series.json names (a name of the form the publication writes)."""
    named = data.get("catalog")
    if named is None:
        return None
    if not isinstance(named, str) or not SERIES_CATALOG.fullmatch(named):
        raise SeriesError(f'{path}: "catalog" must name a file catalogs/catalog-ID-HASH.ttl')
    return folder / named


def _entries(data: object, path: Path) -> tuple[list[dict], str]:
    """series.json's releases and latest id, or SeriesError saying what is wrong."""
    def wrong(what: str) -> SeriesError:
        return SeriesError(f"{path}: {what}")

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise wrong(f'not a series of format {FORMAT} (expected {{"format": {FORMAT}, '
                    '"releases": [...], "latest": "ID"}})')
    entries = data.get("releases")
    if not isinstance(entries, list) or not entries or \
            not all(isinstance(e, dict) and isinstance(e.get("id"), str) for e in entries):
        raise wrong('"releases" must be a non-empty list of {"id": …} objects')
    ids = [e["id"] for e in entries]
    bad = [i for i in ids if not release_files.is_release_id(i)]
    if bad:
        raise wrong(f"release id {bad[0][:40]!r} is not YYYY or YYYY-N")
    if ids != sorted(set(ids), key=release_files.release_key):  # 2025 < 2025-2 < 2025-10
        raise wrong("release ids must be unique and sorted")
    for entry in entries:
        if entry.get("previous") is not None and entry["previous"] not in ids:
            raise wrong(f"release {entry['id']}: its previous release is not in the series")
        for key in ("date", "retired"):
            if entry.get(key) is not None and _date(entry[key]) is None:
                raise wrong(f"release {entry['id']}: {key} is not YYYY-MM-DD")
    if data.get("latest") not in ids:
        raise wrong('"latest" must be the id of one of the releases')
    if any(e["id"] == data["latest"] and e.get("retired") is not None for e in entries):
        raise wrong("the latest release cannot be retired")
    return entries, data["latest"]


def _date(value: object) -> dt.datetime | None:
    """A date (YYYY-MM-DD) or date-time as an aware UTC datetime (midnight for a date)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _release(folder: Path, entry: Mapping[str, object],
             dumps: dict[Path, memento.Dump]) -> Release:
    release_id = str(entry["id"])
    where = folder / release_id
    try:
        manifest = release_files.read_manifest(where)
    except release_files.NotARelease as err:
        raise SeriesError(f"release {release_id} of the series: {err}") from None
    when, dated_by = _datetime(entry.get("date"), manifest, where)
    retired = entry.get("retired")
    if retired is None and release_files.plain_dump_listed(where, manifest) \
            and (where / release_files.DUMP).is_file():  # built before dataset.nt.gz
        dump_path = where / release_files.DUMP
        dump = dumps.setdefault(dump_path, memento.Dump(dump_path))
    else:  # its resources, as the build (or, before, the retirement) listed them
        dump_path = where / release_files.SUBJECTS
        dump = dumps.setdefault(dump_path, memento.Dump(dump_path, terminator=b"\n"))
    return Release(release_id, entry.get("date"), entry.get("previous"), where, manifest,
                   when, dated_by, dump, None if retired is None else str(retired))


def _datetime(date: object, manifest: Mapping[str, object],
              where: Path) -> tuple[dt.datetime, str]:
    """A release's Memento-Datetime: series.json's date; else the manifest's release date;
    else a build time the manifest records (BUILD_TIME_KEYS); else the time its manifest.json
    was written (its publication in this folder)."""
    for value, source in ((date, "date"), (manifest.get("release_date"), "date"),
                          *((manifest.get(key), "build time") for key in BUILD_TIME_KEYS)):
        when = _date(value)
        if when is not None:
            return when, source
    stamp = (where / release_files.MANIFEST).stat().st_mtime
    return dt.datetime.fromtimestamp(int(stamp), dt.UTC), "publication"


# -- the server ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """A release application's link to its series (``memento.Holdings``)."""

    server: SeriesServer
    release_id: str

    def mementos(self, iri: str) -> list[Release]:
        return self.server.series.mementos(iri)

    def series_catalog(self) -> Path | None:
        return self.server.series.catalog

    def retired_holder(self, iri: str) -> memento.Retired | None:
        return self.server.series.retired_holder(iri)


class SeriesServer:
    """The WSGI application of a series: routes each request to a release's application or
    to the series' own routes (``front``), and keeps the series current."""

    def __init__(self, config: Mapping[str, object], series: Series,
                 front: Callable, dumps: dict[Path, memento.Dump]) -> None:
        self.config, self.series, self.front, self._dumps = config, series, front, dumps
        self.store_root = Path(str(config["STORE_DIR"]))
        self.check_every = float(config["SERIES_CHECK_SECONDS"])
        self.pool = StorePool(int(config["SERIES_OPEN_STORES"]), self._open_store)
        self.caches = (CachedStore.memory_cache(int(config["CACHE_ENTRIES"]),
                                                float(config["CACHE_MEMORY_MB"])),
                       self._disk_cache())
        self.responses: ResponseCache | None = None  # set by create_series_app
        self._apps: dict[tuple[str, str], Flask] = {}
        self._apps_lock = threading.Lock()
        self._signature = signature(series.folder)
        self._checked = time.monotonic()
        self._check_lock, self._reload_lock = threading.Lock(), threading.Lock()

    # -- routing

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        self.maybe_reload()
        series = self.series  # one series for the whole request, whatever a reload does
        path = environ.get("PATH_INFO") or "/"
        target, mount = self.route(series, path)
        if mount:
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + mount
            environ["PATH_INFO"] = path[len(mount):]
        return target(environ, start_response)

    def route(self, series: Series, path: str) -> tuple[Callable, str]:
        """Who answers ``path``, and the mount it is answered under ("": the root)."""
        if path == "/healthz" or path.startswith("/timemap/") or path == "/release":
            return self.front, ""
        if path.startswith("/release/"):
            release_id, slash, rest = path[len("/release/"):].partition("/")
            found = series.get(release_id) if release_files.is_release_id(release_id) else None
            if found is None or not slash:  # the listing, an unknown id, or no final "/"
                return self.front, ""
            if found.retired is not None and not CHANGESET.fullmatch(rest):
                return self.front, ""  # 410: only its changeset is served
            return self.app_of(found), f"/release/{release_id}"
        return self.app_of(series.latest), ""

    def app_of(self, release: Release) -> Flask:
        """The release's application, made on its first request (cheap: its store is opened
        on its first query)."""
        key = _identity(release)
        with self._apps_lock:
            found = self._apps.get(key)
            if found is None:
                found = self._apps[key] = self._release_app(release)
            return found

    def _release_app(self, release: Release) -> Flask:
        config = dict(self.config, RELEASE_DIR=str(release.folder),
                      STORE_DIR=str(self.store_root / release.id))
        store = PooledStore(self.pool, release.id, float(config["QUERY_TIMEOUT"]),
                            int(config["ROW_CAP"]), release_apps._mb(config["MAX_RESPONSE_MB"]))

        def cached(fair) -> CachedStore:
            scope = f"release {release.id} {release.manifest.get('release')}"
            return CachedStore(fair, 0, scope=scope, shared=self.caches)

        guarded = release_apps.guard_chain(config, store, int(config["QUERY_WORKERS"]), cached,
                                           fairness.slots_dir(self.store_root))
        app = release_apps.release_app(config, guarded, str(release.manifest.get("release")),
                                       release.manifest)
        app.extensions[memento.SERIES] = Member(self, release.id)
        app.context_processor(lambda: {"series_nav": True,
                                       "pinned": release.id if request.script_root else None})
        return app

    # -- stores

    def _open_store(self, release_id: str) -> EmbeddedStore:
        """The release's store (built from its dump on first use) with its query workers."""
        config = self.config
        store_dir = self.store_root / release_id
        prepare_store(self.series.folder / release_id, store_dir, str(config["BASE"]),
                      bool(config["VERIFY_RELEASE"]), str(config["LOADER_ALLOCATOR"]))
        return EmbeddedStore(store_dir, str(config["BASE"]), int(config["QUERY_WORKERS"]),
                             float(config["QUERY_TIMEOUT"]), int(config["ROW_CAP"]),
                             release_apps._mb(config["MAX_RESPONSE_MB"]),
                             int(config["WORKER_MEMORY_MB"]),
                             service_allowlist=list(config["SERVICE_ALLOWLIST"]))

    def _disk_cache(self):
        """One disk cache for every release (its keys name the release): beside the stores."""
        if float(self.config["CACHE_DISK_MB"]) <= 0:
            return None
        self.store_root.mkdir(parents=True, exist_ok=True)
        return CachedStore.open_disk(self.store_root / DISK_FILE,
                                     float(self.config["CACHE_DISK_MB"]))

    def start(self) -> None:
        """Open the latest release's store (building it if need be) and make its application;
        warm its answers in the background."""
        try:
            self.pool.pin(self.series.latest.id, OPEN_WAIT)
        except Exception as err:  # noqa: BLE001 (the pool logged why)
            why = err.__cause__ or err
            raise ReleaseError(f"release {self.series.latest.id}: its store cannot be opened: "
                               f"{why}") from None
        self.warm(self.series.latest)

    def warm(self, release: Release) -> None:
        app = self.app_of(release)
        state = server_state(app)
        if app.config["WARM_CACHE"] and state.store.enabled:
            sparql.warm(app, state.examples)

    def close(self) -> None:
        self.pool.close()

    # -- a new publication

    def maybe_reload(self) -> None:
        """Look at series.json (one stat, at most every check_every seconds); if it was
        replaced, read it again in the background."""
        now = time.monotonic()
        if now - self._checked < self.check_every or not self._check_lock.acquire(False):
            return
        try:
            self._checked = now
            seen = signature(self.series.folder)
            if seen == self._signature:
                return
            self._signature = seen
        finally:
            self._check_lock.release()
        threading.Thread(target=self.reload, name="senacs-series-reload", daemon=True).start()

    def reload(self) -> None:
        """Serve series.json as it is now: its latest release's store open first, then the
        new series in place of the old in one step. On failure the old one stays: a
        series.json that cannot be read is read again once it changes, a store that could
        not be opened is tried again at the next check."""
        with self._reload_lock:
            try:
                series = read_series(self.series.folder, self._dumps)
            except SeriesError as err:
                log.error("the series was not reloaded: %s", err)
                return
            try:
                if series.latest.id != self.series.latest.id:
                    self.pool.pin(series.latest.id, OPEN_WAIT)
            except Exception as err:  # noqa: BLE001 (one log line; the old series is served)
                log.error("the series was not reloaded: release %s: %s", series.latest.id, err)
                self._signature = None
                return
            changed = _identity(series.latest) != _identity(self.series.latest)
            retired = _retired(series) - _retired(self.series)
            different = _identities(series) != _identities(self.series)
            self.series = series
            if different and self.responses is not None:
                # the plain IRIs now answer from another release, or a retired release's
                # pages and the mementos' links have changed
                self.responses.clear()
            for release_id in sorted(retired):
                self.pool.discard(release_id)
            self._forget(series)
            if changed:
                self.warm(series.latest)
            log.info("series reloaded: %d releases, latest %s", len(series.releases),
                     series.latest.id)

    def _forget(self, series: Series) -> None:
        """The applications and mapped files of releases no longer served as they were (a
        retired release's dump is unmapped: its space is freed once nothing maps it)."""
        keep = set(_identities(series))
        with self._apps_lock:
            for key in [k for k in self._apps if k not in keep]:
                del self._apps[key]
        used = {r.dump.path for r in series.releases}
        for path in [p for p in self._dumps if p not in used]:
            self._dumps.pop(path).close()


def _identity(release: Release) -> tuple[str, str, str | None]:
    return release.id, str(release.manifest.get("release")), release.retired


def _identities(series: Series) -> tuple[tuple[str, str, str | None], ...]:
    return tuple(_identity(r) for r in series.releases)


def _retired(series: Series) -> set[str]:
    return {r.id for r in series.releases if r.retired is not None}


# -- the series' own routes ----------------------------------------------------------------------

bp = Blueprint("series", __name__)


SERVER = "senacs.series-server"  # the SeriesServer, in the front application's extensions


def server() -> SeriesServer:
    return current_app.extensions[SERVER]


def _links(release: Release) -> dict[str, str]:
    root = f"/release/{release.id}/"
    return {"url": root, "sparql": root + "sparql", "catalog": root + "catalog",
            "dumps": root + "dumps/manifest.json"}


def _described(release: Release, latest: str) -> dict[str, object]:
    links = _links(release)
    if release.retired is not None:  # its data are gone: no link answers but its changeset's
        links = dict.fromkeys(links)
    return {"id": release.id, "date": release.date, "previous": release.previous,
            "latest": release.id == latest, "retired": release.retired,
            "memento_datetime": http_date(release.datetime),
            "datetime_from": release.dated_by, "release": release.manifest.get("release"),
            "triples": release.manifest.get("triples"), **links,
            "changes": _changes(release),
            # what changed in it, as a page and as data (endpoint/changelog.py); none for the first
            "changes_page": f"/release/{release.id}/changes"
            if changelog.previous_of(release.manifest) else None}


def _changes(release: Release) -> list[str]:
    """The paths of the release's changeset files (none for the first release)."""
    files = release.manifest.get("files", {})
    return [f"/release/{release.id}/dumps/{name}" for name in sorted(files)
            if name.startswith("changes/")]


@bp.route("/release/")
def releases() -> Response:
    """The releases of the series: JSON for programs, a page for browsers."""
    series = server().series
    described = [_described(r, series.latest.id) for r in series.releases]
    media = choose(request.headers.get("Accept"), ["application/json", "text/html"])
    if media is None:
        raise ProtocolError(406, "the list of releases is available as application/json "
                                 "and text/html")
    if media == "text/html":
        body = render_template("releases.html", releases=described[::-1],
                               latest=series.latest.id, retired=_retired(series),
                               series_nav=True)
        response = Response(body, content_type="text/html; charset=utf-8")
    else:
        data = {"format": FORMAT, "latest": series.latest.id, "releases": described}
        response = Response(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                            content_type="application/json")
    response.headers["Vary"] = "Accept"
    return response


@bp.route("/release/<path:rest>", methods=["GET", "POST"])
def no_release(rest: str) -> Response:
    """A release id the series does not hold (never echoed), one without its final "/", or
    a retired release (everything under it but its changeset)."""
    series = server().series
    found = series.get(rest.partition("/")[0])
    if found is not None and found.retired is not None:
        return retired_release(found)
    if series.get(rest) is not None:
        return Response(status=308, headers={"Location": f"/release/{rest}/"})
    raise ProtocolError(404, "no such release in this series; the releases are listed at "
                             "/release/")


def retired_release(release: Release) -> Response:
    """410 Gone: the release was retired; its changeset stays, linked with the releases."""
    changes = _changes(release)
    page = f"/release/{release.id}/changes"
    kept = (f"its changeset against release {release.previous} stays at {page} (files under "
            f"/release/{release.id}/dumps/changes/)" if changes else
            "it has no changeset (the first release of the series)")
    line = (f"gone: release {release.id} was retired on {release.retired}: its data, pages "
            f"and SPARQL endpoint are no longer served; {kept}; the releases are listed at "
            "/release/")
    links = [memento.link("/release/", "index")]
    if changes:
        links.append(memento.link(page, "related", type="text/html"))
        links += [memento.link(c, "related") for c in changes]
    html = (f"<p>La publication {escape(release.id)} a été retirée le "
            f"{escape(str(release.retired))} : ses données, ses pages et son point SPARQL ne sont "
            "plus servis. <span lang=\"en\">This release was retired.</span></p>"
            + (f'<p>Ce qui a changé par rapport à {escape(str(release.previous))} reste publié : '
               f'<a href="{escape(page)}">les changements</a>, '
               + ", ".join(f'<a href="{escape(c)}">{escape(c.rsplit("/", 1)[-1])}</a>'
                           for c in changes) + ".</p>" if changes else "")
            + '<p><a href="/release/">Les publications</a></p>')
    return memento.gone_response(line, html, links)


@bp.route("/timemap/<path:rest>")
def timemap(rest: str) -> Response:
    """A resource's TimeMap (RFC 7089): every release that holds it."""
    root, _, _ = rest.partition("/")
    suffix = next((e for e in EXTENSIONS if rest.endswith(e)), "")
    path = rest[:-len(suffix)] if suffix else rest
    iri = current_app.config["BASE"] + path
    mementos = server().series.mementos(iri) \
        if root in ROOTS and len(rest) <= MAX_PATH and _is_iri(iri) else []
    if not mementos:
        raise ProtocolError(404, "no release of this series holds a resource at this path")
    response = Response(memento.timemap_body(mementos, path, suffix),
                        content_type=memento.LINK_FORMAT)
    return response


def _is_iri(text: str) -> bool:
    from endpoint.guard import iri_term

    try:
        iri_term(text)
    except ValueError:
        return False
    return True


@bp.route("/healthz")
def healthz() -> Response:
    """The series served, the stores open, and how far the latest's warm-up has got."""
    running = server()
    series = running.series
    latest = server_state(running.app_of(series.latest))
    body = {"status": "ok", "release": latest.release, "examples_warmed": latest.warmed,
            "examples": len(latest.examples), "home_warmed": latest.home_warmed,
            "series": {"latest": series.latest.id, "releases": [r.id for r in series.releases],
                       "retired": sorted(_retired(series)),
                       "open_stores": running.pool.open_ids()}}
    return Response(json.dumps(body) + "\n", content_type="application/json")


# -- the application -----------------------------------------------------------------------------


def create_series_app(settings: Mapping[str, object]) -> Flask:
    """The application of the series in ``SERIES_DIR`` (settings already read): the series'
    routes, the releases behind them, the middleware around them all."""
    front = Flask(release_apps.__name__)  # the endpoint's templates and static files
    front.config.update(settings)
    if front.config["STORE"] != "embedded":
        raise ReleaseError("a series is served from embedded stores (STORE = 'embedded')")
    if int(front.config["SERIES_OPEN_STORES"]) < 2:
        raise ReleaseError("SERIES_OPEN_STORES must be at least 2: the latest release's store "
                           "stays open, the others share the rest")
    trusted = release_apps.trusted_proxies(front.config)
    dumps: dict[Path, memento.Dump] = {}
    series = read_series(Path(str(front.config["SERIES_DIR"])), dumps)
    release_apps.apply_base(front, series.latest.manifest)
    running = SeriesServer(front.config, series, front.wsgi_app, dumps)
    front.extensions[SERVER] = running
    errors.register(front)
    headers.register(front)
    front.after_request(release_apps.cors)
    front.register_blueprint(bp)
    release_apps.on_exit(running.close)
    running.start()
    wsgi: Callable = running
    if running.caches != (None, None) and float(front.config["CACHE_RESPONSES_MB"]) > 0:
        wsgi = running.responses = ResponseCache(running,
                                                 release_apps._mb(front.config["CACHE_RESPONSES_MB"]))
    # outermost, as for one release: every other layer sees the client's own address
    front.wsgi_app = proxies.TrustedProxies(wsgi, trusted)
    return front

"""Time travel over a release series: Memento (RFC 7089) and 410 Gone, for every minted IRI.

A resource's *mementos* are the releases whose canonical dump holds it as a subject; each is
served pinned at ``/release/{id}/{path}``, its ``Memento-Datetime`` the release's date (see
``series.Release.datetime`` for a release without one). Which releases hold a resource is read
from each release's ``subjects.txt`` (its IRI subjects, one a line, in its dump's order; the
plain sorted N-Triples dump itself in a release built before), by bisection over their mapped
bytes (``Dump``): no index to build, no store to open, microseconds per release.

The plain IRI is the *original resource* and its own *TimeGate* (RFC 7089 pattern 1.1, 302
negotiation): with ``Accept-Datetime`` it redirects to the memento of that time, every answer
there carries ``Vary: accept-datetime`` and links its TimeMap (``/timemap/{path}``,
``application/link-format``). A resource the latest release no longer holds answers 410 Gone,
linking the last release that does and is still served; when every release that held it was
retired (``series retire``), the 410 says so (``Retired``). A retired release is no memento.
URIs in headers and TimeMaps are root-relative paths of this server, as the other ``Link``
headers are, percent-encoded by ``headers.uri_path``.
"""

from __future__ import annotations

import logging
import mmap
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Protocol

from flask import Response, current_app, request
from werkzeug.http import http_date, parse_date

from endpoint.conneg import choose
from endpoint.headers import uri_path

ACCEPT_DATETIME = "Accept-Datetime"
LINK_FORMAT = "application/link-format"
log = logging.getLogger(__name__)


class Version(Protocol):
    """A release as a memento: its id and the datetime it stands for."""

    id: str
    datetime: datetime


# -- which releases hold a resource ---------------------------------------------------------------


class Dump:
    """A release's canonical dump (sorted N-Triples, one triple a line), asked whether an IRI is
    the subject of a triple: a bisection over its lines, on the file mapped read-only.

    A release's ``subjects.txt`` (one ``<iri>`` a line, in the same order: what a release
    gzipped only, or retired, has) is read the same way, its lines ending where a dump's
    subject is followed by a space (``terminator``)."""

    def __init__(self, path: Path, terminator: bytes = b" ") -> None:
        self.path, self.terminator = path, terminator
        self._data: mmap.mmap | bytes | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Unmap the file (its release was retired: the removed dump's space is freed only
        once no mapping holds it); the dump holds nothing from then on."""
        with self._lock:
            data, self._data = self._data, b""
        if isinstance(data, mmap.mmap):
            data.close()

    def _mapped(self) -> mmap.mmap | bytes:
        with self._lock:
            if self._data is None:
                self._data = self._map()
            return self._data

    def _map(self) -> mmap.mmap | bytes:
        try:
            with self.path.open("rb") as handle:
                if handle.seek(0, 2) == 0:
                    return b""
                return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as err:  # a retired release without its dump: it holds nothing
            log.warning("%s cannot be read (%s): no resource is found in it", self.path, err)
            return b""

    def holds(self, iri: str) -> bool:
        """Whether ``<iri>`` is the subject of a line: the first line not before ``<iri> ``
        starts with it (lines sort as their UTF-8 bytes: the build sorts them as text). Each
        line is compared with its newline, which only matters to a line ``<iri>`` alone."""
        key = b"<" + iri.encode("utf-8", "surrogatepass") + b">" + self.terminator
        data = self._mapped()
        try:
            return _first_at_or_after(data, key) == key
        except ValueError:  # closed meanwhile (its release was retired): it holds nothing
            return False


def _first_at_or_after(data: mmap.mmap | bytes, key: bytes) -> bytes:
    """The start, as long as ``key``, of the first line of ``data`` not before ``key``."""
    low, high = 0, len(data)  # line starts: before low every line < key, from high on >=
    while low < high:
        middle = (low + high) // 2
        start = data.rfind(b"\n", 0, middle) + 1
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if data[start:end + 1] < key:
            low = end + 1
        else:
            high = start
    return data[low:low + len(key)]


# -- datetimes --------------------------------------------------------------------------------------


def wanted_datetime(text: str) -> datetime | None:
    """``Accept-Datetime`` as an aware datetime; None if it is no HTTP date."""
    return parse_date(text)


def chosen(mementos: Sequence[Version], wanted: datetime) -> Version:
    """The memento for ``wanted``: the last one at or before it, else the first one (the
    resource did not exist yet: its earliest state is the nearest)."""
    before = [m for m in mementos if m.datetime <= wanted]
    return before[-1] if before else mementos[0]


# -- links ------------------------------------------------------------------------------------------


def original(path: str, suffix: str = "") -> str:
    return uri_path(path + suffix)


def pinned(release_id: str, path: str, suffix: str = "") -> str:
    return uri_path(f"release/{release_id}/{path}{suffix}")


def timemap(path: str, suffix: str = "") -> str:
    return uri_path(f"timemap/{path}{suffix}")


def link(uri: str, rel: str, **params: str) -> str:
    """One link-value (RFC 8288): the URI is already encoded, the parameters are ours."""
    extra = "".join(f'; {name}="{value}"' for name, value in params.items())
    return f'<{uri}>; rel="{rel}"{extra}'


def _memento_link(release: Version, path: str, suffix: str, rels: str) -> str:
    return link(pinned(release.id, path, suffix), rels, datetime=http_date(release.datetime))


def gate_links(path: str, suffix: str) -> list[str]:
    """The original resource, which is its own TimeGate, and its TimeMap."""
    return [link(original(path, suffix), "original timegate"),
            link(timemap(path, suffix), "timemap", type=LINK_FORMAT)]


def neighbour_links(mementos: Sequence[Version], at: int, path: str, suffix: str) -> list[str]:
    """first, previous, next and last mementos seen from memento ``at`` (-1: from none), one
    link per URI with its relations together."""
    rels: dict[int, list[str]] = {}
    for name, index in (("first", 0), ("prev", at - 1), ("next", at + 1),
                        ("last", len(mementos) - 1)):
        if at >= 0 and index == at or not 0 <= index < len(mementos) \
                or at < 0 and name in ("prev", "next"):
            continue
        rels.setdefault(index, []).append(name)
    return [_memento_link(mementos[i], path, suffix, " ".join([*names, "memento"]))
            for i, names in sorted(rels.items())]


def add_links(response: Response, links: Sequence[str]) -> None:
    present = response.headers.get("Link")
    response.headers["Link"] = ", ".join([present, *links] if present else links)


def add_vary(response: Response, name: str) -> None:
    present = [v.strip() for v in response.headers.get("Vary", "").split(",") if v.strip()]
    if name.lower() not in (v.lower() for v in present):
        response.headers["Vary"] = ", ".join([*present, name])


# -- responses --------------------------------------------------------------------------------------


def timegate(mementos: Sequence[Version], path: str, suffix: str) -> Response:
    """302 to the memento of the time asked (RFC 7089 4.1.1); 400 if it is no HTTP date."""
    wanted = wanted_datetime(request.headers.get(ACCEPT_DATETIME, ""))
    if wanted is None:
        response = Response(
            "Accept-Datetime must be an HTTP date (RFC 7231), e.g. "
            "'Sat, 01 Jun 2024 00:00:00 GMT'\n", status=400,
            content_type="text/plain; charset=utf-8")
    else:
        release = chosen(mementos, wanted)
        response = Response(status=302)
        response.headers["Location"] = pinned(release.id, path, suffix)
    response.headers["Vary"] = "accept-datetime"
    add_links(response, [*gate_links(path, suffix), *neighbour_links(mementos, -1, path, suffix)])
    return response


def as_original(response: Response, mementos: Sequence[Version], path: str,
                suffix: str) -> None:
    """The current state at the plain IRI: it varies with Accept-Datetime, and links its
    TimeGate (itself), TimeMap and mementos."""
    add_vary(response, ACCEPT_DATETIME)
    add_links(response, [*gate_links(path, suffix), *neighbour_links(mementos, -1, path, suffix)])


def as_memento(response: Response, mementos: Sequence[Version], release_id: str, path: str,
               suffix: str) -> None:
    """A pinned state: its Memento-Datetime, its original, TimeMap and neighbours."""
    at = next((i for i, m in enumerate(mementos) if m.id == release_id), -1)
    if at < 0:
        return
    response.headers["Memento-Datetime"] = http_date(mementos[at].datetime)
    add_links(response, [*gate_links(path, suffix), *neighbour_links(mementos, at, path, suffix)])


def gone(mementos: Sequence[Version], path: str, suffix: str, iri: str) -> Response:
    """410: the latest release no longer holds the resource; the last one that does is
    linked (``rel="last memento"``), as a page for browsers and a line for programs."""
    last = mementos[-1]
    where = pinned(last.id, path, suffix)
    if choose(request.headers.get("Accept"), ["text/plain", "text/html"]) == "text/html" and \
            "text/html" in (request.headers.get("Accept") or ""):
        body = _gone_page(iri, last.id, where, timemap(path, suffix))
        content_type = "text/html; charset=utf-8"
    else:
        body = (f"gone: the latest release no longer holds this resource; the last release "
                f"that does is {last.id}, at {where}\n")
        content_type = "text/plain; charset=utf-8"
    response = Response(body, status=410, content_type=content_type)
    response.headers["Vary"] = "Accept, Accept-Datetime"
    add_links(response, [*gate_links(path, suffix), *neighbour_links(mementos, -1, path, suffix)])
    return response


@dataclass(frozen=True)
class Retired:
    """The last release that held a resource, retired since: its data are no longer served,
    the changeset of the release after it (``removed_in``) says what that one lost."""

    release_id: str
    date: str  # when it was retired
    removed_in: str | None  # the next release's id (None: no release follows it)


def gone_from(versions: Holdings, iri: str, path: str, suffix: str) -> Response | None:
    """410 for a resource the latest release no longer holds: linking the last release that
    holds it and is still served, else saying that the last one that held it was retired;
    None when no release of the series ever held it (a 404)."""
    mementos = versions.mementos(iri)
    if mementos:
        return gone(mementos, path, suffix, iri)
    holder = versions.retired_holder(iri)
    return gone_retired(holder, iri) if holder is not None else None


def gone_retired(holder: Retired, iri: str) -> Response:
    """410: the releases that held the resource were all retired (no memento is left)."""
    changes = f"/release/{holder.removed_in}/changes" if holder.removed_in else None
    line = (f"gone: the latest release no longer holds this resource; the last release that "
            f"held it, {holder.release_id}, was retired on {holder.date} and is no longer "
            f"served" + (f"; what release {holder.removed_in} removed is at {changes}"
                         if changes else "") + "; the releases are listed at /release/")
    links = [link("/release/", "index")]
    if changes:
        links.append(link(changes, "related"))
    page = (f"<p>La dernière publication ne contient plus <code>{escape(iri)}</code> ; la "
            f"dernière publication qui la contenait, {escape(holder.release_id)}, a été retirée "
            f"le {escape(holder.date)}. <span lang=\"en\">The last release that held it was "
            f"retired.</span></p>" + (f'<p><a href="{escape(changes)}">Ce qui a changé en '
                                       f"{escape(holder.removed_in or '')}</a></p>"
                                       if changes else "")
            + '<p><a href="/release/">Les publications</a></p>')
    return gone_response(line, page, links)


def gone_response(line: str, page: str, links: Sequence[str]) -> Response:
    """A 410 with ``links``: one line for programs, a page (``page``: escaped HTML
    paragraphs) for browsers."""
    if _wants_html():
        body = f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Retiré — gone</title>
<link rel="stylesheet" href="/static/site.css"></head><body><main>
<h1>Retiré <span lang="en">gone</span></h1>
{page}</main></body></html>"""
        response = Response(body, status=410, content_type="text/html; charset=utf-8")
    else:
        response = Response(line + "\n", status=410, content_type="text/plain; charset=utf-8")
    response.headers["Vary"] = "Accept"
    add_links(response, links)
    return response


def _wants_html() -> bool:
    accept = request.headers.get("Accept")
    return choose(accept, ["text/plain", "text/html"]) == "text/html" and \
        "text/html" in (accept or "")


def _gone_page(iri: str, release_id: str, where: str, versions: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Ressource retirée — gone</title>
<link rel="stylesheet" href="/static/site.css"></head><body><main>
<h1>Ressource retirée <span lang="en">gone</span></h1>
<p>La dernière publication ne contient plus <code>{escape(iri)}</code>.
<span lang="en">The latest release no longer holds this resource.</span></p>
<p>Sa dernière version est celle de la publication
<a href="{escape(where)}">{escape(release_id)}</a>
(<a href="{escape(versions)}">toutes ses versions</a>).</p></main></body></html>"""


def timemap_body(mementos: Sequence[Version], path: str, suffix: str) -> str:
    """The TimeMap (RFC 7089 5.1.1, link-format): original, TimeGate, itself, mementos."""
    first, last = mementos[0], mementos[-1]
    lines = [link(original(path, suffix), "original"),
             link(original(path, suffix), "timegate"),
             link(timemap(path, suffix), "self", type=LINK_FORMAT,
                  **{"from": http_date(first.datetime), "until": http_date(last.datetime)})]
    for index, release in enumerate(mementos):
        names = (["first"] if index == 0 else []) + \
            (["last"] if index == len(mementos) - 1 else [])
        lines.append(_memento_link(release, path, suffix, " ".join([*names, "memento"])))
    return ",\n".join(lines) + "\n"


# -- the series a release belongs to ----------------------------------------------------------------

SERIES = "senacs.series"  # its place in a release application's app.extensions


class Holdings(Protocol):
    """What a release's application asks of its series (endpoint/series.py)."""

    release_id: str  # the release this application serves

    def mementos(self, iri: str) -> list[Version]: ...

    def series_catalog(self) -> Path | None: ...  # the series' DCAT catalog, if it has one

    def retired_holder(self, iri: str) -> Retired | None:
        """The last retired release that held ``iri``, when no served one does."""


def holdings() -> Holdings | None:
    """The series of the application handling the request; None when it serves one release."""
    return current_app.extensions.get(SERIES)

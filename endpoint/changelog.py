"""What changed in a release of a series: its changeset IRI, ``{base}release/{id}/changes``,
dereferenced at ``/release/{id}/changes``.

A browser gets a page: the counts of the release's manifest (triples added and removed;
actions, structures and public bodies added, removed and changed), then the changes
themselves, by kind, each with its label, the fields that changed and a link to the resource
pinned in the release that holds it (a removed one in the previous release), paged
(``?page=N``, ``&size=M`` up to MAX_PAGE_SIZE). Programs get the changeset's summary graph,
``changes/summary.ttl``, as Turtle, N-Triples, JSON-LD or RDF/XML, by Accept or by extension
(``/release/{id}/changes.ttl``), as resources are.

The page reads the summary file, not the store: it is written sorted (the change records
named after their resources: actions, then bodies, then structures, each by IRI), one block
of lines per record. Where each record starts is found once a process by a scan of the
file's lines (``Index``: 8 bytes a record); a page then parses its own records' bytes only,
so that every page costs the same, the last as the first, and deep pages cannot be used to
keep a web process busy. A page is replayed afterwards (ETag, response cache). The page
needs no store, so a pinned release whose store is closed shows its changes without
opening it. The first release of a series has no changeset: 404.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request, send_file
from werkzeug.wsgi import wrap_file

from endpoint import headers, memento
from endpoint.cache import REPLAYABLE
from endpoint.conneg import RDF_EXTENSIONS, RDF_FORMATS, choose
from endpoint.errors import ProtocolError
from endpoint.resources import ROOTS
from endpoint.state import server_state
from endpoint.store import CHANGES_SUMMARY, changes_graph

bp = Blueprint("changelog", __name__)

PAGE_SIZE = 200  # changes a page lists by default
MAX_PAGE_SIZE = 1000  # and at most (``size``)
EXTENSIONS = {**RDF_EXTENSIONS, ".html": "text/html"}
OFFERS = ["text/html", *RDF_FORMATS]
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
DCTERMS_SUBJECT = "http://purl.org/dc/terms/subject"
# what the summary's classes and kinds are called on the page, in French and English
STATUSES = {"Addition": ("ajout", "added"), "Removal": ("retrait", "removed"),
            "Modification": ("modification", "changed")}
KINDS = {"action": ("Actions", "actions", "action"),
         "organisation": ("Organismes publics", "public bodies", "body"),
         "structure": ("Structures", "structures", "structure")}
MANIFEST_STATUSES = (("added", "ajoutés"), ("removed", "retirés"), ("changed", "modifiés"))


@dataclass
class Change:
    """One change record of the summary, as the page lists it."""

    status: str  # Addition | Removal | Modification
    subject: str = ""
    label: str = ""
    fields: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Changeset:
    """The changeset of the release this application serves, pinned in its series."""

    release_id: str
    previous: str
    iri: str
    summary: Path
    counts: dict  # the manifest's "changes" (empty if it has none)


# -- which changeset -------------------------------------------------------------------------------


def previous_of(manifest: dict) -> str | None:
    """The release a series release's changeset is against, if it has one: its summary is
    listed in its manifest, which names the previous release."""
    if CHANGES_SUMMARY not in manifest.get("files", {}):
        return None
    for key in ("series", "changes"):
        said = manifest.get(key)
        if isinstance(said, dict) and isinstance(said.get("previous"), str):
            return said["previous"]
    return None


def changeset() -> Changeset:
    """The changeset of the pinned release being served; a 404 when there is none (not a
    release of a series, the plain IRIs, or the first release of its series)."""
    versions = memento.holdings()
    if versions is None or not request.script_root:
        raise ProtocolError(404, "no resource at this path; the changes of a release of a "
                                 "series are at /release/{id}/changes")
    manifest = server_state().manifest
    previous = previous_of(manifest)
    if previous is None:
        raise ProtocolError(404, f"release {versions.release_id} has no changeset: it is the "
                                 "first release of its series (the releases are listed at "
                                 "/release/)")
    base = current_app.config["BASE"]
    counts = manifest.get("changes") if isinstance(manifest.get("changes"), dict) else {}
    return Changeset(versions.release_id, previous, changes_graph(base, versions.release_id),
                     Path(str(current_app.config["RELEASE_DIR"])) / CHANGES_SUMMARY,
                     counts)


# -- reading the summary ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Index:
    """Where each change record of a summary starts (byte offsets), found once a process by a
    scan of its lines, so that a page parses its own records only, however deep it is (a
    page's cost no longer grows with its number: the deep pages of a large changeset cannot
    be used to keep a web process busy)."""

    header: bytes  # the @prefix lines, which every slice parsed needs
    starts: array  # offset of each record's first line, in the file's order
    end: int  # where the last record ends (the changeset's own description, or the file's end)

    def __len__(self) -> int:
        return len(self.starts)

    def span(self, first: int, stop: int) -> tuple[int, int]:
        """The bytes of records ``first`` to ``stop`` (excluded)."""
        return self.starts[first], self.starts[stop] if stop < len(self.starts) else self.end


def index_of(summary: Path, changeset_iri: str) -> Index:
    stat = summary.stat()
    return _index(str(summary), stat.st_mtime_ns, stat.st_size, changeset_iri)


@lru_cache(maxsize=16)
def _index(summary: str, _mtime_ns: int, _size: int, changeset_iri: str) -> Index:
    """The summary as mapping/diff.py writes it (Oxigraph's Turtle): prefixes, then one
    block per subject starting at column 0 with its IRI, continued on lines indented by a
    tab; literals escaped on one line. Records are the blocks of ``{changeset}#…``."""
    record, starts, header, end = f"<{changeset_iri}#".encode(), array("q"), [], None
    offset, in_header = 0, True
    with open(summary, "rb") as handle:
        for line in handle:
            if line.startswith(b"<"):
                in_header = False
                if line.startswith(record):
                    starts.append(offset)
                    end = None
                elif starts and end is None:
                    end = offset
            elif in_header:
                header.append(line)
            offset += len(line)
    return Index(b"".join(header), starts, offset if end is None else end)


def records(summary: Path, changeset_iri: str, start: int = 0,
            stop: int | None = None) -> Iterator[Change]:
    """The summary's change records ``start`` to ``stop`` (excluded; None: to the last), in
    the file's order: only their bytes are read and parsed (the prefixes before them)."""
    found = index_of(summary, changeset_iri)
    stop = len(found) if stop is None else min(stop, len(found))
    if start >= stop:
        return
    begin, finish = found.span(start, stop)
    with open(summary, "rb") as handle:
        handle.seek(begin)
        data = found.header + handle.read(finish - begin)
    prefix, subject, current = changeset_iri + "#", None, None
    for triple in ox.parse(data, format=ox.RdfFormat.TURTLE):
        if triple.subject != subject:
            subject = triple.subject
            if current is not None:
                yield current
            current = Change("") if subject.value.startswith(prefix) else None
        if current is not None:
            _take(current, triple)
    if current is not None:
        yield current


def _take(change: Change, triple: ox.Triple) -> None:
    predicate, value = triple.predicate.value, triple.object.value
    if predicate == RDF_TYPE and value.rsplit("#", 1)[-1] in STATUSES:
        change.status = value.rsplit("#", 1)[-1]
    elif predicate == DCTERMS_SUBJECT:
        change.subject = value
    elif predicate == RDFS_LABEL:
        change.label = value
    elif predicate.endswith("#changedProperty"):
        change.fields.append(value)


def page_of(summary: Path, changeset_iri: str, start: int, size: int) -> tuple[list[Change], bool]:
    """The ``size`` records from position ``start``, and whether more follow."""
    taken = list(records(summary, changeset_iri, start, start + size))
    for change in taken:
        change.fields.sort()
    return taken, start + size < len(index_of(summary, changeset_iri))


def total_of(found: Changeset) -> int:
    """How many changes the summary holds: the manifest's counts, else counted in the file."""
    resources = found.counts.get("resources")
    if isinstance(resources, dict):
        return sum(int(n) for by_status in resources.values() if isinstance(by_status, dict)
                   for n in by_status.values() if isinstance(n, int))
    return len(index_of(found.summary, found.iri))


@lru_cache(maxsize=16)
def property_labels(ontology: str) -> dict[str, tuple[str, str]]:
    """fr and en labels of the ontology's terms (the release's ``ontology/`` folder), read
    once a process: the page names a changed field by its label, with no store to ask."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(Path(ontology).glob("*.ttl")):
        for triple in ox.parse(path=str(path), format=ox.RdfFormat.TURTLE):
            if triple.predicate.value == RDFS_LABEL and isinstance(triple.object, ox.Literal):
                found.setdefault(triple.subject.value, {}).setdefault(
                    triple.object.language or "fr", triple.object.value)
    return {iri: (names.get("fr", ""), names.get("en", "")) for iri, names in found.items()}


def field_name(iri: str) -> dict[str, str]:
    """A changed field as the page shows it: its labels and its prefixed name."""
    from endpoint.pages import KNOWN_LABELS

    ontology = str(Path(str(current_app.config["RELEASE_DIR"])) / "ontology")
    fr, en = property_labels(ontology).get(iri) or KNOWN_LABELS.get(iri) or ("", "")
    short = iri
    for name, namespace in current_app.config["PREFIXES"].items():
        local = iri[len(namespace):]
        if iri.startswith(namespace) and local and "/" not in local and "#" not in local:
            short = f"{name}:{local}"
            break
    return {"fr": fr or short, "en": en, "short": short}


# -- the page ----------------------------------------------------------------------------------------


def _whole_number(name: str, default: int) -> int:
    """A paging parameter: a whole number from 1 (the request's text is never echoed)."""
    text = request.args.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise ProtocolError(400, f"'{name}' must be a whole number from 1")
    return int(text)


def paging() -> tuple[int, int]:
    """(page, size) from ``?page=N&size=M``, checked."""
    page, size = _whole_number("page", 1), _whole_number("size", PAGE_SIZE)
    if size > MAX_PAGE_SIZE:
        raise ProtocolError(400, f"'size' must be at most {MAX_PAGE_SIZE}")
    return page, size


def _row(change: Change, found: Changeset) -> dict:
    """What the page shows of one change: its links pinned in the release that holds it."""
    base = current_app.config["BASE"]
    path = change.subject[len(base):] if change.subject.startswith(base) else ""
    root = path.split("/", 1)[0]
    linkable = root in ROOTS and len(path) > len(root) + 1
    held_in = found.previous if change.status == "Removal" else found.release_id
    fr, en = STATUSES.get(change.status, ("?", "?"))
    return {"status": change.status, "status_fr": fr, "status_en": en, "iri": change.subject,
            "label": change.label or path or change.subject,
            "href": memento.pinned(held_in, path) if linkable else None,
            "previous_href": memento.pinned(found.previous, path)
            if linkable and change.status == "Modification" else None,
            "fields": [field_name(f) for f in change.fields]}


def _groups(rows: list[dict]) -> list[dict]:
    """The page's rows by kind (their order in the summary: actions, bodies, structures)."""
    groups: list[dict] = []
    for row in rows:
        path = row["iri"][len(current_app.config["BASE"]):]
        kind = path.split("/", 1)[0]
        if not groups or groups[-1]["kind"] != kind:
            fr, en, _ = KINDS.get(kind, ("Autres", "others", kind))
            groups.append({"kind": kind, "fr": fr, "en": en, "rows": []})
        groups[-1]["rows"].append(row)
    return groups


def _counts(found: Changeset) -> list[dict]:
    resources = found.counts.get("resources") or {}
    return [{"fr": fr, "en": en, **{status: (resources.get(key) or {}).get(status, 0)
                                    for status, _ in MANIFEST_STATUSES}}
            for fr, en, key in KINDS.values()]


def page(found: Changeset, number: int, size: int) -> str:
    """The page ``number`` of the changes, ``size`` to a page; 404 beyond the last."""
    total = total_of(found)
    last = max(1, -(-total // size))
    if number > last:
        raise ProtocolError(404, f"no such page: the changes of release {found.release_id} "
                                 f"make {last} page{'s' if last > 1 else ''} of {size}")
    changes, _ = page_of(found.summary, found.iri, (number - 1) * size, size)
    here = headers.uri_path(headers.mounted("changes"))
    sized = "" if size == PAGE_SIZE else f"&size={size}"
    return render_template(
        "changes.html", found=found, groups=_groups([_row(c, found) for c in changes]),
        counts=_counts(found), statuses=MANIFEST_STATUSES, total=total, number=number,
        last=last, size=size, first_index=(number - 1) * size + 1, shown=len(changes), here=here,
        previous_page=f"{here}?page={number - 1}{sized}" if number > 1 else None,
        next_page=f"{here}?page={number + 1}{sized}" if number < last else None,
        triples_added=found.counts.get("triples_added"),
        triples_removed=found.counts.get("triples_removed"))


# -- the route -------------------------------------------------------------------------------------


@bp.route("/changes", defaults={"ext": ""})
@bp.route("/changes<any(.ttl, .nt, .jsonld, .rdf, .html):ext>")
def changes(ext: str) -> Response:
    """The changeset IRI: a page for browsers, the summary graph for programs."""
    found = changeset()
    media = EXTENSIONS[ext] if ext else choose(request.headers.get("Accept"), OFFERS)
    if media is None:
        raise ProtocolError(406, "the changes are available as " + ", ".join(OFFERS))
    number, size = paging() if media == "text/html" else (0, 0)
    tag = headers.etag(server_state().release, "changes", media, f"{number}-{size}")
    if request.if_none_match.contains(tag):
        response = Response(status=304)  # nothing to read or convert
    elif media == "text/html":
        response = Response(page(found, number, size), content_type="text/html; charset=utf-8")
        request.environ[REPLAYABLE] = True  # same request, same bytes while the release is served
    else:
        response = graph(found, media)
    here = headers.uri_path(headers.mounted("changes"))
    if not ext:
        response.headers["Vary"] = "Accept"
        response.headers["Content-Location"] = here + {v: k for k, v in EXTENSIONS.items()}[media]
    response.headers["Link"] = ", ".join(
        f'<{here}{e}>; rel="alternate"; type="{m}"' for e, m in EXTENSIONS.items())
    response.set_etag(tag)
    return response


def graph(found: Changeset, media: str) -> Response:
    """The summary graph: its Turtle file as it is, another format written into a temporary
    file and streamed from there (a large summary is never held in memory whole)."""
    if media == "text/turtle":
        return send_file(found.summary, mimetype="text/turtle", conditional=False)
    out = tempfile.TemporaryFile()
    try:
        ox.serialize(ox.parse(path=str(found.summary), format=ox.RdfFormat.TURTLE), out,
                     RDF_FORMATS[media], prefixes=current_app.config["PREFIXES"])
        size = out.tell()
        out.seek(0)
    except BaseException:
        out.close()
        raise
    response = Response(wrap_file(request.environ, out), direct_passthrough=True,
                        content_type=media + ("; charset=utf-8" if media.startswith("text/")
                                              else ""))
    response.content_length = size
    return response

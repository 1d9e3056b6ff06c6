"""The release's own descriptions at their standard places: DCAT catalog, VoID, example queries,
ontology.

``/catalog`` (DCAT-AP 3) and ``/.well-known/void`` are plain Turtle by default
and JSON-LD, RDF/XML or N-Triples by Accept (never gzip: data.gouv.fr's
harvester reads plain files and sends no conditional requests). ``/def`` serves
the ontology, its form fields and concept schemes: Turtle or JSON-LD by Accept,
and for browsers the ontology's documentation made by pyLODE at build time, in
French or English (``?lang=``, else Accept-Language, else French). A ``format``
parameter (a media type, or one of the names /sparql takes: ``ttl``, ``jsonld``, ``nt``,
``rdfxml``… from ``conneg.RDF_ALIASES``) overrides Accept.

Serving a series (``serve --series``), the plain ``/catalog`` is the series' catalog, the file
``series.json`` names (``mapping/series_catalog.py``); ``/release/{id}/catalog`` is that
release's own. The series' catalog changes with the series (a publication, a retirement)
while the latest release stays: it is never replayed from memory, and its ETag names the file
(whose name holds its digest).
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, request

from endpoint import headers, memento
from endpoint.cache import REPLAYABLE
from endpoint.conneg import RDF_ALIASES, RDF_FORMATS, choose, named_format
from endpoint.errors import ProtocolError
from endpoint.state import server_state
from mapping import release

bp = Blueprint("described", __name__)

# offered in this order (Turtle the default); written by conneg.RDF_FORMATS
FORMATS = ["text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples"]


def _graph_response(turtle: bytes, offers: list[str], html=None, variant: str = "",
                    replayable: bool = True) -> Response:
    wanted = request.args.get("format")
    media = named_format(wanted, offers, RDF_ALIASES) if wanted is not None else None
    if wanted is not None and media is None:
        names = sorted(name for name, m in RDF_ALIASES.items() if m in offers)
        raise ProtocolError(400, f"format={wanted!r}: one of " + ", ".join(offers + names))
    media = media or choose(request.headers.get("Accept"), offers)
    if media is None:
        raise ProtocolError(406, "available as " + ", ".join(offers))
    if media == "text/html":
        body, content_type = html(), "text/html; charset=utf-8"
    elif media == "text/turtle":
        body, content_type = turtle, "text/turtle; charset=utf-8"
    else:
        triples = ox.parse(turtle, format=ox.RdfFormat.TURTLE)
        body = ox.serialize(triples, format=RDF_FORMATS[media],
                            prefixes=current_app.config["PREFIXES"])
        content_type = media
    response = Response(body, content_type=content_type)
    response.headers["Vary"] = "Accept"
    response.set_etag(headers.etag(server_state().release, request.path, media,
                                   variant))
    if replayable:  # made from the release alone: replayed while it is served
        request.environ[REPLAYABLE] = True
    return response.make_conditional(request)


def _release_file(name: str) -> bytes:
    path = Path(str(current_app.config["RELEASE_DIR"])) / name
    if not path.is_file():
        raise ProtocolError(404, f"this release has no {name}")
    return path.read_bytes()


@bp.route("/catalog")
def catalog() -> Response:
    series = memento.holdings()
    path = series.series_catalog() if series is not None and not request.script_root else None
    if path is None:
        return _graph_response(_release_file(release.CATALOG), FORMATS)
    try:
        turtle = path.read_bytes()
    except OSError:
        raise ProtocolError(503, "the series catalog cannot be read; try again") from None
    return _graph_response(turtle, FORMATS, variant="-" + path.name, replayable=False)


@bp.route("/.well-known/void")
def void() -> Response:
    return _graph_response(_release_file(release.VOID), FORMATS)


@bp.route("/.well-known/sparql-examples")
def examples() -> Response:
    return _graph_response(_release_file(release.EXAMPLES), FORMATS)


@bp.route("/def")
def ontology() -> Response:
    turtle = b"\n".join(_release_file(f"ontology/{name}")
                        for name in ("senacs.ttl", "form.ttl", "schemes.ttl"))
    # the three files share prefixes; re-serialise them as one document
    triples = list(ox.parse(turtle, format=ox.RdfFormat.TURTLE))
    merged = ox.serialize(triples, format=ox.RdfFormat.TURTLE,
                          prefixes=current_app.config["PREFIXES"])
    lang = request.args.get("lang")
    if lang is None:
        lang = request.accept_languages.best_match(release.ONTOLOGY_DOC_LANGUAGES, default="fr")
    elif lang not in release.ONTOLOGY_DOC_LANGUAGES:
        raise ProtocolError(400, f"lang={lang!r}: one of " + ", ".join(release.ONTOLOGY_DOC_LANGUAGES))
    response = _graph_response(merged, ["text/html", *FORMATS],
                               lambda: _release_file(release.ontology_doc_page(lang)),
                               variant="-" + lang)
    if response.mimetype == "text/html":
        response.headers["Content-Language"] = lang
        response.headers["Vary"] = "Accept, Accept-Language"
    return response

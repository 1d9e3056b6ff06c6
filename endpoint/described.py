"""The release's own descriptions at their standard places: DCAT catalog, VoID, example queries,
ontology.

``/catalog`` (DCAT-AP 3) and ``/.well-known/void`` are plain Turtle by default
and JSON-LD, RDF/XML or N-Triples by Accept (never gzip: data.gouv.fr's
harvester reads plain files and sends no conditional requests). ``/def`` serves
the ontology, its form fields and concept schemes: Turtle or JSON-LD by Accept,
and an HTML page listing its terms for browsers.
"""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, render_template, request

from endpoint.conneg import choose
from endpoint.errors import ProtocolError
from mapping import release

bp = Blueprint("described", __name__)

FORMATS = {"text/turtle": ox.RdfFormat.TURTLE, "application/ld+json": ox.RdfFormat.JSON_LD,
           "application/rdf+xml": ox.RdfFormat.RDF_XML,
           "application/n-triples": ox.RdfFormat.N_TRIPLES}


def _graph_response(turtle: bytes, offers: list[str], html=None) -> Response:
    media = choose(request.headers.get("Accept"), offers)
    if media is None:
        raise ProtocolError(406, "available as " + ", ".join(offers))
    if media == "text/html":
        body, content_type = html().encode("utf-8"), "text/html; charset=utf-8"
    elif media == "text/turtle":
        body, content_type = turtle, "text/turtle; charset=utf-8"
    else:
        triples = ox.parse(turtle, format=ox.RdfFormat.TURTLE)
        body = ox.serialize(triples, format=FORMATS[media],
                            prefixes=current_app.config["PREFIXES"])
        content_type = media
    response = Response(body, content_type=content_type)
    response.headers["Vary"] = "Accept"
    response.set_etag(f"{current_app.extensions['senacs']['release']}-{request.path}-{media}")
    return response.make_conditional(request)


def _release_file(name: str) -> bytes:
    path = Path(str(current_app.config["RELEASE_DIR"])) / name
    if not path.is_file():
        raise ProtocolError(404, f"this release has no {name}")
    return path.read_bytes()


@bp.route("/catalog")
def catalog() -> Response:
    return _graph_response(_release_file(release.CATALOG), list(FORMATS))


@bp.route("/.well-known/void")
def void() -> Response:
    return _graph_response(_release_file(release.VOID), list(FORMATS))


@bp.route("/.well-known/sparql-examples")
def examples() -> Response:
    return _graph_response(_release_file(release.EXAMPLES), list(FORMATS))


@bp.route("/def")
def ontology() -> Response:
    turtle = b"\n".join(_release_file(f"ontology/{name}")
                        for name in ("senacs.ttl", "form.ttl", "schemes.ttl"))
    # the three files share prefixes; re-serialise them as one document
    triples = list(ox.parse(turtle, format=ox.RdfFormat.TURTLE))
    merged = ox.serialize(triples, format=ox.RdfFormat.TURTLE,
                          prefixes=current_app.config["PREFIXES"])
    return _graph_response(merged, ["text/html", *FORMATS], lambda: _ontology_html(triples))


def _ontology_html(triples) -> str:
    base = current_app.config["BASE"] + "def#"
    terms: dict[str, dict] = {}
    kinds = {"http://www.w3.org/2002/07/owl#Class": "classes",
             "http://www.w3.org/2002/07/owl#ObjectProperty": "properties",
             "http://www.w3.org/2002/07/owl#DatatypeProperty": "properties"}
    for t in triples:
        s = t.subject.value
        if not s.startswith(base):
            continue
        term = terms.setdefault(s, {"iri": s, "name": s[len(base):], "kind": None,
                                     "labels": {}, "comments": {}, "parents": []})
        p = t.predicate.value
        if p == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type" and t.object.value in kinds:
            term["kind"] = kinds[t.object.value]
        elif p == "http://www.w3.org/2000/01/rdf-schema#label" and isinstance(t.object, ox.Literal):
            term["labels"][t.object.language or ""] = t.object.value
        elif p == "http://www.w3.org/2000/01/rdf-schema#comment":
            term["comments"][t.object.language or ""] = t.object.value
        elif p in ("http://www.w3.org/2000/01/rdf-schema#subClassOf",
                   "http://www.w3.org/2000/01/rdf-schema#subPropertyOf"):
            term["parents"].append(t.object.value)
    listed = sorted((t for t in terms.values() if t["kind"]), key=lambda t: t["name"].lower())
    return render_template("ontology.html", terms=listed, base=base)

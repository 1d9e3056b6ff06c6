"""Dereferenceable IRIs: every IRI a release mints answers at its path on this server.

The request path is mapped onto the configured base (``/action/x/y`` →
``{base}action/x/y``), so the same release dereferences locally and in
production. RDF comes by Accept or by extension (``.ttl``, ``.nt``,
``.jsonld``, ``.rdf``) with ``Vary: Accept``, ``Content-Location`` and a
``Link`` to the alternates; 200 with Content-Location is used rather than a
303 redirect (one round trip, and the resource and its description share the
IRI's path). Browsers get an HTML page. An unknown IRI is a 404 with a page
that says where to look.
"""

from __future__ import annotations

from html import escape

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, request

from endpoint import guard, headers, memento, pages
from endpoint.cache import REPLAYABLE
from endpoint.conneg import RDF_EXTENSIONS, RDF_FORMATS, choose
from endpoint.errors import ProtocolError
from endpoint.sparql import TRUNCATED_HEADER
from endpoint.state import server_state
from endpoint.store import Answer

bp = Blueprint("resources", __name__)

ROOTS = ("action", "structure", "organisation", "concept", "place", "source")
EXTENSIONS = {**RDF_EXTENSIONS, ".html": "text/html"}
# HTML first (browsers), then the RDF formats of conneg.RDF_FORMATS
OFFERS = ["text/html", *RDF_FORMATS]
RESOURCE_CAP = 100_000  # triples; far above any resource a release mints


# {this}: the requested IRI, checked and re-serialised by guard.iri_term
DESCRIBE = """CONSTRUCT {{ ?s ?p ?o }} WHERE {{
    {{ BIND({this} AS ?s) ?s ?p ?o }} UNION
    {{ {this} ?q ?s . FILTER(isIRI(?s) && STRSTARTS(STR(?s), CONCAT(STR({this}), "#")))
      ?s ?p ?o }} }}"""


def iri_of(path: str) -> str | None:
    """The IRI a request path names on the configured base, or None if it is not a valid IRI
    (a quote, a space, an angle bracket… from the path make no IRI, so no query is run)."""
    iri = current_app.config["BASE"] + path
    try:
        guard.iri_term(iri)
    except ValueError:
        return None
    return iri


def describe(iri: str) -> Answer:
    """The resource's triples and those of its hash-IRI parts (amounts, provenance…)."""
    # a resource is described whole: the SPARQL row cap is for open-ended queries; the
    # resource cap only stops a pathological one, and says so as the query caps do
    return server_state().store.query(
        DESCRIBE.format(this=guard.iri_term(iri)), row_cap=RESOURCE_CAP)


@bp.route(f"/<any({', '.join(ROOTS)}):root>/<path:rest>")
def resource(root: str, rest: str) -> Response:
    ext = next((e for e in EXTENSIONS if rest.endswith(e)), None)
    path = f"{root}/{rest[:-len(ext)] if ext else rest}"
    iri = iri_of(path)
    if iri is None:
        return not_found(current_app.config["BASE"] + path)
    # in a series (endpoint/memento.py): the plain IRI is the original resource and its TimeGate
    versions = memento.holdings()
    original = versions is not None and not request.script_root
    if original and memento.ACCEPT_DATETIME in request.headers:
        mementos = versions.mementos(iri)
        return memento.timegate(mementos, path, ext or "") if mementos else \
            gone_or_not_found(versions, iri, path, ext or "")
    if ext:
        media = EXTENSIONS[ext]
    else:
        media = choose(request.headers.get("Accept"), OFFERS)
        if media is None:
            raise ProtocolError(406, "this resource is available as " + ", ".join(OFFERS))
    answer = describe(iri)
    data = answer.payload
    if not data:
        return gone_or_not_found(versions if original else None, iri, path, ext or "")
    body, content_type = representation(root, iri, data, media)
    response = Response(body, content_type=content_type)
    if answer.truncated:
        response.headers[TRUNCATED_HEADER] = f"true; rows={answer.rows}"
    here = headers.uri_path(headers.mounted(path))  # a pinned release's links stay in it
    if not ext:
        response.headers["Vary"] = "Accept"
        suffix = {v: k for k, v in EXTENSIONS.items()}[media]
        response.headers["Content-Location"] = here + suffix
    response.headers["Link"] = ", ".join(
        f'<{here}{e}>; rel="alternate"; type="{m}"' for e, m in EXTENSIONS.items())
    if versions is not None:
        in_time(response, versions, original, iri, path, ext or "")
    response.set_etag(headers.etag(server_state().release, media, path))
    request.environ[REPLAYABLE] = True  # same request, same bytes while this release is served
    return response.make_conditional(request)


def representation(root: str, iri: str, data: bytes, media: str) -> tuple[bytes, str]:
    """The resource's page or RDF document, from its triples: (body, Content-Type)."""
    if media == "text/html":
        node = pages.load(iri, data)
        senacs = str(pages.site_iris().DEF)
        body = (pages.action_page(node, senacs) if root == "action"
                else pages.generic_page(node, root, senacs)).encode("utf-8")
        return body, "text/html; charset=utf-8"
    triples = ox.parse(data, format=ox.RdfFormat.N_TRIPLES)
    body = data if media == "application/n-triples" else ox.serialize(
        triples, format=RDF_FORMATS[media], prefixes=current_app.config["PREFIXES"])
    return body, media + ("; charset=utf-8" if media.startswith("text/") else "")


def in_time(response: Response, versions: memento.Holdings, original: bool, iri: str,
            path: str, suffix: str) -> None:
    """Memento's headers: the current state's at the plain IRI, a memento's at a pinned one."""
    mementos = versions.mementos(iri)
    if original:
        memento.as_original(response, mementos, path, suffix)
    else:
        memento.as_memento(response, mementos, versions.release_id, path, suffix)


def gone_or_not_found(versions: memento.Holdings | None, iri: str, path: str,
                      suffix: str) -> Response:
    """A 410 when a release of the series held the resource (endpoint/memento.py), else 404."""
    gone = memento.gone_from(versions, iri, path, suffix) if versions is not None else None
    return gone if gone is not None else not_found(iri)


def not_found(iri: str) -> Response:
    body = f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8"><title>Ressource inconnue — unknown resource</title>
</head><body><h1>Ressource inconnue</h1>
<p>Aucune ressource <code>{escape(iri)}</code> dans cette publication.
<span lang="en">No resource with this IRI in this release.</span></p>
<p>Cherchez-la avec une requête SPARQL sur <a href="/sparql">/sparql</a>, ou partez de
<a href="/">la page d'accueil</a>.</p></body></html>"""
    return Response(body, status=404, content_type="text/html; charset=utf-8")

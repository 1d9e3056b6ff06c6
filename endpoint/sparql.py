"""The SPARQL 1.1 Protocol for queries at ``/sparql``, readable top to bottom.

GET ``?query=``, POST form-encoded, POST direct (``application/sparql-query``);
``default-graph-uri`` and ``named-graph-uri``; SELECT and ASK as JSON, XML, CSV
or TSV; CONSTRUCT and DESCRIBE as Turtle, N-Triples, RDF/XML or JSON-LD; the
format chosen by a ``format`` parameter or by Accept; the Service Description
when no query is given. Read-only and guarded: see ``endpoint/guard.py``.
"""

from __future__ import annotations

import hashlib
import threading

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, g, request

from endpoint import guard, pages
from endpoint.cache import REPLAYABLE
from endpoint.conneg import choose
from endpoint.errors import ProtocolError
from endpoint.store import Answer, Overloaded, QueryError, QueryTimeout, QueryTooLarge

bp = Blueprint("sparql", __name__)

RESULT_TYPES = {  # SELECT and ASK
    "application/sparql-results+json": ox.QueryResultsFormat.JSON,
    "application/sparql-results+xml": ox.QueryResultsFormat.XML,
    "text/csv": ox.QueryResultsFormat.CSV,
    "text/tab-separated-values": ox.QueryResultsFormat.TSV,
    "application/json": ox.QueryResultsFormat.JSON,
    "application/xml": ox.QueryResultsFormat.XML,
}
GRAPH_TYPES = {  # CONSTRUCT, DESCRIBE and the service description
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
    "text/plain": ox.RdfFormat.N_TRIPLES,
}
FORMAT_PARAM = {
    "select": {"json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
               "csv": "text/csv", "tsv": "text/tab-separated-values"},
    "graph": {"turtle": "text/turtle", "ttl": "text/turtle", "nt": "application/n-triples",
              "ntriples": "application/n-triples", "n-triples": "application/n-triples",
              "rdfxml": "application/rdf+xml", "rdf": "application/rdf+xml",
              "xml": "application/rdf+xml", "rdf+xml": "application/rdf+xml",
              "jsonld": "application/ld+json", "json-ld": "application/ld+json",
              "json": "application/ld+json", "n3": "text/turtle"},
}
FORMAT_PARAM["ask"] = FORMAT_PARAM["select"]
TRUNCATED_HEADER = "X-SPARQL-Truncated"
SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"


def _offers(kind: str) -> list[str]:
    return list(GRAPH_TYPES) if kind == "graph" else list(RESULT_TYPES)


def _first(values: list[str], name: str) -> str | None:
    if len(values) > 1:
        raise ProtocolError(400, f"the '{name}' parameter was given {len(values)} times: "
                                 "give it once")
    return values[0] if values else None


def read_request() -> tuple[str | None, list[str], list[str]]:
    """(query, default graphs, named graphs) from GET, POST form or POST direct."""
    args = request.args
    if request.method == "GET":
        if "update" in args:
            raise ProtocolError(403, "SPARQL Update is not accepted: this endpoint is read-only")
        return (_first(args.getlist("query"), "query"), args.getlist("default-graph-uri"),
                args.getlist("named-graph-uri"))
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        form = request.form
        if "update" in form:
            raise ProtocolError(403, "SPARQL Update is not accepted: this endpoint is read-only")
        query = _first(form.getlist("query"), "query")
        if query is None:
            raise ProtocolError(400, "a form POST needs a 'query' field")
        return (query, form.getlist("default-graph-uri") + args.getlist("default-graph-uri"),
                form.getlist("named-graph-uri") + args.getlist("named-graph-uri"))
    if mimetype == "application/sparql-query":
        if "query" in args:
            raise ProtocolError(400, "a direct POST carries the query in its body, not in "
                                     "the 'query' parameter")
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise ProtocolError(415, f"a direct POST query must be UTF-8, not {charset}")
        try:
            text = request.get_data(cache=False).decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(400, "the query body is not valid UTF-8") from None
        return text, args.getlist("default-graph-uri"), args.getlist("named-graph-uri")
    if mimetype == "application/sparql-update":
        raise ProtocolError(403, "SPARQL Update is not accepted: this endpoint is read-only")
    raise ProtocolError(415, f"unsupported Content-Type {mimetype or '(none)'}: POST a form "
                             "(application/x-www-form-urlencoded) or a query "
                             "(application/sparql-query)")


def negotiate(kind: str) -> str:
    """The media type to answer with: the ``format`` parameter first, then Accept."""
    wanted = request.values.get("format") or request.values.get("output")
    if wanted:
        media = FORMAT_PARAM[kind].get(wanted.lower()) or (
            wanted if wanted in _offers(kind) else None)
        if media is None:
            raise ProtocolError(400, f"unknown format {wanted!r} for this query; use one of "
                                     + ", ".join(sorted(FORMAT_PARAM[kind])))
        return media
    media = choose(request.headers.get("Accept"), _offers(kind))
    if media is None:
        raise ProtocolError(406, "none of the accepted media types can carry this result; "
                                 "offered: " + ", ".join(_offers(kind)))
    return media


def wants_page() -> bool:
    """A browser (text/html preferred over every result format) gets the query page."""
    if request.method != "GET" or request.values.get("format") or request.values.get("output"):
        return False
    offers = ["text/html", *RESULT_TYPES, *GRAPH_TYPES]
    return choose(request.headers.get("Accept"), offers) == "text/html" and \
        "text/html" in (request.headers.get("Accept") or "")


@bp.route("/sparql", methods=["GET", "POST"])
def sparql() -> Response:
    query, default_graphs, named_graphs = read_request()
    if wants_page():
        return query_page(query or "")
    if query is None:
        return service_description()
    config = current_app.config
    if len(query) > config["MAX_QUERY_LENGTH"]:
        raise ProtocolError(413, f"the query has {len(query)} characters; the limit is "
                                 f"{config['MAX_QUERY_LENGTH']}")
    try:
        kind = guard.check(query, config["SERVICE_ALLOWLIST"])
    except guard.Refused as err:
        raise ProtocolError(403, str(err)) from None
    if (depth := guard.nesting_depth(query)) > int(config["MAX_NESTING"]):
        raise ProtocolError(400, f"the query nests {depth} levels deep (brackets and unary "
                                 f"operators); the limit is {config['MAX_NESTING']}")
    media = negotiate(kind)
    answer = run_query(query, default_graphs, named_graphs)
    if answer.kind != kind:  # the lexer guessed wrong: negotiate again on the real form
        kind = answer.kind
        media = negotiate(kind)
    body = render(answer, media)
    response = Response(body, content_type=_content_type(media))
    response.headers["Vary"] = "Accept"
    response.headers["X-Cache"] = request.environ.get("senacs.cache", "miss")
    if answer.truncated:
        response.headers[TRUNCATED_HEADER] = f"true; rows={answer.rows}"
    if request.method == "GET" and not guard.is_deterministic(query):
        response.headers["Cache-Control"] = "no-store"  # NOW(), RAND()…: no ETag, no replay
    elif request.method == "GET":
        digest = hashlib.sha1(request.full_path.encode() + media.encode()).hexdigest()[:16]
        response.set_etag(f"{current_app.extensions['senacs']['release']}-{digest}")
        request.environ[REPLAYABLE] = True  # same request, same bytes while this release is served
        return response.make_conditional(request)
    return response


def run_query(query: str, default_graphs: list[str], named_graphs: list[str]) -> Answer:
    state = current_app.extensions["senacs"]
    try:
        answer = answer_query(state["store"], current_app.config["BASE"], query, default_graphs,
                              named_graphs)
    except QueryError as err:
        raise ProtocolError(400, f"malformed query: {err}") from None
    except QueryTooLarge as err:  # memory or size: the same query would be stopped again
        raise ProtocolError(503, str(err)) from None
    except (QueryTimeout, Overloaded) as err:
        raise ProtocolError(503, str(err), retry_after=5) from None
    request.environ["senacs.cache"] = "hit" if answer.cached else "miss"
    return answer


def answer_query(store, base: str, query: str, default_graphs=(), named_graphs=(),
                 timeout: float | None = None) -> Answer:
    # relative IRIs in a query resolve against the endpoint (SPARQL 1.1 Protocol, 2.1.4): its
    # public IRI, the same whatever host name the request came through
    return store.query(query, default_graphs, named_graphs, base_iri=base + "sparql",
                       timeout=timeout)


def warm(app, examples: list[dict[str, str]]) -> None:
    """Answer the example catalogue and the home page's queries once in the background, so their
    first visitors wait no more than the next ones (aggregates over a large release take seconds
    on Oxigraph). With the disk cache this happens once per release, not at every start."""
    state = app.extensions["senacs"]
    timeout = float(app.config["WARM_TIMEOUT"])

    def run() -> None:
        for example in examples:
            try:
                answer_query(state["store"], app.config["BASE"], example["query"],
                             timeout=timeout)
                state["warmed"] += 1
            except (QueryError, QueryTimeout, Overloaded):
                continue
        with app.test_request_context("/"):
            g.senacs_query_timeout = timeout
            try:
                pages.home_page()
                state["home_warmed"] = True
            except (QueryError, QueryTimeout, Overloaded):
                pass

    threading.Thread(target=run, name="senacs-warm-cache", daemon=True).start()


def _content_type(media: str) -> str:
    return media + ("; charset=utf-8" if media.startswith("text/") else "")


def render(answer: Answer, media: str) -> bytes:
    """The answer in the negotiated format, with the truncation noted where the format allows."""
    if answer.kind == "graph":
        fmt = GRAPH_TYPES[media]
        if fmt == ox.RdfFormat.N_TRIPLES:
            body = answer.payload
        else:
            triples = ox.parse(answer.payload, format=ox.RdfFormat.N_TRIPLES)
            body = ox.serialize(triples, format=fmt, prefixes=current_app.config["PREFIXES"])
        if answer.truncated and fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES):
            body = (f"# truncated: the first {answer.rows} triples only (the server's row "
                    "or size cap)\n").encode() + body
        return body
    fmt = RESULT_TYPES[media]
    if fmt == ox.QueryResultsFormat.JSON and not answer.truncated:
        return answer.payload
    results = ox.parse_query_results(answer.payload, format=ox.QueryResultsFormat.JSON)
    body = results.serialize(format=fmt)
    if answer.truncated and fmt == ox.QueryResultsFormat.JSON:
        body = body.replace(b'{"head":{', b'{"head":{"link":["urn:senacs-kg:truncated"],', 1)
    elif answer.truncated and fmt == ox.QueryResultsFormat.XML:
        body = body.replace(b"<head>", b'<head><link href="urn:senacs-kg:truncated"/>', 1)
    return body


EXAMPLE_QUERY = """PREFIX senacs: <https://w3id.org/senacs-kg/def#>
PREFIX sh: <http://www.w3.org/ns/shacl#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?example ?label ?query WHERE {
  ?example a sh:SPARQLExecutable ; rdfs:label ?label .
  { ?example sh:select ?query } UNION { ?example sh:ask ?query }
  UNION { ?example sh:construct ?query }
  FILTER(lang(?label) = "fr")
} ORDER BY ?label"""
DEFAULT_QUERY = """PREFIX senacs: <{base}def#>
PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX igeo: <http://rdf.insee.fr/def/geo#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>

SELECT ?action ?title WHERE {{
  ?action a senacs:Action ; dcterms:title ?title .
}} ORDER BY ?title LIMIT 20
"""


def load_examples(path) -> list[dict[str, str]]:
    """The example catalogue of a release, for the query page's picker."""
    if not path.is_file():
        return []
    store = ox.Store()
    store.load(path=str(path), format=ox.RdfFormat.TURTLE)
    return [{"id": row["example"].value.rsplit("#", 1)[-1], "label": row["label"].value,
             "query": row["query"].value} for row in store.query(EXAMPLE_QUERY)]


def query_page(initial: str) -> Response:
    from flask import render_template

    from endpoint.pages import _json_ld

    examples = current_app.extensions["senacs"]["examples"]
    body = render_template(
        "query.html", examples=examples, endpoint=request.base_url,
        initial=initial or DEFAULT_QUERY.format(base=current_app.config["BASE"]),
        examples_json=_json_ld({ex["id"]: ex for ex in examples}))
    response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["Vary"] = "Accept"
    return response


def service_description() -> Response:
    """What this endpoint is and does (SPARQL 1.1 Service Description), by conneg."""
    media = choose(request.headers.get("Accept"), list(GRAPH_TYPES) + ["text/html"])
    if media in (None, "text/html"):
        media = "text/turtle"
    endpoint = request.base_url
    state = current_app.extensions["senacs"]
    base = current_app.config["BASE"]
    results = ", ".join(f"<{FORMATS}{f}>" for f in (
        "SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
        "Turtle", "N-Triples", "RDF_XML", "JSON-LD"))
    federation = "    sd:feature sd:BasicFederatedQuery ;\n" \
        if current_app.config["SERVICE_ALLOWLIST"] else ""
    turtle = f"""@prefix sd: <{SD}> .
@prefix void: <http://rdfs.org/ns/void#> .
<{endpoint}> a sd:Service ;
    sd:endpoint <{endpoint}> ;
    sd:supportedLanguage sd:SPARQL11Query ;
    sd:resultFormat {results} ;
{federation}    sd:defaultDataset [ a sd:Dataset ;
        sd:defaultGraph [ a sd:Graph ; void:triples {state['triples']} ] ;
        sd:namedGraph [ a sd:NamedGraph ; sd:name <{base}def> ] ] .
"""
    if media == "text/turtle":
        body = turtle.encode()
    else:
        triples = ox.parse(turtle.encode(), format=ox.RdfFormat.TURTLE)
        body = ox.serialize(triples, format=GRAPH_TYPES[media], prefixes={"sd": SD})
    response = Response(body, content_type=_content_type(media))
    response.headers["Vary"] = "Accept"
    return response

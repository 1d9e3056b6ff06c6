"""The SPARQL 1.1 Protocol for queries at ``/sparql``, readable top to bottom.

GET ``?query=``, POST form-encoded, POST direct (``application/sparql-query``);
``default-graph-uri`` and ``named-graph-uri``; SELECT and ASK as JSON, XML, CSV
or TSV; CONSTRUCT and DESCRIBE as Turtle, N-Triples, RDF/XML or JSON-LD; the
format chosen by a ``format`` parameter or by Accept; the Service Description
when no query is given; HEAD as GET without the body. Read-only and guarded: see
``endpoint/guard.py``. Results are written by ``endpoint/results.py``; the dataset,
``{base}dataset`` included, is resolved by ``endpoint/dataset.py``.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from urllib.parse import unquote_to_bytes

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, g, request

from endpoint import dataset, guard, pages, results, spreadsheet, syntax
from endpoint.cache import REPLAYABLE
from endpoint.conneg import (
    GRAPH_RESULT_FORMATS,
    RDF_ALIASES,
    RESULT_ALIASES,
    RESULT_FORMATS,
    SPREADSHEETS,
    choose,
    named_format,
)
from endpoint.errors import ProtocolError
from endpoint.headers import mounted
from endpoint.state import server_state
from endpoint.store import (
    Answer,
    Overloaded,
    QueryError,
    QueryFailed,
    QueryRefused,
    QueryTimeout,
    changelog,
)
from mapping import vocab

bp = Blueprint("sparql", __name__)

# the offers of each query form (the first is the default), from the tables of conneg.py
RESULT_TYPES = tuple(RESULT_FORMATS)  # SELECT
ASK_TYPES = tuple(media for media, fmt in RESULT_FORMATS.items() if fmt in ("json", "xml"))
GRAPH_TYPES = tuple(GRAPH_RESULT_FORMATS)  # CONSTRUCT, DESCRIBE
KNOWN_TYPES = frozenset((*RESULT_FORMATS, *GRAPH_RESULT_FORMATS))
# format= names by query form; for an ASK, csv and tsv then meet a 406 (see negotiate)
FORMAT_ALIASES = {"select": RESULT_ALIASES, "ask": RESULT_ALIASES, "graph": RDF_ALIASES}
TRUNCATED_HEADER = "X-SPARQL-Truncated"
TRUNCATED_LINK = "urn:senacs-kg:truncated"
# parameters whose name an error message may repeat (never any other request input)
PARAMETERS = ("query", "default-graph-uri", "named-graph-uri", "format", "output", "update")
SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"


def _offers(kind: str) -> tuple[str, ...]:
    return {"graph": GRAPH_TYPES, "ask": ASK_TYPES}.get(kind, RESULT_TYPES)


def _first(values: list[str], name: str) -> str | None:
    if len(values) > 1:
        raise ProtocolError(400, f"the '{name}' parameter was given {len(values)} times: "
                                 "give it once")
    return values[0] if values else None


def _require_utf8(raw: bytes, where: str) -> None:
    """The protocol's parameters are UTF-8, percent-encoded; werkzeug would keep bytes that are
    not UTF-8 as text, so a query would run on something the client never wrote: a 400."""
    for field in raw.split(b"&"):
        name, _, value = field.replace(b"+", b" ").partition(b"=")
        name, value = unquote_to_bytes(name), unquote_to_bytes(value)
        if _is_utf8(name) and _is_utf8(value):
            continue
        label = name.decode("utf-8", "replace")
        which = f"the '{label}' parameter" if label in PARAMETERS else "a parameter"
        raise ProtocolError(400, f"{which} of the {where} is not valid UTF-8: percent-escapes "
                                 "and bytes must encode UTF-8 text")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def read_request() -> tuple[str | None, list[str], list[str]]:
    """(query, default graphs, named graphs) from GET (or HEAD), POST form or POST direct."""
    _require_utf8(request.query_string, "query string")
    args = request.args
    if request.method in ("GET", "HEAD"):
        if "update" in args:
            raise ProtocolError(403, "SPARQL Update is not accepted: this endpoint is read-only")
        return (_first(args.getlist("query"), "query"), args.getlist("default-graph-uri"),
                args.getlist("named-graph-uri"))
    mimetype = request.mimetype
    if mimetype == "application/x-www-form-urlencoded":
        _require_utf8(request.get_data(cache=True), "form body")
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
        # a name or media type this server never writes is a 400; one it writes, but not for
        # this query form (text/turtle for a SELECT, csv for an ASK), a 406 below
        media = named_format(wanted, KNOWN_TYPES, FORMAT_ALIASES[kind])
        if media is None:
            names = [name for name, m in FORMAT_ALIASES[kind].items() if m in _offers(kind)]
            raise ProtocolError(400, f"unknown format {wanted!r} for this query; use one of "
                                     + ", ".join(sorted(names)))
    else:
        media = choose(request.headers.get("Accept"), _offers(kind))
    if media not in _offers(kind):
        raise ProtocolError(406, _not_acceptable(kind))
    return media


def _not_acceptable(kind: str) -> str:
    if kind == "ask":
        return ("an ASK answer has no CSV or TSV form (the SPARQL CSV and TSV results formats "
                "are defined for SELECT only); offered: " + ", ".join(ASK_TYPES))
    return ("none of the accepted media types can carry this result; offered: "
            + ", ".join(_offers(kind)))


def wants_page() -> bool:
    """A browser (text/html preferred over every result format) gets the query page."""
    if request.method not in ("GET", "HEAD") or request.values.get("format") \
            or request.values.get("output"):
        return False
    offers = ["text/html", *RESULT_TYPES, *GRAPH_TYPES]
    return choose(request.headers.get("Accept"), offers) == "text/html" and \
        "text/html" in (request.headers.get("Accept") or "")


@bp.route("/sparql", methods=["GET", "POST"])
def sparql() -> Response:
    query, default_graphs, named_graphs = read_request()
    if wants_page():
        return pages.query_page(query or "")
    if query is None:
        return service_description()
    config = current_app.config
    if len(query) > config["MAX_QUERY_LENGTH"]:
        raise ProtocolError(413, f"the query has {len(query)} characters; the limit is "
                                 f"{config['MAX_QUERY_LENGTH']}")
    # a refusal is a 403, too deep a query a 400 naming the limit (errors.py)
    kind = guard.check(query, config["SERVICE_ALLOWLIST"], int(config["MAX_NESTING"]))
    media = negotiate(kind)
    default_graphs, named_graphs = dataset.resolve(  # DatasetError: a 400 (errors.py)
        query, default_graphs, named_graphs, config["BASE"], config["BASE"] + "sparql")
    answer = run_query(query, default_graphs, named_graphs)
    if answer.kind != kind:  # the lexer guessed wrong: negotiate again on the real form
        kind = answer.kind
        media = negotiate(kind)
    # the query page's CSV/TSV downloads: cells no spreadsheet reads as formulas (spreadsheet.py)
    download = spreadsheet.wanted(request.values.get(spreadsheet.PARAMETER), answer.kind, media)
    body = spreadsheet.results(answer.payload, media) if download else render(answer, media)
    response = Response(body, content_type=_content_type(media))
    if download:
        response.headers["Content-Disposition"] = spreadsheet.disposition(
            "results." + SPREADSHEETS[media].extension)
    response.headers["Vary"] = "Accept"
    response.headers["X-Cache"] = request.environ.get("senacs.cache", "miss")
    if answer.truncated:
        response.headers[TRUNCATED_HEADER] = f"true; rows={answer.rows}"
    if request.method in ("GET", "HEAD") and not guard.is_deterministic(query):
        response.headers["Cache-Control"] = "no-store"  # NOW(), RAND()…: no ETag, no replay
    elif request.method in ("GET", "HEAD"):
        digest = hashlib.sha1(request.full_path.encode() + media.encode()).hexdigest()[:16]
        response.set_etag(f"{server_state().release}-{digest}")
        request.environ[REPLAYABLE] = True  # same request, same bytes while this release is served
        return response.make_conditional(request)
    return response


def run_query(query: str, default_graphs: list[str], named_graphs: list[str]) -> Answer:
    """The answer; a store error becomes its HTTP status in endpoint/errors.py, a malformed
    query's message said more plainly where the engine's would mislead (endpoint/syntax.py)."""
    state = server_state()
    try:
        answer = answer_query(state.store, current_app.config["BASE"], query, default_graphs,
                              named_graphs)
    except QueryError as err:
        raise QueryError(syntax.explain(query) or str(err)) from None
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
    state = server_state(app)
    timeout = float(app.config["WARM_TIMEOUT"])

    def run() -> None:
        for example in examples:
            try:
                answer_query(state.store, app.config["BASE"], example["query"],
                             timeout=timeout)
                state.example_warmed()
            except (QueryError, QueryTimeout, Overloaded, QueryRefused, QueryFailed):
                continue
        with app.test_request_context("/"):
            g.senacs_query_timeout = timeout
            try:
                pages.home_page()
                state.home_is_warm()
            except (QueryError, QueryTimeout, Overloaded, QueryRefused, QueryFailed):
                pass

    threading.Thread(target=run, name="senacs-warm-cache", daemon=True).start()


def _content_type(media: str) -> str:
    return media + ("; charset=utf-8" if media.startswith("text/") else "")


def render(answer: Answer, media: str) -> bytes:
    """The answer in the negotiated format, with the truncation noted where the format allows."""
    if answer.kind == "graph":
        fmt = GRAPH_RESULT_FORMATS[media]
        if fmt == ox.RdfFormat.N_TRIPLES:
            body = answer.payload
        else:
            triples = ox.parse(answer.payload, format=ox.RdfFormat.N_TRIPLES)
            try:
                body = ox.serialize(triples, format=fmt, prefixes=current_app.config["PREFIXES"])
            except OSError as err:  # e.g. RDF 1.2 triple terms, which JSON-LD cannot write yet
                raise ProtocolError(406, f"this answer cannot be written as {media} ({err}); "
                                         "ask for text/turtle or application/n-triples") from None
        if answer.truncated and fmt in (ox.RdfFormat.TURTLE, ox.RdfFormat.N_TRIPLES):
            body = (f"# truncated: the first {answer.rows} triples only (the server's row "
                    "or size cap)\n").encode() + body
        return body
    return results.write(answer.payload, RESULT_FORMATS[media],
                         [TRUNCATED_LINK] if answer.truncated else [])


EXAMPLE_QUERY = """PREFIX senacs: <https://w3id.org/senacs-kg/def#>
PREFIX sh: <http://www.w3.org/ns/shacl#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?example ?label ?query WHERE {
  ?example a sh:SPARQLExecutable ; rdfs:label ?label .
  { ?example sh:select ?query } UNION { ?example sh:ask ?query }
  UNION { ?example sh:construct ?query }
  FILTER(lang(?label) = "fr")
} ORDER BY ?label"""
def load_examples(path) -> list[dict[str, str]]:
    """The example catalogue of a release, for the query page's picker."""
    if not path.is_file():
        return []
    store = ox.Store()
    store.load(path=str(path), format=ox.RdfFormat.TURTLE)
    return [{"id": vocab.hash_name(row["example"].value), "label": row["label"].value,
             "query": row["query"].value} for row in store.query(EXAMPLE_QUERY)]


def service_description() -> Response:
    """What this endpoint is and does (SPARQL 1.1 Service Description), by conneg."""
    media = choose(request.headers.get("Accept"), [*GRAPH_TYPES, "text/html"])
    if media in (None, "text/html"):
        media = "text/turtle"
    # configured: never the request's Host (a series' pinned release: its own /release/{id}/sparql)
    endpoint = current_app.config["BASE"] + mounted("sparql")
    state = server_state()
    base = current_app.config["BASE"]
    results = ", ".join(f"<{FORMATS}{f}>" for f in (
        "SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV", "SPARQL_Results_TSV",
        "Turtle", "N-Triples", "RDF_XML", "JSON-LD"))
    named_graphs = " ;\n        ".join(  # the ontology; in a series, each release's changes
        f"sd:namedGraph [ a sd:NamedGraph ; sd:name <{name}> ]" for name in (
            base + "def", *(c.graph(base) for c in changelog(
                Path(current_app.config["RELEASE_DIR"]), state.manifest))))
    federation = "    sd:feature sd:BasicFederatedQuery ;\n" \
        if current_app.config["SERVICE_ALLOWLIST"] else ""
    turtle = f"""@prefix sd: <{SD}> .
@prefix void: <http://rdfs.org/ns/void#> .
<{endpoint}> a sd:Service ;
    sd:endpoint <{endpoint}> ;
    sd:supportedLanguage sd:SPARQL11Query ;
    sd:resultFormat {results} ;
{federation}    sd:defaultDataset [ a sd:Dataset ;
        sd:defaultGraph [ a sd:Graph ; void:triples {state.triples} ] ;
        {named_graphs} ] .
"""
    if media == "text/turtle":
        body = turtle.encode()
    else:
        triples = ox.parse(turtle.encode(), format=ox.RdfFormat.TURTLE)
        body = ox.serialize(triples, format=GRAPH_RESULT_FORMATS[media], prefixes={"sd": SD})
    response = Response(body, content_type=_content_type(media))
    response.headers["Vary"] = "Accept"
    return response

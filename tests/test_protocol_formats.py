"""The SPARQL protocol's edges, against a live server: result formats as their specifications
write them, ASK where CSV and TSV have no form, the graph named ``{base}dataset``, parameters
that are not UTF-8, and HEAD on every GET route.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest
import requests
from conftest import dump_text, live_server

from endpoint import create_app

B = "https://w3id.org/senacs-kg/"
SENACS = "PREFIX senacs: <https://w3id.org/senacs-kg/def#>\n"
RESULTS = "{http://www.w3.org/2005/sparql-results#}"
CSV, TSV = "text/csv", "text/tab-separated-values"
JSON, XML = "application/sparql-results+json", "application/sparql-results+xml"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# one row whose terms carry every character the formats must quote or escape
AWKWARD = r"""SELECT ?iri ?text ?node ?lang ?number ?unbound WHERE {
  BIND(<http://example.org/a,b> AS ?iri)
  BIND("say \"hi\", then\r\nleave\tnow" AS ?text)
  BIND(BNODE() AS ?node)
  BIND("chat"@fr AS ?lang)
  BIND(42 AS ?number)
}"""


@pytest.fixture(scope="module")
def server(seed_site) -> str:
    """The session's server of the seed release (conftest)."""
    return seed_site


@pytest.fixture(scope="module")
def capped(release_dir, tmp_path_factory):
    """A server whose row cap (3) every list of actions exceeds."""
    with live_server(release_dir, tmp_path_factory.mktemp("capped") / "store",
                     ROW_CAP=3) as root:
        yield root + "/sparql"


def ask(url: str, query: str, accept: str = JSON, **params) -> requests.Response:
    return requests.get(url, params={"query": query, **params}, headers={"Accept": accept},
                        timeout=10)


def raw_http(base: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and every byte after the headers, for a request sent as is."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


# -- CSV, TSV, XML ---------------------------------------------------------------------------------


def test_csv_quotes_every_field_holding_a_comma_quote_or_line_break(server):
    response = ask(f"{server}/sparql", AWKWARD, CSV)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    body = response.content
    assert body.startswith(b"iri,text,node,lang,number,unbound\r\n")
    assert b'\r\n"http://example.org/a,b","say ""hi"", then\r\nleave\tnow",_:' in body
    rows = list(csv.reader(io.StringIO(body.decode(), newline="")))
    assert len(rows) == 2 and all(len(row) == 6 for row in rows)
    iri, text, node, lang, number, unbound = rows[1]
    assert iri == "http://example.org/a,b"
    assert text == 'say "hi", then\r\nleave\tnow'
    assert node.startswith("_:") and lang == "chat" and number == "42" and unbound == ""
    assert body.endswith(b",chat,42,\r\n")


def test_tsv_writes_terms_in_turtle_syntax_with_tabs_and_line_breaks_escaped(server):
    response = ask(f"{server}/sparql", AWKWARD, TSV)
    assert response.status_code == 200
    lines = response.content.decode().split("\n")
    assert lines[0] == "?iri\t?text\t?node\t?lang\t?number\t?unbound"
    iri, text, node, lang, number, unbound = lines[1].split("\t")
    assert iri == "<http://example.org/a,b>"
    assert text == r'"say \"hi\", then\r\nleave\tnow"'
    assert node.startswith("_:") and lang == '"chat"@fr' and number == "42" and unbound == ""
    assert lines[2:] == [""]
    back = ox.parse_query_results(response.content, format=ox.QueryResultsFormat.TSV)
    solution = next(iter(back))
    assert solution["text"] == ox.Literal('say "hi", then\r\nleave\tnow')
    assert solution["iri"] == ox.NamedNode("http://example.org/a,b")


def test_xml_writes_a_carriage_return_as_a_character_reference(server):
    query = 'SELECT ?text WHERE { BIND("one\\rtwo\\r\\nthree & <four>" AS ?text) }'
    response = ask(f"{server}/sparql", query, XML)
    assert response.status_code == 200
    assert b"one&#13;two&#13;\nthree &amp; &lt;four&gt;" in response.content
    assert b"\r" not in response.content
    literal = ET.fromstring(response.content).find(f".//{RESULTS}literal")
    assert literal.text == "one\rtwo\r\nthree & <four>"  # what was stored, read back


def test_xml_replaces_characters_xml_cannot_carry_and_stays_well_formed(server):
    query = 'SELECT ?text WHERE { BIND(CONCAT("a", CODEPOINT, "b") AS ?text) }'
    for codepoint in ("\\u0001", "\\u001F", "\\uFFFE"):
        text = query.replace("CODEPOINT", f'"{codepoint}"')
        response = ask(f"{server}/sparql", text, XML)
        assert response.status_code == 200, response.text
        literal = ET.fromstring(response.content).find(f".//{RESULTS}literal")
        assert literal.text == "a\ufffdb", codepoint
        # JSON carries the character itself
        as_json = ask(f"{server}/sparql", text, JSON).json()
        assert as_json["results"]["bindings"][0]["text"]["value"] == \
            "a" + codepoint.encode().decode("unicode_escape") + "b"


def test_truncated_xml_lists_the_variables_before_the_link(capped):
    query = SENACS + "SELECT ?action ?title WHERE { ?action a senacs:Action ; " \
                     "<http://purl.org/dc/terms/title> ?title }"
    response = ask(capped, query, XML)
    assert response.status_code == 200
    assert response.headers["X-SPARQL-Truncated"] == "true; rows=3"
    head = ET.fromstring(response.content).find(f"{RESULTS}head")
    assert [(child.tag.removeprefix(RESULTS), child.get("name") or child.get("href"))
            for child in head] == [("variable", "action"), ("variable", "title"),
                                   ("link", "urn:senacs-kg:truncated")]
    as_json = ask(capped, query, JSON).json()
    assert as_json["head"] == {"vars": ["action", "title"], "link": ["urn:senacs-kg:truncated"]}
    assert len(as_json["results"]["bindings"]) == 3


# -- ASK has no CSV or TSV form ----------------------------------------------------------------


@pytest.mark.parametrize("accept, params", [
    (CSV, {}), (TSV, {}), (f"{CSV}, {TSV}", {}), ("text/*", {}),
    (JSON, {"format": "csv"}), (BROWSER, {"format": "tsv"}),
])
def test_ask_in_csv_or_tsv_is_not_acceptable(server, accept, params):
    response = ask(f"{server}/sparql", "ASK {}", accept, **params)
    assert response.status_code == 406
    assert "ASK" in response.text and JSON in response.text and XML in response.text
    posted = requests.post(f"{server}/sparql", data={"query": "ASK {}", **params},
                           headers={"Accept": accept}, timeout=10)
    assert posted.status_code == 406


@pytest.mark.parametrize("accept, media", [
    (f"{CSV}, */*;q=0.1", JSON), (BROWSER, "application/xml"), (f"{TSV}, {XML};q=0.5", XML),
])
def test_ask_with_a_fallback_gets_json_or_xml(server, accept, media):
    # POST: a GET preferring text/html gets the query page instead
    response = requests.post(f"{server}/sparql", data={"query": "ASK {}"},
                             headers={"Accept": accept}, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == media
    fmt = ox.QueryResultsFormat.JSON if "json" in media else ox.QueryResultsFormat.XML
    assert bool(ox.parse_query_results(response.content, format=fmt)) is True


def test_select_is_still_offered_in_csv_and_tsv(server):
    for accept in (CSV, TSV):
        assert ask(f"{server}/sparql", "SELECT (1 AS ?one) {}", accept).status_code == 200
    assert ask(f"{server}/sparql", "SELECT (1 AS ?one) {}", JSON, format="tsv").text == \
        "?one\n1\n"


# -- {base}dataset, the default graph's name ------------------------------------------------------

COUNT = SENACS + "SELECT (COUNT(?a) AS ?n) {FROM} WHERE {{ ?a a senacs:Action }}"
GRAPHS = "SELECT ?g (COUNT(*) AS ?n) {FROM} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }} GROUP BY ?g"


def count(server: str, query: str, **params) -> int:
    response = ask(f"{server}/sparql", query, **params)
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def graphs(server: str, query: str, **params) -> dict[str, int]:
    response = ask(f"{server}/sparql", query, **params)
    assert response.status_code == 200, response.text
    return {row["g"]["value"]: int(row["n"]["value"])
            for row in response.json()["results"]["bindings"]}


@pytest.mark.parametrize("prologue, clause", [
    ("", f"FROM <{B}dataset>"),
    ("", "FROM <dataset>"),  # relative: resolved against the endpoint's IRI, {base}sparql
    ("", f"FROM <{B}dataset> FROM <{B}def>"),
    (f"PREFIX b: <{B}>\n", "FROM b:dataset"),
    (f"BASE <{B}def/>\n", "FROM <../dataset>"),
])
def test_from_the_dataset_graph_reads_the_data(server, prologue, clause):
    assert count(server, prologue + COUNT.format(FROM=clause)) == 25
    assert count(server, COUNT.format(FROM="")) == 25
    assert count(server, COUNT.format(FROM=f"FROM <{B}def>")) == 0


def test_from_the_dataset_graph_has_the_named_graphs_the_query_names(server):
    assert graphs(server, GRAPHS.format(FROM=f"FROM <{B}dataset>")) == {}
    ontology = graphs(server, GRAPHS.format(FROM=f"FROM <{B}dataset> FROM NAMED <{B}def>"))
    assert list(ontology) == [B + "def"] and ontology[B + "def"] > 100
    assert graphs(server, GRAPHS.format(FROM="")) == ontology  # no FROM: every named graph


def test_the_request_dataset_replaces_the_querys(server):
    # SPARQL 1.1 Protocol 2.1.4: default-graph-uri overrides FROM, and leaves no named graph
    assert count(server, COUNT.format(FROM=f"FROM <{B}def>"),
                 **{"default-graph-uri": B + "dataset"}) == 25
    assert count(server, COUNT.format(FROM=f"FROM <{B}dataset>"),
                 **{"default-graph-uri": B + "def"}) == 0
    assert graphs(server, GRAPHS.format(FROM=""), **{"default-graph-uri": B + "dataset"}) == {}


def test_a_dataset_clause_in_a_comment_or_a_string_is_not_read(server):
    assert count(server, COUNT.format(FROM=f"# FROM NAMED <{B}dataset>\n")) == 25
    query = f'SELECT ?x WHERE {{ BIND("FROM NAMED <{B}dataset>" AS ?x) }}'
    assert ask(f"{server}/sparql", query).status_code == 200


@pytest.mark.parametrize("query, params", [
    (GRAPHS.format(FROM=""), {"named-graph-uri": B + "dataset"}),
    (GRAPHS.format(FROM=""), {"named-graph-uri": B + "dataset", "default-graph-uri": B + "def"}),
    (GRAPHS.format(FROM=f"FROM NAMED <{B}dataset>"), {}),
    (GRAPHS.format(FROM=f"FROM <{B}def> FROM NAMED <dataset>"), {}),
])
def test_the_dataset_graph_as_a_named_graph_is_a_clear_400(server, query, params):
    response = ask(f"{server}/sparql", query, **params)
    assert response.status_code == 400
    assert response.text.startswith(f"<{B}dataset> names the default graph")
    assert "default-graph-uri" in response.text


# -- parameters that are not UTF-8 -------------------------------------------------------------


@pytest.mark.parametrize("query_string", [
    "query=%C3%28", "query=%FF", "query=ASK%20%7B%7D%C3", "query=ASK%20%7B%7D%ED%A0%80",
    "query=ASK%20%7B%7D&default-graph-uri=%FF", "query=ASK%20%7B%7D&x%FF=1",
])
def test_a_query_string_that_is_not_utf8_is_a_400(server, query_string):
    response = requests.get(f"{server}/sparql?{query_string}", timeout=10)
    assert response.status_code == 400
    assert "not valid UTF-8" in response.text
    form = requests.post(f"{server}/sparql", data=query_string.encode(), timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 400 and "form body is not valid UTF-8" in form.text


def test_percent_encoded_utf8_is_read_as_written(server):
    response = requests.get(f"{server}/sparql?query=SELECT%20(%22%C3%A9t%C3%A9%22%20AS%20%3Fx)"
                            "%20%7B%7D", headers={"Accept": JSON}, timeout=10)
    assert response.status_code == 200
    assert response.json()["results"]["bindings"][0]["x"]["value"] == "été"


# -- HEAD on every GET route -------------------------------------------------------------------


def samples(release_dir) -> dict[str, list[dict[str, str]]]:
    """Arguments to build a real URL of each parametrised route (a new route needs one here)."""
    base = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))["base"]
    roots = ("action", "structure", "organisation", "concept", "place", "source")
    found: dict[str, str] = {}
    with io.StringIO(dump_text(release_dir)) as dump:
        for line in dump:
            iri = line.split(">", 1)[0][1:].split("#")[0]
            root, _, rest = iri.removeprefix(base).partition("/")
            if root in roots and root not in found and iri.startswith(base):
                found[root] = rest
    return {
        "static": [{"filename": "query.js"}, {"filename": "missing.js"}],
        "dumps.dump": [{"name": "dataset.nt"}, {"name": "manifest.json"}, {"name": "nothing"}],
        "resources.resource": [{"root": root, "rest": rest} for root, rest in found.items()]
        + [{"root": "action", "rest": "no-such-action"}],
        "network.view_json": [{"name": "partners"}],
        "network.download": [{"name": "partners.graphml"}, {"name": "nothing.csv"}],
        "changelog.changes": [{"ext": ""}, {"ext": ".ttl"}],  # a release alone has none: 404
    }


def get_urls(release_dir, tmp_path) -> list[str]:
    """Every GET route of the application, with its sample arguments."""
    app = create_app({"RELEASE_DIR": str(release_dir), "STORE": "remote", "WARM_CACHE": False,
                      "REMOTE_ENDPOINT": "http://127.0.0.1:9/unused", "STORE_DIR": str(tmp_path)})
    adapter = app.url_map.bind("127.0.0.1")
    args = samples(release_dir)
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods:
            continue
        assert not rule.arguments or rule.endpoint in args, f"no sample URL for {rule.rule}"
        for values in args.get(rule.endpoint, [{}]):
            urls.append(adapter.build(rule.endpoint, values))
    return urls


SPARQL_GETS = [
    "/sparql?query=ASK%20%7B%7D", "/sparql?query=SELECT%20*%20%7B%7D&format=csv",
    "/sparql?query=ASK%20%7B", "/sparql?query=ASK%20%7B%7D&format=csv",
    "/sparql?query=%FF", "/sparql?query=CONSTRUCT%20WHERE%20%7B%3Fs%20%3Fp%20%3Fo%7D",
    "/no/such/route",
]


def test_every_get_route_answers_head_with_the_get_status_and_no_body(server, release_dir,
                                                                     tmp_path):
    urls = get_urls(release_dir, tmp_path) + SPARQL_GETS
    assert len(urls) >= 20
    for accept in ("*/*", BROWSER):
        for url in urls:
            got = requests.get(server + url, timeout=30, allow_redirects=False, headers={
                "Accept": accept, "Accept-Encoding": "identity"})  # as the HEAD: no gzip
            status, headers, body = raw_http(server, (
                f"HEAD {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: {accept}\r\n"
                "Connection: close\r\n\r\n").encode())
            assert (status, body) == (got.status_code, b""), (url, accept)
            assert headers.get("content-type") == got.headers.get("Content-Type"), url
            if "etag" in headers:
                assert headers["etag"] == got.headers["ETag"], url


# -- format= and the release's files: one table each (endpoint/conneg.py) -------------------------

SELECT_ONE = "SELECT (1 AS ?one) {}"
CONSTRUCT_ONE = "CONSTRUCT { <http://example.org/a> <http://example.org/b> 1 } WHERE {}"


@pytest.mark.parametrize("path, query, name, media", [
    ("/sparql", SELECT_ONE, "csv", "text/csv; charset=utf-8"),
    ("/sparql", SELECT_ONE, "xml", XML),
    ("/sparql", CONSTRUCT_ONE, "jsonld", "application/ld+json"),
    ("/sparql", CONSTRUCT_ONE, "ttl", "text/turtle; charset=utf-8"),
    ("/catalog", None, "jsonld", "application/ld+json"),
    ("/.well-known/void", None, "nt", "application/n-triples"),
    ("/def", None, "rdfxml", "application/rdf+xml"),
])
def test_format_takes_a_name_in_any_case_or_the_media_type_on_every_route(server, path, query,
                                                                          name, media):
    params = {"query": query} if query else {}
    bare = media.split(";")[0]
    for value in (name, name.upper(), bare):
        response = requests.get(server + path, params={**params, "format": value}, timeout=10)
        assert (response.status_code, response.headers["Content-Type"]) == (200, media), value
    unknown = requests.get(server + path, params={**params, "format": "yaml"}, timeout=10)
    assert unknown.status_code == 400 and name in unknown.text


def test_format_names_a_form_the_answer_lacks_is_not_acceptable(server):
    # a format the server writes, but not for this query form: 406, as by Accept
    for query, value in ((SELECT_ONE, "text/turtle"), ("ASK {}", "csv"), (CONSTRUCT_ONE, XML)):
        response = ask(f"{server}/sparql", query, format=value)
        assert response.status_code == 406, (query, value)


def test_a_release_file_has_one_media_type_whichever_route_serves_it(server, release_dir):
    expected = {".graphml": "application/graphml+xml; charset=utf-8",
                ".gexf": "application/gexf+xml; charset=utf-8",
                ".csv": "text/csv; charset=utf-8", ".json": "application/json"}
    listed = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))["files"]
    network = [name for name in listed if name.startswith("network/")]
    assert {name.rsplit(".", 1)[-1] for name in network} >= {"graphml", "gexf", "csv", "json"}
    for name in network:
        suffix = "." + name.rsplit(".", 1)[-1]
        as_dump = requests.head(f"{server}/dumps/{name}", timeout=10)
        as_network = requests.head(f"{server}/{name}", timeout=10)
        assert as_dump.headers["Content-Type"] == as_network.headers["Content-Type"] \
            == expected[suffix], name
    summary = requests.head(f"{server}/dumps/summary.txt", timeout=10)
    assert summary.headers["Content-Type"] == "text/plain; charset=utf-8"  # one charset

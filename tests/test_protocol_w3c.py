"""The W3C SPARQL 1.1 Protocol test cases for queries (w3c/rdf-tests, sparql/sparql11/protocol).

Each case is replayed as its manifest describes it (method, path, headers,
body, expected status and result) against a live server whose store also holds
the test's named graphs (data0.rdf … data3.rdf). The ``update_*`` cases expect
an Update to succeed: this endpoint is read-only by design, so they are
replaced by checks that each Update is refused with a 4xx (the ``bad_update_*``
cases already expect a 4xx).
"""

from __future__ import annotations

import json

import pyoxigraph as ox
import pytest
import requests
from conftest import dump_bytes, live_server

K = "http://kasei.us/2009/09/sparql/data/"
DOC = "http://xmlns.com/foaf/0.1/Document"


@pytest.fixture(scope="module")
def w3c_server(release_dir, tmp_path_factory):
    """A server over the seed release plus the protocol tests' graphs, in the store it reopens."""
    store_dir = tmp_path_factory.mktemp("w3c") / "store"
    store = ox.Store(str(store_dir))
    store.bulk_load(dump_bytes(release_dir), format=ox.RdfFormat.N_TRIPLES)
    for n in range(4):
        graph = ox.NamedNode(f"{K}data{n}.rdf")
        store.add(ox.Quad(ox.NamedNode(f"{K}data{n}.rdf"),
                          ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                          ox.NamedNode(DOC), graph))
    store.flush()
    del store
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    (store_dir / "senacs-kg-store.json").write_text(json.dumps(
        {"release": manifest["release"], "base": manifest["base"], "compacted": True}),
        encoding="utf-8")
    with live_server(release_dir, store_dir) as root:
        yield root + "/sparql"


def boolean(response: requests.Response) -> bool:
    assert 200 <= response.status_code < 400, response.text
    kind = response.headers["Content-Type"]
    assert kind.startswith(("application/sparql-results+json", "application/sparql-results+xml"))
    return ox.parse_query_results(response.content, format=ox.QueryResultsFormat.JSON
                                  if "json" in kind else ox.QueryResultsFormat.XML).__bool__()


def test_query_post_form(w3c_server):
    r = requests.post(w3c_server, params={"default-graph-uri": K + "data0.rdf"},
                      data="query=ASK%20%7B%7D",
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert boolean(r) is True


def test_query_get(w3c_server):
    assert boolean(requests.get(w3c_server, params={"query": "ASK {}"})) is True


def test_query_post_direct(w3c_server):
    r = requests.post(w3c_server, data=b"ASK {}",
                      headers={"content-type": "application/sparql-query"})
    assert boolean(r) is True


ASK_DEFAULT = f"ASK {{ <{K}data1.rdf> a ?type . <{K}data2.rdf> a ?type . }}"
ASK_NAMED = (f"ASK {{ GRAPH ?g1 {{ <{K}data1.rdf> a ?type }} "
             f"GRAPH ?g2 {{ <{K}data2.rdf> a ?type }} }}")


def test_query_dataset_default_graphs_get(w3c_server):
    r = requests.get(w3c_server, params=[("query", ASK_DEFAULT),
                                         ("default-graph-uri", K + "data1.rdf"),
                                         ("default-graph-uri", K + "data2.rdf")])
    assert boolean(r) is True


def test_query_dataset_default_graphs_post(w3c_server):
    r = requests.post(w3c_server, params=[("default-graph-uri", K + "data1.rdf"),
                                          ("default-graph-uri", K + "data2.rdf")],
                      data=ASK_DEFAULT.encode(), headers={"content-type": "application/sparql-query"})
    assert boolean(r) is True


def test_query_dataset_named_graphs_post(w3c_server):
    r = requests.post(w3c_server, params=[("named-graph-uri", K + "data1.rdf"),
                                          ("named-graph-uri", K + "data2.rdf")],
                      data=ASK_NAMED.encode(), headers={"content-type": "application/sparql-query"})
    assert boolean(r) is True


def test_query_dataset_named_graphs_get(w3c_server):
    r = requests.get(w3c_server, params=[("query", ASK_NAMED),
                                         ("named-graph-uri", K + "data1.rdf"),
                                         ("named-graph-uri", K + "data2.rdf")])
    assert boolean(r) is True


def test_query_dataset_full(w3c_server):
    query = (f"ASK {{\n  <{K}data3.rdf> a ?type\n  GRAPH ?g1 {{ <{K}data1.rdf> a ?type }}\n"
             f"  GRAPH ?g2 {{ <{K}data2.rdf> a ?type }}\n}}")
    r = requests.post(w3c_server, params=[("default-graph-uri", K + "data3.rdf"),
                                          ("named-graph-uri", K + "data1.rdf"),
                                          ("named-graph-uri", K + "data2.rdf")],
                      data=query.encode(), headers={"content-type": "application/sparql-query"})
    assert boolean(r) is True


def test_query_multiple_dataset(w3c_server):
    # the protocol's dataset overrides the query's FROM
    query = f"ASK FROM <{K}data3.rdf> {{ GRAPH <{K}data2.rdf> {{ ?s ?p ?o }} }}"
    r = requests.post(w3c_server, params={"named-graph-uri": K + "data2.rdf"},
                      data=query.encode(), headers={"content-type": "application/sparql-query"})
    assert boolean(r) is True


@pytest.mark.parametrize("query, accepted", [
    ("SELECT (1 AS ?value) {}", ("application/sparql-results+xml",
                                 "application/sparql-results+json", "text/tab-separated-values",
                                 "text/csv")),
    ("ASK {}", ("application/sparql-results+xml", "application/sparql-results+json")),
    (f"DESCRIBE <{K}data1.rdf>", ("application/rdf+xml", "text/turtle", "application/n-triples",
                                  "application/ld+json")),
    ("CONSTRUCT { <s> <p> 1 } WHERE {}", ("application/rdf+xml", "text/turtle",
                                         "application/n-triples", "application/ld+json")),
])
def test_query_content_type(w3c_server, query, accepted):
    r = requests.get(w3c_server, params={"query": query, "default-graph-uri": K + "data1.rdf"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].split(";")[0] in accepted


@pytest.mark.parametrize("method, kwargs", [
    ("bad_query_method", dict(method="PUT", params={"query": "ASK {}"},
                              headers={"content-type": "application/x-www-form-urlencoded"})),
    ("bad_multiple_queries", dict(method="GET", params=[("query", "ASK {}"),
                                                        ("query", "SELECT * {}")])),
    ("bad_query_wrong_media_type", dict(method="POST", data=b"ASK {}",
                                        headers={"content-type": "text/plain"})),
    ("bad_query_missing_form_type", dict(method="POST", data=b"query=ASK%20%7B%7D")),
    ("bad_query_missing_direct_type", dict(method="POST", data=b"ASK {}")),
    ("bad_query_non_utf8", dict(method="POST", data="ASK {}".encode("utf-16"),
                                headers={"content-type": "application/sparql-query; "
                                                         "charset=UTF-16"})),
    ("bad_query_syntax", dict(method="GET", params={"query": "ASK {"})),
    ("bad_update_get", dict(method="GET", params={"update": "CLEAR ALL"})),
    ("bad_multiple_updates", dict(method="POST", data=[("update", "CLEAR NAMED"),
                                                       ("update", "CLEAR DEFAULT")])),
    ("bad_update_wrong_media_type", dict(method="POST", data=b"CLEAR NAMED",
                                         headers={"content-type": "text/plain"})),
    ("bad_update_missing_form_type", dict(method="POST", data=b"update=CLEAR%20NAMED")),
    ("bad_update_non_utf8", dict(method="POST", data="CLEAR ALL".encode("utf-16"),
                                 headers={"content-type": "application/sparql-update; "
                                                          "charset=UTF-16"})),
    ("bad_update_syntax", dict(method="POST", data=b"CLEAR XYZ",
                               headers={"content-type": "application/sparql-update"})),
    ("bad_update_dataset_conflict", dict(
        method="POST", params={"using-graph-uri": K + "data1.rdf"},
        data=b"PREFIX dc: <http://purl.org/dc/terms/> WITH <http://example.org/> "
             b"DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
        headers={"content-type": "application/sparql-update"})),
])
def test_bad_requests_get_a_4xx(w3c_server, method, kwargs):
    kwargs = dict(kwargs)
    response = requests.request(kwargs.pop("method"), w3c_server, timeout=10, **kwargs)
    assert 400 <= response.status_code < 500, (method, response.status_code)
    assert "Traceback" not in response.text


@pytest.mark.parametrize("update", [
    "CLEAR ALL",
    "INSERT DATA { GRAPH <http://example.org/protocol-base-test/> { <s> <p> <test> } }",
    "LOAD <http://127.0.0.1:9/x.ttl>",
])
def test_updates_are_refused_by_this_read_only_endpoint(w3c_server, update):
    form = requests.post(w3c_server, data={"update": update}, timeout=10)
    direct = requests.post(w3c_server, data=update.encode(),
                           headers={"content-type": "application/sparql-update"}, timeout=10)
    assert form.status_code == direct.status_code == 403
    assert boolean(requests.get(w3c_server, params={"query": f"ASK {{ <{K}data0.rdf> ?p ?o }}",
                                                   "default-graph-uri": K + "data0.rdf"}))

"""The SPARQL endpoint against a live server on 127.0.0.1: SPARQLWrapper and requests, as users.

The server is `senacs-kg serve` in a real subprocess, serving the seed release,
with a short query timeout and a small row cap so that the limits can be seen.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest
import requests
from conftest import (
    PRODUCTION_SERVERS,
    appended,
    dump_bytes,
    free_port,
    garbled,
    granian_command,
    gunicorn_command,
    live_server,
    run_production,
    start_server,
    stop,
)
from SPARQLWrapper import CSV, JSON, JSONLD, N3, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

TITLES = "SELECT ?title WHERE { ?a <http://purl.org/dc/terms/title> ?title } ORDER BY ?title"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
PREFIXES = "PREFIX senacs: <https://w3id.org/senacs-kg/def#>\n"
ACTION_COUNT = PREFIXES + "SELECT (COUNT(?a) AS ?n) WHERE { ?a a senacs:Action }"
CONSTRUCT = PREFIXES + ("CONSTRUCT { ?a senacs:status ?s } WHERE { ?a senacs:status ?s }")


@pytest.fixture(scope="module")
def server(release_dir, tmp_path_factory):
    """The live server: its /sparql URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/sparql"
    # 3 query workers: a SERVICE to this server is a second query of the same client (127.0.0.1),
    # and one client may hold at most QUERY_WORKERS - 1 of them (endpoint/fairness.py)
    with live_server(release_dir, tmp_path_factory.mktemp("store") / "store", port=port,
                     QUERY_TIMEOUT=2, ROW_CAP=20, MAX_QUERY_LENGTH=4000,
                     MAX_CONTENT_LENGTH=20000, QUERY_WORKERS=3, CACHE_ENTRIES=0,
                     SERVICE_ALLOWLIST=[url]):
        yield url


class Client:
    """SPARQLWrapper, closing each response (it leaves them open)."""

    def __init__(self, url: str, query: str, fmt, method: str) -> None:
        self.sparql = SPARQLWrapper(url)
        self.sparql.setQuery(query)
        self.sparql.setReturnFormat(fmt)
        self.sparql.setMethod(method)

    def queryAndConvert(self):  # noqa: N802 - SPARQLWrapper's name
        result = self.sparql.query()
        try:
            return result.convert()
        finally:
            result.response.close()


def wrapper(url: str, query: str, fmt, method: str = "GET") -> Client:
    return Client(url, query, fmt, method)


# -- every query form and format through SPARQLWrapper ---------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_select_as_json(server, method):
    result = wrapper(server, ACTION_COUNT, JSON, method).queryAndConvert()
    assert result["results"]["bindings"][0]["n"]["value"] == "25"


def test_select_as_xml_csv_tsv(server):
    xml = wrapper(server, ACTION_COUNT, XML).queryAndConvert()
    values = [n.firstChild.data for n in xml.getElementsByTagName("literal")]
    assert values == ["25"]
    rows = list(csv.reader(io.StringIO(wrapper(server, ACTION_COUNT, CSV).queryAndConvert()
                                       .decode())))
    assert rows == [["n"], ["25"]]
    tsv = wrapper(server, ACTION_COUNT, TSV).queryAndConvert().decode().splitlines()
    assert tsv == ["?n", "25"]  # an integer is written bare in TSV


def test_ask(server):
    assert wrapper(server, PREFIXES + "ASK { ?a a senacs:Action }", JSON).queryAndConvert()[
        "boolean"] is True
    assert wrapper(server, "ASK { <urn:x> <urn:y> <urn:z> }", XML).queryAndConvert() \
        .getElementsByTagName("boolean")[0].firstChild.data == "false"


@pytest.mark.parametrize("fmt, rdf", [(TURTLE, "turtle"), (N3, "turtle"), (RDFXML, "xml"),
                                      (JSONLD, "json-ld")])
def test_construct_in_every_rdf_format(server, fmt, rdf):
    graph = wrapper(server, CONSTRUCT, fmt).queryAndConvert()
    if isinstance(graph, bytes):
        from rdflib import Graph

        graph = Graph().parse(data=graph, format=rdf)
    assert len(graph) == 20  # the row cap of this server (25 statuses)


def test_describe(server):
    action = ("<https://w3id.org/senacs-kg/action/sous-les-tilleuls-31/"
              "bien-ensemble-sous-les-tilleuls-les-cafes-des-rencontres>")
    response = requests.get(server, params={"query": f"DESCRIBE {action}"},
                            headers={"Accept": "application/n-triples"}, timeout=10)
    assert response.status_code == 200
    triples = list(ox.parse(response.content, format=ox.RdfFormat.N_TRIPLES))
    assert triples and all(str(t.subject) == action for t in triples)


# -- the protocol: requests for statuses and headers -----------------------------------------


def test_post_form_and_post_direct(server):
    form = requests.post(server, data={"query": ACTION_COUNT},
                         headers={"Accept": "application/sparql-results+json"}, timeout=10)
    direct = requests.post(server, data=ACTION_COUNT.encode(),
                           headers={"Content-Type": "application/sparql-query",
                                    "Accept": "application/sparql-results+json"}, timeout=10)
    assert form.status_code == direct.status_code == 200
    assert form.json() == direct.json()


def test_accept_q_values_and_format_parameter(server):
    accept = "application/sparql-results+xml;q=0.5, text/csv;q=0.9, */*;q=0.1"
    response = requests.get(server, params={"query": ACTION_COUNT}, headers={"Accept": accept},
                            timeout=10)
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Vary"] == "Accept"
    tsv = requests.get(server, params={"query": ACTION_COUNT, "format": "tsv"},
                       headers={"Accept": "application/sparql-results+json"}, timeout=10)
    assert tsv.headers["Content-Type"].startswith("text/tab-separated-values")
    assert requests.get(server, params={"query": ACTION_COUNT}, timeout=10).headers[
        "Content-Type"] == "application/sparql-results+json"


def test_406_when_nothing_acceptable(server):
    response = requests.get(server, params={"query": ACTION_COUNT},
                            headers={"Accept": "image/png"}, timeout=10)
    assert response.status_code == 406
    assert "application/sparql-results+json" in response.text


def test_400_with_the_parser_message(server):
    response = requests.get(server, params={"query": "SELECT ?x WHERE { ?x ?y }"}, timeout=10)
    assert response.status_code == 400
    assert response.text.startswith("malformed query: error at 1:")
    assert "Traceback" not in response.text
    twice = requests.get(server, params=[("query", ACTION_COUNT), ("query", COUNT)], timeout=10)
    assert twice.status_code == 400 and "2 times" in twice.text


def test_405_415_413(server):
    assert requests.put(server, data=ACTION_COUNT, timeout=10).status_code == 405
    wrong = requests.post(server, data=ACTION_COUNT, headers={"Content-Type": "text/plain"},
                          timeout=10)
    assert wrong.status_code == 415 and "application/sparql-query" in wrong.text
    long_query = ACTION_COUNT + " #" + "x" * 5000
    assert requests.post(server, data={"query": long_query}, timeout=10).status_code == 413
    huge = requests.post(server, data=b"x" * 30000,
                         headers={"Content-Type": "application/sparql-query"}, timeout=10)
    assert huge.status_code == 413


def test_service_description_without_query(server):
    response = requests.get(server, headers={"Accept": "text/turtle"}, timeout=10)
    assert response.status_code == 200
    graph = {str(t) for t in ox.parse(response.content, format=ox.RdfFormat.TURTLE,
                                      base_iri=server)}
    # the endpoint's public IRI, from the configured base (never the request's Host)
    assert "<https://w3id.org/senacs-kg/sparql> " \
           "<http://www.w3.org/ns/sparql-service-description#supportedLanguage> " \
           "<http://www.w3.org/ns/sparql-service-description#SPARQL11Query>" in graph
    jsonld = requests.get(server, headers={"Accept": "application/ld+json"}, timeout=10)
    assert jsonld.headers["Content-Type"] == "application/ld+json"


def test_cors(server):
    response = requests.get(server, params={"query": ACTION_COUNT},
                            headers={"Origin": "https://example.org"}, timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    preflight = requests.options(server, headers={
        "Origin": "https://example.org", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type"}, timeout=10)
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"


def test_dataset_parameters(server):
    base = "https://w3id.org/senacs-kg/"
    # the ontology is the named graph {base}def; the data is the default graph {base}dataset
    onto = requests.get(server, params={
        "query": "SELECT (COUNT(*) AS ?n) WHERE { ?s a <http://www.w3.org/2002/07/owl#Ontology> }",
        "default-graph-uri": base + "def"}, timeout=10).json()
    assert onto["results"]["bindings"][0]["n"]["value"] == "1"
    data = requests.get(server, params={"query": ACTION_COUNT,
                                        "default-graph-uri": base + "dataset"}, timeout=10).json()
    assert data["results"]["bindings"][0]["n"]["value"] == "25"
    named = requests.post(server, data={
        "query": "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
        "named-graph-uri": base + "def"}, timeout=10).json()
    assert [b["g"]["value"] for b in named["results"]["bindings"]] == [base + "def"]


# -- safe by default -------------------------------------------------------------------------


def test_update_is_refused(server):
    for response in (
        requests.post(server, data={"update": "INSERT DATA { <urn:a> <urn:b> <urn:c> }"},
                      timeout=10),
        requests.post(server, data="CLEAR ALL", headers={
            "Content-Type": "application/sparql-update"}, timeout=10),
        requests.post(server, data={"query": "LOAD <http://127.0.0.1:1/x.ttl>"}, timeout=10),
        requests.get(server, params={"update": "DROP ALL"}, timeout=10),
    ):
        assert response.status_code == 403
        assert "read-only" in response.text
    assert wrapper(server, ACTION_COUNT, JSON).queryAndConvert()["results"]["bindings"][0][
        "n"]["value"] == "25"


@pytest.mark.parametrize("service", [
    "SERVICE <http://127.0.0.1:1/sparql> { ?s ?p ?o }",
    "SERVICE ?endpoint { ?s ?p ?o }",
    "sErViCe SILENT <http://169.254.169.254/latest/meta-data> { ?s ?p ?o }",
    "\\u0053ERVICE <http://localhost:22/> { ?s ?p ?o }",
])
def test_service_is_refused_unless_allowed(server, service):
    response = requests.post(server, data={"query": f"SELECT * WHERE {{ {service} }}"},
                             timeout=10)
    assert response.status_code == 403, response.text
    assert "SERVICE" in response.text


def test_service_to_an_allowed_endpoint(server):
    query = f"SELECT ?n WHERE {{ SERVICE <{server}> {{ {ACTION_COUNT[len(PREFIXES):]} }} }}"
    response = requests.post(server, data={"query": PREFIXES + query}, timeout=20)
    assert response.status_code == 200, response.text
    assert response.json()["results"]["bindings"][0]["n"]["value"] == "25"


def test_row_cap_is_signalled(server):
    response = requests.get(server, params={"query": TITLES}, timeout=10)
    assert response.status_code == 200
    assert response.headers["X-SPARQL-Truncated"] == "true; rows=20"
    body = response.json()
    assert len(body["results"]["bindings"]) == 20
    assert body["head"]["link"] == ["urn:senacs-kg:truncated"]
    xml = requests.get(server, params={"query": TITLES, "format": "xml"}, timeout=10)
    assert 'link href="urn:senacs-kg:truncated"' in xml.text
    untruncated = requests.get(server, params={"query": ACTION_COUNT}, timeout=10)
    assert "X-SPARQL-Truncated" not in untruncated.headers


def test_runaway_query_is_stopped_while_others_are_answered(server):
    outcome = {}

    def runaway():
        start = time.monotonic()
        response = requests.get(server, params={"query": RUNAWAY}, timeout=30)
        outcome["status"], outcome["seconds"] = response.status_code, time.monotonic() - start
        outcome["text"], outcome["retry"] = response.text, response.headers.get("Retry-After")

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.3)  # the runaway holds one worker now
    for _ in range(3):
        start = time.monotonic()
        small = requests.get(server, params={"query": ACTION_COUNT}, timeout=10)
        assert small.status_code == 200
        assert time.monotonic() - start < 1.0
    thread.join()
    assert outcome["status"] == 503
    assert 1.5 < outcome["seconds"] < 6
    assert "stopped" in outcome["text"] and outcome["retry"]
    # the killed worker was replaced: the server still answers on all its workers
    for _ in range(4):
        assert requests.get(server, params={"query": ACTION_COUNT}, timeout=10).status_code == 200


def test_no_traceback_ever(server):
    for params in ({"query": "\x00\xff"}, {"query": "SELECT * WHERE { ?s ?p ?o } LIMIT -1"},
                   {"query": ACTION_COUNT, "format": "bogus"},
                   {"query": ACTION_COUNT, "default-graph-uri": "not an iri"}):
        response = requests.get(server, params=params, timeout=10)
        assert response.status_code in (400, 406), (params, response.status_code)
        assert "Traceback" not in response.text


def test_get_results_carry_an_etag(server):
    first = requests.get(server, params={"query": ACTION_COUNT}, timeout=10)
    assert first.headers["ETag"]
    again = requests.get(server, params={"query": ACTION_COUNT}, timeout=10,
                         headers={"If-None-Match": first.headers["ETag"]})
    assert again.headers["ETag"] == first.headers["ETag"]


# -- the store is built once and reopened ----------------------------------------------------


def test_restart_reopens_the_store_without_reloading(release_dir, tmp_path):
    store = tmp_path / "store"
    port = free_port()
    proc = start_server(release_dir, store, port)
    stop(proc)
    marker = (store / "senacs-kg-store.json").stat().st_mtime_ns
    proc = start_server(release_dir, store, port)
    try:
        assert (store / "senacs-kg-store.json").stat().st_mtime_ns == marker  # not loaded again
        response = requests.get(f"http://127.0.0.1:{port}/sparql",
                                params={"query": ACTION_COUNT}, timeout=10)
        assert response.json()["results"]["bindings"][0]["n"]["value"] == "25"
    finally:
        stop(proc)


@pytest.mark.parametrize("server", sorted(PRODUCTION_SERVERS))
def test_production_servers_serve_the_app(server, release_dir, tmp_path):
    port = free_port()
    proc = PRODUCTION_SERVERS[server](release_dir, tmp_path / "store", port)
    try:
        endpoint = wrapper(f"http://127.0.0.1:{port}/sparql", ACTION_COUNT, JSON)
        for _ in range(4):  # the later ones replayed, by each worker
            answer = endpoint.queryAndConvert()
            assert answer["results"]["bindings"][0]["n"]["value"] == "25"
        page = requests.get(f"http://127.0.0.1:{port}/action/sous-les-tilleuls-31/"
                            "bien-ensemble-sous-les-tilleuls-les-cafes-des-rencontres", timeout=30)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        refused = requests.post(f"http://127.0.0.1:{port}/sparql",
                                data={"update": "CLEAR ALL"}, timeout=30)
        assert refused.status_code == 403
        # a dump published gzipped only, both ways (the server's file sending left out of it)
        packed = (release_dir / "dataset.ttl.gz").read_bytes()
        url = f"http://127.0.0.1:{port}/dumps/dataset.ttl"
        encoded, body = raw_get(url, **{"Accept-Encoding": "gzip"})
        assert encoded.headers["Content-Encoding"] == "gzip" and body == packed
        decoded, body = raw_get(url, **{"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in decoded.headers and body == gzip.decompress(packed)
        part, piece = raw_get(url, **{"Accept-Encoding": "identity", "Range": "bytes=100-199"})
        assert part.status_code == 206 and piece == gzip.decompress(packed)[100:200]
    finally:
        stop(proc)


def damaged_copy(release_dir, folder, damage=appended):
    """A copy of the release whose canonical dump is damaged: ``appended`` is refused before
    the store is loaded (its size), ``garbled`` while it loads."""
    shutil.copytree(release_dir, folder)
    dump = folder / "dataset.nt.gz"
    dump.write_bytes(damage(dump.read_bytes()))
    return folder


def test_a_damaged_release_is_refused_at_start(release_dir, tmp_path):
    copy = damaged_copy(release_dir, tmp_path / "release")
    run = subprocess.run([sys.executable, "-m", "mapping.cli", "serve", "--release", str(copy),
                          "--store", str(tmp_path / "store"), "--port", str(free_port())],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "damaged" in run.stderr and "dataset.nt.gz" in run.stderr
    assert "Traceback" not in run.stderr


# A production server's workers each call create_app(); a refused start must stop the server
# with its reason said once, in one line, never with a traceback (tests/test_refusal.py: how
# the workers after the first know to keep silent).
PRODUCTION_COMMANDS = {"gunicorn": gunicorn_command, "granian": granian_command}
REFUSED = {"gunicorn": 3, "granian": 1}  # gunicorn: "Worker failed to boot"; granian's own


@pytest.mark.parametrize("server_name", PRODUCTION_COMMANDS)
def test_a_misspelt_setting_stops_a_production_server_in_one_line(server_name, release_dir,
                                                                  tmp_path):
    run = run_production(release_dir, tmp_path / "store",
                         PRODUCTION_COMMANDS[server_name](free_port(), workers=4),
                         QUERY_TIMOUT="5")
    assert run.returncode == REFUSED[server_name]
    said = [line for line in run.stderr.splitlines() if "senacs-kg:" in line]
    assert said == ["senacs-kg: the server cannot start: environment: unknown setting "
                    "SENACS_KG_QUERY_TIMOUT (did you mean SENACS_KG_QUERY_TIMEOUT?)"], said
    assert "Traceback" not in run.stderr, run.stderr


@pytest.mark.parametrize("server_name", PRODUCTION_COMMANDS)
def test_a_damaged_release_stops_a_production_server_in_one_line(server_name, release_dir,
                                                                 tmp_path):
    """Found while the store loads (the size as the manifest says)."""
    copy = damaged_copy(release_dir, tmp_path / "release", garbled)
    run = run_production(copy, tmp_path / "store",
                         PRODUCTION_COMMANDS[server_name](free_port(), workers=2))
    assert run.returncode == REFUSED[server_name]
    said = [line for line in run.stderr.splitlines() if "senacs-kg:" in line]
    assert len(said) == 1 and "damaged" in said[0] and "dataset.nt.gz" in said[0], run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "store").exists() or not any((tmp_path / "store").iterdir())


@pytest.mark.parametrize("server_name", PRODUCTION_COMMANDS)
def test_a_temporary_folder_too_deep_for_the_federation_stops_a_server_in_one_line(
        server_name, release_dir, tmp_path):
    """The federation's socket is made in TMPDIR; a socket's path holds 107 bytes at most."""
    deep = tmp_path / ("t" * 100)  # run_production's TMPDIR: the store's folder
    deep.mkdir()  # (were it missing, the temporary folder would be /tmp)
    run = run_production(release_dir, deep / "store",
                         PRODUCTION_COMMANDS[server_name](free_port(), workers=2),
                         SERVICE_ALLOWLIST='["https://query.wikidata.org/sparql"]')
    assert run.returncode == REFUSED[server_name]
    said = [line for line in run.stderr.splitlines() if "senacs-kg:" in line]
    assert len(said) == 1, run.stderr
    assert said[0].startswith("senacs-kg: the server cannot start: SERVICE_ALLOWLIST: ")
    assert said[0].endswith("too long for a Unix socket (107 bytes at most): set TMPDIR to a "
                            "shorter folder")
    assert "Traceback" not in run.stderr, run.stderr
    notes = "senacs-kg-" + str(os.getuid())  # the refusal's notes; no socket's folder is left
    assert [p.name for p in deep.glob("senacs-kg-*")] == [notes]


def test_xml_results_are_well_formed(server):
    response = requests.get(server, params={"query": ACTION_COUNT, "format": "xml"}, timeout=10)
    root = ET.fromstring(response.content)
    assert root.tag.endswith("sparql")


# -- linked data: dereferenceable IRIs and dumps (issue #6, first part) ----------------------

ACTION_PATH = "/action/sous-les-tilleuls-31/bien-ensemble-sous-les-tilleuls-les-cafes-des-rencontres"


def test_an_action_iri_dereferences_by_accept_and_by_extension(server):
    root = server[:-len("/sparql")]
    turtle = requests.get(root + ACTION_PATH, headers={"Accept": "text/turtle"}, timeout=10)
    assert turtle.status_code == 200
    assert turtle.headers["Content-Type"] == "text/turtle; charset=utf-8"
    assert turtle.headers["Vary"] == "Accept"
    assert turtle.headers["Content-Location"] == ACTION_PATH + ".ttl"
    assert 'rel="alternate"; type="application/ld+json"' in turtle.headers["Link"]
    triples = {str(t) for t in ox.parse(turtle.content, format=ox.RdfFormat.TURTLE)}
    iri = "https://w3id.org/senacs-kg" + ACTION_PATH
    assert f'<{iri}> <http://purl.org/dc/terms/title> "\\"Bien ensemble Sous les Tilleuls\\", ' \
           'les cafés des rencontres"@fr' in triples
    assert any(t.startswith(f"<{iri}#amount-1> ") for t in triples)  # its parts come along
    nt = requests.get(root + ACTION_PATH + ".nt", timeout=10)
    assert nt.headers["Content-Type"] == "application/n-triples"
    assert {str(t) for t in ox.parse(nt.content, format=ox.RdfFormat.N_TRIPLES)} == triples
    for ext, fmt in ((".jsonld", ox.RdfFormat.JSON_LD), (".rdf", ox.RdfFormat.RDF_XML)):
        other = requests.get(root + ACTION_PATH + ext, timeout=10)
        assert {str(t) for t in ox.parse(other.content, format=fmt)} == triples
    page = requests.get(root + ACTION_PATH, headers={"Accept": "text/html"}, timeout=10)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "&#34;Bien ensemble Sous les Tilleuls&#34;" in page.text


def test_an_unknown_iri_is_a_helpful_404(server):
    root = server[:-len("/sparql")]
    response = requests.get(root + "/action/nope/nothing", timeout=10)
    assert response.status_code == 404
    assert "/sparql" in response.text and "Ressource inconnue" in response.text


def test_dumps_with_etag_304_head_and_range(server, release_dir):
    root = server[:-len("/sparql")]
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    plain = {"Accept-Encoding": "identity"}  # the content itself (gzip: test_a_gzipped_only...)
    full = requests.get(root + "/dumps/dataset.nt", timeout=10, headers=plain)
    assert full.status_code == 200
    assert full.content == dump_bytes(release_dir)
    assert full.headers["ETag"] == f'"{manifest["files"]["dataset.nt.gz"]["decoded"]["sha256"]}"'
    assert full.headers["Last-Modified"]
    again = requests.get(root + "/dumps/dataset.nt", timeout=10,
                         headers={**plain, "If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    head = requests.head(root + "/dumps/dataset.nt.gz", timeout=10)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == \
        manifest["files"]["dataset.nt.gz"]["bytes"]
    part = requests.get(root + "/dumps/dataset.nt", headers={**plain, "Range": "bytes=0-99"},
                        timeout=10)
    assert part.status_code == 206 and part.content == full.content[:100]
    assert requests.get(root + "/dumps/manifest.json", timeout=10).json()["release"] == \
        manifest["release"]


DERIVED = [("dataset.nt", ox.RdfFormat.N_TRIPLES, "application/n-triples"),
           ("dataset.ttl", ox.RdfFormat.TURTLE, "text/turtle; charset=utf-8"),
           ("dataset.jsonld", ox.RdfFormat.JSON_LD, "application/ld+json")]


def raw_get(url: str, **headers: str) -> tuple[requests.Response, bytes]:
    """A GET and the body's bytes as they came on the wire (requests left to decode nothing)."""
    response = requests.get(url, headers=headers, timeout=30, stream=True)
    with response:
        return response, response.raw.read(decode_content=False)


def canonical_triples(release_dir) -> set[str]:
    return {str(t) for t in ox.parse(dump_bytes(release_dir), format=ox.RdfFormat.N_TRIPLES)}


@pytest.mark.parametrize("name, fmt, media", DERIVED)
def test_a_derived_format_is_gzip_encoded_for_clients_that_accept_gzip(server, release_dir,
                                                                        name, fmt, media):
    """The release holds dataset.ttl.gz only; /dumps/dataset.ttl sends its bytes as
    Content-Encoding: gzip, and what they decode to is the graph of the canonical dump."""
    root = server[:-len("/sparql")]
    entry = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))["files"][
        name + ".gz"]
    response, body = raw_get(f"{root}/dumps/{name}", **{"Accept-Encoding": "gzip, deflate"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Content-Type"] == media
    assert response.headers["Vary"] == "Accept-Encoding"
    assert body == (release_dir / (name + ".gz")).read_bytes()
    assert int(response.headers["Content-Length"]) == entry["bytes"]
    assert response.headers["ETag"] == f'"{entry["sha256"]}"'
    assert {str(t) for t in ox.parse(gzip.decompress(body), format=fmt)} == \
        canonical_triples(release_dir)
    again = requests.get(f"{root}/dumps/{name}", timeout=10,
                         headers={"Accept-Encoding": "gzip", "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("name, fmt, media", DERIVED)
def test_a_derived_format_is_decompressed_for_clients_that_do_not(server, release_dir, name,
                                                                   fmt, media):
    """Without gzip in Accept-Encoding, the same URL sends the content itself, with its own
    size and ETag (the manifest's "decoded"), HEAD, 304 and ranges as for any dump."""
    root = server[:-len("/sparql")]
    entry = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))["files"][
        name + ".gz"]
    content = gzip.decompress((release_dir / (name + ".gz")).read_bytes())
    response, body = raw_get(f"{root}/dumps/{name}", **{"Accept-Encoding": "identity"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.headers["Content-Type"] == media
    assert response.headers["Vary"] == "Accept-Encoding"
    assert body == content and int(response.headers["Content-Length"]) == len(content) == \
        entry["decoded"]["bytes"]
    assert response.headers["ETag"] == f'"{entry["decoded"]["sha256"]}"'
    assert {str(t) for t in ox.parse(body, format=fmt)} == canonical_triples(release_dir)
    head = requests.head(f"{root}/dumps/{name}", headers={"Accept-Encoding": "identity"},
                         timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == len(content)
    refused = requests.get(f"{root}/dumps/{name}", timeout=10,
                           headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.content == content
    again = requests.get(f"{root}/dumps/{name}", timeout=10,
                         headers={"Accept-Encoding": "identity",
                                  "If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.content == b""
    middle = len(content) // 2
    part, piece = raw_get(f"{root}/dumps/{name}", **{"Accept-Encoding": "identity",
                                                     "Range": f"bytes={middle}-{middle + 99}"})
    assert part.status_code == 206 and piece == content[middle:middle + 100]
    assert part.headers["Content-Range"] == f"bytes {middle}-{middle + 99}/{len(content)}"
    beyond = requests.get(f"{root}/dumps/{name}", timeout=10,
                          headers={"Accept-Encoding": "identity",
                                   "Range": f"bytes={len(content) + 10}-"})
    assert beyond.status_code == 416


@pytest.mark.parametrize("name, fmt, media", DERIVED)
def test_a_gzipped_derived_file_downloads_as_gzip(server, release_dir, name, fmt, media):
    root = server[:-len("/sparql")]
    entry = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))["files"][
        name + ".gz"]
    response, body = raw_get(f"{root}/dumps/{name}.gz", **{"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.headers["Content-Type"] == "application/gzip"
    assert len(body) == entry["bytes"] and hashlib.sha256(body).hexdigest() == entry["sha256"]
    assert response.headers["ETag"] == f'"{entry["sha256"]}"'
    part, piece = raw_get(f"{root}/dumps/{name}.gz", Range="bytes=0-9")
    assert part.status_code == 206 and piece == body[:10]
    head = requests.head(f"{root}/dumps/{name}.gz", timeout=10)
    assert int(head.headers["Content-Length"]) == entry["bytes"]


def legacy_copy(release_dir, folder):
    """The release as a build before the dumps were gzipped only wrote it: plain dataset.nt
    beside its gzip (whose entry said nothing of its content), plain dataset.ttl and
    dataset.jsonld, listed so in its manifest; no subjects.txt."""
    shutil.copytree(release_dir, folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    (folder / "subjects.txt").unlink()
    del manifest["files"]["subjects.txt"]
    for name, *_ in DERIVED:
        content = gzip.decompress((folder / (name + ".gz")).read_bytes())
        (folder / name).write_bytes(content)
        if name == "dataset.nt":
            packed = manifest["files"][name + ".gz"]
            del packed["decoded"], packed["blocks"]
        else:
            (folder / (name + ".gz")).unlink()
            del manifest["files"][name + ".gz"]
        manifest["files"][name] = {"sha256": hashlib.sha256(content).hexdigest(),
                                   "bytes": len(content)}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True),
                                          encoding="utf-8")
    return folder


def test_a_release_built_before_serves_its_plain_derived_files(release_dir, tmp_path):
    legacy = legacy_copy(release_dir, tmp_path / "legacy")
    with live_server(legacy, tmp_path / "store") as root:
        for name, fmt, media in DERIVED:
            plain = (legacy / name).read_bytes()
            response, body = raw_get(f"{root}/dumps/{name}", **{"Accept-Encoding": "gzip"})
            assert response.status_code == 200 and body == plain, name
            assert "Content-Encoding" not in response.headers
            assert response.headers["Content-Type"] == media
            assert {str(t) for t in ox.parse(body, format=fmt)} == canonical_triples(legacy)
            part, piece = raw_get(f"{root}/dumps/{name}", Range="bytes=0-99")
            assert part.status_code == 206 and piece == plain[:100]
            packed = requests.get(f"{root}/dumps/{name}.gz", timeout=10).status_code
            assert packed == (200 if name == "dataset.nt" else 404)
        count = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
        answer = requests.get(f"{root}/sparql", params={"query": count}, timeout=30,
                              headers={"Accept": "application/sparql-results+json"})
        assert int(answer.json()["results"]["bindings"][0]["n"]["value"]) == \
            len(canonical_triples(legacy))  # loaded from its plain dataset.nt


@pytest.mark.parametrize("path", ["/dumps/../manifest.json", "/dumps/%2e%2e/%2e%2e/etc/passwd",
                                  "/dumps/ontology/../../secret", "/dumps//etc/passwd"])
def test_path_traversal_under_dumps_is_refused(server, path):
    root = server[:-len("/sparql")]
    response = requests.get(root + path, timeout=10)
    assert response.status_code in (404, 400)
    assert "root:" not in response.text


def test_answers_and_the_query_page_use_the_one_prefix_table(server):
    """The Turtle answers declare vocab.PREFIXES, whose names (action:, structure:…) give local
    names with escaped ``/`` and ``#`` that both parsers read; the query page's first query
    declares the same names and runs as it stands."""
    from html import unescape

    from rdflib import Graph

    from mapping import vocab

    root, base = server[:-len("/sparql")], "https://w3id.org/senacs-kg/"
    turtle = requests.get(root + ACTION_PATH + ".ttl", timeout=10).text
    assert {line for line in turtle.splitlines() if line.startswith("@prefix")} == {
        f"@prefix {name}: <{iri}> ." for name, iri in vocab.prefixes(base).items()}
    assert "action:sous-les-tilleuls-31\\/" in turtle  # the table's action: name is used
    parsed = Graph().parse(data=turtle, format="turtle")
    assert len(parsed) == len(list(ox.parse(turtle.encode(), format=ox.RdfFormat.TURTLE))) > 20
    page = requests.get(server, headers={"Accept": "text/html"}, timeout=10)
    initial = unescape(page.text.split('aria-label="requête SPARQL">', 1)[1].split("</textarea>")[0])
    assert initial.startswith(vocab.sparql_prologue(base))
    rows = requests.post(server, data={"query": initial}, timeout=10,
                         headers={"Accept": "application/sparql-results+json"}).json()
    assert len(rows["results"]["bindings"]) == 20


# -- a malformed query's message says what was found where (endpoint/syntax.py) ---------------

FORMS = "SELECT, ASK, CONSTRUCT or DESCRIBE"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_misspelt_select_is_named_where_it_stands(server, method):
    query = "SELEC ?s WHERE {?s ?p ?o}"
    response = requests.request(method, server, timeout=10,
                                **({"params": {"query": query}} if method == "GET"
                                   else {"data": {"query": query}}))
    assert response.status_code == 400
    message = response.text.strip()
    assert message.startswith("malformed query: line 1, column 1: found 'SELEC' where the "
                              "query form was expected: " + FORMS), message
    assert "CONSTRUCT was expected" not in message and "expected CONSTRUCT" not in message
    assert "\n" not in message and "Traceback" not in message


def test_the_place_counts_the_prologue_lines_and_columns(server):
    query = PREFIXES + "  ASKK { ?a a senacs:Action }"
    response = requests.get(server, params={"query": query}, timeout=10)
    assert response.status_code == 400
    assert "line 2, column 3: found 'ASKK' where the query form was expected" in response.text
    broken = requests.get(server, params={"query": "PREFIX senacs <x:>\nSELECT * {}"}, timeout=10)
    assert broken.status_code == 400
    assert "line 1, column 8: found 'senacs' where PREFIX needs a prefix name ending in ':'" \
        in broken.text


def test_a_query_form_in_its_place_keeps_the_parsers_message(server):
    # the form is there: the engine's own message, which points into the query, stands
    response = requests.get(server, params={"query": "SELECT ?x WHERE { ?x ?y }"}, timeout=10)
    assert response.status_code == 400
    assert response.text.startswith("malformed query: error at 1:")

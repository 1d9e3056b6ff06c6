"""Attacks on a live production server (granian, default settings) while a loopback listener
waits for the connection that must never come: generated SERVICE variants by GET, form POST and
direct POST, resource paths crafted to close the IRI and append patterns, fuzzed texts."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests
from conftest import dump_text, live_server, start_granian
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ssrf_variants import MARKER, all_variants
from test_guard import PIECES


@pytest.fixture(scope="module")
def listener(listener):
    """conftest's listener, and the proof: not one connection reached it in the whole module."""
    yield listener
    assert listener.connections == []


@pytest.fixture(scope="module")
def site(release_dir, tmp_path_factory, listener):
    with live_server(release_dir, tmp_path_factory.mktemp("security") / "store",
                     start_granian) as root:
        yield root


def ask(site: str, text: str, how: int) -> requests.Response:
    """The query by GET, form POST or direct POST (``how`` modulo 3)."""
    url = site + "/sparql"
    accept = {"Accept": "application/sparql-results+json"}
    if how % 3 == 0:
        return requests.get(url, params={"query": text}, headers=accept, timeout=30)
    if how % 3 == 1:
        return requests.post(url, data={"query": text}, headers=accept, timeout=30)
    return requests.post(url, data=text.encode("utf-8"), timeout=30,
                         headers={**accept, "Content-Type": "application/sparql-query"})


def test_generated_service_variants_reach_nothing(site, listener):
    variants = all_variants(listener.port)
    assert len(variants) >= 300
    statuses = {}
    for i, text in enumerate(variants):
        response = ask(site, text, i)
        assert MARKER not in response.text, text
        assert response.status_code in (400, 403), (response.status_code, text)
        assert "Traceback" not in response.text
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    assert statuses.get(403, 0) >= 250  # refused as SERVICE, not merely malformed
    assert listener.connections == []


def test_every_variant_by_every_method_for_the_plain_forms(site, listener):
    for text in all_variants(listener.port)[:40]:
        for how in range(3):
            response = ask(site, text, how)
            assert response.status_code == 403, (how, text)
            assert "SERVICE" in response.text
    assert listener.connections == []


INJECTED_PATHS = [
    "/action/x> ?p ?o } UNION { SERVICE <http://127.0.0.1:{port}/> {{ ?m ?n ?k }} } #",
    "/action/x> ?p ?o } UNION { ?s ?p ?o } #",
    "/structure/x> ?p ?o . ?s ?p ?o } #",
    "/organisation/x>{ SERVICE <http://127.0.0.1:{port}/> { ?m ?n ?k } }",
    "/concept/keyword/x\\u003e ?p ?o } UNION { ?s ?p ?o } #",
    "/place/x\" ) } UNION { ?s ?p ?o } #",
    "/source/a b",
    "/action/x>.ttl",
    "/action/é\"<>.nt",
]


@pytest.mark.parametrize("path", INJECTED_PATHS)
def test_a_crafted_resource_path_is_a_404_and_runs_nothing(site, listener, path):
    path = path.replace("{port}", str(listener.port)).replace("{{", "{").replace("}}", "}")
    for accept in ("text/html", "text/turtle", "application/n-triples"):
        response = requests.get(site + quote(path, safe="/"), headers={"Accept": accept},
                                timeout=30)
        assert response.status_code == 404, (path, response.status_code)
        assert MARKER not in response.text
        assert "senacs-kg/def#" not in response.text  # no triple of the graph leaked
    assert listener.connections == []


def test_a_real_resource_still_answers(site, release_dir):
    nt = dump_text(release_dir)
    iri = next(line.split(" ", 1)[0][1:-1] for line in nt.splitlines()
               if "/action/" in line.split(" ", 1)[0] and "#" not in line.split(" ", 1)[0])
    path = iri.split("senacs-kg", 1)[1]
    response = requests.get(site + path, headers={"Accept": "application/n-triples"}, timeout=30)
    assert response.status_code == 200
    assert response.text.startswith(f"<{iri}>")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(before=st.lists(st.sampled_from(PIECES), max_size=8),
       keyword=st.sampled_from(["SERVICE", "\\u0053ERVICE", "SERVICE SILENT", "SERVICEex:x"]),
       how=st.integers(0, 2))
def test_fuzzed_queries_reach_nothing(site, listener, before, keyword, how):
    text = (f"PREFIX ex: <http://127.0.0.1:{listener.port}/> SELECT * WHERE {{ ?a ?b ?c . "
            f"{''.join(before)} {keyword} <http://127.0.0.1:{listener.port}/> {{ ?m ?n ?k }} }}")
    response = ask(site, text, how)
    assert response.status_code != 500
    assert MARKER not in response.text
    assert listener.connections == []


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(root=st.sampled_from(["action", "structure", "organisation", "concept", "place", "source"]),
       tail=st.lists(st.sampled_from(PIECES + ["%3E", "%22", "%20", "/", "%0A"]), min_size=1,
                     max_size=8))
def test_fuzzed_resource_paths_are_answered_or_404(site, listener, root, tail):
    response = requests.get(f"{site}/{root}/{quote(''.join(tail), safe='/%')}", timeout=30)
    assert response.status_code in (200, 404), response.status_code
    assert MARKER not in response.text
    assert listener.connections == []


def test_the_production_server_holds_its_bounds_and_headers(site, listener):
    """The memory, nesting and header cases of tests/test_bounds.py and test_web_security.py,
    here against the production server the attacks above were sent to."""
    from test_bounds import doubled

    huge = requests.post(site + "/sparql", timeout=120,
                         data={"query": f"SELECT ?s28 WHERE {{ {doubled('s', 28, seed='a')} }}"},
                         headers={"Accept": "application/sparql-results+json"})
    assert huge.status_code == 503 and len(huge.content) < 1000  # not 256 MB
    deep = requests.post(site + "/sparql", timeout=30,
                         data={"query": "SELECT (" + "(" * 5000 + "1" + ")" * 5000 + " AS ?x) {}"})
    assert deep.status_code == 400 and "the limit is 64" in deep.text
    for response in (huge, deep, requests.get(site + "/", timeout=30),
                     requests.get(site + "/sparql", headers={"Accept": "text/html"}, timeout=30)):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]
    assert listener.connections == []


# Found by an attacker's pass over the merged server (each was a 500, or memory without bound).
@pytest.mark.parametrize("params,status", [
    ({"query": "SELECT * FROM <http://[> {}"}, 400),
    ({"query": "BASE <http://[::1> SELECT * FROM <x> {}"}, 400),
    ({"query": "PREFIX a: <http://[> SELECT * FROM a:x {}"}, 400),
    ({"query": "SELECT (TRIPLE(<http://a/>,<http://b/>,<http://c/>) AS ?t) {}", "format": "csv",
      "download": "spreadsheet"}, 200),
    ({"query": "CONSTRUCT { ?s ?p ?o } WHERE { BIND(<http://a/> AS ?s) BIND(<http://b/> AS ?p) "
               "BIND(<<( <http://a/> <http://b/> <http://c/> )>> AS ?o) }", "format": "jsonld"},
     406),
], ids=["unreadable FROM", "unreadable BASE", "unreadable PREFIX", "triple term to a spreadsheet",
        "triple term as JSON-LD"])
def test_odd_but_valid_texts_get_a_clear_status_not_a_500(site, params, status):
    response = requests.get(site + "/sparql", params=params, timeout=30)
    assert response.status_code == status, response.text
    if status == 200:
        assert "<<( <http://a/> <http://b/> <http://c/> )>>" in response.text


def test_padding_the_query_string_cannot_grow_the_replay_cache_without_bound():
    from endpoint.cache import ResponseCache

    def app(environ, start_response):
        environ["senacs.replayable"] = True
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"true"]

    cache = ResponseCache(app, max_bytes=1_000_000)
    for i in range(200):  # 200 x 60 KB of keys on a 4-byte answer
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/sparql",
                   "QUERY_STRING": f"query=ASK%7B%7D&pad={i}" + "x" * 60_000}
        assert cache(environ, lambda status, headers: None) == [b"true"]
    assert cache._bytes <= 1_000_000
    assert len(cache._data) < 20

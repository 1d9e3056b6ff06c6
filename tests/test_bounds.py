"""Everything bounded: the response's bytes, the query worker's memory, the query's nesting, the
caches' sizes; dead workers answered as "try again"; non-deterministic queries never cached.

Each limit is tested on a live server with a low setting, the way a client meets it; the limits
at their default settings share one server; what is cached is seen through the test client.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests
from conftest import free_port, start_server, stop

from endpoint import guard
from endpoint.cache import MemoryCache
from endpoint.store import Answer

COUNT = "SELECT (COUNT(?a) AS ?n) WHERE { ?a a <https://w3id.org/senacs-kg/def#Action> }"
JSON = {"Accept": "application/sparql-results+json"}


def doubled(name: str, times: int, seed: str = "0123456789abcdef") -> str:
    """BINDs making ?{name}{times}: the seed string doubled ``times`` times (16 << times bytes)."""
    binds = [f'BIND("{seed}" AS ?{name}0)']
    binds += [f"BIND(CONCAT(?{name}{i}, ?{name}{i}) AS ?{name}{i + 1})" for i in range(times)]
    return " ".join(binds)


def numbers(n: int) -> str:
    return "VALUES ?n { " + " ".join(str(i) for i in range(n)) + " }"


def wide_select(times: int) -> str:
    """300 rows of (16 << times) bytes each."""
    return (f"SELECT ?n ?s WHERE {{ {numbers(300)} {doubled('b', times)} "
            f"BIND(CONCAT(STR(?n), ?b{times}) AS ?s) }}")


WIDE_SELECT = wide_select(9)  # 300 rows of 8 kB each: 2.4 MB of answer
WIDE_CONSTRUCT = (f"CONSTRUCT {{ ?x <http://example.org/p> ?b9 }} WHERE {{ {numbers(300)} "
                  f"{doubled('b', 9)} BIND(IRI(CONCAT('http://example.org/', STR(?n))) AS ?x) }}")


def worker_pids(server_pid: int) -> set[int]:
    """The server's query worker processes (its children started by multiprocessing's spawn)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == server_pid and b"spawn_main" in cmdline:
            pids.add(int(stat.parent.name))
    return pids


def kill_and_wait(pid: int) -> None:
    """SIGKILL a worker and wait until it is dead: a zombie its parent has not reaped yet,
    every thread gone (until then the parent cannot tell, and neither can any program)."""
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in "ZX" and len(list(Path(f"/proc/{pid}/task").iterdir())) <= 1:
                return
        except FileNotFoundError:
            return
        time.sleep(0.02)
    raise AssertionError(f"worker {pid} did not die")


@pytest.fixture
def serve(release_dir, tmp_path):
    """Start a server with the given settings: (base URL, process); stopped after the test."""
    started = []

    def start(**settings):
        port = free_port()
        settings.setdefault("WARM_CACHE", False)
        proc = start_server(release_dir, tmp_path / f"store{len(started)}", port, **settings)
        started.append(proc)
        return f"http://127.0.0.1:{port}", proc

    yield start
    for proc in started:
        stop(proc)


@pytest.fixture(scope="module")
def default_server(release_dir, tmp_path_factory):
    """One server with the default settings (but the warm-up) for the tests that change
    nothing in it: (base URL, process)."""
    port = free_port()
    proc = start_server(release_dir, tmp_path_factory.mktemp("bounds") / "store", port,
                        WARM_CACHE=False)
    yield f"http://127.0.0.1:{port}", proc
    stop(proc)


def count(url: str) -> requests.Response:
    return requests.post(url + "/sparql", data={"query": COUNT}, headers=JSON, timeout=30)


# -- 1. the byte cap per response ---------------------------------------------------------------


def test_an_answer_is_truncated_at_the_byte_cap_and_says_so(serve):
    url, _ = serve(MAX_RESPONSE_MB=1)
    response = requests.get(url + "/sparql", params={"query": WIDE_SELECT}, headers=JSON,
                            timeout=60)
    assert response.status_code == 200
    assert len(response.content) <= 1024 * 1024
    rows = response.json()["results"]["bindings"]
    assert 100 < len(rows) < 300  # about 127 rows of 8 kB fit in 1 MB
    assert response.headers["X-SPARQL-Truncated"] == f"true; rows={len(rows)}"
    assert response.json()["head"]["link"] == ["urn:senacs-kg:truncated"]
    assert [int(r["n"]["value"]) for r in rows] == list(range(len(rows)))  # whole rows, in order
    xml = requests.get(url + "/sparql", params={"query": WIDE_SELECT, "format": "xml"},
                       timeout=60)
    assert 'href="urn:senacs-kg:truncated"' in xml.text
    turtle = requests.get(url + "/sparql", params={"query": WIDE_CONSTRUCT},
                          headers={"Accept": "text/turtle"}, timeout=60)
    triples = int(turtle.headers["X-SPARQL-Truncated"].split("rows=")[1])
    assert 100 < triples < 300
    assert turtle.text.startswith(f"# truncated: the first {triples} triples only")
    assert len(turtle.content) <= 1024 * 1024
    # under the cap, nothing is truncated
    small = requests.get(url + "/sparql", params={"query": wide_select(2)},
                         headers=JSON, timeout=60)
    assert len(small.json()["results"]["bindings"]) == 300
    assert "X-SPARQL-Truncated" not in small.headers


def test_a_first_row_larger_than_the_byte_cap_is_a_clear_503(serve):
    url, _ = serve(MAX_RESPONSE_MB=1)
    # one 2 MB string: the issue's "string doubled 28 times", at a size a test can afford
    query = f"SELECT ?s17 WHERE {{ {doubled('s', 17)} }}"
    response = requests.post(url + "/sparql", data={"query": query}, headers=JSON, timeout=60)
    assert response.status_code == 503
    assert "more than the server's response limit of 1 MB" in response.text
    assert "Retry-After" not in response.headers  # the same query would be stopped again
    assert len(response.content) < 1000
    assert count(url).json()["results"]["bindings"][0]["n"]["value"] == "25"


def test_the_issues_256_mb_string_is_refused_at_the_default_cap(default_server):
    url, _ = default_server
    query = f"SELECT ?s28 WHERE {{ {doubled('s', 28, seed='a')} }}"  # 1 << 28 bytes
    response = requests.post(url + "/sparql", data={"query": query}, headers=JSON, timeout=120)
    assert response.status_code == 503 and len(response.content) < 1000
    assert "the first result alone is 256 MB, more than the server's response limit of 25 MB" \
        in response.text


# -- 2. the memory cap per query worker ---------------------------------------------------------


@pytest.mark.parametrize("query", [
    # 16 << 25 = 512 MB strings, kept side by side: far more than 300 MB
    f"SELECT (STRLEN(?s25) AS ?n) WHERE {{ {doubled('s', 25)} }}",
    # ORDER BY materialises the cartesian product of the store with itself (5.4 million rows)
    "SELECT ?c ?f WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f LIMIT 1",
], ids=["huge strings", "ORDER BY a cartesian product"])
def test_a_query_over_the_worker_memory_cap_is_stopped_with_503(serve, query):
    url, proc = serve(WORKER_MEMORY_MB=300, QUERY_WORKERS=1, QUERY_TIMEOUT=60)
    before = worker_pids(proc.pid)
    response = requests.post(url + "/sparql", data={"query": query}, headers=JSON, timeout=90)
    assert response.status_code == 503
    assert response.text.strip() == ("the query needed more than 300 MB of memory and was "
                                     "stopped")
    assert count(url).json()["results"]["bindings"][0]["n"]["value"] == "25"
    after = worker_pids(proc.pid)
    assert len(after) == 1 and not after & before  # the worker was replaced


def test_the_worker_memory_cap_leaves_ordinary_queries_alone(serve):
    url, _ = serve(WORKER_MEMORY_MB=300, QUERY_WORKERS=1)
    query = f"SELECT (STRLEN(?s20) AS ?n) WHERE {{ {doubled('s', 20)} }}"  # 16 MB strings
    response = requests.post(url + "/sparql", data={"query": query}, headers=JSON, timeout=60)
    assert response.json()["results"]["bindings"][0]["n"]["value"] == str(16 << 20)


# -- 3. dead workers ------------------------------------------------------------------------------


def test_workers_killed_while_idle_are_replaced_before_a_query_reaches_them(serve):
    url, proc = serve(QUERY_WORKERS=2, QUERY_TIMEOUT=30)  # time for a replacement under load
    workers = worker_pids(proc.pid)
    assert len(workers) == 2
    for pid in workers:  # every worker: the query cannot land on a living one by chance
        kill_and_wait(pid)
    response = count(url)
    assert response.status_code == 200, response.text
    assert response.json()["results"]["bindings"][0]["n"]["value"] == "25"
    assert len(worker_pids(proc.pid)) == 2 and not worker_pids(proc.pid) & workers


def test_a_query_that_crashes_its_worker_is_a_503_try_again_not_a_400(serve):
    # the nesting guard lifted, the query long enough to overflow even the worker's 64 MB stack
    url, proc = serve(QUERY_WORKERS=1, MAX_NESTING=10**6, MAX_QUERY_LENGTH=10**6)
    query = "SELECT (" + "(" * 300_000 + "1" + ")" * 300_000 + " AS ?x) {}"
    response = requests.post(url + "/sparql", data=query.encode(),
                             headers={"Content-Type": "application/sparql-query", **JSON},
                             timeout=60)
    assert response.status_code == 503
    assert "try again" in response.text and "malformed" not in response.text
    assert response.headers["Retry-After"]
    assert count(url).json()["results"]["bindings"][0]["n"]["value"] == "25"


# -- 4. nesting depth -------------------------------------------------------------------------------


def test_nesting_is_counted_outside_strings_iris_and_comments():
    assert guard.nesting_depth("SELECT * { ?s ?p ?o }") == 1
    assert guard.nesting_depth("SELECT * { { ?s ?p ?o } UNION { ?s ?p ?o } }") == 2
    assert guard.nesting_depth("ASK { FILTER(!!!(1 != 2)) }") == 6  # { ( !!! (
    assert guard.nesting_depth('SELECT ("((((((" AS ?x) { } # ((((((((((((') == 1
    assert guard.nesting_depth("SELECT * { ?s <http://e/((((((> ?o }") == 1
    assert guard.nesting_depth("SELECT * { ?s ^(^(^<http://e/p>)) ?o }") == 6
    assert guard.nesting_depth(")))))) SELECT * { }") == 1  # unbalanced closers do not go below 0
    assert guard.nesting_depth("") == 0 and guard.is_deterministic("")  # an empty POST body


@pytest.mark.parametrize("query,depth", [
    ("SELECT (" + "(" * 5000 + "1" + ")" * 5000 + " AS ?x) {}", 5001),  # segfaulted Oxigraph
    ("SELECT (" + "!" * 5000 + "true AS ?x) {}", 5001),
    ("SELECT * { " + "FILTER EXISTS { " * 900 + "}" * 900 + " }", 901),  # segfaulted at ~840
    ("SELECT * { ?s " + "(" * 3000 + "<http://e/p>" + ")+" * 3000 + " ?o }", 3001),
    ("SELECT * { " + "{" * 65 + "}" * 65 + " }", 66),
], ids=["parentheses", "! chain", "EXISTS", "property path", "just over"])
def test_deep_nesting_is_refused_before_the_engine_parses_it(default_server, query, depth):
    url, proc = default_server
    workers = worker_pids(proc.pid)
    response = requests.post(url + "/sparql", data={"query": query}, headers=JSON, timeout=30)
    assert response.status_code == 400
    assert response.text.strip() == (f"the query nests {depth} levels deep (brackets and unary "
                                      "operators); the limit is 64")
    assert worker_pids(proc.pid) == workers  # no worker was touched


def test_nesting_up_to_the_limit_is_answered(default_server):
    url, _ = default_server
    query = "SELECT ?x WHERE { BIND(" + "(" * 62 + "1" + ")" * 62 + " AS ?x) }"  # { ( + 62
    assert guard.nesting_depth(query) == 64
    response = requests.get(url + "/sparql", params={"query": query}, headers=JSON, timeout=30)
    assert response.json()["results"]["bindings"][0]["x"]["value"] == "1"


# -- 5. the memory cache in bytes (the disk cache: tests/test_cache.py) ---------------------------


def test_the_memory_cache_keeps_the_most_recent_answers_within_its_bytes():
    cache = MemoryCache(entries=1000, max_bytes=20_000)
    for i in range(100):
        cache.put(f"q{i}", Answer("select", b"x" * 1000))
    kept = [i for i in range(100) if cache.get(f"q{i}") is not None]
    assert kept == list(range(100 - len(kept), 100))  # the most recent ones
    assert 10 <= len(kept) <= 20_000 // 1000
    cache.put("huge", Answer("select", b"x" * 30_000))  # larger than the whole cache
    assert cache.get("huge") is None and cache.get("q99") is not None
    few = MemoryCache(entries=3, max_bytes=10**9)  # CACHE_ENTRIES still bounds the count
    for i in range(5):
        few.put(f"q{i}", Answer("ask", b"{}"))
    assert [few.get(f"q{i}") is not None for i in range(5)] == [False, False, True, True, True]


# -- 6. non-deterministic queries are never cached ------------------------------------------------


def test_determinism_is_read_from_function_calls_only():
    for query in ["SELECT (RAND() AS ?r) {}", "SELECT (now ( ) AS ?t) {}",
                  "SELECT (StrUUID() AS ?u) {}", "SELECT (UUID() AS ?u) {}",
                  "SELECT (BNODE() AS ?b) {}", "SELECT (BNODE('x') AS ?b) {}",
                  "SELECT * { SERVICE <http://example.org/sparql> { ?s ?p ?o } }",
                  "SELECT * { service silent <http://example.org/sparql> { } }"]:
        assert not guard.is_deterministic(query), query
    for query in ['SELECT ("RAND()" AS ?r) {}', "SELECT * { ?s <http://e/NOW()> ?o }",
                  "SELECT ?rand { BIND(1 AS ?rand) } # RAND()",
                  "PREFIX ex: <http://e/> SELECT * { ?s ex:uuid ?o . ?s ex:now ?t }",
                  "SELECT * { ?s <http://e/p> 'SERVICE <http://x/> {}' }", COUNT]:
        assert guard.is_deterministic(query), query


@pytest.mark.parametrize("expression", ["RAND()", "STRUUID()", "STR(UUID())", "BNODE()",
                                        "STR(NOW())"])
def test_a_non_deterministic_query_is_answered_anew_each_time(client, expression):
    query = f"SELECT ?v WHERE {{ BIND({expression} AS ?v) }}"
    got = []
    for _ in range(2):
        response = client.get("/sparql", query_string={"query": query}, headers=JSON)
        assert response.headers["X-Cache"] == "miss" and "Age" not in response.headers
        assert "ETag" not in response.headers  # nothing claims two answers are the same
        assert response.headers["Cache-Control"] == "no-store"
        got.append(response.get_json()["results"]["bindings"][0]["v"]["value"])
        posted = client.post("/sparql", data={"query": query}, headers=JSON)
        assert posted.headers["X-Cache"] == "miss"
        got.append(posted.get_json()["results"]["bindings"][0]["v"]["value"])
        time.sleep(0.01)  # NOW() has a finer resolution than this
    assert len(set(got)) == 4
    # the same words in a string are cached as usual
    literal = f'SELECT ?v WHERE {{ BIND("{expression}" AS ?v) }}'
    first = client.get("/sparql", query_string={"query": literal}, headers=JSON)
    again = client.get("/sparql", query_string={"query": literal}, headers=JSON)
    assert first.headers["X-Cache"] == "miss" and again.headers["X-Cache"] == "hit"
    assert "ETag" in again.headers

"""Fair share between clients, under the production server (granian, 2 worker processes).

Two loopback addresses are two clients: requests leave from 127.0.0.2 (the one over its
share) or 127.0.0.1 (another client). What a user would check: the first gets 429 with
Retry-After and a one-line message, the second still gets its answers, and cached answers
are never refused. Speed under abuse is measured by benchmarks/bench_abuse.py, not here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from conftest import free_port, start_granian, stop
from requests.adapters import HTTPAdapter

from endpoint.fairness import SlotFiles, client_key
from mapping import release

OTHER, GREEDY = "127.0.0.1", "127.0.0.2"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
JSON_RESULTS = {"Accept": "application/sparql-results+json"}


class SourceAdapter(HTTPAdapter):
    """Connections that leave from a given loopback address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAdapter(address))
    return session


def cheap(tag: str | None = None) -> str:
    """A query no cache has answered before: the literal differs every time."""
    return f'ASK {{ ?s ?p "{tag or uuid.uuid4().hex}" }}'


def serve(release_dir: Path, store: Path, workers: int, **settings: object):
    """granian with these settings (SENACS_KG_* in its environment): its root URL and process."""
    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        for key, value in settings.items():
            env.setenv(f"SENACS_KG_{key}", json.dumps(value))
        proc = start_granian(release_dir, store, port, workers=workers)
    return f"http://127.0.0.1:{port}", proc


class Runaway(threading.Thread):
    """One cartesian-product query from ``address``, held until the server stops it."""

    def __init__(self, root: str, address: str) -> None:
        super().__init__(daemon=True)
        self.root, self.session, self.status = root, client(address), None

    def run(self) -> None:
        try:
            self.status = self.session.get(self.root + "/sparql", params={"query": RUNAWAY},
                                           headers=JSON_RESULTS, timeout=60).status_code
        except requests.RequestException as err:
            self.status = type(err).__name__


def first_answer(runaways: list[Runaway], seconds: float = 15) -> Runaway:
    """The first of these runaways to get an answer."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for runaway in runaways:
            if not runaway.is_alive():
                return runaway
        time.sleep(0.05)
    raise AssertionError(f"none of {len(runaways)} runaways was answered in {seconds} s")


def until_refused(session: requests.Session, root: str, seconds: float = 6) -> requests.Response:
    """Cheap uncached queries until one is refused (the runaway has taken the only place).
    Until the runaway's request reaches the server they are answered, so this waits for it by
    time, not by a count of queries: forty fast ones once took less than it needed to arrive
    on a busy machine (the runaway holds its place 12 s, the checks after this take ~3 s)."""
    deadline, tries = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        response = session.get(root + "/sparql", params={"query": cheap()},
                               headers=JSON_RESULTS, timeout=30)
        tries += 1
        if response.status_code == 429:
            return response
        assert response.status_code == 200, response.text
        time.sleep(0.05)
    raise AssertionError(f"no 429 in {seconds:g} s ({tries} queries) while a runaway holds "
                         "the client's place")


# -- the lock files themselves, between two processes ---------------------------------------


HOLDER = """
import sys
from pathlib import Path
from endpoint.fairness import SlotFiles
slots = SlotFiles(Path(sys.argv[1]))
held = slots.take("192.0.2.7", "run", 1)
print("held" if held is not None else "refused", flush=True)
sys.stdin.readline()
"""


def test_a_place_held_by_one_process_is_refused_to_another_until_it_dies(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        slots = SlotFiles(tmp_path)
        assert slots.take("192.0.2.7", "run", 1) is None  # the same client, elsewhere
        other = slots.take("192.0.2.8", "run", 1)  # another client is not affected
        assert other is not None
        slots.release(other)
        assert slots.sweep() >= 1  # unused files go; the held one stays
        assert slots.take("192.0.2.7", "run", 1) is None
        holder.kill()  # not a clean exit: the kernel still drops the lock
        holder.wait(10)
        again = slots.take("192.0.2.7", "run", 1)
        assert again is not None
        slots.release(again)
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdin.close()
        holder.stdout.close()


def test_clients_are_addresses_and_ipv6_subscribers():
    assert client_key("127.0.0.2") == "127.0.0.2"
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::9") \
        == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key(None) == client_key("") == "unknown"


# -- a live granian, one place per client ---------------------------------------------------


@pytest.fixture(scope="module")
def one_place(release_dir, tmp_path_factory):
    """granian, 2 processes; each client may run 1 uncached query and queue 1 for 1 s. A runaway
    holds its place for 12 s: long enough for the checks, short enough that granian, which lets
    the requests in flight finish, stops within conftest.stop's 20 s."""
    root, proc = serve(release_dir, tmp_path_factory.mktemp("fair") / "store", workers=2,
                       CLIENT_QUERIES=1, QUEUE_LENGTH=1, QUEUE_WAIT=1, QUERY_TIMEOUT=12)
    yield root
    stop(proc)


def test_a_client_over_its_share_gets_429_while_another_is_answered(one_place, release_dir):
    root = one_place
    greedy, other = client(GREEDY), client(OTHER)
    base = json.loads((release_dir / release.MANIFEST).read_text(encoding="utf-8"))["base"]
    actions = other.get(root + "/sparql", headers=JSON_RESULTS, timeout=30, params={
        "query": f"SELECT ?a WHERE {{ ?a a <{base}def#Action> }} ORDER BY ?a LIMIT 2"}).json()
    page_of_greedy, page_of_other = (
        "/" + row["a"]["value"][len(base):] for row in actions["results"]["bindings"])
    known = cheap("known")
    assert greedy.post(root + "/sparql", data={"query": known}, headers=JSON_RESULTS,
                       timeout=30).status_code == 200
    runaway = Runaway(root, GREEDY)
    runaway.start()

    refused = until_refused(greedy, root)
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.text.count("\n") == 1 and "too many queries from your address" in refused.text

    # another address is answered, uncached queries and pages alike
    answer = other.get(root + "/sparql", params={"query": cheap()}, headers=JSON_RESULTS,
                       timeout=30)
    assert answer.status_code == 200 and answer.headers["X-Cache"] == "miss"
    assert answer.json()["boolean"] is False
    assert other.get(root + page_of_other, timeout=30).status_code == 200

    # the pages' own queries count for the client they are shown to
    page = greedy.get(root + page_of_greedy, timeout=30)
    assert page.status_code == 429 and "Retry-After" in page.headers

    # answers already cached are never refused: from the answer cache (POST) or replayed (GET)
    hit = greedy.post(root + "/sparql", data={"query": known}, headers=JSON_RESULTS, timeout=30)
    assert hit.status_code == 200 and hit.headers["X-Cache"] == "hit"
    assert greedy.get(root + page_of_other, timeout=30).status_code == 200

    # the wait queue is bounded: of two more queries at once, one waits, the other is refused
    # at once (both are 429 in the end: the runaway keeps the place longer than the wait)
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(lambda _: client(GREEDY).get(
            root + "/sparql", params={"query": cheap()}, headers=JSON_RESULTS, timeout=30),
            range(2)))
    assert [r.status_code for r in both] == [429, 429]
    assert sum("waited 1 s for its turn" in r.text for r in both) == 1

    runaway.join(60)
    assert runaway.status == 503  # it did run, until the time limit stopped it
    after = greedy.get(root + "/sparql", params={"query": cheap()}, headers=JSON_RESULTS,
                       timeout=30)
    assert after.status_code == 200  # its place was given back


def long_query(base: str, length: int = 32_768) -> tuple[str, int]:
    """A query of exactly ``length`` characters as a person writes one (a long VALUES list of
    IRIs), and the number of rows it answers."""
    head, tail, rows = "SELECT ?a WHERE { VALUES ?a {", " } }", 0
    body = head
    while True:
        item = f" <{base}action/structure-{rows}/action-{rows}>"
        if len(body) + len(item) + len(tail) > length:
            break
        body, rows = body + item, rows + 1
    return body + " " * (length - len(body) - len(tail)) + tail, rows


def test_the_promised_32k_query_by_get_is_answered(one_place, release_dir):
    """MAX_QUERY_LENGTH (32,768 characters) by GET under granian, whose HTTP library takes a
    request target of up to 65,534 bytes: the percent-encoded query must fit in it."""
    base = json.loads((release_dir / release.MANIFEST).read_text(encoding="utf-8"))["base"]
    query, rows = long_query(base)
    assert len(query) == 32_768
    response = client(OTHER).get(one_place + "/sparql", params={"query": query},
                                 headers=JSON_RESULTS, timeout=60)
    assert 32_768 < len(response.request.path_url) <= 65_534  # 42 KB here
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]["bindings"]) == rows


def test_a_query_too_long_for_a_get_url_is_answered_by_post(one_place):
    """Beyond 65,534 bytes of request target granian answers 414; POST carries any query up to
    MAX_QUERY_LENGTH (here 20,000 accented characters: 120,000 bytes percent-encoded)."""
    query = "ASK { ?s ?p ?o } #" + "é" * 20_000
    url = one_place + "/sparql?query=" + quote(query, safe="")
    assert client(OTHER).get(url, headers=JSON_RESULTS, timeout=60).status_code == 414
    response = client(OTHER).post(one_place + "/sparql", data={"query": query},
                                  headers=JSON_RESULTS, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["boolean"] is True


# -- a live granian, one process: a client never holds every query worker -------------------


def test_one_client_never_holds_every_query_worker(release_dir, tmp_path):
    root, proc = serve(release_dir, tmp_path / "store", workers=1, QUERY_WORKERS=2,
                       CLIENT_QUERIES=4, QUEUE_LENGTH=0, QUERY_TIMEOUT=8)
    runaways = [Runaway(root, GREEDY) for _ in range(2)]
    try:
        for runaway in runaways:
            runaway.start()
        refused = first_answer(runaways)
        # 4 allowed across processes, but the only process keeps a worker for the others
        assert refused.status == 429
        assert [r.status for r in runaways if r is not refused] == [None]  # still running
        answer = client(OTHER).get(root + "/sparql", params={"query": cheap()},
                                   headers=JSON_RESULTS, timeout=30)
        assert answer.status_code == 200, answer.text
    finally:
        for runaway in runaways:
            runaway.join(30)  # granian lets a request in flight finish before it stops
        stop(proc)

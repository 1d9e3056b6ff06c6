"""The answer cache: shared on disk, kept across restarts, never stale across releases."""

from __future__ import annotations

import multiprocessing
import time

import requests
from conftest import SEED, build_release, free_port, start_server, stop

from endpoint.cache import DISK_FILE, REPLAYABLE, CachedStore, DiskCache, ResponseCache
from endpoint.store import Answer

COUNT = "SELECT (COUNT(?a) AS ?n) WHERE { ?a a <https://w3id.org/senacs-kg/def#Action> }"


def count_once(release, store, **settings) -> tuple[str, str]:
    """Start a server on store, count the actions once, stop it: (count, X-Cache)."""
    port = free_port()
    proc = start_server(release, store, port, WARM_CACHE=False, **settings)
    try:
        response = requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": COUNT},
                                timeout=30)
        return (response.json()["results"]["bindings"][0]["n"]["value"],
                response.headers["X-Cache"])
    finally:
        stop(proc)


def test_answers_are_kept_on_disk_across_a_restart(release_dir, tmp_path):
    assert count_once(release_dir, tmp_path / "store") == ("25", "miss")
    assert (tmp_path / "store" / DISK_FILE).is_file()
    # no memory cache at all this time: the hit can only come from the disk
    assert count_once(release_dir, tmp_path / "store", CACHE_ENTRIES=0) == ("25", "hit")


def test_another_release_never_gets_the_previous_answers(release_dir, tmp_path):
    assert count_once(release_dir, tmp_path / "store") == ("25", "miss")
    lines = SEED.read_text(encoding="utf-8").split("\n")
    shorter = tmp_path / "24.txt"
    shorter.write_text("\n".join(lines[:89] + lines[148:]), encoding="utf-8")  # one record less
    build_release(shorter, tmp_path / "release24")
    assert count_once(tmp_path / "release24", tmp_path / "store") == ("24", "miss")


def test_the_home_page_is_answered_ahead_of_its_first_visitor(release_dir, tmp_path):
    port = free_port()
    proc = start_server(release_dir, tmp_path / "store", port)
    try:
        deadline = time.monotonic() + 30
        while not requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()[
                "home_warmed"]:
            assert time.monotonic() < deadline, "the home page was not warmed in 30 s"
            time.sleep(0.2)
        assert "25" in requests.get(f"http://127.0.0.1:{port}/", timeout=10).text
    finally:
        stop(proc)


def _on_disk(path) -> int:
    """The bytes the cache takes on disk: its file, write-ahead log and log index."""
    sizes = []
    for file in path.parent.glob(path.name + "*"):
        try:
            sizes.append(file.stat().st_size)
        except FileNotFoundError:  # a log removed between the listing and the look
            pass
    return sum(sizes)


def test_the_disk_cache_stays_within_its_size_log_included(tmp_path):
    path = tmp_path / "answers.sqlite"
    cache = DiskCache(path, max_bytes=2 * 1024 * 1024)
    largest = 0
    for i in range(300):  # 6 MB of answers, three times the cap
        cache.put(f"q{i}", Answer("select", bytes([i % 256]) * 20_000))
        largest = max(largest, _on_disk(path))
    assert largest <= 2 * 1024 * 1024
    assert cache.get("q299") == Answer("select", bytes([299 % 256]) * 20_000)
    assert cache.get("q0") is None
    kept = sum(cache.get(f"q{i}") is not None for i in range(300))
    assert kept >= 40  # most of the budget holds answers: 800 kB of 2 MB at least


def _write_answers(path, writer: int, cap: int) -> None:
    cache = DiskCache(path, max_bytes=cap)
    for i in range(150):
        cache.put(f"w{writer}-{i}", Answer("select", bytes([i % 256]) * 100_000))
        cache.get(f"w{(writer + 1) % 4}-{i}")  # readers keep the log from being reset


def test_processes_writing_at_once_stay_within_the_size_together(tmp_path):
    path, cap = tmp_path / "answers.sqlite", 8 * 1024 * 1024
    DiskCache(path, max_bytes=cap)
    ctx = multiprocessing.get_context("spawn")
    writers = [ctx.Process(target=_write_answers, args=(path, n, cap)) for n in range(4)]
    for proc in writers:
        proc.start()
    largest = 0
    while any(proc.is_alive() for proc in writers):  # 60 MB written in all
        largest = max(largest, _on_disk(path))
        time.sleep(0.005)
    for proc in writers:
        proc.join()
        assert proc.exitcode == 0
    assert 0 < largest <= cap
    cache = DiskCache(path, max_bytes=cap)
    kept = sum(cache.get(f"w{n}-{i}") is not None for n in range(4) for i in range(150))
    assert kept >= 30  # most of the 8 MB holds answers of 100 kB


def _open_at_once(path, barrier, opened) -> None:
    barrier.wait()
    cache = DiskCache(path, max_bytes=4 * 1024 * 1024)
    cache.put("q", Answer("ask", b'{"boolean": true}'))
    opened.put(cache.get("q") is not None)


def test_server_workers_opening_a_new_disk_cache_together_all_get_it(tmp_path):
    """A server's workers start together; a new file switched to WAL by one of them answered
    "database is locked" to another, which then failed to start (seen in CI under granian)."""
    ctx = multiprocessing.get_context("fork")
    for attempt in range(12):  # the race was lost about once in a hundred openings
        path = tmp_path / f"answers-{attempt}.sqlite"
        barrier, opened = ctx.Barrier(8), ctx.Queue()
        workers = [ctx.Process(target=_open_at_once, args=(path, barrier, opened))
                   for _ in range(8)]
        for proc in workers:
            proc.start()
        for proc in workers:
            proc.join(60)
        assert [proc.exitcode for proc in workers] == [0] * 8
        assert [opened.get(timeout=5) for _ in workers] == [True] * 8


def test_a_disk_cache_that_cannot_be_opened_leaves_the_answers_uncached_not_the_server_down(
        tmp_path):
    blocked = tmp_path / "answers.sqlite"
    blocked.mkdir()  # a directory where the file should be
    store = CachedStore(None, memory_entries=0, disk=blocked, disk_mb=4)
    assert store.disk is None and not store.enabled


def test_a_disk_cache_larger_than_its_size_starts_afresh(tmp_path):
    path = tmp_path / "answers.sqlite"
    big = DiskCache(path, max_bytes=8 * 1024 * 1024)
    for i in range(250):
        big.put(f"q{i}", Answer("select", b"x" * 20_000))
    big._connect().close()
    assert _on_disk(path) > 4 * 1024 * 1024
    small = DiskCache(path, max_bytes=2 * 1024 * 1024)  # e.g. CACHE_DISK_MB lowered
    assert _on_disk(path) <= 2 * 1024 * 1024
    small.put("q", Answer("ask", b'{"boolean": true}'))
    assert small.get("q") == Answer("ask", b'{"boolean": true}')


def test_an_unreadable_disk_cache_is_a_miss_not_an_error(tmp_path):
    path = tmp_path / "answers.sqlite"
    cache = DiskCache(path, max_bytes=1_000_000)
    cache.put("q", Answer("ask", b'{"boolean": true}'))
    cache._connect().execute("DROP TABLE answers")
    assert cache.get("q") is None
    cache.put("q", Answer("ask", b'{"boolean": true}'))  # no exception either


def test_repeated_requests_are_replayed_whole_as_an_http_cache_would(release_dir, tmp_path):
    port = free_port()
    proc = start_server(release_dir, tmp_path / "store", port, WARM_CACHE=False)
    url = f"http://127.0.0.1:{port}"
    try:
        first = requests.get(url + "/sparql", params={"query": COUNT}, timeout=30)
        again = requests.get(url + "/sparql", params={"query": COUNT}, timeout=30)
        assert "Age" not in first.headers and first.headers["X-Cache"] == "miss"
        assert int(again.headers["Age"]) >= 0 and again.headers["X-Cache"] == "hit"
        assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Content-Type"] == first.headers["Content-Type"]
        assert again.headers["Access-Control-Allow-Origin"] == "*"
        assert "Age" in again.headers["Access-Control-Expose-Headers"]  # readable by web pages
        # another Accept is another response: rendered by the application, from the answer cache
        csv = requests.get(url + "/sparql", params={"query": COUNT},
                           headers={"Accept": "text/csv"}, timeout=30)
        assert "Age" not in csv.headers and csv.text.replace("\r", "") == "n\n25\n"
        # conditional requests reach the application, which answers 304
        etag = first.headers["ETag"]
        assert requests.get(url + "/sparql", params={"query": COUNT},
                            headers={"If-None-Match": etag}, timeout=30).status_code == 304
        # errors and POSTs are never replayed
        for _ in range(2):
            bad = requests.get(url + "/sparql", params={"query": "SELECT WHERE"}, timeout=30)
            assert bad.status_code == 400 and "Age" not in bad.headers
            posted = requests.post(url + "/sparql", data={"query": COUNT}, timeout=30)
            assert "Age" not in posted.headers
        # resource pages too, per Accept
        page = "/structure/maison-des-habitants-de-plaisance-du-touch-31"
        html = [requests.get(url + page, timeout=30) for _ in range(2)]
        assert "Age" not in html[0].headers and "Age" in html[1].headers
        assert html[1].text == html[0].text and "PLAISANCE" in html[1].text
        turtle = requests.get(url + page, headers={"Accept": "text/turtle"}, timeout=30)
        assert "Age" not in turtle.headers and turtle.headers["Content-Type"].startswith("text/turtle")
    finally:
        stop(proc)


def test_no_response_is_replayed_when_the_response_cache_is_off(release_dir, tmp_path):
    port = free_port()
    proc = start_server(release_dir, tmp_path / "store", port, WARM_CACHE=False,
                        CACHE_RESPONSES_MB=0)
    try:
        for _ in range(3):
            response = requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": COUNT},
                                    timeout=30)
            assert "Age" not in response.headers
        assert response.headers["X-Cache"] == "hit"  # the answer cache still works
    finally:
        stop(proc)


def test_the_response_cache_keeps_the_most_recently_used_within_its_size():
    def app(environ, start_response):  # a WSGI application whose every 200 may be replayed
        environ[REPLAYABLE] = True
        size = int(environ["QUERY_STRING"])
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Cache", "miss")])
        return [b"x" * size]

    cache = ResponseCache(app, max_bytes=1300)  # bodies, plus ~110 bytes of key and headers each

    def get(size: int) -> dict:
        seen = {}
        body = b"".join(cache({"REQUEST_METHOD": "GET", "QUERY_STRING": str(size)},
                              lambda status, headers: seen.update(headers)))
        assert body == b"x" * size
        return seen

    assert "Age" not in get(400) and "Age" not in get(500)
    assert get(400)["X-Cache"] == "hit"  # 400 is now the most recently used
    assert "Age" not in get(300)  # ~1,530 bytes: the least recently used (500) goes
    assert "Age" in get(400) and "Age" in get(300) and "Age" not in get(500)
    assert "Age" not in get(2000) and "Age" not in get(2000)  # larger than the whole cache

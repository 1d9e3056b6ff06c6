"""The answer cache: shared on disk, kept across restarts, never stale across releases."""

from __future__ import annotations

import time

import requests
from conftest import SEED, build_release, free_port, start_server, stop

from endpoint.cache import DISK_FILE, DiskCache
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


def test_the_disk_cache_drops_its_oldest_answers_beyond_its_size(tmp_path):
    cache = DiskCache(tmp_path / "answers.sqlite", max_bytes=50_000)
    for i in range(300):
        cache.put(f"q{i}", Answer("select", bytes([i % 256]) * 1000))
    db = cache._connect()
    kept = db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM answers").fetchone()[0]
    assert kept <= 50_000 + 64 * 1000  # trimmed at most 64 puts ago
    assert cache.get("q299") == Answer("select", bytes([299 % 256]) * 1000)
    assert cache.get("q0") is None


def test_an_unreadable_disk_cache_is_a_miss_not_an_error(tmp_path):
    path = tmp_path / "answers.sqlite"
    cache = DiskCache(path, max_bytes=1_000_000)
    cache.put("q", Answer("ask", b'{"boolean": true}'))
    cache._connect().execute("DROP TABLE answers")
    assert cache.get("q") is None
    cache.put("q", Answer("ask", b'{"boolean": true}'))  # no exception either

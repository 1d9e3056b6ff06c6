"""Reliability: the load script without errors, and the server killed and restarted under load.

Speed is the benchmarks' business (benchmarks/bench_load.py prints p50/p99 for
60 s at 64 connections); here the same script runs briefly and must see no error.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import PRODUCTION_SERVERS, free_port, server_log, start_server, stop

from mapping import release
from mapping.paths import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
from bench_load import request_list, warm_up  # noqa: E402  (the load script under test)
from common import run_wrk  # noqa: E402

COUNT = "SELECT (COUNT(?a) AS ?n) WHERE { ?a a <https://w3id.org/senacs-kg/def#Action> }"


@pytest.fixture(params=sorted(PRODUCTION_SERVERS))
def production(request, release_dir, tmp_path):
    """The app under each production server, as the README runs it: 2 workers."""
    port = free_port()
    proc = PRODUCTION_SERVERS[request.param](release_dir, tmp_path / "store", port, workers=2)
    yield f"http://127.0.0.1:{port}"
    said = server_log(proc)  # read before stop() closes the log file
    stop(proc)
    # pytest shows this only for a failing test: what the server said (a worker killed or
    # restarted, a traceback) is then beside the failure
    print(f"{request.param} stderr (last 5,000 characters):\n{said[-5000:]}")


def test_the_load_script_sees_no_error_at_64_connections(production, release_dir, tmp_path):
    assert shutil.which("wrk"), "wrk is not installed (.ci/run installs Debian's wrk)"
    base = json.loads((release_dir / release.MANIFEST).read_text(encoding="utf-8"))["base"]
    pairs = request_list(production, base)
    assert {p.split("/")[1].split("?")[0] for p, _ in pairs} >= {
        "sparql", "action", "structure", "organisation", "concept"}
    requests_file = tmp_path / "requests.tsv"
    requests_file.write_text("".join(f"{p}\t{a}\n" for p, a in pairs), encoding="utf-8")
    # as the script does: 64 connections from one address would otherwise be one client with
    # 64 uncached queries at once, over its fair share (429, endpoint/fairness.py)
    assert warm_up(production, pairs) == []
    figures = run_wrk(production, requests_file, 5, 64, tmp_path)
    assert figures["requests"] > 100
    assert figures["errors"] == 0, figures


def test_killed_and_restarted_under_load_without_losing_the_release(release_dir, tmp_path):
    store, port = tmp_path / "store", free_port()
    url = f"http://127.0.0.1:{port}/sparql"
    proc = start_server(release_dir, store, port)
    marker = (store / "senacs-kg-store.json").stat().st_mtime_ns
    answers: list[str] = []
    refused = [0]
    halt = threading.Event()

    def client() -> None:
        session = requests.Session()
        while not halt.is_set():
            try:
                response = session.get(url, params={"query": COUNT}, timeout=10)
                answers.append(response.json()["results"]["bindings"][0]["n"]["value"])
            except requests.RequestException:
                refused[0] += 1  # the server is down: the only acceptable failure
                time.sleep(0.05)

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(1.5)
        before = len(answers)
        os.kill(proc.pid, signal.SIGKILL)  # no chance to clean up
        proc.wait(10)
        proc.log.close()
        proc = start_server(release_dir, store, port)
        time.sleep(1.5)
    finally:
        halt.set()
        for thread in clients:
            thread.join(20)
        stop(proc)
    assert before > 0 and len(answers) > before  # answered before the kill and after the restart
    assert set(answers) == {"25"}  # never a wrong or partial answer
    assert (store / "senacs-kg-store.json").stat().st_mtime_ns == marker  # reopened, not reloaded
    assert release.verify(release_dir) == []  # the release on disk is intact


def _nice_of_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return sorted(os.getpriority(os.PRIO_PROCESS, int(child)) for child in children)


def test_a_long_query_yields_the_cpu_to_the_others(release_dir, tmp_path):
    port = free_port()
    proc = start_server(release_dir, tmp_path / "store", port, QUERY_TIMEOUT=5,
                        QUERY_WORKERS=2, WARM_CACHE=False)
    url = f"http://127.0.0.1:{port}/sparql"
    runaway = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    try:
        assert [n for n in _nice_of_children(proc.pid) if n == 0]
        answer: list[int] = []
        thread = threading.Thread(target=lambda: answer.append(
            requests.get(url, params={"query": runaway}, timeout=30).status_code))
        thread.start()
        time.sleep(2.5)  # past store.DEMOTE_AFTER
        assert 19 in _nice_of_children(proc.pid)  # the runaway's worker, demoted
        assert requests.get(url, params={"query": COUNT}, timeout=10).status_code == 200
        thread.join(30)
        assert answer == [503]
        time.sleep(1)
        assert 19 not in _nice_of_children(proc.pid)  # stopped; its replacement runs at 0
    finally:
        stop(proc)

"""No process left behind: workers end with the process that started them, servers stop
within a bounded time, and the session-end check finds what a test leaves running.

Processes are found in /proc by process group (every process a build or a server starts
stays in the group of its leader, started with its own session) or by parent.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from conftest import (
    GONE_SECONDS,
    PRODUCTION_SERVERS,
    STOP_SECONDS,
    Process,
    descendants,
    free_port,
    generate_export,
    granian_command,
    group,
    kill,
    listing,
    processes,
    reap,
    start_server,
    stop,
    wait_gone,
)

from mapping.paths import REPO_ROOT

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
START_SECONDS = 120  # for a build's workers to appear, on a loaded machine


def others_in_group(leader: int) -> list[Process]:
    return [p for p in group(leader) if p.pid != leader]


def wait_for_workers(proc: subprocess.Popen, folder: Path, ready: str | None) -> list[Process]:
    """The build's worker processes once they run (and a file matching ``ready`` exists in
    ``folder``, if given)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [p for p in processes() if p.ppid == proc.pid]
        if workers and (ready is None or any(folder.glob(ready))):
            return workers
        time.sleep(0.02)
    raise AssertionError("the build never ran its workers" if proc.poll() is None
                         else "the build ended before its workers could be seen")


def end_group(leader: int) -> None:
    """Whatever a test left in a group: killed, so that one failure does not leak; the dead
    orphans this process adopted are reaped."""
    try:
        os.killpg(leader, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_gone(lambda: group(leader), GONE_SECONDS)
    reap(lambda p: p.pgid == leader and p.pid != leader)


# -- build workers -----------------------------------------------------------------------------


@pytest.mark.parametrize("phase, ready", [
    ("validation", None),  # the SHACL workers, from the first batch on
    ("conversion", ".rel.building-*/dataset.nt.gz"),  # the Turtle and JSON-LD writers
])
def test_kill_9_of_a_build_ends_its_workers(phase, ready, tmp_path):
    big = generate_export(4000, 9, tmp_path / "big.txt")
    proc = subprocess.Popen([sys.executable, "-m", "mapping.cli", "build", str(big), "--out",
                             str(tmp_path / "rel")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        workers = wait_for_workers(proc, tmp_path, ready)
        assert len(workers) >= 1
        os.kill(proc.pid, signal.SIGKILL)  # the main process only, as the OOM killer would
        proc.wait(10)
        left = wait_gone(lambda: others_in_group(proc.pid), GONE_SECONDS)
        assert not left, f"{phase} workers alive after the build was killed:{listing(left)}"
    finally:
        end_group(proc.pid)


# -- query workers -----------------------------------------------------------------------------


def assert_killing_the_server_ends_its_group(proc: subprocess.Popen) -> None:
    """``kill -9`` of the server alone: every other process of its group must go too."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    left = wait_gone(lambda: others_in_group(proc.pid), GONE_SECONDS)
    assert not left, f"alive after the server was killed:{listing(left)}"


def test_kill_9_of_the_server_ends_its_idle_query_workers(release_dir, tmp_path):
    port = free_port()
    proc = start_server(release_dir, tmp_path / "store", port, WARM_CACHE=False)
    try:
        assert len(others_in_group(proc.pid)) >= 2  # the query workers (and a resource tracker)
        assert_killing_the_server_ends_its_group(proc)
    finally:
        end_group(proc.pid)
        stop(proc)  # closes its log


def test_kill_9_of_the_server_ends_a_busy_query_worker(release_dir, tmp_path):
    port = free_port()
    proc = start_server(release_dir, tmp_path / "store", port, WARM_CACHE=False, QUERY_TIMEOUT=120)
    url = f"http://127.0.0.1:{port}/sparql"

    def runaway() -> None:
        try:
            requests.get(url, params={"query": RUNAWAY}, timeout=30)
        except requests.RequestException:
            pass  # the server is killed under it

    client = threading.Thread(target=runaway)
    try:
        client.start()
        deadline = time.monotonic() + 30
        while not [p for p in others_in_group(proc.pid) if p.state == "R"]:
            assert time.monotonic() < deadline, "the runaway query never ran"
            time.sleep(0.1)
        assert_killing_the_server_ends_its_group(proc)
    finally:
        end_group(proc.pid)
        stop(proc)  # closes its log
        client.join(40)


# -- production servers: bounded shutdown, long GET queries ------------------------------------


@pytest.mark.parametrize("server", sorted(PRODUCTION_SERVERS))
def test_sigterm_stops_a_production_server_and_all_its_processes(server, release_dir,
                                                                  tmp_path):
    port = free_port()
    proc = PRODUCTION_SERVERS[server](release_dir, tmp_path / "store", port)
    try:
        answer = requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": "ASK {}"},
                              timeout=30)
        assert answer.status_code == 200
        workers = others_in_group(proc.pid)
        assert len(workers) >= 2  # the server's workers and their query workers
    finally:
        graceful = stop(proc)
    assert graceful, f"{server} did not stop within {STOP_SECONDS} s of SIGTERM"
    assert not others_in_group(proc.pid)


ALLOWLIST = ["https://query.wikidata.org/sparql"]  # a SERVICE allow-list: a socket's folder


@pytest.fixture
def socket_tmpdir(monkeypatch) -> Iterator[Path]:
    """TMPDIR for the servers the test starts: a new folder in /tmp itself (under pytest-xdist
    tmp_path is too deep for a socket's path), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="sigterm-", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("server", ["serve", *sorted(PRODUCTION_SERVERS)])
def test_sigterm_leaves_no_federation_folder(server, release_dir, tmp_path, socket_tmpdir):
    """With an allow-list each server process makes a folder for the federation's socket in
    the temporary folder; a SIGTERM must remove it (it was left by ``senacs-kg serve``, whose
    SIGTERM ended Python without its exit handlers, and by granian's workers, which end
    without ``atexit``)."""
    port = free_port()
    start = start_server if server == "serve" else PRODUCTION_SERVERS[server]
    store = tmp_path / "store"
    proc = start(release_dir, store, port, WARM_CACHE=False, QUERY_WORKERS=2,
                 SERVICE_ALLOWLIST=ALLOWLIST)
    try:
        answer = requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": "ASK {}"},
                              timeout=30)
        assert answer.status_code == 200
        # every server process done with create_app (a granian worker still in it keeps
        # SIGTERM and is killed at last, which leaves its folder): each has its 2 query
        # workers, and each of those has opened the store, the last step before it is ready
        servers = 1 if server == "serve" else 2
        deadline = time.monotonic() + 60
        while len([p for p in descendants(proc.pid) if "spawn_main" in p.command
                   and _has_open(p.pid, store)]) < 2 * servers:
            assert time.monotonic() < deadline, "the query workers never opened the store"
            time.sleep(0.05)
        time.sleep(0.5)
        assert len(list(socket_tmpdir.glob("senacs-kg-*/federation.sock"))) == servers
    finally:
        graceful = stop(proc)
    assert graceful
    assert proc.returncode == 0
    assert sorted(p.name for p in socket_tmpdir.iterdir()) == []


def _has_open(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` has a file of ``folder`` open."""
    try:
        return any(os.readlink(fd).startswith(f"{folder}/")
                   for fd in glob.glob(f"/proc/{pid}/fd/*"))
    except OSError:  # ended, or a descriptor closed meanwhile
        return False


def test_sigterm_while_queries_run_stops_serve_cleanly(release_dir, tmp_path, socket_tmpdir):
    """serve's request threads outlive its main loop: a query whose worker is stopped under it
    must neither start another worker nor break the clean-up (it printed tracebacks, and at
    times left the socket's folder)."""
    port = free_port()
    proc = start_server(release_dir, tmp_path / "store", port, WARM_CACHE=False,
                        QUERY_TIMEOUT=60, SERVICE_ALLOWLIST=ALLOWLIST)

    def runaway() -> None:
        try:
            requests.post(f"http://127.0.0.1:{port}/sparql", data={"query": RUNAWAY}, timeout=90)
        except requests.RequestException:
            pass  # the server stops under it

    clients = [threading.Thread(target=runaway) for _ in range(5)]
    try:
        for client in clients:
            client.start()
        deadline = time.monotonic() + 30
        while not [p for p in others_in_group(proc.pid) if p.state == "R"]:
            assert time.monotonic() < deadline, "no runaway query ever ran"
            time.sleep(0.05)
        time.sleep(0.5)
        proc.terminate()
        proc.wait(STOP_SECONDS)
        proc.log.seek(0)
        said = proc.log.read()
    finally:
        stop(proc)
        for client in clients:
            client.join(100)
    assert proc.returncode == 0
    assert "Traceback" not in said, said
    assert sorted(p.name for p in socket_tmpdir.iterdir()) == []


def test_sigterm_while_serve_starts_stops_it_and_leaves_nothing(release_dir, tmp_path,
                                                                socket_tmpdir):
    """A SIGTERM once the socket's folder exists, while the query workers start: stopped as
    Ctrl-C would stop it, with its own exit status (143) and one line, no traceback (a
    worker being spawned printed one), no folder left."""
    env = dict(os.environ, SENACS_KG_SERVICE_ALLOWLIST=json.dumps(ALLOWLIST))
    proc = subprocess.Popen([sys.executable, "-m", "mapping.cli", "serve", "--release",
                             str(release_dir), "--store", str(tmp_path / "store"), "--port",
                             str(free_port())], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not list(socket_tmpdir.glob("senacs-kg-*")):
            assert proc.poll() is None and time.monotonic() < deadline, "no folder was made"
            time.sleep(0.005)
        proc.terminate()
        _, said = proc.communicate(timeout=30)
    finally:
        end_group(proc.pid)
        proc.wait(10)
    assert said.strip().splitlines()[-1] == "senacs-kg: stopped by SIGTERM", said
    assert proc.returncode == 143
    assert "Traceback" not in said, said
    assert sorted(p.name for p in socket_tmpdir.iterdir()) == []


def test_granian_stops_when_told_to_while_its_workers_load_the_app(release_dir, tmp_path):
    """A worker still in create_app keeps SIGTERM for itself (it inherited granian's own
    handler) and then serves on: --workers-kill-timeout must end it (here 3 s, not the
    GRANIAN_KILL_SECONDS the other tests' servers get, so that the test waits less)."""
    port = free_port()
    env = dict(os.environ, SENACS_KG_RELEASE_DIR=str(release_dir),
               SENACS_KG_STORE_DIR=str(tmp_path / "store"))
    kill_seconds = 3
    command = granian_command(port, kill_seconds=kill_seconds)
    proc = subprocess.Popen([sys.executable, "-m", *command], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not [p for p in processes() if p.ppid == proc.pid]:  # granian's workers
            assert time.monotonic() < deadline and proc.poll() is None, "no worker started"
            time.sleep(0.02)
        started = time.monotonic()
        proc.terminate()
        proc.wait(kill_seconds + 10)
        assert time.monotonic() - started < kill_seconds + 10
        assert not wait_gone(lambda: others_in_group(proc.pid), GONE_SECONDS)
    finally:
        end_group(proc.pid)
        proc.wait(10)


def long_query(characters: int) -> tuple[str, int]:
    """A SELECT of exactly ``characters`` characters counting the values it lists, and that
    count: the answer proves the server read the whole query."""
    head, tail = "SELECT (COUNT(?v) AS ?n) WHERE { VALUES ?v { ", " } }"
    values, size = [], len(head) + len(tail)
    while size + len(f'"v{len(values):05d}" ') <= characters:
        values.append(f'"v{len(values):05d}" ')
        size += len(values[-1])
    text = head + "".join(values) + " " * (characters - size) + tail
    assert len(text) == characters
    return text, len(values)


@pytest.mark.parametrize("server", sorted(PRODUCTION_SERVERS))
def test_a_30000_character_query_by_get(server, release_dir, tmp_path):
    port = free_port()
    proc = PRODUCTION_SERVERS[server](release_dir, tmp_path / "store", port, WARM_CACHE=False)
    try:
        text, count = long_query(30_000)
        answer = requests.get(f"http://127.0.0.1:{port}/sparql", params={"query": text},
                              headers={"Accept": "application/sparql-results+json"},
                              timeout=30)
        assert len(answer.request.url) > 40_000  # percent-encoded: far beyond 8 KB
        assert answer.status_code == 200, (answer.status_code, answer.text[:200])
        assert answer.json()["results"]["bindings"][0]["n"]["value"] == str(count)
    finally:
        stop(proc)


# -- the session-end check ---------------------------------------------------------------------


LEAKY_TEST = '''
import subprocess


def test_leaves_processes_behind():
    subprocess.Popen(["sleep", "987"])  # a child never stopped
    subprocess.Popen(["sh", "-c", "sleep 989 & exit 0"])  # an orphan: its parent ends at once
'''


def test_the_session_end_check_lists_and_kills_what_a_test_left(tmp_path):
    for name in ("conftest.py", "harness.py"):  # the check, and the helpers it imports
        (tmp_path / name).write_text((REPO_ROOT / "tests" / name).read_text())
    # the same check with 1 s of grace instead of GONE_SECONDS (10): the sleeps never end
    harness = tmp_path / "harness.py"
    text = harness.read_text()
    assert text.count("\nGONE_SECONDS = ") == 1
    harness.write_text(re.sub(r"\nGONE_SECONDS = \d+", "\nGONE_SECONDS = 1", text))
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 1, run.stdout
    assert "1 passed, 1 error" in run.stdout
    assert "were still alive at the end" in run.stdout
    assert "sleep 987" in run.stdout and "sleep 989" in run.stdout
    leaked = [p for p in processes() if p.command in ("sleep 987", "sleep 989")]
    kill(leaked)  # only if the check failed to
    assert not leaked

"""The real things both the tests and the benchmarks start: generated exports, releases, servers
on 127.0.0.1, and the processes these leave, stopped.

It lives beside the tests (which import it through ``conftest``) and has no pytest in it, so
that ``benchmarks/common.py`` imports the very same helpers rather than copies of them.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from mapping.paths import REPO_ROOT

GENERATOR = REPO_ROOT.parent / "shared" / "tools" / "gen_senacs.py"


def generate_export(n: int, seed: int, out: Path) -> Path:
    """Write n synthetic records with the shared generator (the exact source format)."""
    if not GENERATOR.is_file():
        raise RuntimeError(f"the record generator is missing: {GENERATOR} (../shared beside the repo)")
    subprocess.run([sys.executable, str(GENERATOR), str(n), str(seed), str(out), "-q"], check=True)
    return out


def dump_bytes(release_dir: Path) -> bytes:
    """A release's canonical dump as published (``dataset.nt.gz``), decompressed."""
    return gzip.decompress((release_dir / "dataset.nt.gz").read_bytes())


def dump_text(release_dir: Path) -> str:
    return dump_bytes(release_dir).decode("utf-8")


def dump_lines(release_dir: Path):
    """A release's canonical dump, read as text a line at a time (a large one: not whole)."""
    return gzip.open(release_dir / "dataset.nt.gz", "rt", encoding="utf-8", newline="\n")


def appended(data: bytes) -> bytes:
    """A damaged dump: a line after the gzip stream's end (it still loads; the size is not the
    manifest's)."""
    return data + b"<urn:a> <urn:b> <urn:c> .\n"


def garbled(data: bytes) -> bytes:
    """A damaged dump of the manifest's size: 64 bytes changed in its middle."""
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0x5A for b in data[middle:middle + 64]) + data[middle + 64:]


def senacs_kg(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """``senacs-kg ARGS`` in a process of its own (``python -m mapping.cli``), where the point
    is the command as a user runs it: its exit status, its streams, its files."""
    return subprocess.run([sys.executable, "-m", "mapping.cli", *args], capture_output=True,
                          text=True, timeout=timeout, **kwargs)


def build_release(source: Path, out: Path, *options: str, timeout: float | None = 300) -> Path:
    """``senacs-kg build source --out out [options]``, which must publish (within ``timeout``
    seconds; None for the benchmarks' millions of records)."""
    run = subprocess.run([sys.executable, "-m", "mapping.cli", "build", str(source), "--out",
                          str(out), *options], capture_output=True, text=True, timeout=timeout)
    if run.returncode != 0:
        raise RuntimeError(f"the build of {source} did not publish:\n{run.stderr}")
    return out


# -- a live server on 127.0.0.1 -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {server_log(proc)}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still starting
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer at {url}")


def server_log(proc: subprocess.Popen) -> str:
    """What a server wrote on stderr so far (kept in a file, see _start)."""
    log = getattr(proc, "log", None)
    if log is None:
        return proc.stderr.read() if proc.stderr else ""
    log.flush()
    log.seek(0)
    return log.read()


def _start(command: list[str], env: dict[str, str], port: int,
           ready_within: float = 60) -> subprocess.Popen:
    """A server in its own process group (so that all its processes can be stopped at once),
    returned once it answers (within ``ready_within`` seconds); stopped if it never does. Its
    stderr goes to a file, not a pipe: a pipe nobody reads fills up and then blocks the
    server's logging, and the server."""
    log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log,
                            text=True, start_new_session=True)
    proc.log = log
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", proc, ready_within)
    except BaseException:
        stop(proc)
        raise
    return proc


def start_server(release: Path, store: Path, port: int, **settings) -> subprocess.Popen:
    """``senacs-kg serve`` (the development server) with SENACS_KG_* settings."""
    env = dict(os.environ)
    env.update({f"SENACS_KG_{k}": json.dumps(v) for k, v in settings.items()})
    return _start([sys.executable, "-m", "mapping.cli", "serve", "--release", str(release),
                   "--store", str(store), "--port", str(port)], env, port)


def start_production(release: Path, store: Path, port: int, command: list[str],
                     ready_within: float = 60, **settings) -> subprocess.Popen:
    """``python -m command`` serving the app (gunicorn or granian command line), configured
    as in production: by SENACS_KG_* variables, ``settings`` among them."""
    env = dict(os.environ, SENACS_KG_RELEASE_DIR=str(release), SENACS_KG_STORE_DIR=str(store))
    env.update({f"SENACS_KG_{k}": json.dumps(v) for k, v in settings.items()})
    return _start([sys.executable, "-m", *command], env, port, ready_within)


def run_production(release: Path, store: Path, command: list[str], seconds: float = 60,
                   **variables: str) -> subprocess.CompletedProcess:
    """``python -m command`` (gunicorn or granian) run to its end, for a start that is refused:
    SENACS_KG_* ``variables`` as given (raw text), its output in the result, its temporary
    files beside the store. Stopped with every process it started if it is still running
    after ``seconds``."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}  # notes in TMPDIR
    env.update(SENACS_KG_RELEASE_DIR=str(release), SENACS_KG_STORE_DIR=str(store),
               TMPDIR=str(store.parent))
    env.update({f"SENACS_KG_{k}": v for k, v in variables.items()})
    proc = subprocess.Popen([sys.executable, "-m", *command], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@contextmanager
def live_server(release: Path, store: Path, start: Callable[..., subprocess.Popen] | None = None,
                port: int | None = None, **settings) -> Iterator[str]:
    """A server of ``release`` on 127.0.0.1 for the ``with`` block: its root URL; stopped after.

    ``start`` is ``start_server`` (the development server, the default) or a production one
    (``start_granian``, ``start_gunicorn``); ``port`` is for settings that must name the
    server's own URL before it starts; ``settings`` are SENACS_KG_* settings.
    """
    port = port or free_port()
    proc = (start or start_server)(release, store, port, **settings)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


# The longest request line a GET query may need: MAX_QUERY_LENGTH characters, each up to 4
# bytes of UTF-8 written as %XX (12 characters), plus the path, the other parameters and
# the method and version: 393,216 bytes at worst, 98,304 for ASCII. gunicorn caps
# --limit-request-line at 8,190 bytes (2,730 to 8,000 characters of SPARQL, as many need
# encoding or not): only 0, "unlimited" (1 MiB with its optional C parser), lets such
# queries through, so the README puts gunicorn behind a proxy that bounds the request line.
GUNICORN_REQUEST_LINE = "0"
# granian answers 414 to a request target (path and query string) longer than 65,534 bytes,
# whatever its options: a GET query fits when percent-encoded in at most 65,520 bytes.
# A granian worker told to stop while it is still loading the app (create_app) keeps the
# signal for itself and serves on; granian then waits for it forever unless this bounds the
# wait (the query time, 10 s by default, plus a margin), after which it kills the worker.
GRANIAN_KILL_SECONDS = 15


def gunicorn_command(port: int, workers: int = 2, threads: int = 4) -> list[str]:
    """``python -m`` arguments: the app under gunicorn (gthread workers)."""
    return ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads",
            str(threads), "--limit-request-line", GUNICORN_REQUEST_LINE, "endpoint:create_app()"]


def granian_command(port: int, workers: int = 2,
                    kill_seconds: int = GRANIAN_KILL_SECONDS) -> list[str]:
    """``python -m`` arguments: the app under granian (Rust HTTP server, WSGI interface)."""
    return ["granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--blocking-threads", "32", "--workers-kill-timeout",
            str(kill_seconds), "--factory", "endpoint:create_app"]


def start_gunicorn(release: Path, store: Path, port: int, workers: int = 2,
                   threads: int = 4, **settings) -> subprocess.Popen:
    """The app under gunicorn, as in production, once it answers."""
    return start_production(release, store, port, gunicorn_command(port, workers, threads),
                            **settings)


def start_granian(release: Path, store: Path, port: int, workers: int = 2,
                  **settings) -> subprocess.Popen:
    """The app under granian, the production server, once it answers."""
    return start_production(release, store, port, granian_command(port, workers), **settings)


PRODUCTION_SERVERS = {"gunicorn": start_gunicorn, "granian": start_granian}


# -- processes: none outlives the tests ------------------------------------------------------

STOP_SECONDS = 20  # SIGTERM's grace before SIGKILL
GONE_SECONDS = 10  # for the processes of a stopped server (query workers) to end


@dataclass(frozen=True)
class Process:
    """One line of /proc: enough to find a process's family and to name it."""

    pid: int
    ppid: int
    pgid: int
    state: str
    started: int  # clock ticks after boot: with the pid, names one process even if pids wrap
    command: str

    @property
    def key(self) -> tuple[int, int]:
        return self.pid, self.started

    def __str__(self) -> str:
        return f"pid {self.pid} (parent {self.ppid}, group {self.pgid}): {self.command}"


def processes(zombies: bool = False) -> list[Process]:
    """Every process of the machine; zombies (dead, only not yet reaped) if asked."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:  # ended meanwhile
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] in "ZX" and not zombies:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        found.append(Process(int(entry.name), int(fields[1]), int(fields[2]), fields[0],
                             int(fields[19]), command.strip() or f"[{name}]"))
    return found


def descendants(pid: int) -> list[Process]:
    """The live processes below ``pid`` (children, their children…)."""
    everything = processes()
    below, parents = [], {pid}
    while True:
        found = [p for p in everything if p.ppid in parents and p not in below]
        if not found:
            return below
        below += found
        parents = {p.pid for p in found}


def group(pgid: int) -> list[Process]:
    return [p for p in processes() if p.pgid == pgid]


def alive(known: list[Process]) -> list[Process]:
    """Those of ``known`` still running (same pid and start time)."""
    now = {p.key for p in processes()}
    return [p for p in known if p.key in now]


def listing(found: list[Process]) -> str:
    return "".join(f"\n  {p}" for p in found)


def wait_gone(find: Callable[[], list[Process]], seconds: float) -> list[Process]:
    """Poll ``find`` until it finds nothing or ``seconds`` pass; what it found last."""
    deadline = time.monotonic() + seconds
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill(found: list[Process]) -> None:
    for process in alive(found):
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def reap(which: Callable[[Process], bool] = lambda p: True) -> None:
    """Collect the exit status of dead children of this process chosen by ``which``: orphans
    it adopted as a subreaper, which no Popen waits for (a server's children ended here
    after it, instead of under init)."""
    for process in processes(zombies=True):
        if process.state == "Z" and process.ppid == os.getpid() and which(process):
            try:
                os.waitpid(process.pid, os.WNOHANG)
            except ChildProcessError:
                pass


def stop(proc: subprocess.Popen, seconds: float = STOP_SECONDS) -> bool:
    """Stop a server and every process it started: SIGTERM, ``seconds`` of grace, then
    SIGKILL of its process group; its other processes get GONE_SECONDS to end after it.

    Returns whether it ended by itself within its grace (a test of bounded shutdown checks it).
    """
    own_group = _leads_group(proc.pid)
    family = group(proc.pid) if own_group else descendants(proc.pid)
    proc.terminate()
    try:
        proc.wait(seconds)
        graceful = True
    except subprocess.TimeoutExpired:
        graceful = False
        if own_group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            kill([*family, *descendants(proc.pid)])
        proc.wait(10)
    left = wait_gone(lambda: alive(family) + (group(proc.pid) if own_group else []), GONE_SECONDS)
    kill(left)
    if proc.stderr:
        proc.stderr.close()
    if getattr(proc, "log", None) is not None:
        proc.log.close()
    known = {p.pid for p in family}
    reap(lambda p: p.pid != proc.pid and (p.pid in known or own_group and p.pgid == proc.pid))
    return graceful


def _leads_group(pid: int) -> bool:
    try:
        return os.getpgid(pid) == pid != os.getpgid(0)
    except ProcessLookupError:
        return False


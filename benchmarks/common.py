"""What the benchmarks share: generated exports, releases built from them, a gunicorn server,
a command's wall time and peak memory, a folder's disk use.

Generating, building, starting and stopping are the tests' own helpers (tests/harness.py),
imported rather than copied: a server is started, waited for and stopped (with every process
it started) the same way in both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # harness.py, and virtuoso.py for bench_queries
from harness import (  # noqa: E402
    build_release,
    free_port,
    generate_export,
    start_production,
    stop,
    wait_for,
)

__all__ = ["ROOT", "build_release", "disk_use", "free_port", "generate_export", "generated", "measured",
           "national", "release_of", "run_wrk", "serve_app", "serve_granian", "serve_gunicorn",
           "SERVERS", "stop", "wait_for"]
READY_SECONDS = 1800  # a store of a million records is loaded before the server answers


def generated(n: int, workdir: Path) -> Path:
    """n generated records (seed 7) in workdir, generated once."""
    source = workdir / f"gen_{n}.txt"
    if not source.exists():
        generate_export(n, 7, source)
    return source


def national(n: int, workdir: Path) -> Path:
    """n generated records with structures across France (tests/national.py), generated once."""
    from national import write_export

    source = workdir / f"national_{n}.txt"
    if not source.exists():
        write_export(source, n)
    return source


def release_of(n: int, workdir: Path) -> Path:
    """The release built from n generated records, built once."""
    release = workdir / f"release_{n}"
    if not (release / "manifest.json").exists():
        build_release(generated(n, workdir), release, timeout=None)
    return release


def measured(command: list[str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run a command to its end: its wall time (s), its peak memory (MB) and what it wrote;
    SystemExit with its stderr if it fails.

    The peak is wait4's maxrss: the largest resident size of the command's process or of any
    process it waited for. Linux carries a process's maxrss across exec from the process that
    forked it, so the caller's own peak is a floor under every figure: keep the measuring
    process small (print ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` beside the figures)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = subprocess.CompletedProcess(command, proc.returncode, out.read(), err.read())
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return seconds, usage.ru_maxrss / 1024, done


def disk_use(path: Path) -> int:
    """Bytes ``path`` takes on disk (allocated blocks, as ``du`` counts them; 0 if absent)."""
    if not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_blocks * 512
    total = 0
    for folder, _, files in os.walk(path):
        total += os.lstat(folder).st_blocks * 512
        total += sum(os.lstat(os.path.join(folder, name)).st_blocks * 512 for name in files)
    return total


def serve_app(command: list[str], port: int, release: Path, store: Path,
          **settings: object) -> tuple[str, subprocess.Popen]:
    """``python -m command`` serving the app on ``port`` with SENACS_KG_* ``settings``, once it
    answers: the root URL and the process (stop it with ``stop``)."""
    proc = start_production(release, store, port, command, READY_SECONDS, **settings)
    return f"http://127.0.0.1:{port}", proc


def serve_gunicorn(release: Path, store: Path, workers: int = 1, threads: int = 16,
                   **settings: object) -> tuple[str, subprocess.Popen]:
    """Our endpoint under gunicorn (gthread workers); the root URL and the process."""
    port = free_port()
    return serve_app(["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                  "--threads", str(threads), "--timeout", "600", "endpoint:create_app()"],
                 port, release, store, **settings)


def serve_granian(release: Path, store: Path, workers: int = 1, threads: int = 16,
                  **settings: object) -> tuple[str, subprocess.Popen]:
    """Our endpoint under granian (WSGI, ``threads`` blocking threads per worker)."""
    port = free_port()
    return serve_app(["granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
                  "--workers", str(workers), "--blocking-threads", str(threads),
                  "--log-level", "warning", "--factory", "endpoint:create_app"],
                 port, release, store, **settings)


SERVERS = {"gunicorn": serve_gunicorn, "granian": serve_granian}


# wrk runs one Lua state per thread: each thread starts at its own place in the request list;
# done() sums the threads' non-2xx counts and prints the figures as one JSON line.
LUA = r"""
local requests = {}
function init(args)
  for line in io.lines(args[1]) do
    local path, accept = line:match("^(%S+)\t(.*)$")
    requests[#requests + 1] = wrk.format("GET", path, {["Accept"] = accept})
  end
  counter = (id * 7919) % #requests
  bad = 0
end
function request()
  counter = counter % #requests + 1
  return requests[counter]
end
function response(status, headers, body)
  if status >= 300 then bad = bad + 1 end
end
threads = {}
function setup(thread)
  thread:set("id", #threads); table.insert(threads, thread)
end
function done(summary, latency, requests)
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + t:get("bad") end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "p50_ms": %f, "p90_ms": %f, "p99_ms": %f, '
    .. '"max_ms": %f, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"timeout": %d, "status_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(90) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3,
    bad_total, e.connect, e.read, e.write, e.timeout, e.status))
end
"""


def run_wrk(root: str, requests_file: Path, seconds: float, connections: int,
            work: Path, timeout: float = 30) -> dict:
    """wrk replaying ``requests_file`` (lines of path TAB Accept) against root: its figures
    (requests, seconds, p50/p90/p99/max in ms) and ``errors``, every non-2xx included."""
    script = work / "mix.lua"
    script.write_text(LUA, encoding="utf-8")
    run = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{max(1, int(seconds))}s",
                          "--timeout", f"{int(timeout)}s", "-s", str(script), root, "--", str(requests_file)],
                         capture_output=True, text=True, timeout=seconds + 120, check=True)
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    figures["errors"] = figures["non_2xx"] + sum(figures[k] for k in (
        "connect", "read", "write", "timeout"))
    return figures

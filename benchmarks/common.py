"""What the benchmarks share: generated exports, releases built from them, a gunicorn server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "tools" / "gen_senacs.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def generated(n: int, workdir: Path) -> Path:
    """n generated records (seed 7) in workdir, generated once."""
    source = workdir / f"gen_{n}.txt"
    if not source.exists():
        subprocess.run([sys.executable, str(GENERATOR), str(n), "7", str(source), "-q"],
                       check=True)
    return source


def release_of(n: int, workdir: Path) -> Path:
    """The release built from n generated records, built once."""
    release = workdir / f"release_{n}"
    if not (release / "manifest.json").exists():
        subprocess.run([sys.executable, "-m", "mapping.cli", "build", str(generated(n, workdir)),
                        "--out", str(release)], check=True, cwd=ROOT)
    return release


def wait(url: str, proc: subprocess.Popen | None, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited while starting: {url}")
        try:
            if requests.get(url, params={"query": "ASK {}"}, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.5)
    raise SystemExit(f"no answer from {url} after {seconds} s")


def serve_gunicorn(release: Path, store: Path, workers: int = 1, threads: int = 16,
                   **settings: object) -> tuple[str, subprocess.Popen]:
    """Our endpoint under gunicorn (gthread workers); the root URL and the process."""
    port = free_port()
    env = dict(os.environ, SENACS_KG_RELEASE_DIR=str(release), SENACS_KG_STORE_DIR=str(store))
    env.update({f"SENACS_KG_{k}": str(v) for k, v in settings.items()})
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}",
                             "--workers", str(workers), "--threads", str(threads),
                             "--timeout", "600", "endpoint:create_app()"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    wait(root + "/sparql", proc, 1800)
    return root, proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()

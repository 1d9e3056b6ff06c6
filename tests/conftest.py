"""Fixtures for the real things the tests use: the seed export, generated exports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from mapping.paths import REPO_ROOT, SOURCE_DIR
from mapping.reader import ExportFile

SEED = SOURCE_DIR / "000_94202d362f8d137e.txt"
GENERATOR = REPO_ROOT.parent / "shared" / "tools" / "gen_senacs.py"


@pytest.fixture(scope="session")
def seed_path() -> Path:
    return SEED


@pytest.fixture(scope="session")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def seed_export() -> tuple[ExportFile, list]:
    """The seed, read: the file object (preamble, problems) and its 25 records."""
    export = ExportFile(SEED)
    records = list(export.records())
    return export, records


@pytest.fixture(scope="session")
def seed_records(seed_export):
    return seed_export[1]


def generate_export(n: int, seed: int, out: Path) -> Path:
    """Write n synthetic records with the shared generator (the exact source format)."""
    if not GENERATOR.is_file():
        raise RuntimeError(f"the record generator is missing: {GENERATOR} (../shared beside the repo)")
    subprocess.run([sys.executable, str(GENERATOR), str(n), str(seed), str(out), "-q"], check=True)
    return out


@pytest.fixture(scope="session")
def generated_10k(tmp_path_factory) -> Path:
    return generate_export(10_000, 7, tmp_path_factory.mktemp("gen") / "gen_10k.txt")


def render_file(export: ExportFile, records) -> str:
    """The whole file rendered back from what was read."""
    text = "\n".join(export.preamble + [r.render() for r in records])
    return text + ("\n" if export.final_newline else "")


def read_text(text: str, tmp_path: Path, name: str = "export.txt", **kwargs):
    """Write text (UTF-8) to a file and read it: (export, records, all problems as strings)."""
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    export = ExportFile(path, **kwargs)
    records = list(export.records())
    problems = [str(p) for r in records for p in r.problems] + [str(p) for p in export.problems]
    return export, records, problems


@pytest.fixture(scope="session")
def seed_graph():
    """The seed mapped to RDF (with the concept schemes it links to), in memory."""
    from mapping.mapper import graph_of

    return graph_of([ExportFile(SEED)])


# -- a live server on 127.0.0.1 -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited: {proc.stderr.read() if proc.stderr else ''}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still starting
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer at {url}")


def build_release(source: Path, out: Path, *options: str) -> Path:
    """``senacs-kg build source --out out [options]``, which must publish."""
    run = subprocess.run([sys.executable, "-m", "mapping.cli", "build", str(source), "--out",
                          str(out), *options], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return out


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    return build_release(SEED, tmp_path_factory.mktemp("served") / "release")


def start_server(release: Path, store: Path, port: int, **settings) -> subprocess.Popen:
    env = dict(os.environ)
    env.update({f"SENACS_KG_{k}": json.dumps(v) for k, v in settings.items()})
    proc = subprocess.Popen([sys.executable, "-m", "mapping.cli", "serve", "--release",
                             str(release), "--store", str(store), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=env)
    wait_for(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def _start_production(release: Path, store: Path, port: int, *command: str) -> subprocess.Popen:
    env = dict(os.environ, SENACS_KG_RELEASE_DIR=str(release), SENACS_KG_STORE_DIR=str(store))
    proc = subprocess.Popen([sys.executable, "-m", *command], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(f"http://127.0.0.1:{port}/healthz", proc)
    return proc


def start_gunicorn(release: Path, store: Path, port: int, workers: int = 2,
                   threads: int = 4) -> subprocess.Popen:
    """The app under gunicorn (gthread workers), as in production."""
    return _start_production(release, store, port, "gunicorn", "--bind", f"127.0.0.1:{port}",
                             "--workers", str(workers), "--threads", str(threads),
                             "endpoint:create_app()")


def start_granian(release: Path, store: Path, port: int, workers: int = 2) -> subprocess.Popen:
    """The app under granian (Rust HTTP server, WSGI interface), the other production server."""
    return _start_production(release, store, port, "granian", "--interface", "wsgi", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", str(workers),
                             "--blocking-threads", "32", "--factory", "endpoint:create_app")


PRODUCTION_SERVERS = {"gunicorn": start_gunicorn, "granian": start_granian}


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (no browser is downloaded)."""
    from browser import CHROMIUM, FLAGS
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is not installed (.ci/run installs it)"
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM,
                                     args=[f for f in FLAGS if f != "--headless"])
        yield chromium
        chromium.close()


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(20)
    if proc.stderr:
        proc.stderr.close()

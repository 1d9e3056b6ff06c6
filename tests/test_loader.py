"""The store's load runs in a child process (endpoint/loader.py): on jemalloc where the system
has it, its progress reported, its death said in one line, and never outliving its server.

A release whose ontology folder holds a named pipe makes a loader that waits forever on it,
once the dump is in: a real child to kill, at a known point of its work.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest
from harness import dump_bytes, processes

from endpoint import loader
from endpoint import store as embedded
from mapping import release

B = "https://w3id.org/senacs-kg/"


def children_named(parent: int, name: str) -> list[int]:
    """The pids of ``parent``'s children whose command line holds ``name``."""
    return [p.pid for p in processes() if p.ppid == parent and name in p.command]


def waiting_child(parent: int, seconds: float = 60.0) -> int:
    """``parent``'s loader child once it waits on the named pipe (the dump loaded, the
    request long read): the kernel says where a process sleeps in /proc/PID/wchan."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in children_named(parent, "endpoint.loader"):
            try:
                if (Path("/proc") / str(child) / "wchan").read_text() == "wait_for_partner":
                    return child
            except OSError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"no loader child of {parent} waiting on the pipe within {seconds} s")


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def stuck_release(release_dir, tmp_path) -> Path:
    """The seed release with a named pipe among its ontology files: its loader waits there."""
    copy = tmp_path / "stuck"
    shutil.copytree(release_dir, copy)
    os.mkfifo(copy / "ontology" / "zz-waits.ttl")
    return copy


def test_the_child_loads_every_triple_on_jemalloc_where_the_system_has_it(release_dir,
                                                                         tmp_path, monkeypatch):
    monkeypatch.delenv("LD_PRELOAD", raising=False)  # another preloaded library is kept
    if os.environ.get("CI"):
        assert loader.jemalloc(), ".ci/run installs libjemalloc2: CI checks the jemalloc branch"
    staged = tmp_path / "store"
    loaded = loader.load(release_dir, staged, B, release.read_manifest(release_dir))
    assert loaded.allocator == ("jemalloc" if loader.jemalloc() else "system")
    assert loaded.read == loaded.of > 0.9 * (release_dir / release.DUMP_GZ).stat().st_size
    store = ox.Store.read_only(str(staged))
    triples = {str(q.triple) for q in store.quads_for_pattern(None, None, None, ox.DefaultGraph())}
    assert triples == {line.rstrip(" .") for line in dump_bytes(release_dir).decode().splitlines()}
    ontology = ox.NamedNode(B + "def")
    assert any(True for _ in store.quads_for_pattern(None, None, None, ontology))


def test_the_system_allocator_is_kept_when_asked_and_loads_the_same(release_dir, tmp_path):
    manifest = release.read_manifest(release_dir)
    glibc = loader.load(release_dir, tmp_path / "glibc", B, manifest, allocator="system")
    assert glibc.allocator == "system"
    default = loader.load(release_dir, tmp_path / "default", B, manifest)
    first, second = (ox.Store.read_only(str(tmp_path / name)) for name in ("glibc", "default"))
    assert set(first) == set(second) and len(set(first)) > 1000
    assert default.read == glibc.read


def test_a_loader_that_dies_is_said_in_one_line_and_leaves_no_files(stuck_release, tmp_path):
    store_dir = tmp_path / "store"
    outcome: dict[str, str] = {}

    def prepare() -> None:
        try:
            embedded.prepare_store(stuck_release, store_dir, B, verify=False)
        except embedded.ReleaseError as err:
            outcome["error"] = str(err)

    thread = threading.Thread(target=prepare)
    thread.start()
    child = waiting_child(os.getpid())
    os.kill(child, signal.SIGKILL)
    thread.join(30)
    assert not thread.is_alive()
    assert outcome["error"] == f"{stuck_release}: the store's loader stopped (signal 9: out of " \
        "memory?)"
    assert "Traceback" not in outcome["error"]
    assert not store_dir.exists() and not list(tmp_path.glob(".store.loading-*"))


def test_the_loader_does_not_outlive_its_server(stuck_release, tmp_path):
    """A server killed (kill -9) while its loader waits: the loader stops within a second or
    so (its request read long ago, nothing to write: only its watch on the parent ends it)."""
    script = ("import sys; from pathlib import Path; from endpoint import loader; "
              "from mapping import release; r = Path(sys.argv[1]); "
              "loader.load(r, Path(sys.argv[2]), sys.argv[3], release.read_manifest(r))")
    server = subprocess.Popen([sys.executable, "-c", script, str(stuck_release),
                               str(tmp_path / "store"), B])
    try:
        child = waiting_child(server.pid)
        assert alive(child)
    finally:
        server.kill()
        server.wait()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_build_store_shows_the_load_on_a_terminal(seed_path, tmp_path):
    """On a terminal, the load is a progress bar of the dump's bytes (as the build's records)."""
    primary, secondary = pty.openpty()
    # a terminal of 100 columns (a new pseudo-terminal has none: bars would be drawn empty)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    with open(os.devnull, "rb") as nothing:
        process = subprocess.Popen(
            [sys.executable, "-m", "mapping.cli", "build", str(seed_path), "--out",
             str(tmp_path / "release"), "--store", str(tmp_path / "store")],
            stdin=nothing, stdout=secondary, stderr=secondary)
    os.close(secondary)
    shown = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal's other end closed: the process ended
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert process.wait(60) == 0, shown.decode(errors="replace")
    text = shown.decode("utf-8", "replace")
    assert "load the store" in text and "compact the store" in text
    assert "store ready in" in text


def test_build_store_reads_the_servers_allocator_setting_and_refuses_a_bad_one(seed_path,
                                                                            tmp_path):
    env = dict(os.environ, SENACS_KG_LOADER_ALLOCATOR="glibc")
    run = subprocess.run([sys.executable, "-m", "mapping.cli", "build", str(seed_path), "--out",
                          str(tmp_path / "release"), "--store", str(tmp_path / "store")],
                         capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines()[-1] == ("senacs-kg: error: --store: environment: "
                                           "LOADER_ALLOCATOR='glibc' is not one of jemalloc, "
                                           "system")
    assert not (tmp_path / "release").exists()  # said before the build, not after it
    assert not (tmp_path / "store").exists()


@pytest.mark.parametrize("damage, reason", [
    (lambda path: path.mkdir(), "Is a directory"),
    (lambda path: path.write_text("<a> <b> .\n", encoding="utf-8"), "Parser error at line 1"),
])
def test_an_ontology_file_that_cannot_be_read_is_named(damage, reason, release_dir, tmp_path):
    copy = tmp_path / "release"
    shutil.copytree(release_dir, copy)
    damage(copy / "ontology" / "zz.ttl")
    with pytest.raises(embedded.ReleaseError) as refused:
        embedded.prepare_store(copy, tmp_path / "store", B, verify=False)
    message = str(refused.value)
    assert message.startswith(f"{copy / 'ontology' / 'zz.ttl'}: the ontology file cannot be "
                              "read: ") and reason in message and "\n" not in message
    assert not (tmp_path / "store").exists() and not list(tmp_path.glob(".store.loading-*"))


def test_a_child_that_ends_before_reading_its_request_is_one_line(release_dir, tmp_path,
                                                                  monkeypatch):
    """A request larger than a pipe holds (a large release's manifest) to a child that ends at
    once: said as the child's end, not as a broken pipe."""
    manifest = dict(release.read_manifest(release_dir), padding="x" * 300_000)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(loader.LoadError) as refused:
        loader.load(release_dir, tmp_path / "store", B, manifest)
    assert str(refused.value) == f"{release_dir}: the store's loader stopped (exit status 1)"

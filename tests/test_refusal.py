"""How a refused start is said once per server (endpoint/refusal.py), against what may lie at
the place of its note: a pipe, a link, another user's file, a folder open to others.

A stand-in for a granian main process (a Python process named granian on its command line)
starts the workers one after the other, each a child that has loaded granian as a granian
worker has: the conditions under which a worker keeps its server's note. Before they start,
the test may put something at the note's place. The real servers are in tests/test_endpoint.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from endpoint import refusal

WORKER = """
import sys
import granian  # noqa: F401 - as in a granian worker
from endpoint import refusal
if sys.argv[1] == "earlier":
    print(repr(refusal.earlier()))
else:
    refusal.refuse(sys.argv[2])
"""

# argv: ("granian", JSON list of the workers' arguments); says its note's place, waits for a
# line, then starts each worker and says how it ended
MAIN = """
import json, os, subprocess, sys
folder = os.path.join(os.environ["TMPDIR"], f"senacs-kg-{os.getuid()}")
with open("/proc/sys/kernel/random/boot_id") as boot, open("/proc/self/stat") as stat:
    name = (f"refused-{boot.read().strip()}-{os.getpid()}-"
            f"{stat.read().rsplit(')', 1)[1].split()[19]}")  # its start time, field 22
print(os.path.join(folder, name), flush=True)
sys.stdin.readline()
for arguments in json.loads(sys.argv[2]):
    run = subprocess.run([sys.executable, "-c", sys.argv[3], *arguments], capture_output=True,
                         text=True, timeout=20)
    print(json.dumps([run.returncode, run.stdout, run.stderr]), flush=True)
"""


def workers(tmp_path: Path, *calls: list[str], before: Callable[[Path], None] = lambda n: None,
            main: str = "granian") -> list[subprocess.CompletedProcess]:
    """Each worker's call (``["earlier"]`` or ``["refuse", REASON]``) under one main process
    named ``main``, their temporary folder ``tmp_path``; ``before(note)`` runs first."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["TMPDIR"] = str(tmp_path)
    with subprocess.Popen([sys.executable, "-c", MAIN, main, json.dumps(calls), WORKER],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                          env=env) as parent:
        before(Path(parent.stdout.readline().strip()))
        out, _ = parent.communicate("go\n", timeout=60)
    return [subprocess.CompletedProcess(call, *json.loads(line))
            for call, line in zip(calls, out.splitlines(), strict=True)]


def said(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("senacs-kg:")]


def private(note: Path) -> None:
    note.parent.mkdir(mode=0o700)


OWN = ["senacs-kg: the server cannot start: its own reason"]


def test_the_first_refusal_is_said_and_the_next_workers_keep_silent(tmp_path):
    notes = []
    first, second, third = workers(tmp_path, ["refuse", "the release is damaged"],
                                   ["refuse", "the release is damaged"], ["earlier"],
                                   before=notes.append)
    assert first.returncode == refusal.BOOT_FAILED
    assert said(first) == ["senacs-kg: the server cannot start: the release is damaged"]
    assert notes[0].read_text() == "the release is damaged"
    assert oct(notes[0].parent.stat().st_mode & 0o777) == "0o700"
    assert second.returncode == refusal.BOOT_FAILED and second.stderr == ""
    assert third.stdout.strip() == "'the release is damaged'"


def test_a_worker_of_no_server_writes_nothing_down(tmp_path):
    """Its parent no gunicorn or granian (a shell, a supervisor; gunicorn --preload, flask
    run): a reason kept for it would refuse a later, mended start."""
    first, second = workers(tmp_path, ["refuse", "a misspelt setting"], ["earlier"],
                            main="supervisor")
    assert first.returncode == refusal.BOOT_FAILED and len(said(first)) == 1
    assert second.stdout.strip() == "None"
    assert not (tmp_path / f"senacs-kg-{os.getuid()}").exists()


def test_a_pipe_at_the_note_is_not_waited_on(tmp_path):
    def pipe(note: Path) -> None:
        private(note)
        os.mkfifo(note)

    earlier, refused = workers(tmp_path, ["earlier"], ["refuse", "its own reason"], before=pipe)
    assert earlier.stdout.strip() == "None"  # within the 20 s, not blocked in open()
    assert said(refused) == OWN


def test_a_link_at_the_note_is_not_followed(tmp_path):
    def link(note: Path) -> None:
        private(note)
        (tmp_path / "elsewhere").write_text("planted")
        note.symlink_to(tmp_path / "elsewhere")

    earlier, refused = workers(tmp_path, ["earlier"], ["refuse", "its own reason"], before=link)
    assert earlier.stdout.strip() == "None" and said(refused) == OWN
    assert (tmp_path / "elsewhere").read_text() == "planted"


def test_a_folder_open_to_others_is_not_used(tmp_path):
    def open_folder(note: Path) -> None:
        private(note)
        note.parent.chmod(0o777)
        note.write_text("planted")

    earlier, refused = workers(tmp_path, ["earlier"], ["refuse", "its own reason"],
                               before=open_folder)
    assert earlier.stdout.strip() == "None" and said(refused) == OWN


@pytest.mark.skipif(os.getuid() != 0, reason="only root can make a file of another user's")
def test_another_users_note_is_not_taken_for_one(tmp_path):
    def foreign(note: Path) -> None:
        private(note)
        note.write_text("planted")
        os.chown(note, 65534, 65534)

    earlier, refused = workers(tmp_path, ["earlier"], ["refuse", "its own reason"],
                               before=foreign)
    assert earlier.stdout.strip() == "None" and said(refused) == OWN

"""How a refused start is said once per server (endpoint/refusal.py), against what may lie at
the place of its note: a pipe, a link, another user's file, a folder open to others.

Each case runs in a child process that has loaded granian, as a granian worker has, and
whose parent (this test's process) runs the same Python: the conditions under which a
worker keeps its server's note. The note is looked for where the worker looks for it.
"""

from __future__ import annotations

import os
import subprocess
import sys
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


def worker(tmp_path: Path, *args: str, through_shell: bool = False) -> subprocess.CompletedProcess:
    """One worker's call (``earlier`` or ``refuse REASON``), its temporary folder ``tmp_path``;
    through a shell, its parent is no server."""
    command = [sys.executable, "-c", WORKER, *args]
    if through_shell:
        command = ["sh", "-c", '"$0" "$@"; exit $?', *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=20,
                          env=dict(os.environ, TMPDIR=str(tmp_path)))


def note(tmp_path: Path) -> Path:
    """The note of this process's workers: named after this process, their parent."""
    return (tmp_path / f"senacs-kg-{os.getuid()}"
            / f"refused-{os.getpid()}-{refusal._started(os.getpid())}")


def said(run: subprocess.CompletedProcess) -> list[str]:
    return [line for line in run.stderr.splitlines() if line.startswith("senacs-kg:")]


def test_the_first_refusal_is_said_and_the_next_workers_keep_silent(tmp_path):
    first = worker(tmp_path, "refuse", "the release is damaged")
    assert first.returncode == refusal.BOOT_FAILED
    assert said(first) == ["senacs-kg: the server cannot start: the release is damaged"]
    assert note(tmp_path).read_text() == "the release is damaged"
    assert oct(note(tmp_path).parent.stat().st_mode & 0o777) == "0o700"
    second = worker(tmp_path, "refuse", "the release is damaged")
    assert second.returncode == refusal.BOOT_FAILED and second.stderr == ""
    assert worker(tmp_path, "earlier").stdout.strip() == "'the release is damaged'"


def test_a_worker_of_no_server_writes_nothing_down(tmp_path):
    """A parent that is a shell (gunicorn --preload, flask run): a reason kept for it would
    refuse a later, mended start."""
    run = worker(tmp_path, "refuse", "a misspelt setting", through_shell=True)
    assert run.returncode == refusal.BOOT_FAILED and len(said(run)) == 1
    assert not (tmp_path / f"senacs-kg-{os.getuid()}").exists()


def test_a_pipe_at_the_note_is_not_waited_on(tmp_path):
    note(tmp_path).parent.mkdir(mode=0o700)
    os.mkfifo(note(tmp_path))
    assert worker(tmp_path, "earlier").stdout.strip() == "None"  # within the 20 s, not blocked
    run = worker(tmp_path, "refuse", "its own reason")
    assert said(run) == ["senacs-kg: the server cannot start: its own reason"]


def test_a_link_at_the_note_is_not_followed(tmp_path):
    note(tmp_path).parent.mkdir(mode=0o700)
    (tmp_path / "elsewhere").write_text("planted")
    note(tmp_path).symlink_to(tmp_path / "elsewhere")
    assert worker(tmp_path, "earlier").stdout.strip() == "None"
    run = worker(tmp_path, "refuse", "its own reason")
    assert said(run) == ["senacs-kg: the server cannot start: its own reason"]
    assert (tmp_path / "elsewhere").read_text() == "planted"


def test_a_folder_open_to_others_is_not_used(tmp_path):
    note(tmp_path).parent.mkdir(mode=0o700)
    note(tmp_path).parent.chmod(0o777)
    note(tmp_path).write_text("planted")
    assert worker(tmp_path, "earlier").stdout.strip() == "None"
    run = worker(tmp_path, "refuse", "its own reason")
    assert said(run) == ["senacs-kg: the server cannot start: its own reason"]


@pytest.mark.skipif(os.getuid() != 0, reason="only root can make a file of another user's")
def test_another_users_note_is_not_taken_for_one(tmp_path):
    note(tmp_path).parent.mkdir(mode=0o700)
    note(tmp_path).write_text("planted")
    os.chown(note(tmp_path), 65534, 65534)
    assert worker(tmp_path, "earlier").stdout.strip() == "None"
    run = worker(tmp_path, "refuse", "its own reason")
    assert said(run) == ["senacs-kg: the server cannot start: its own reason"]

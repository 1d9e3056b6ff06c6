"""A start refused under a production server: the reason in one line, never a traceback, and
the server stopped rather than starting the worker again and again.

gunicorn and granian call ``create_app()`` in each of their worker processes, and print an
exception raised there with its traceback. ``refuse(reason)`` prints the reason alone and
ends the worker with gunicorn's "worker failed to boot" code (3), on which gunicorn's master
stops; granian stops on a worker that ends while it starts, unless told to respawn failed
workers, and then stops at its second quick failure in a row ("crash loop").

The first refusal is written down for the worker's server (its master process), in a file of
the temporary folder named after the master's process id and start time (a later master with
a reused id is not taken for it), made with O_EXCL, read only if it is this user's own.
Workers of that server started later (granian's respawns) refuse at once with its reason
(``earlier()``), instead of loading the store again: a damaged release found after minutes of
loading is not loaded again and again. Only the first worker to refuse says why. gunicorn's
master, told by two workers that they failed to boot, raises its stop a second time while
stopping, with a traceback of its own: so under gunicorn the others exit 0, the master being
by then stopping.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

BOOT_FAILED = 3  # gunicorn's WORKER_BOOT_ERROR: its master stops rather than respawn
LONGEST = 4096  # bytes of a written-down reason read back


def refuse(reason: str) -> NoReturn:
    """End this worker; the first of its server to refuse says ``reason`` on stderr."""
    if not _write_down(reason):  # said already by another worker
        raise SystemExit(0 if "gunicorn.arbiter" in sys.modules else BOOT_FAILED)
    print(f"senacs-kg: the server cannot start: {reason}", file=sys.stderr, flush=True)
    raise SystemExit(BOOT_FAILED)


def earlier() -> str | None:
    """The reason another worker of this server refused to start for, if one did."""
    try:
        handle = os.open(_marker(), os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        held = os.fstat(handle)
        if held.st_uid != os.getuid() or not stat.S_ISREG(held.st_mode):
            return None  # not written by this server: ignored
        return os.read(handle, LONGEST).decode("utf-8", "replace") or None
    finally:
        os.close(handle)


def _write_down(reason: str) -> bool:
    """Write the reason down for this server; whether no other worker had (True when that
    cannot be known: saying the reason twice is better than not at all)."""
    try:
        handle = os.open(_marker(), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return False
    except OSError:
        return True
    try:
        os.write(handle, reason.encode("utf-8")[:LONGEST])
    finally:
        os.close(handle)
    return True


def _marker() -> Path:
    master = os.getppid()
    return Path(tempfile.gettempdir()) / f"senacs-kg-refused-{master}-{_started(master)}"


def _started(pid: int) -> str:
    """The process's start time (clock ticks since boot), or "" if it cannot be read."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return line.rsplit(")", 1)[1].split()[19]  # field 22; the name before may hold spaces
    except (OSError, IndexError):
        return ""

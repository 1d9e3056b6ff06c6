"""A start refused under a production server: the reason in one line, never a traceback.

gunicorn and granian call ``create_app()`` in each worker and print what it raises with its
traceback. ``refuse`` prints the reason and exits 3, gunicorn's "worker failed to boot", on
which it stops (granian stops on any worker ending while it starts). The first worker of a
server to be refused writes the reason down in a note named after the server's main process;
the others then end silently (gunicorn, told of two boot failures, adds a traceback of its
own), and a worker started later is refused at once instead of loading the store again.
The note is kept only by the worker of a gunicorn or granian main process, in a folder of the
user's own, and anything odd in its place is ignored: see the README's "Production server".
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
SERVERS = ("gunicorn.arbiter", "granian")  # modules a production server's worker has loaded


def refuse(reason: str) -> NoReturn:
    """End this worker; the first of its server to be refused says ``reason`` on stderr."""
    marker = _marker(make=True)
    if marker is not None and not _write_down(marker, reason) and _read(marker) is not None:
        raise SystemExit(0 if "gunicorn.arbiter" in sys.modules else BOOT_FAILED)  # said
    # one write(2), line end included: print() may write the line and its end apart, and
    # another worker's log line then came between them
    sys.stderr.flush()
    os.write(sys.stderr.fileno(), f"senacs-kg: the server cannot start: {reason}\n".encode(
        sys.stderr.encoding or "utf-8", "replace"))
    raise SystemExit(BOOT_FAILED)


def earlier() -> str | None:
    """The reason another worker of this server was refused for, if one was."""
    marker = _marker()
    return (_read(marker) or None) if marker is not None else None


def _write_down(marker: Path, reason: str) -> bool:
    """Whether this worker wrote ``reason`` down first (True also when it cannot be written:
    saying the reason twice is better than not at all)."""
    try:
        handle = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return False
    except OSError:
        return True
    try:
        os.write(handle, reason.encode("utf-8")[:LONGEST])
    except OSError:  # a full disk: a marker without its reason would silence the others
        os.close(handle)
        marker.unlink(missing_ok=True)
        return True
    os.close(handle)
    return True


def _read(marker: Path) -> str | None:
    """What the marker says ("" while its writer has yet to write), or None if there is no
    marker of this user's there: nothing, or something else (a pipe is not waited on)."""
    try:
        handle = os.open(marker, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        held = os.fstat(handle)
        if not stat.S_ISREG(held.st_mode) or held.st_uid != os.getuid():
            return None
        return os.read(handle, LONGEST).decode("utf-8", "replace")
    except OSError:
        return None
    finally:
        os.close(handle)


def _marker(make: bool = False) -> Path | None:
    """This server's marker, or None where none is used (see the module's text); its folder
    is made if ``make`` (only a refusal makes it: a server that starts leaves nothing)."""
    master = os.getppid()
    if not any(name in sys.modules for name in SERVERS) or not _server_parent(master):
        return None
    try:
        folder = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()) \
            / f"senacs-kg-{os.getuid()}"
        if make:
            folder.mkdir(mode=0o700, exist_ok=True)
        held = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(held.st_mode) or held.st_uid != os.getuid() or held.st_mode & 0o077:
        return None
    started, boot = _started(master), _boot()
    if not started or not boot:  # the name must tell this server from any other, ever
        return None
    return folder / f"refused-{boot}-{master}-{started}"


def _boot() -> str:
    """This boot's id: a note of a main process from before a reboot is not this one's."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _server_parent(pid: int) -> bool:
    """Whether process ``pid`` is a gunicorn or granian main process running the program this
    one runs, as a worker's parent is (a shell, init or a Python supervisor is not)."""
    try:
        if os.readlink(f"/proc/{pid}/exe") != os.readlink("/proc/self/exe"):
            return False
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(os.path.basename(argument) in (b"gunicorn", b"granian") for argument in arguments)


def _started(pid: int) -> str:
    """The process's start time (clock ticks since boot), or "" if it cannot be read."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return line.rsplit(")", 1)[1].split()[19]  # field 22; the name before may hold spaces
    except (OSError, IndexError):
        return ""

"""Worker processes that end with the process that started them.

A worker pool's processes wait for work on a pipe that each of them also holds
open for writing, so they never see it close: when the process that owns the
pool is killed (``kill -9``, the OOM killer), they would wait forever. Each
worker therefore asks the kernel to kill it when its parent dies (Linux
``PR_SET_PDEATHSIG``), and checks at once that its parent has not already died
before the request took effect (:func:`die_with_parent`). Where the kernel
cannot do this, a daemon thread polls the parent's id instead
(:func:`watch_parent`).

The kernel ties the signal to the parent *thread* that created the child, not
to the parent process: a worker must be started from a thread that lives as
long as its process (the main thread, as the build does), or it is killed when
that thread ends. Workers started from short-lived threads (a server's request
threads) use :func:`watch_parent` alone. This module imports nothing of the
project: the build and the endpoint may both use it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.5  # how often the fallback looks at the parent


def die_with_parent(parent: int) -> None:
    """End this process when its parent ``parent`` (a pid) dies; at once if it already has.

    ``parent`` is the pid of the process that started this one, taken *before* the start
    (``os.getpid()`` in the parent): comparing it with ``os.getppid()`` after asking for the
    signal closes the window where the parent died in between.
    """
    if not _ask_kernel():
        watch_parent(parent)
    if os.getppid() != parent:
        os._exit(1)


def _ask_kernel() -> bool:
    """SIGKILL from the kernel when the parent dies (Linux); False where not available."""
    return prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def prctl(option: int, value: int) -> bool:
    """Linux ``prctl(option, value)`` for this process; False if refused or not Linux."""
    if not sys.platform.startswith("linux"):
        return False
    libc_name = ctypes.util.find_library("c")
    call = getattr(ctypes.CDLL(libc_name, use_errno=True), "prctl", None) if libc_name else None
    return call is not None and call(option, value, 0, 0, 0) == 0


def watch_parent(parent: int) -> None:
    """End this process within POLL_SECONDS of its parent ``parent`` (a pid) dying.

    A daemon thread looks at ``os.getppid()``: an orphan is adopted by another process, so
    its parent's id changes. It runs while the main thread computes, as long as that code
    releases the GIL (pyoxigraph does while it evaluates a query).
    """

    def poll() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=poll, name="die-with-parent", daemon=True).start()

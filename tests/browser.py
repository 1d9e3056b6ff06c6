"""Debian's Chromium, headless, as the tests' browser: the page's DOM after its scripts ran."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags the machine needs (closed network, root, no GPU): see the library's env notes.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    assert CHROMIUM, "chromium is not installed (.ci/run installs Debian's chromium)"
    with tempfile.TemporaryDirectory(prefix="senacs-chromium-") as profile:
        return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)


def dump_dom(url: str) -> str:
    """The document as the browser holds it once loaded (scripts run, if any could)."""
    run = _run(["--virtual-time-budget=3000", "--dump-dom", url])
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout

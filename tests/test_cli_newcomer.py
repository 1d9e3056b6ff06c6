"""What a newcomer meets first: the command's help, its usage errors, and the README's commands."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from mapping.paths import REPO_ROOT

SUBCOMMANDS = ("check", "export-text", "build", "validate", "serve", "network")


def senacs_kg(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mapping.cli", *args],
                          capture_output=True, text=True, timeout=120, **kwargs)


def readme_options(command: str) -> set[str]:
    """The options the README shows in its `senacs-kg COMMAND …` spans."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    spans = re.findall(rf"`senacs-kg {re.escape(command)}\b([^`]*)`", readme)
    return {option for span in spans for option in re.findall(r"--[a-z][a-z-]*", span)}


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_helps_with_the_options_the_readme_shows(command):
    run = senacs_kg(command, "--help")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"usage: senacs-kg {command} ")
    missing = {option for option in readme_options(command) if option not in run.stdout}
    assert not missing, f"the README shows {sorted(missing)}, `{command} --help` does not"


def test_no_command_lists_the_commands_and_is_a_usage_error():
    """Exit 2 as every usage error (scripts rely on it); the commands go to stderr, stdout
    stays empty, so `senacs-kg > out` does not leave help text in out."""
    run = senacs_kg()
    assert run.returncode == 2
    assert run.stdout == ""
    for command in SUBCOMMANDS:
        assert re.search(rf"^    {re.escape(command)}\b", run.stderr, re.M), run.stderr
    assert run.stderr.rstrip().splitlines()[-1].startswith("senacs-kg: error: no command given")
    assert "Traceback" not in run.stderr

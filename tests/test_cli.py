"""The ``senacs-kg`` command as users and scripts run it, on real files: in this process
(``run_cli``) where only its exit status and output matter, in a real subprocess where the
process's own output is the point."""

from __future__ import annotations

from pathlib import Path

from conftest import SEED, run_cli, senacs_kg


def test_check_clean_seed_exits_0():
    run = run_cli("check", str(SEED))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == ""
    assert "25 record(s): 0 error(s), 0 warning(s)" in run.stderr


def test_check_reports_every_problem_as_file_line_and_exits_1(tmp_path, seed_text):
    lines = seed_text.split("\n")
    # Break two records: a typo in one label, a missing mandatory label in another.
    typo = lines.index("- Dimension")
    lines[typo] = "- Dimenssion"
    missing = lines.index("- Public", typo + 40)
    del lines[missing]
    broken = tmp_path / "broken.txt"
    broken.write_text("\n".join(lines), encoding="utf-8")

    run = run_cli("check", str(broken))
    assert run.returncode == 1
    out = run.stdout.splitlines()
    assert len(out) >= 2
    assert all(line.startswith(f"{broken}:") for line in out)
    assert any(f"{broken}:{typo + 1}:" in line and "typo" in line for line in out)
    assert "25 record(s)" in run.stderr  # no record dropped


def test_check_usage_errors_exit_2(tmp_path):
    assert run_cli().returncode == 2
    assert run_cli("check").returncode == 2
    run = run_cli("check", str(tmp_path / "nope.txt"))
    assert run.returncode == 2
    assert "no such file" in run.stderr
    assert "Traceback" not in run.stderr
    assert run_cli("check", "--encoding", "klingon", str(SEED)).returncode == 2


def test_check_refuses_cp1252_then_reads_it_with_encoding(tmp_path, seed_text):
    path = Path(tmp_path / "latin.txt")
    path.write_bytes(seed_text.encode("cp1252"))
    refused = run_cli("check", str(path))
    assert refused.returncode == 1
    assert "byte" in refused.stdout and "cp1252" in refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr

    accepted = run_cli("check", "--encoding", "cp1252", str(path))
    assert accepted.returncode == 0, accepted.stdout
    assert "25 record(s)" in accepted.stderr


def test_build_says_only_its_own_lines(tmp_path):
    """No library's logging leaks into the build's output (pyLODE configures the root logger)."""
    run = senacs_kg("build", str(SEED), "--out", str(tmp_path / "release"))
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert lines and all(line.startswith("senacs-kg build: ") for line in lines), run.stderr

"""Fixtures for the real things the tests use: the seed export, generated exports, servers.

The helpers that start and stop those things live in ``harness.py`` (shared with the
benchmarks) and are imported here, so that test modules keep importing them from conftest.
Every process the tests start ends with them: servers are stopped with an escalation
(``stop``), and a session-end check fails the run if any process started by the tests
is still alive (``no_process_left_behind``).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness import (  # noqa: F401  (re-exported: test modules import these from conftest)
    GENERATOR,
    GONE_SECONDS,
    GRANIAN_KILL_SECONDS,
    GUNICORN_REQUEST_LINE,
    PRODUCTION_SERVERS,
    STOP_SECONDS,
    Process,
    alive,
    appended,
    build_release,
    descendants,
    dump_bytes,
    dump_lines,
    dump_text,
    free_port,
    garbled,
    generate_export,
    granian_command,
    group,
    gunicorn_command,
    kill,
    listing,
    live_server,
    processes,
    reap,
    run_production,
    senacs_kg,
    server_log,
    start_granian,
    start_gunicorn,
    start_production,
    start_server,
    stop,
    wait_for,
    wait_gone,
)

from mapping import lifetime
from mapping.paths import SOURCE_DIR
from mapping.reader import ExportFile

SEED = SOURCE_DIR / "000_94202d362f8d137e.txt"


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


@dataclass(frozen=True)
class CliRun:
    """What one ``senacs-kg`` command did: named as subprocess.CompletedProcess names it."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*argv: str) -> CliRun:
    """``senacs-kg argv`` run in this process by ``mapping.cli.main``: its exit status and what
    it wrote. For the commands' behaviour, where a process of its own is not the point (the
    console script, signals, byte-exact output and servers keep real subprocesses): no
    interpreter to start and no imports to redo for each run."""
    from mapping import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(list(argv))
        except SystemExit as exit_:  # argparse: usage errors and --help; as Python exits
            status = 0 if exit_.code is None else exit_.code
            if not isinstance(status, int):
                print(status, file=err)
                status = 1
    return CliRun(status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def seed_graph():
    """The seed mapped to RDF (with the concept schemes it links to), in memory."""
    from mapping.mapper import graph_of

    return graph_of([ExportFile(SEED)])


@pytest.fixture(scope="session")
def release_dir(tmp_path_factory) -> Path:
    return build_release(SEED, tmp_path_factory.mktemp("served") / "release")


@pytest.fixture(scope="session")
def seed_site(release_dir, tmp_path_factory) -> Iterator[str]:
    """The seed release served by ``senacs-kg serve`` with the default settings: its root URL.

    One server for the whole session, shared by the modules that only read from it; a module
    that needs other settings, another release or a server of its own to restart or kill
    starts it with ``live_server`` (or ``start_server`` and ``stop``).
    """
    with live_server(release_dir, tmp_path_factory.mktemp("seed_site") / "store") as root:
        yield root


@pytest.fixture(scope="session")
def seed_app(release_dir, tmp_path_factory):
    """The application of the seed release in this process, without a server: the default
    settings but the background warm-up. For tests of what a response holds; HTTP on the
    wire (the protocol, what servers do, browsers, SPARQLWrapper) keeps a real server."""
    from endpoint import create_app
    from endpoint.state import server_state

    app = create_app({"RELEASE_DIR": str(release_dir), "WARM_CACHE": False,
                      "STORE_DIR": str(tmp_path_factory.mktemp("seed_app") / "store")})
    yield app
    server_state(app).store.close()  # its query workers, children of this process


@pytest.fixture
def client(seed_app):
    """Flask's test client of ``seed_app``: requests without a socket."""
    return seed_app.test_client()


@pytest.fixture(scope="module")
def listener():
    """A loopback listener that no query may ever reach (tests/ssrf_variants.py)."""
    from ssrf_variants import Listener

    listening = Listener()
    yield listening
    listening.close()


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


# -- processes: none outlives the tests ------------------------------------------------------

PR_SET_CHILD_SUBREAPER = 36


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Fail the run if a process the tests started outlives them: servers, their workers,
    query workers, build workers, browsers. They are listed, then killed.

    This process adopts the orphans of its descendants (a child subreaper, Linux), so that
    a worker whose parent was killed is still found here and not lost under init.
    """
    lifetime.prctl(PR_SET_CHILD_SUBREAPER, 1)
    before = {p.key for p in descendants(os.getpid())}

    def started_by_the_tests() -> list[Process]:
        # multiprocessing's resource tracker of this very process (started the first time a
        # test uses a spawn context here) is the runner's own: it ends with the runner
        return [p for p in descendants(os.getpid()) if p.key not in before
                and not (p.ppid == os.getpid() and "multiprocessing.resource_tracker" in p.command)]

    yield
    left = wait_gone(started_by_the_tests, GONE_SECONDS)
    kill(left)
    reap()
    if left:
        pytest.fail("processes started by the tests were still alive at the end (now killed):"
                    + listing(left), pytrace=False)


@dataclass(frozen=True)
class PublishedSeries:
    """Three generated campaigns published into one series, as a publisher would: each dated,
    the renames declared in a sourced file, a contact given. Never changed by a test: a test
    that retires or damages a release works on a copy of ``folder``."""

    folder: Path  # the series: 2024/, 2025/, 2026/, series.json, catalogs/
    exports: dict[str, tuple[Path, int]]  # each campaign's export and its number of records
    renames: Path
    catalog_after_two: Path  # the series catalog as the 2025 publication left it


SERIES_IDS = ("2024", "2025", "2026")


@pytest.fixture(scope="session")
def published_series(tmp_path_factory) -> PublishedSeries:
    """One series for the modules about series (catalog, changes, administration): three
    builds, a process each, as users run them."""
    import json
    import shutil

    from campaigns import first_campaign, next_campaign

    work = tmp_path_factory.mktemp("published-series")
    first = first_campaign(30, seed=11, twins=2)
    second = next_campaign(first, seed=12, removed=3, added=3, edited=4)
    third = next_campaign(second, seed=13, removed=2, added=2, edited=3)
    renames = work / "renames.csv"
    renames.write_text("old_name,department,new_name,since,source\n" + "".join(
        f"{old},Haute-Garonne,{new},{since},the test's own declaration\n"
        for (old, new), since in ((second.renamed, "2025"), (third.renamed, "2026"))),
        encoding="utf-8")
    folder, exports = work / "senacs", {}
    after_two = work / "catalog-after-2025.ttl"
    for release_id, campaign in zip(SERIES_IDS, (first, second, third), strict=True):
        export = campaign.write(work / f"senacs-{release_id}.txt")
        exports[release_id] = (export, len(campaign.entries))
        run = senacs_kg("build", str(export), "--series", str(folder), "--release-id",
                        release_id, "--release-date", f"{release_id}-06-01", "--renames",
                        str(renames), "--contact-email", "open-data@example.org")
        assert run.returncode == 0, run.stderr
        if release_id == "2025":
            named = json.loads((folder / "series.json").read_text(encoding="utf-8"))["catalog"]
            shutil.copyfile(folder / named, after_two)
    return PublishedSeries(folder, exports, renames, after_two)

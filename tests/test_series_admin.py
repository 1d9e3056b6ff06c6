"""`senacs-kg series status` and `senacs-kg series retire`: a series' disk use, and an old
release retired (its data freed, its changeset kept), then served as retired.

A real series of three generated campaigns (tests/campaigns.py) published with
`build --series`; each test that changes it works on its own copy. Sizes are checked against
the files on disk, walked here; what a retired release still serves is checked on a real
server of the series (tests/serve_series_helper.py).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import gzip
import json
import os
import shutil
import time
from pathlib import Path

import pytest
import requests
from conftest import descendants, dump_bytes, run_cli
from serve_series_helper import actions_of, series_server

from endpoint.store import prepare_store
from mapping import release
from mapping.series_admin import human
from mapping.vocab import DEFAULT_BASE as B

IDS = ("2024", "2025", "2026")
DUMPS = {"dataset.nt.gz", "dataset.ttl.gz", "dataset.jsonld.gz"}


@pytest.fixture(scope="module")
def campaigns(published_series) -> dict[str, tuple[Path, int]]:
    """Three campaigns' exports and their number of records."""
    return published_series.exports


@pytest.fixture(scope="module")
def pristine(published_series) -> Path:
    """The series as three publications leave it (never changed by a test: see ``series``)."""
    return published_series.folder


@pytest.fixture
def series(pristine, tmp_path) -> Path:
    """A copy of the series for one test to change."""
    return Path(shutil.copytree(pristine, tmp_path / "senacs"))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (the lock file aside)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".series.lock"}


def sizes_on_disk(folder: Path) -> dict[str, int]:
    """The bytes of a release folder's files by part, walked here with os.walk."""
    found = {"dumps": 0, "tables": 0, "changes": 0, "other": 0}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            top = path.relative_to(folder).parts[0]
            part = "dumps" if name in DUMPS and top == name else \
                top if top in ("tables", "changes") else "other"
            found[part] += path.stat().st_size
    return found


def all_bytes(*folders: Path) -> int:
    return sum(p.stat().st_size for f in folders for p in f.rglob("*") if p.is_file())


def store_of(series: Path, rid: str, root: Path) -> Path:
    """Release ``rid``'s store, built as the server builds it (``STORE_DIR/{id}``)."""
    prepare_store(series / rid, root / rid, B)
    return root / rid


def retire(series: Path, rid: str, *options: str):
    return run_cli("series", "retire", str(series), rid, *options)


# -- status ------------------------------------------------------------------------------------


def test_status_figures_are_the_sizes_on_disk(series, campaigns, tmp_path):
    stores = tmp_path / "stores"
    store = store_of(series, "2025", stores)
    run = run_cli("series", "status", str(series), "--store", str(stores), "--json")
    assert run.returncode == 0, run.stderr
    status = json.loads(run.stdout)
    assert [r["id"] for r in status["releases"]] == list(IDS) and status["latest"] == "2026"
    for entry in status["releases"]:
        rid = entry["id"]
        on_disk = sizes_on_disk(series / rid)
        assert on_disk["dumps"] > 0 and on_disk["tables"] > 0
        assert (rid == "2024") == (on_disk["changes"] == 0)  # the first has no changeset
        assert entry["bytes"] == {**on_disk, "folder": sum(on_disk.values()),
                                  "store": all_bytes(store) if rid == "2025" else None}
        assert entry["triples"] == dump_bytes(series / rid).count(b"\n")
        assert entry["records"] == campaigns[rid][1]
        assert (entry["date"], entry["latest"], entry["retired"]) == \
            (f"{rid}-06-01", rid == "2026", None)
    total = status["total"]["bytes"]
    assert total["folder"] == sum(all_bytes(series / rid) for rid in IDS)
    assert total["all"] == all_bytes(series) + all_bytes(store)


def test_status_for_people_is_a_line_per_release_and_the_totals(series):
    run = run_cli("series", "status", str(series))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["release", "date", "state", "triples", "records", "dumps",
                                "tables", "changes", "other", "store"]
    assert [line.split()[0] for line in lines[1:5]] == [*IDS, "total"]
    latest = lines[3].split()
    dumps = sizes_on_disk(series / "2026")["dumps"]
    assert latest[:3] == ["2026", "2026-06-01", "latest"] and human(dumps) in lines[3]
    assert human(dumps).endswith((" kB", " MB"))
    assert lines[4].split()[1:3] == ["3", "releases"]
    assert lines[5].endswith(f"{human(all_bytes(series))} in all")


def test_status_of_a_folder_that_is_no_series(tmp_path):
    run = run_cli("series", "status", str(tmp_path))
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == (f"senacs-kg series status: {tmp_path}: no release series here "
                          "(no series.json)\n")


# -- retire ------------------------------------------------------------------------------------


def test_retire_frees_what_it_says_and_keeps_the_changelog(series, tmp_path):
    store = store_of(series, "2025", tmp_path / "stores")
    before = snapshot(series)
    held = actions_of(series / "2025")
    size_before = all_bytes(series / "2025", store)
    run = retire(series, "2025", "--store", str(tmp_path / "stores"))
    assert run.returncode == 0, run.stderr
    freed = size_before - all_bytes(series / "2025")
    today = dt.date.today().isoformat()
    assert run.stderr.startswith(f"senacs-kg series retire: release 2025 retired on {today}: "
                                 f"freed {human(freed)}, removed ")
    assert not store.exists()
    # what is left: the changeset untouched, the summary, the manifest over what is kept
    kept = snapshot(series / "2025")
    ontology = {k[len("2025/"):] for k in before if k.startswith("2025/ontology/")}
    assert ontology  # the vocabulary the release used, for its changes page's field names
    assert set(kept) == {"manifest.json", "catalog.ttl", "summary.txt", "build-report.json",
                         "subjects.txt", "changes/added.nt.gz", "changes/removed.nt.gz",
                         "changes/summary.ttl", *ontology}
    for name in ("changes/added.nt.gz", "changes/removed.nt.gz", "changes/summary.ttl",
                 "summary.txt", "catalog.ttl"):
        assert kept[name] == before[f"2025/{name}"]
    manifest = release.read_manifest(series / "2025")
    assert manifest["retired"] == today and set(manifest["files"]) == set(kept) - {"manifest.json"}
    assert release.verify(series / "2025") == []  # every file it lists is there, as listed
    old = json.loads(before["2025/manifest.json"])
    assert {k: v for k, v in manifest.items() if k not in ("files", "retired")} == \
        {k: v for k, v in old.items() if k != "files"}  # counts, changes, series, release id
    # the resources it held, for the server to say they were retired
    subjects = (series / "2025" / "subjects.txt").read_text(encoding="utf-8").splitlines()
    assert {f"<{iri}>" for iri in held} <= set(subjects) and subjects == sorted(subjects)
    # the other releases and the later changeset are untouched; series.json says retired (and
    # the series catalog, written anew with it, describes 2025 by its changeset only)
    assert {k: v for k, v in snapshot(series).items() if not k.startswith(("2025/", "series", "catalogs/"))} \
        == {k: v for k, v in before.items() if not k.startswith(("2025/", "series", "catalogs/"))}
    entries = json.loads((series / "series.json").read_text())["releases"]
    assert entries[1] == {"id": "2025", "date": "2025-06-01", "previous": "2024",
                          "retired": today}
    assert [e.get("retired") for e in entries] == [None, today, None]
    status = json.loads(run_cli("series", "status", str(series), "--json").stdout)
    assert status["releases"][1]["retired"] == today
    assert status["releases"][1]["bytes"]["dumps"] == status["releases"][1]["bytes"]["tables"] == 0


def test_retire_names_the_store_it_removes_with_its_size(series, tmp_path):
    store = store_of(series, "2024", tmp_path / "stores")
    size = all_bytes(store)
    run = retire(series, "2024", "--store", str(tmp_path / "stores"))
    assert run.returncode == 0, run.stderr
    assert f"and its store {store} ({human(size)})" in run.stderr and not store.exists()
    # the first release has no changeset: its manifest and summary are what is left
    assert {k for k in snapshot(series / "2024") if not k.startswith("ontology/")} == {
        "manifest.json", "catalog.ttl", "summary.txt", "build-report.json", "subjects.txt"}


def test_a_store_folder_of_another_release_is_left_alone(series, tmp_path):
    stores = tmp_path / "stores"
    (stores / "2024").mkdir(parents=True)
    (stores / "2024" / "notes.txt").write_text("not a store", encoding="utf-8")
    run = retire(series, "2024", "--store", str(stores))
    assert run.returncode == 0, run.stderr
    assert (stores / "2024" / "notes.txt").read_text(encoding="utf-8") == "not a store"
    assert f"{stores / '2024'} holds no senacs-kg-store.json naming this release" in run.stderr


@pytest.mark.parametrize(("marker", "why"), [
    ('["2024"]', "holds no senacs-kg-store.json naming this release"),
    ("{}", "is the store of another release (None)"),
    ('{"release": "2025"}', "is the store of another release ('2025')")])
def test_a_store_whose_marker_names_no_such_release_is_left_alone(marker, why, series,
                                                                 tmp_path):
    """A marker that is JSON but not this release's (a list, no id, another release's id)."""
    stores = tmp_path / "stores"
    (stores / "2024").mkdir(parents=True)
    (stores / "2024" / "senacs-kg-store.json").write_text(marker, encoding="utf-8")
    run = retire(series, "2024", "--store", str(stores))
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    assert (stores / "2024" / "senacs-kg-store.json").read_text(encoding="utf-8") == marker
    assert f"{stores / '2024'} {why}: left alone" in run.stderr


def test_a_dry_run_says_what_it_would_remove_and_changes_nothing(series, tmp_path):
    store = store_of(series, "2025", tmp_path / "stores")
    before, stored = snapshot(series), snapshot(store)
    kept = ("manifest.json", "catalog.ttl", "summary.txt", "build-report.json", "subjects.txt")
    removed = [k for k in before if k.startswith("2025/") and k[5:] not in kept
               and not k.startswith(("2025/changes/", "2025/ontology/"))]
    run = retire(series, "2025", "--store", str(tmp_path / "stores"), "--dry-run")
    assert run.returncode == 0, run.stderr
    size = sum(len(before[k]) for k in removed)
    assert run.stderr.startswith(f"senacs-kg series retire: would retire release 2025: would "
                                 f"remove {len(removed)} file(s) of {series / '2025'} "
                                 f"({human(size)}) and its store {store}")
    assert run.stderr.endswith("; nothing changed\n")
    assert snapshot(series) == before and snapshot(store) == stored


@pytest.mark.parametrize("rid, message", [
    ("2026", "release 2026 is the latest release of"),
    ("2023", "release 2023 is not in the series"),
])
def test_the_latest_or_an_unknown_release_is_refused(series, rid, message):
    before = snapshot(series)
    run = retire(series, rid)
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert run.stderr.startswith("senacs-kg series retire: refused: ") and message in run.stderr
    assert snapshot(series) == before


def test_a_release_whose_dump_cannot_be_read_is_not_retired(series):
    """Its subjects.txt gone and its gzipped dump cut: the resources cannot be listed, so
    the release is left as it was, in one line (no traceback, no temporary file left)."""
    (series / "2025" / "subjects.txt").unlink()
    packed = series / "2025" / "dataset.nt.gz"
    packed.write_bytes(packed.read_bytes()[:-5000])
    before = snapshot(series)
    run = retire(series, "2025")
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "dataset.nt.gz cannot be read" in run.stderr and "nothing was changed" in run.stderr
    assert snapshot(series) == before


def test_an_already_retired_release_is_refused(series):
    assert retire(series, "2024").returncode == 0
    before = snapshot(series)
    run = retire(series, "2024")
    assert run.returncode == 1
    assert run.stderr.startswith("senacs-kg series retire: refused: release 2024 was retired on ")
    assert snapshot(series) == before


def test_a_retirement_interrupted_after_series_json_is_finished_by_running_it_again(series,
                                                                                  pristine):
    """series.json says retired but a file is still there (the command died before removing
    it): running the command again removes it and leaves series.json as it is."""
    assert retire(series, "2024").returncode == 0
    shutil.copytree(pristine / "2024" / "tables", series / "2024" / "tables")
    listed = (series / "series.json").read_bytes()
    run = retire(series, "2024")
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("senacs-kg series retire: release 2024 finished retiring: "
                                 f"freed {human(all_bytes(pristine / '2024' / 'tables'))}")
    assert not (series / "2024" / "tables").exists()
    assert (series / "series.json").read_bytes() == listed


def test_another_build_holding_the_lock_makes_retire_refuse(series):
    before = snapshot(series)
    with (series / ".series.lock").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run = retire(series, "2024")
    assert run.returncode == 1 and "another build is publishing into" in run.stderr
    assert snapshot(series) == before


def test_a_folder_that_is_no_series_is_refused_and_left_as_it_was(tmp_path):
    run = retire(tmp_path, "2024")
    assert run.returncode == 1 and list(tmp_path.iterdir()) == []
    assert "no release series here (no series.json)" in run.stderr


def test_a_malformed_id_is_a_usage_error(series):
    run = retire(series, "24")
    assert run.returncode == 2 and "not a release id" in run.stderr


# -- serving a retired release -----------------------------------------------------------------


def wait_retired(root: str, ids: list[str], seconds: float = 30) -> dict:
    """/healthz once the server has read the retirement (it looks at series.json itself)."""
    deadline = time.monotonic() + seconds
    while True:
        health = requests.get(f"{root}/healthz", timeout=10).json()
        if health["series"]["retired"] == ids or time.monotonic() > deadline:
            return health
        time.sleep(0.2)


def path_of(iri: str) -> str:
    return iri[len(B):]


def links_of(response: requests.Response) -> dict[str, list[str]]:
    """The Link header as relation -> URIs."""
    found: dict[str, list[str]] = {}
    for uri, rel in ((link["url"], link.get("rel", "")) for link in
                     requests.utils.parse_header_links(response.headers.get("Link", ""))):
        for name in rel.split():
            found.setdefault(name, []).append(uri)
    return found


def mapped_deleted(pid: int, part: str) -> list[str]:
    """Files under ``part`` that process ``pid`` still maps or holds open once deleted."""
    try:
        maps, fds = Path(f"/proc/{pid}/maps").read_text(), list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # ended meanwhile: it holds nothing
        return []
    found = [line for line in maps.splitlines() if part in line and line.endswith("(deleted)")]
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if part in target and target.endswith("(deleted)"):
            found.append(target)
    return found


def still_held(pid: int, parts: list[str], seconds: float = 10) -> list[str]:
    """Deleted files under ``parts`` that the server or its query workers still hold, once
    they have let go of them (the server does it just after it switches series)."""
    deadline = time.monotonic() + seconds
    while True:
        found = [f for p in [pid, *(d.pid for d in descendants(pid))] for part in parts
                 for f in mapped_deleted(p, part)]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_a_served_series_answers_410_for_a_retired_release(series, tmp_path):
    held = {rid: actions_of(series / rid) for rid in IDS}
    everywhere = sorted(held["2024"] & held["2025"] & held["2026"])[0]
    lost_in_2026 = sorted((held["2024"] & held["2025"]) - held["2026"])
    only_2024 = sorted(held["2024"] - held["2025"] - held["2026"])
    assert lost_in_2026 and only_2024, "the campaigns lost no action in 2025 or 2026"
    stores = tmp_path / "stores"
    with series_server(series, stores, SERIES_CHECK_SECONDS=0.2) as (root, proc):
        page = requests.get(f"{root}/release/2025/{path_of(lost_in_2026[0])}", timeout=30)
        assert page.status_code == 200  # its store is open, its dump mapped
        gone = requests.get(f"{root}/{path_of(lost_in_2026[0])}", timeout=30)
        assert gone.status_code == 410 and links_of(gone)["last"] == \
            [f"/release/2025/{path_of(lost_in_2026[0])}"]

        run = retire(series, "2025", "--store", str(stores))
        assert run.returncode == 0, run.stderr
        health = wait_retired(root, ["2025"])
        assert health["series"]["retired"] == ["2025"]
        assert "2025" not in health["series"]["open_stores"]
        # the freed space is free: the server no longer maps its dump nor opens its store
        assert still_held(proc.pid, [str(series / "2025"), str(stores / "2025")]) == []

        # the release and every path under it: 410, linking its changeset and the releases
        for path in ("", "sparql", "catalog", "dumps/dataset.nt.gz", "dumps/manifest.json",
                     path_of(lost_in_2026[0])):
            answer = requests.get(f"{root}/release/2025/{path}", timeout=30)
            assert answer.status_code == 410, path
            assert answer.text.startswith("gone: release 2025 was retired on ")
            assert answer.text.count("\n") == 1
            links = links_of(answer)
            assert links["index"] == ["/release/"]
            assert "/release/2025/dumps/changes/summary.ttl" in links["related"]
        assert requests.post(f"{root}/release/2025/sparql", data={"query": "ASK {}"},
                             timeout=30).status_code == 410
        page = requests.get(f"{root}/release/2025/", headers={"Accept": "text/html"}, timeout=30)
        assert page.status_code == 410 and '<a href="/release/">' in page.text
        # its changeset stays, byte for byte
        for name in ("added.nt.gz", "removed.nt.gz", "summary.ttl"):
            answer = requests.get(f"{root}/release/2025/dumps/changes/{name}", timeout=30)
            assert answer.status_code == 200
            assert answer.content == (series / "2025" / "changes" / name).read_bytes()
        added = gzip.decompress((series / "2025" / "changes" / "added.nt.gz").read_bytes())
        assert added  # a real changeset, not an empty file
        # and what changed in it, as a page and as data
        changes = requests.get(f"{root}/release/2025/changes", headers={"Accept": "text/html"},
                               timeout=30)
        assert changes.status_code == 200 and "2024" in changes.text
        assert ">senacs:" not in changes.text  # fields named by the labels of its ontology
        turtle = requests.get(f"{root}/release/2025/changes", timeout=30,
                              headers={"Accept": "text/turtle"})
        assert turtle.status_code == 200
        assert turtle.content == (series / "2025" / "changes" / "summary.ttl").read_bytes()

        # the listing says it; the TimeMap and the TimeGate forget it
        listing = requests.get(f"{root}/release/", headers={"Accept": "application/json"},
                               timeout=30).json()["releases"]
        assert [r["retired"] for r in listing] == [None, dt.date.today().isoformat(), None]
        assert (listing[1]["sparql"], listing[1]["url"]) == (None, None)
        assert listing[1]["changes"] == [f"/release/2025/dumps/changes/{n}" for n in
                                         ("added.nt.gz", "removed.nt.gz", "summary.ttl")]
        html = requests.get(f"{root}/release/", headers={"Accept": "text/html"}, timeout=30)
        assert "retirée le" in html.text and 'href="/release/2025/"' not in html.text
        timemap = requests.get(f"{root}/timemap/{path_of(everywhere)}", timeout=30)
        assert "/release/2025/" not in timemap.text and "/release/2024/" in timemap.text
        choice = requests.get(f"{root}/{path_of(everywhere)}", allow_redirects=False, timeout=30,
                              headers={"Accept-Datetime": "Sun, 01 Jun 2025 12:00:00 GMT"})
        assert choice.status_code == 302 and choice.headers["Location"].startswith("/release/2024/")
        # gone from the latest: the last release still served that held it is linked
        gone = requests.get(f"{root}/{path_of(lost_in_2026[0])}", timeout=30)
        assert gone.status_code == 410
        assert links_of(gone)["last"] == [f"/release/2024/{path_of(lost_in_2026[0])}"]

        assert retire(series, "2024").returncode == 0
        assert wait_retired(root, ["2024", "2025"])["series"]["retired"] == ["2024", "2025"]
        # every release that held it retired: the 410 says so, and where its removal is told
        for iri, last, removed_in in ((lost_in_2026[0], "2025", "2026"),
                                      (only_2024[0], "2024", "2025")):
            gone = requests.get(f"{root}/{path_of(iri)}", timeout=30)
            assert gone.status_code == 410
            assert gone.text.startswith(f"gone: the latest release no longer holds this "
                                        f"resource; the last release that held it, {last}, "
                                        "was retired on ")
            assert links_of(gone)["related"] == [f"/release/{removed_in}/changes"]
            assert requests.get(f"{root}/timemap/{path_of(iri)}", timeout=30).status_code == 404
        unknown = requests.get(f"{root}/action/no-such-structure-31/nothing", timeout=30)
        assert unknown.status_code == 404
        first = requests.get(f"{root}/release/2024/", timeout=30)
        assert first.status_code == 410 and "it has no changeset" in first.text


def test_the_derived_dumps_count_as_dumps_gzipped_or_plain():
    """A series holds releases built before the dumps were gzipped only: their plain
    dataset.nt, dataset.ttl and dataset.jsonld are dumps too, in `series status` and
    retirement."""
    from mapping.series_admin import kind_of

    for name in ("dataset.nt", "dataset.nt.gz", "dataset.ttl.gz", "dataset.jsonld.gz",
                 "dataset.ttl", "dataset.jsonld"):
        assert kind_of(name) == "dumps", name
    assert kind_of("tables/actions.csv") == "tables" and kind_of("catalog.ttl") == "other"

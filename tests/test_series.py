"""`senacs-kg build --series DIR --release-id ID`: releases published into a series, atomically.

Real builds of generated campaigns (tests/campaigns.py) into a real series folder; what a reader
of the series relies on is checked: series.json (the only pointer), each release complete and
listed in it, each release after the first with its changeset in its manifest, and refusals
that change nothing.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

import pytest
from campaigns import first_campaign, next_campaign
from conftest import run_cli, senacs_kg
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, XSD

from mapping import release
from mapping.vocab import DEFAULT_BASE as B

RELEASE_FILES = {"manifest.json", "dataset.nt.gz", "dataset.ttl.gz", "dataset.jsonld.gz",
                 "subjects.txt", "catalog.ttl", "void.ttl"}
CHANGES = ["changes/added.nt.gz", "changes/removed.nt.gz", "changes/summary.ttl"]


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """Three campaigns' exports and the renames file that declares the second's rename."""
    folder = tmp_path_factory.mktemp("campaigns")
    first = first_campaign(40, seed=8, twins=3)
    second = next_campaign(first, removed=3, added=3, edited=3)
    third = next_campaign(second, seed=9, removed=2, added=2, edited=2)
    renames = folder / "renames.csv"
    rows = [f"{old},Haute-Garonne,{new},{since},the test's own declaration"
            for (old, new), since in ((second.renamed, "2025"), (third.renamed, "2026"))]
    renames.write_text("old_name,department,new_name,since,source\n" + "\n".join(rows) + "\n",
                       encoding="utf-8")
    return {"2024": first.write(folder / "senacs-2024.txt"),
            "2025": second.write(folder / "senacs-2025.txt"),
            "2026": third.write(folder / "senacs-2026.txt"), "renames": renames}


def publish(sources: dict[str, Path], series: Path, release_id: str, source: str | None = None,
            *options: str):
    return senacs_kg("build", str(sources[source or release_id]), "--series", str(series),
                     "--release-id", release_id, "--renames", str(sources["renames"]), *options)


@pytest.fixture(scope="module")
def series(sources, tmp_path_factory) -> Path:
    """A series of two releases, 2024 then 2025, each with its date."""
    folder = tmp_path_factory.mktemp("series") / "senacs"
    for release_id in ("2024", "2025"):
        run = publish(sources, folder, release_id, None, "--release-date", f"{release_id}-06-01")
        assert run.returncode == 0, run.stderr
        assert run.stderr.endswith(f"senacs-kg build: published {folder / release_id}\n")
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a series folder with its bytes (the lock file aside)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".series.lock"}


def test_the_series_lists_its_releases_each_after_the_previous(series):
    data = json.loads((series / "series.json").read_text())
    catalog = data.pop("catalog")  # the series' DCAT catalog (tests/test_series_catalog.py)
    assert data == {
        "format": 1,
        "releases": [{"id": "2024", "date": "2024-06-01", "previous": None},
                     {"id": "2025", "date": "2025-06-01", "previous": "2024"}],
        "latest": "2025"}
    assert catalog.startswith("catalogs/catalog-2025-") and (series / catalog).is_file()
    assert sorted(p.name for p in series.iterdir()) == [".series.lock", "2024", "2025",
                                                        "catalogs", "series.json"]


def test_each_release_is_complete_and_the_later_one_carries_its_changeset(series):
    first, second = series / "2024", series / "2025"
    for folder in (first, second):
        assert RELEASE_FILES <= {p.name for p in folder.iterdir()}
        assert release.verify(folder) == []  # every file, the changeset too, matches its manifest
    assert not (first / "changes").exists()
    one, two = release.read_manifest(first), release.read_manifest(second)
    assert one["series"] == {"id": "2024", "previous": None} and "changes" not in one
    assert two["series"] == {"id": "2025", "previous": "2024"}
    assert set(CHANGES) <= set(two["files"])
    changes = two["changes"]
    assert changes["previous"] == "2024" and changes["triples_added"] > 0
    assert changes["resources"]["action"] == {"added": 3, "removed": 3, "changed": changes[
        "resources"]["action"]["changed"]} and changes["resources"]["action"]["changed"] >= 3
    assert (one["release_date"], two["release_date"]) == ("2024-06-01", "2025-06-01")


def test_the_changeset_is_what_diff_writes(series, tmp_path):
    run = run_cli("diff", str(series / "2024"), str(series / "2025"), "--out", str(tmp_path))
    assert run.returncode == 0
    for name in CHANGES:
        assert (tmp_path / Path(name).name).read_bytes() == (series / "2025" / name).read_bytes()
    summary = Graph().parse(series / "2025" / "changes" / "summary.ttl", format="turtle")
    changeset = URIRef(B + "release/2025/changes")
    assert (changeset, RDF.type, URIRef(B + "def#Changeset")) in summary
    assert summary.value(changeset, URIRef(B + "def#fromRelease")) == URIRef(B + "release/2024/")
    assert summary.value(changeset, URIRef(B + "def#toRelease")) == URIRef(B + "release/2025/")
    assert summary.value(changeset, DCTERMS.issued) == Literal("2025-06-01", datatype=XSD.date)


def test_the_declared_rename_keeps_the_structures_iri_across_the_series(series):
    run = run_cli("diff", str(series / "2024"), str(series / "2025"))
    changed_structures = [line for line in run.stdout.splitlines()
                          if line.startswith("changed structure ")]
    assert len(changed_structures) == 1 and "schema:name" in changed_structures[0]
    assert not [line for line in run.stdout.splitlines()
                if line.startswith(("added structure", "removed structure"))]


@pytest.mark.parametrize("release_id, message", [
    ("2025", "release 2025 is already in the series"),
    ("2023", "release 2023 sorts before the latest release 2025"),
])
def test_an_existing_or_earlier_id_is_refused_and_nothing_changes(series, sources, release_id,
                                                                   message):
    before = snapshot(series)
    run = publish(sources, series, release_id, "2025")
    assert run.returncode == 1
    assert run.stderr == f"senacs-kg build: refused: {run.stderr.split('refused: ', 1)[1]}"
    assert run.stderr.count("\n") == 1 and message in run.stderr
    assert snapshot(series) == before


def test_another_build_holding_the_lock_makes_a_publication_wait_for_nothing(series, sources):
    before = snapshot(series)
    with (series / ".series.lock").open("a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run = publish(sources, series, "2026")
    assert run.returncode == 1 and "another build is publishing into" in run.stderr
    assert snapshot(series) == before


@pytest.mark.parametrize("options, message", [
    (["--out", "x", "--series", "s", "--release-id", "2025"], "--out and --series exclude each other"),
    (["--release-id", "2025"], "--series DIR and --release-id ID go together"),
    (["--series", "s"], "--series DIR and --release-id ID go together"),
    (["--series", "s", "--release-id", "25"], "not a release id"),
    (["--series", "s", "--release-id", "../2025"], "not a release id"),
])
def test_series_options_misused_are_usage_errors(sources, tmp_path, options, message):
    run = run_cli("build", str(sources["2024"]),
                  *[str(tmp_path / o) if o in ("x", "s") else o for o in options])
    assert run.returncode == 2 and message in run.stderr
    assert not any(tmp_path.iterdir())


def test_later_releases_follow_the_latest_and_an_unlisted_leftover_is_replaced(series, sources,
                                                                             tmp_path):
    copy = tmp_path / "series"
    shutil.copytree(series, copy)
    # a publication of 2026 that died after its rename, before series.json was replaced
    shutil.copytree(copy / "2025", copy / "2026")
    manifest = json.loads((copy / "2026" / "manifest.json").read_text())
    manifest["series"] = {"id": "2026", "previous": "2025"}
    (copy / "2026" / "manifest.json").write_text(json.dumps(manifest))
    assert json.loads((copy / "series.json").read_text())["latest"] == "2025"
    run = publish(sources, copy, "2026")
    assert run.returncode == 0, run.stderr
    assert release.read_manifest(copy / "2026")["changes"]["previous"] == "2025"
    assert release.verify(copy / "2026") == []
    run = publish(sources, copy, "2026-2", "2026")  # the same campaign again, a second export
    assert run.returncode == 0, run.stderr
    data = json.loads((copy / "series.json").read_text())
    assert [(r["id"], r["previous"]) for r in data["releases"]] == [
        ("2024", None), ("2025", "2024"), ("2026", "2025"), ("2026-2", "2026")]
    assert data["latest"] == "2026-2"
    assert release.read_manifest(copy / "2026-2")["changes"]["triples_added"] == 0
    assert not [p for p in copy.iterdir() if p.name.startswith(".") and p.name != ".series.lock"]


def test_a_folder_that_is_not_ours_is_never_removed(series, sources, tmp_path):
    copy = tmp_path / "series"
    shutil.copytree(series, copy)
    (copy / "2026").mkdir()
    (copy / "2026" / "notes.txt").write_text("mine")
    run = publish(sources, copy, "2026")
    assert run.returncode == 1 and "exists and is no release of this series" in run.stderr
    assert (copy / "2026" / "notes.txt").read_text() == "mine"


def test_a_refused_build_publishes_nothing_into_the_series(series, sources, tmp_path):
    copy = tmp_path / "series"
    shutil.copytree(series, copy)
    before = snapshot(copy)
    broken = tmp_path / "broken.txt"
    broken.write_bytes(sources["2026"].read_bytes().replace(b"- Statut de l'action\n- ",
                                                            b"- Statut de l'action\n", 1))
    run = senacs_kg("build", str(broken), "--series", str(copy), "--release-id", "2026")
    assert run.returncode == 1 and "refused" in run.stderr
    assert not (copy / "2026").exists()
    assert {k: v for k, v in snapshot(copy).items() if not k.startswith("2026.refused/")} \
        == before
    run = senacs_kg("build", str(sources["2026"]), "--series", str(copy), "--release-id",
                    "2026", "--base", "https://example.org/kg/")
    assert run.returncode == 1 and "IRIs must not change within a series" in run.stderr
    assert not (copy / "2026").exists()


def test_the_single_release_mode_is_unchanged(sources, tmp_path):
    run = senacs_kg("build", str(sources["2024"]), "--out", str(tmp_path / "release"))
    assert run.returncode == 0, run.stderr
    manifest = release.read_manifest(tmp_path / "release")
    assert "series" not in manifest and "changes" not in manifest
    assert not (tmp_path / "release" / "changes").exists()

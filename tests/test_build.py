"""The release build as users run it: `senacs-kg build` and `validate` in real subprocesses."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pyoxigraph as ox
import pytest
from conftest import SEED, dump_bytes, dump_text, generate_export, run_cli, senacs_kg

from mapping import release, vocab


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def seed_release(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "seed"
    run = senacs_kg("build", str(SEED), "--out", str(out), "--release-date", "2026-11-24")
    assert run.returncode == 0, run.stderr
    return out


def test_release_holds_every_promised_file(seed_release):
    names = set(snapshot(seed_release))
    assert {"dataset.nt.gz", "dataset.ttl.gz", "dataset.jsonld.gz", "subjects.txt",
            "manifest.json", "build-report.json", "summary.txt", "shacl-report.ttl",
            "ontology/senacs.ttl", "ontology/schemes.ttl", "ontology/form.ttl",
            "shapes/senacs.shapes.ttl"} <= names
    assert not [n for n in names if n.startswith(".")]  # no work files left behind
    assert not names & {"dataset.nt", "dataset.ttl", "dataset.jsonld"}  # gzipped only


def test_the_canonical_dump_is_one_gzip_stream_named_by_its_content(seed_release):
    """dataset.nt.gz is the reference file: one gzip member (what browsers and every gzip
    reader decode whole), reproducible header, and its content's sha256 the release's id, as
    the plain dataset.nt's was; subjects.txt lists its IRI subjects (hash IRIs aside)."""
    manifest = json.loads((seed_release / "manifest.json").read_text(encoding="utf-8"))
    packed = (seed_release / "dataset.nt.gz").read_bytes()
    assert packed[:10] == bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF])
    reader = zlib.decompressobj(zlib.MAX_WBITS | 16)
    content = reader.decompress(packed)
    assert reader.eof and reader.unused_data == b""
    entry = manifest["files"]["dataset.nt.gz"]
    assert entry["decoded"] == {"sha256": hashlib.sha256(content).hexdigest(),
                                "bytes": len(content)}
    assert manifest["release"] == entry["decoded"]["sha256"][:16]
    assert entry["blocks"] == [[10, 0]]  # the seed is smaller than a block
    subjects = [line.split(" ", 1)[0] for line in content.decode("utf-8").splitlines()]
    listed = (seed_release / "subjects.txt").read_text(encoding="utf-8").splitlines()
    assert listed == sorted(set(s for s in subjects if s.startswith("<") and "#" not in s))
    assert "<https://w3id.org/senacs-kg/structure/mjc-jacques-prevert-31>" in listed


def test_canonical_dump_is_sorted_unique_and_matches_the_other_formats(seed_release):
    lines = dump_text(seed_release).splitlines(keepends=True)
    assert lines == sorted(set(lines))
    assert gzip.decompress((seed_release / "dataset.nt.gz").read_bytes()) == \
        dump_bytes(seed_release)
    canonical = {str(t) for t in ox.parse(dump_bytes(seed_release), format=ox.RdfFormat.N_TRIPLES)}
    assert len(canonical) == len(lines)
    for name, fmt in (("dataset.ttl.gz", ox.RdfFormat.TURTLE),
                      ("dataset.jsonld.gz", ox.RdfFormat.JSON_LD)):
        content = gzip.decompress((seed_release / name).read_bytes())
        assert {str(t) for t in ox.parse(content, format=fmt)} == canonical, name


def test_derived_formats_are_gzipped_with_the_content_they_had_plain(seed_release):
    """dataset.ttl.gz and dataset.jsonld.gz decode to exactly what dataset.ttl and
    dataset.jsonld held before they were published gzipped only (the canonical dump
    serialized with the project's prefixes), with a reproducible gzip header (no timestamp,
    no file name) and their content's sha256 and size in the manifest."""
    manifest = json.loads((seed_release / "manifest.json").read_text(encoding="utf-8"))
    triples = list(ox.parse(dump_bytes(seed_release), format=ox.RdfFormat.N_TRIPLES))
    for name, fmt in (("dataset.ttl.gz", ox.RdfFormat.TURTLE),
                      ("dataset.jsonld.gz", ox.RdfFormat.JSON_LD)):
        packed = (seed_release / name).read_bytes()
        assert packed[:10] == bytes([0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]), name  # FLG, MTIME 0
        content = gzip.decompress(packed)
        assert content == ox.serialize(triples, format=fmt,
                                       prefixes=vocab.prefixes(manifest["base"])), name
        assert manifest["files"][name]["decoded"] == {
            "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}, name
        assert manifest["files"][name]["bytes"] == len(packed) < len(content)


def test_manifest_lists_every_file_with_its_checksum(seed_release):
    manifest = json.loads((seed_release / "manifest.json").read_text(encoding="utf-8"))
    assert release.verify(seed_release) == []
    assert set(manifest["files"]) == set(snapshot(seed_release)) - {"manifest.json"}
    assert manifest["inputs"][0]["name"] == SEED.name and manifest["inputs"][0]["records"] == 25
    assert manifest["triples"] == len(dump_bytes(seed_release).splitlines())
    assert manifest["release_date"] == "2026-11-24"
    assert {"senacs-kg", "python", "rdflib", "pyoxigraph", "pyshacl"} <= set(manifest["tools"])


def test_build_report_counts_and_lists(seed_release):
    report = json.loads((seed_release / "build-report.json").read_text(encoding="utf-8"))
    assert report["records"] == 25
    assert report["input_problems"] == [] and report["new_vocabulary"] == []
    assert report["counts"]["classes"]["<https://w3id.org/senacs-kg/def#Action>"] == 25
    assert report["extraction"]["amounts"] == 27 and report["extraction"]["start_dates"] == 10
    assert report["validation"] == {"engine": "sparql", "violations": 0, "warnings": 5,
                                    "by_shape": {"Structure-commune-present":
                                                 {"violations": 0, "warnings": 5}}}
    summary = (seed_release / "summary.txt").read_text(encoding="utf-8")
    assert f"{SEED.name}:287: <https://w3id.org/senacs-kg/structure/mjc-jacques-prevert-31>" \
        in summary


def test_same_inputs_give_a_byte_identical_release(seed_release, tmp_path):
    again = tmp_path / "again"
    run = senacs_kg("build", str(SEED), "--out", str(again), "--release-date", "2026-11-24")
    assert run.returncode == 0, run.stderr
    assert snapshot(again) == snapshot(seed_release)


def test_export_text_and_validate_read_the_release(seed_release):
    run = subprocess.run([sys.executable, "-m", "mapping.cli", "export-text", str(seed_release)],
                         capture_output=True, timeout=120)
    assert run.returncode == 0 and run.stdout == SEED.read_bytes()
    valid = run_cli("validate", str(seed_release))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.startswith("0 violation(s), 5 warning(s)")


def test_small_batches_validate_like_one(seed_release, tmp_path):
    # batches of 4 records: the source file is described only in the last one
    run = senacs_kg("build", str(SEED), "--out", str(tmp_path / "r"), "--batch-size", "4",
                    "--release-date", "2026-11-24")
    assert run.returncode == 0, run.stderr
    assert snapshot(tmp_path / "r") == snapshot(seed_release)


def test_progress_is_silent_when_not_a_terminal(seed_release, tmp_path):
    run = senacs_kg("build", str(SEED), "--out", str(tmp_path / "r"))
    assert "\r" not in run.stderr and "records/s" not in run.stderr
    assert run.stderr.splitlines()[-1] == f"senacs-kg build: published {tmp_path / 'r'}"


# -- refusals --------------------------------------------------------------------------------


@pytest.fixture
def broken_export(tmp_path, seed_text) -> Path:
    """The seed with one record missing its status value: an input error and a violation."""
    path = tmp_path / "broken.txt"
    path.write_text(seed_text.replace("- Statut de l'action\n- En cours\n",
                                      "- Statut de l'action\n", 1), encoding="utf-8")
    return path


def test_input_errors_refuse_the_build_and_keep_the_previous_release(
        seed_release, broken_export, tmp_path):
    out = tmp_path / "rel"
    assert senacs_kg("build", str(SEED), "--out", str(out)).returncode == 0
    before = snapshot(out)
    run = senacs_kg("build", str(broken_export), "--out", str(out))
    assert run.returncode == 1
    assert "refused" in run.stderr and "input error" in run.stderr
    assert snapshot(out) == before
    summary = (tmp_path / "rel.refused" / "summary.txt").read_text(encoding="utf-8")
    assert "broken.txt:" in summary and "expected a value line" in summary


def test_shacl_violations_refuse_the_build(broken_export, tmp_path):
    out = tmp_path / "rel"
    run = senacs_kg("build", str(broken_export), "--out", str(out), "--allow-input-errors")
    assert run.returncode == 1 and "SHACL violation" in run.stderr
    assert not out.exists()
    summary = (tmp_path / "rel.refused" / "summary.txt").read_text(encoding="utf-8")
    assert "Action-status (Violation, 1)" in summary
    assert "broken.txt:" in summary.split("Action-status (Violation, 1)")[1].splitlines()[1]
    report = (tmp_path / "rel.refused" / "shacl-report.ttl").read_text(encoding="utf-8")
    assert "sh:MinCountConstraintComponent" in report


def test_validate_names_offending_records_and_exits_1(tmp_path, seed_release):
    data = dump_text(seed_release)
    action = "<https://w3id.org/senacs-kg/action/partage-31-31/"
    kept = [line for line in data.splitlines(keepends=True)
            if not (line.startswith(action) and "/def#status>" in line)]
    path = tmp_path / "broken.nt"
    path.write_text("".join(kept), encoding="utf-8")
    run = run_cli("validate", str(path))
    assert run.returncode == 1
    assert "Action-status (Violation, 1)" in run.stdout
    assert f"{SEED.name}:90: {action}" in run.stdout


def test_validate_detects_a_damaged_release(seed_release, tmp_path):
    copy = tmp_path / "copy"
    for name, data in snapshot(seed_release).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    with (copy / "dataset.ttl.gz").open("ab") as handle:
        handle.write(b"# tampered\n")
    run = run_cli("validate", str(copy))
    assert run.returncode == 2
    assert "damaged" in run.stderr and "dataset.ttl.gz" in run.stderr


@pytest.mark.parametrize("name", ["dataset.ttl.gz", "dataset.jsonld.gz", "dataset.nt.gz"])
def test_validate_reads_the_gzipped_dumps_as_the_n_triples(name, seed_release, tmp_path):
    """The release publishes Turtle and JSON-LD gzipped only: validate reads them as they are."""
    plain_file = tmp_path / "dataset.nt"
    plain_file.write_bytes(dump_bytes(seed_release))
    plain = run_cli("validate", str(plain_file))
    packed = run_cli("validate", str(seed_release / name))
    assert packed.returncode == plain.returncode == 0
    assert packed.stdout == plain.stdout and "0 violation(s), 5 warning(s)" in packed.stdout


def test_validate_usage_errors(tmp_path):
    assert run_cli("validate", str(tmp_path / "none.nt")).returncode == 2
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle", encoding="utf-8")
    run = run_cli("validate", str(bad))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    for name, data in (("plain.ttl.gz", b"@prefix not gzip"),
                       ("garbage.ttl.gz", gzip.compress(b"this is not turtle"))):
        (tmp_path / name).write_bytes(data)
        run = run_cli("validate", str(tmp_path / name))
        assert run.returncode == 2 and "not readable as Turtle" in run.stderr
        assert "Traceback" not in run.stderr


# -- interruption ----------------------------------------------------------------------------


def test_kill_9_during_a_build_leaves_the_previous_release(tmp_path):
    out = tmp_path / "rel"
    assert senacs_kg("build", str(SEED), "--out", str(out)).returncode == 0
    before = snapshot(out)
    big = generate_export(4000, 9, tmp_path / "big.txt")
    proc = subprocess.Popen([sys.executable, "-m", "mapping.cli", "build", str(big),
                             "--out", str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".rel.building-*/.work")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # mapping and validating are under way
    assert proc.poll() is None, "the build ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert snapshot(out) == before
    assert list(tmp_path.glob(".rel.building-*"))  # the interrupted work is still there…
    run = senacs_kg("build", str(SEED), "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert not list(tmp_path.glob(".rel.building-*"))  # …and the next build clears it
    assert snapshot(out) == before

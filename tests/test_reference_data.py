"""The reference data is what scripts/update_reference.py derives from the official package.

``.ci/run`` fetches the package tarball named in ``data/reference/source.json`` with
``npm pack`` and names it in ``COG_TARBALL``; the regeneration test needs it. Without
it (a machine with no npm) that one test is skipped and says so; the checksum tests
still hold the committed files to what the script wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mapping.paths import REFERENCE_DIR, REPO_ROOT
from mapping.reference import OVERRIDES, Reference, read_rows

SOURCE = json.loads((REFERENCE_DIR / "source.json").read_text(encoding="utf-8"))


def test_the_committed_files_are_those_the_script_wrote():
    for name, digest in SOURCE["files"].items():
        assert hashlib.sha256((REFERENCE_DIR / name).read_bytes()).hexdigest() == digest, name
    assert SOURCE["package"] == "@etalab/decoupage-administratif"
    assert SOURCE["vintage"] == 2026 and SOURCE["version"] == "6.0.0"


@pytest.mark.skipif(not os.environ.get("COG_TARBALL"),
                    reason="COG_TARBALL not set (.ci/run sets it with npm pack)")
def test_the_script_regenerates_the_same_files_from_the_tarball(tmp_path):
    tarball = Path(os.environ["COG_TARBALL"])
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == SOURCE["tarball_sha256"]
    done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "update_reference.py"),
                           str(tarball), "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in [*SOURCE["files"], "source.json"]:
        assert (tmp_path / name).read_bytes() == (REFERENCE_DIR / name).read_bytes(), name


def test_a_file_that_is_not_the_package_is_refused_in_one_line(tmp_path):
    bogus = tmp_path / "bogus.tgz"
    bogus.write_bytes(b"not a tarball")
    done = subprocess.run([sys.executable, str(REPO_ROOT / "scripts" / "update_reference.py"),
                           str(bogus), "--out", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 1 and not (tmp_path / "out").exists()
    assert done.stderr.startswith(f"update_reference: {bogus}: not a readable npm package")
    assert "Traceback" not in done.stderr


def test_no_official_code_is_typed_by_hand_and_every_override_says_its_source():
    for path in sorted((REFERENCE_DIR / OVERRIDES).glob("*.csv")):
        for row in read_rows(path):
            said = row.get("source") or row.get("evidence")
            assert said and said.strip(), (path.name, row)
            codes = {k: v for k, v in row.items() if k not in ("source", "evidence")
                     and re.fullmatch(r"\d[\dAB]\d{2,3}|\d{9}", v or "")}
            # a SIREN no official file of data/reference gives, and only with its source
            assert set(codes) <= {"siren"}, (path.name, codes)


def test_every_department_and_region_of_france_is_known():
    reference = Reference.load()
    codes = {d.code for d in reference.departments.values()}
    assert {"01", "2A", "2B", "31", "75", "93", "971", "972", "973", "974", "976"} <= codes
    assert reference.regions["76"].name == "Occitanie" and len(reference.epcis) == 1255
    assert reference.department("Réunion").code == "974"
    assert reference.department("HAUTE GARONNE").of_name == "de la Haute-Garonne"
    toulouse = reference.communes["31555"]
    assert (toulouse.siren, reference.epcis[toulouse.epci].kind) == ("213105554", "METRO")

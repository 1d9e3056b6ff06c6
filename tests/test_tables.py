"""The release's tables as portals, spreadsheets and data frames read them: the files, their two
descriptions (Frictionless Table Schema, CSV on the Web), the spreadsheet rule, the catalog's
distributions, the downloads at /dumps/, and the README's examples run as written."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SEED, build_release
from csvw import TableGroup
from frictionless import validate
from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF

from mapping.paths import REPO_ROOT
from mapping.tables import TABLES, spreadsheet_safe

B = "https://w3id.org/senacs-kg/"
SPDX = "http://spdx.org/rdf/terms#"
DATA_FILES = [f"tables/{t.name}.{fmt}" for t in TABLES for fmt in ("csv", "parquet")]


@pytest.fixture(scope="module")
def tables(release_dir) -> Path:
    return release_dir / "tables"


def test_every_table_is_in_the_release_and_its_manifest(release_dir):
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    described = ["tables/datapackage.json", "tables/csv-metadata.json",
                 *(f"tables/schemas/{t.name}.json" for t in TABLES)]
    for name in [*DATA_FILES, *described]:
        assert name in manifest["files"], name
        assert manifest["files"][name]["bytes"] == (release_dir / name).stat().st_size
    assert manifest["files"]["tables/actions.parquet"]["bytes"] > 0
    assert {t.name for t in TABLES} == {"actions", "structures", "structure_communes", "bodies",
                                        "action_partners", "action_concepts"}


def test_frictionless_validate_passes_on_the_data_package(tables):
    report = validate(tables / "datapackage.json")
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert [task.stats["rows"] for task in report.tasks] == [
        pq.read_metadata(tables / f"{t.name}.parquet").num_rows for t in TABLES]


def _rewrite(folder: Path, table: str, change) -> None:
    """Change a CSV and its size and hash in the package, so that only the change is an error."""
    from mapping.release import file_digest

    path = folder / f"{table}.csv"
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8", newline="")
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    digest, size = file_digest(path)
    for resource in package["resources"]:
        if resource["name"] == table:
            resource["hash"], resource["bytes"] = f"sha256:{digest}", size
    (folder / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")


def test_the_package_catches_a_broken_key_a_wrong_type_and_an_unknown_value(tables, tmp_path):
    folder = tmp_path / "tables"
    shutil.copytree(tables, folder)
    _rewrite(folder, "action_partners",
             lambda text: text.replace(f"{B}organisation/caf-31", f"{B}organisation/caf-99", 1))
    _rewrite(folder, "actions", lambda text: text.replace(",451,502,", ",451,cinq-cent-deux,", 1))
    _rewrite(folder, "action_concepts", lambda text: text.replace('"Adultes"', '"Martiens"', 1))
    report = validate(folder / "datapackage.json")
    errors = {(e[0], e[1]) for e in report.flatten(["type", "fieldName"])}
    assert errors == {("foreign-key", None), ("type-error", "last_line"),
                      ("constraint-error", "label")}


def test_a_changed_byte_fails_the_packages_hash(tables, tmp_path):
    folder = tmp_path / "tables"
    shutil.copytree(tables, folder)
    path = folder / "bodies.csv"
    path.write_bytes(path.read_bytes().replace(b"Toulouse", b"Toulouze", 1))
    assert "hash-count" in {e[0] for e in validate(folder / "datapackage.json").flatten(["type"])}


def test_the_csvw_library_reads_every_table_with_its_types(tables):
    group = TableGroup.from_file(tables / "csv-metadata.json")
    assert [t.url.string for t in group.tables] == [f"{t.name}.csv" for t in TABLES]
    rows = {t.url.string: list(t.iterdicts()) for t in group.tables}
    actions = {r["action_iri"].unsplit(): r for r in rows["actions.csv"]}
    assert len(actions) == 25
    alpha = actions[f"{B}action/alliances-et-cultures-mirail-u-pradettes-31/alpha-code"]
    assert (alpha["first_line"], alpha["last_line"], alpha["participants_max"]) == (451, 502, 103)
    assert alpha["status"] == "En cours" and alpha["budget_total"] is None
    budgets = [r["budget_total"] for r in actions.values() if r["budget_total"] is not None]
    assert budgets and all(isinstance(b, Decimal) for b in budgets)
    assert all(isinstance(r["first_line"], int) for r in actions.values())
    assert group.check_referential_integrity()


def test_csvw_refuses_a_value_of_the_wrong_type(tables, tmp_path):
    folder = tmp_path / "tables"
    shutil.copytree(tables, folder)
    path = folder / "structures.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][rows[0].index("commune_count")] = "un"
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out, lineterminator="\r\n").writerows(rows)
    table = next(t for t in TableGroup.from_file(folder / "csv-metadata.json").tables
                 if t.url.string == "structures.csv")
    with pytest.raises(ValueError):
        list(table.iterdicts(strict=True))


def test_parquet_has_the_same_columns_with_their_logical_types(tables):
    for table in TABLES:
        schema = pq.read_schema(tables / f"{table.name}.parquet")
        header = (tables / f"{table.name}.csv").read_bytes().decode("utf-8").split("\r\n", 1)[0]
        assert schema.names == header.split(",") == table.names
    actions = pq.read_schema(tables / "actions.parquet")
    assert str(actions.field("budget_total").type) == "decimal128(18, 2)"
    assert str(actions.field("first_line").type) == "int64"
    assert str(actions.field("summary").type) == "string"
    assert actions.field("budget_total").metadata[b"title"].decode() == "Budget total (euros)"


def test_csv_files_are_utf8_rfc4180(tables):
    data = (tables / "actions.csv").read_bytes()
    text = data.decode("utf-8")
    assert text.endswith("\r\n") and "l’associ" in text  # typographic apostrophes kept
    assert not data.startswith(b"\xef\xbb\xbf")  # no byte-order mark


# -- spreadsheets ---------------------------------------------------------------------------------

def test_the_spreadsheet_rule():
    assert spreadsheet_safe("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    for risky in ("+33 5 61", "-- liste", "@cmd", "\tx", "\rx", "'déjà"):
        assert spreadsheet_safe(risky) == "'" + risky
        assert spreadsheet_safe(risky)[1:] == risky  # one apostrophe off gives the text back
    assert spreadsheet_safe("Ateliers = partage") == "Ateliers = partage"


def test_csv_cells_are_spreadsheet_safe_and_parquet_keeps_the_text(tmp_path):
    text = SEED.read_text(encoding="utf-8").replace("\n- Résumé\n", "\n- Résumé\n=1+1 ", 1)
    source = tmp_path / SEED.name
    source.write_text(text, encoding="utf-8")
    release = build_release(source, tmp_path / "release")
    kept = pq.read_table(release / "tables" / "actions.parquet").to_pylist()
    with (release / "tables" / "actions.csv").open(encoding="utf-8", newline="") as handle:
        cells = list(csv.DictReader(handle))
    assert any(r["summary"] and r["summary"].startswith("=1+1 ") for r in kept)
    escaped = 0
    for row, written in zip(kept, cells, strict=True):
        for name, value in row.items():
            if isinstance(value, str):
                assert written[name] == spreadsheet_safe(value)
                escaped += written[name] != value
    assert escaped >= 10  # the formula, and the texts that start with "- "


# -- catalog and downloads ------------------------------------------------------------------------

def test_each_table_file_is_a_distribution_conforming_to_its_schema(release_dir):
    catalog = Graph().parse(release_dir / "catalog.ttl")
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    dataset = URIRef(B + "dataset")
    by_url = {str(catalog.value(d, DCAT.downloadURL)): d
              for d in catalog.objects(dataset, DCAT.distribution)}
    media = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
    for name in DATA_FILES:
        dist = by_url[f"{B}dumps/{name}"]
        assert str(catalog.value(dist, DCAT.mediaType)) == \
            "http://www.iana.org/assignments/media-types/" + media[name.rsplit(".", 1)[1]]
        assert int(catalog.value(dist, DCAT.byteSize)) == manifest["files"][name]["bytes"]
        checksum = catalog.value(dist, URIRef(SPDX + "checksum"))
        assert str(catalog.value(checksum, URIRef(SPDX + "checksumValue"))) == \
            manifest["files"][name]["sha256"]
        schema = catalog.value(dist, DCTERMS.conformsTo)
        table = name.split("/")[1].rsplit(".", 1)[0]
        assert str(schema) == f"{B}dumps/tables/schemas/{table}.json"
        assert (schema, RDF.type, DCTERMS.Standard) in catalog
        assert f"tables/schemas/{table}.json" in manifest["files"]


def test_the_tables_are_downloads_with_their_media_types(client, release_dir):
    for name, media in (("tables/actions.csv", "text/csv; charset=utf-8"),
                        ("tables/actions.parquet", "application/vnd.apache.parquet"),
                        ("tables/datapackage.json", "application/json"),
                        ("tables/schemas/bodies.json", "application/json")):
        with client.get(f"/dumps/{name}") as response:
            assert response.status_code == 200, name
            assert response.headers["Content-Type"] == media
            assert response.data == (release_dir / name).read_bytes()
    with client.get("/dumps/tables/actions.parquet", headers={"Range": "bytes=0-3"}) as part:
        assert part.status_code == 206 and part.data == b"PAR1"


def test_the_home_page_offers_the_tables(client):
    page = client.get("/").get_data(as_text=True)
    for name in DATA_FILES:
        assert f'href="/dumps/{name}"' in page
    assert 'href="/dumps/tables/datapackage.json"' in page
    assert 'href="/dumps/tables/csv-metadata.json"' in page


# -- the README's examples, run as written --------------------------------------------------------

def _readme_examples() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Tables\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readmes_duckdb_and_pandas_examples_run_on_a_release(release_dir, monkeypatch):
    examples = _readme_examples()
    assert [("duckdb" in e, "pandas" in e) for e in examples] == [(True, False), (False, True)]
    monkeypatch.chdir(release_dir)
    for code in examples:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {})  # noqa: S102 - the README's own code
        assert len(out.getvalue().splitlines()) >= 3, out.getvalue()

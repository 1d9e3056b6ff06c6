"""``senacs-kg serve --series``: every release of a series from one server on 127.0.0.1, the
latest at the plain IRIs, each one pinned under /release/{id}/ (endpoint/series.py).

The series is three campaigns built from the seed by today's ``senacs-kg build --out``
(tests/serve_series_helper.py): 25, 24 and 23 actions in 2023, 2024 and 2025.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import time

import pytest
import requests
from conftest import SEED, descendants, free_port, run_cli, senacs_kg
from rdflib import Graph
from serve_series_helper import series_server, shared_series, write_series
from SPARQLWrapper import JSON, SPARQLWrapper

ACTIONS = {"2023": 25, "2024": 24, "2025": 23}
COUNT = "SELECT (COUNT(?a) AS ?n) WHERE { ?a a <https://w3id.org/senacs-kg/def#Action> }"


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    return shared_series(SEED, tmp_path_factory.mktemp)


@pytest.fixture(scope="module")
def site(series, tmp_path_factory):
    with series_server(series.folder, tmp_path_factory.mktemp("series-store")) as (root, _):
        yield root


def count(endpoint: str, query: str = COUNT) -> int:
    """The number of actions, asked with SPARQLWrapper as a researcher would."""
    client = SPARQLWrapper(endpoint)
    client.setQuery(query)
    client.setReturnFormat(JSON)
    result = client.query()
    try:
        return int(result.convert()["results"]["bindings"][0]["n"]["value"])
    finally:
        result.response.close()


def test_each_release_answers_its_own_sparql_and_the_latest_the_plain_one(site):
    for release_id, actions in ACTIONS.items():
        assert count(f"{site}/release/{release_id}/sparql") == actions
    assert count(f"{site}/sparql") == ACTIONS["2025"]


def test_the_same_query_is_cached_per_release(site):
    """The answer caches' keys name the release: the second time, each answer is a hit,
    and each is still its own release's."""
    query = COUNT + " # cached per release"
    for _ in range(2):
        seen = {}
        for release_id in ACTIONS:
            response = requests.get(f"{site}/release/{release_id}/sparql", params={"query": query},
                                    headers={"Accept": "application/sparql-results+json"},
                                    timeout=30)
            assert response.status_code == 200
            seen[release_id] = int(response.json()["results"]["bindings"][0]["n"]["value"])
        assert seen == ACTIONS
    assert response.headers["X-Cache"] == "hit"


def test_the_releases_are_listed_for_programs_and_people(site, series):
    listed = requests.get(f"{site}/release/", headers={"Accept": "application/json"}, timeout=30)
    assert listed.status_code == 200 and listed.headers["Content-Type"] == "application/json"
    data = listed.json()
    assert data["latest"] == "2025"
    assert [(r["id"], r["date"], r["previous"]) for r in data["releases"]] == [
        ("2023", "2023-06-01", None), ("2024", "2024-06-01", "2023"), ("2025", None, "2024")]
    first = data["releases"][0]
    assert first["sparql"] == "/release/2023/sparql"
    assert first["triples"] == json.loads((series.folder / "2023/manifest.json").read_text())[
        "triples"]
    assert data["releases"][1]["changes"] == [
        "/release/2024/dumps/changes/added.nt.gz", "/release/2024/dumps/changes/removed.nt.gz",
        "/release/2024/dumps/changes/summary.ttl"]
    page = requests.get(f"{site}/release/", headers={"Accept": "text/html"}, timeout=30)
    assert page.headers["Content-Type"].startswith("text/html")
    for release_id in ACTIONS:
        assert f'href="/release/{release_id}/sparql"' in page.text
    assert requests.get(f"{site}/release", timeout=30).url.endswith("/release/")


def test_a_pinned_release_serves_its_files_catalog_and_changes(site, series):
    folder = series.folder / "2024"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    dump = requests.get(f"{site}/release/2024/dumps/dataset.nt", timeout=30)
    assert dump.status_code == 200
    assert hashlib.sha256(dump.content).hexdigest() == \
        manifest["files"]["dataset.nt.gz"]["decoded"]["sha256"]  # requests decoded the gzip
    added = requests.get(f"{site}/release/2024/dumps/changes/added.nt.gz", timeout=30)
    assert added.status_code == 200
    assert added.content == (folder / "changes/added.nt.gz").read_bytes()
    catalog = requests.get(f"{site}/release/2023/catalog", timeout=30)
    assert catalog.headers["Content-Type"].startswith("text/turtle")
    assert catalog.content == (series.folder / "2023/catalog.ttl").read_bytes()
    assert len(Graph().parse(data=catalog.text, format="turtle")) > 0
    # the latest's files at /dumps/, as --release serves them
    latest = requests.get(f"{site}/dumps/manifest.json", timeout=30).json()
    assert latest["release"] == json.loads((series.folder / "2025/manifest.json").read_text())[
        "release"]


def test_pinned_pages_link_their_own_release(site, series):
    home = requests.get(f"{site}/release/2023/", headers={"Accept": "text/html"}, timeout=30)
    assert home.status_code == 200
    assert 'href="/release/2023/sparql"' in home.text and "Publication 2023" in home.text
    action = series.only_in("2023", "2024", "2025")
    path = action.split("/senacs-kg/", 1)[1]
    page = requests.get(f"{site}/release/2023/{path}", headers={"Accept": "text/html"},
                        timeout=30)
    assert page.status_code == 200
    structures = re.findall(r'href="(/[^"]*structure/[^"]*)"', page.text)
    assert structures and all(s.startswith("/release/2023/structure/") for s in structures)
    plain = requests.get(f"{site}/{path}", headers={"Accept": "text/html"}, timeout=30)
    assert re.findall(r'href="(/structure/[^"]*)"', plain.text)  # the latest links the plain IRIs
    query_page = requests.get(f"{site}/release/2024/sparql", headers={"Accept": "text/html"},
                              timeout=30)
    assert 'data-root="/release/2024"' in query_page.text  # query.js posts there
    assert "https://w3id.org/senacs-kg/release/2024/sparql" in query_page.text


HOSTILE = [
    "/release/../outside.txt", "/release/%2e%2e/outside.txt", "/release/..%2foutside.txt",
    "/release/2024/../../outside.txt", "/release/2024/dumps/../../outside.txt",
    "/release/2024/dumps/..%2f..%2foutside.txt", "/release/2024/dumps/%2e%2e/%2e%2e/outside.txt",
    "/release/2024%2f..%2f..%2foutside.txt", "/release/..", "/release/./2024/dumps/manifest.json",
    "/release/9999/", "/release/2024-/", "/release/02024/", "/release/2024-1a/",
    "/release/" + "2" * 5000 + "/", "/release/2024" + "-1" * 2000 + "/",
    "/release/%00/", "/release/2024%00/dumps/manifest.json", "/release/2024/dumps/series.json",
    "/release/2024/dumps/..", "/timemap/../../outside.txt", "/timemap/action/" + "x" * 5000,
]


def raw_get(root: str, target: str) -> tuple[int, bytes]:
    """GET exactly ``target`` (no client-side normalisation of "..", as requests does)."""
    host, port = root.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_hostile_release_id_is_a_404_and_never_reads_outside(site, series):
    secret = "a file outside the series that no request may read"
    (series.folder.parent / "outside.txt").write_text(secret, encoding="utf-8")
    assert raw_get(site, "/release/2024/dumps/summary.txt")[0] == 200  # the way in works
    for target in HOSTILE:
        status, body = raw_get(site, target)
        assert status == 404, (target, status)
        assert secret.encode() not in body and b"Traceback" not in body, target


def test_open_stores_stay_bounded_and_answers_right(series, tmp_path_factory):
    """Five releases' worth of queries (each a new query, so the store answers, not the
    cache) over a bound of two open stores of two workers each."""
    with series_server(series.folder, tmp_path_factory.mktemp("bounded-store"),
                       SERIES_OPEN_STORES=2, QUERY_WORKERS=2) as (root, proc):
        for step, release_id in enumerate(["2023", "2024", "2023", "2025", "2024", "2023"]):
            query = f"{COUNT} # step {step}"
            assert count(f"{root}/release/{release_id}/sparql", query) == ACTIONS[release_id]
            health = requests.get(f"{root}/healthz", timeout=30).json()["series"]
            assert len(health["open_stores"]) <= 2 and "2025" in health["open_stores"]
            assert release_id in health["open_stores"]
            workers = [p for p in descendants(proc.pid)
                       if "multiprocessing.resource_tracker" not in p.command]
            assert len(workers) <= 2 * 2, workers


def test_a_new_publication_is_served_without_a_restart(series, tmp_path):
    """series.json replaced (as a publication does, by a rename): the server looks at it,
    opens the new latest store, then answers the plain IRIs from it."""
    folder = tmp_path / "series"
    folder.mkdir()
    for release_id in ACTIONS:
        os.symlink(series.folder / release_id, folder / release_id)
    write_series(folder, [("2023", "2023-06-01"), ("2024", "2024-06-01")], "2024")
    with series_server(folder, tmp_path / "store", SERIES_CHECK_SECONDS=0) as (root, _):
        assert count(f"{root}/sparql") == ACTIONS["2024"]
        assert requests.get(f"{root}/release/2025/", timeout=30).status_code == 404
        broken = folder / ".broken"
        broken.write_text('{"format": 1, "releases": [', encoding="utf-8")
        os.replace(broken, folder / "series.json")  # a series.json that cannot be read…
        for _ in range(5):
            time.sleep(0.2)
            health = requests.get(f"{root}/healthz", timeout=30).json()["series"]
            assert health["latest"] == "2024"  # …leaves the series served as it was
        assert count(f"{root}/release/2023/sparql") == ACTIONS["2023"]
        write_series(folder, [("2023", "2023-06-01"), ("2024", "2024-06-01"), ("2025", None)],
                     "2025")
        deadline = time.monotonic() + 60
        while requests.get(f"{root}/healthz", timeout=30).json()["series"]["latest"] != "2025":
            assert time.monotonic() < deadline, "the new release was not picked up"
            time.sleep(0.2)
        assert count(f"{root}/sparql") == ACTIONS["2025"]
        assert count(f"{root}/release/2025/sparql") == ACTIONS["2025"]
        gone = series.only_in("2023", "2024").split("/senacs-kg/", 1)[1]
        assert requests.get(f"{root}/{gone}", timeout=30).status_code == 410


def test_serve_series_refuses_a_folder_without_series_json(tmp_path):
    run = run_cli("serve", "--series", str(tmp_path), "--store", str(tmp_path / "store"),
                  "--port", "0")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"senacs-kg serve: {tmp_path}: no release series here (no series.json)"]


def test_serve_series_refuses_a_broken_series_json(tmp_path):
    (tmp_path / "series.json").write_text('{"format": 1, "releases": [{"id": "../x"}], '
                                          '"latest": "../x"}', encoding="utf-8")
    run = run_cli("serve", "--series", str(tmp_path), "--port", "0")
    assert run.returncode == 2
    assert "release id '../x' is not YYYY or YYYY-N" in run.stderr
    assert "Traceback" not in run.stderr


def test_release_and_series_are_exclusive(tmp_path):
    run = run_cli("serve", "--series", str(tmp_path), "--release", str(tmp_path))
    assert run.returncode == 2 and "not allowed with argument" in run.stderr


def test_a_release_served_alone_has_no_series_routes(seed_site):
    assert requests.get(f"{seed_site}/release/", timeout=30).status_code == 404
    health = requests.get(f"{seed_site}/healthz", timeout=30).json()
    assert "series" not in health
    page = requests.get(f"{seed_site}/", headers={"Accept": "text/html"}, timeout=30)
    assert 'href="/sparql"' in page.text and "/release/" not in page.text



def test_the_server_reads_release_ids_in_the_order_the_series_writes_them(tmp_path):
    from endpoint.series import SeriesError, _entries
    from mapping.release import release_key

    def series_json(ids: list[str]) -> dict:
        return {"format": 1, "latest": "2025-10",
                "releases": [{"id": i, "date": None, "previous": None} for i in ids]}

    ids = sorted(["2025-10", "2025", "2025-2"], key=release_key)
    assert ids == ["2025", "2025-2", "2025-10"]  # a second and a tenth export of 2025
    entries, latest = _entries(series_json(ids), tmp_path / "series.json")
    assert [e["id"] for e in entries] == ids and latest == "2025-10"
    with pytest.raises(SeriesError, match="unique and sorted"):  # text order is not the series'
        _entries(series_json(sorted(ids)), tmp_path / "series.json")


def test_a_temporary_folder_too_deep_for_the_federation_stops_the_series_without_a_traceback(
        series, tmp_path):
    """The series opens its latest release's store through its pool of stores, which logged
    any failure with its traceback; one explained in its message is one line."""
    deep = tmp_path / ("t" * 100)
    deep.mkdir()
    env = dict(os.environ, TMPDIR=str(deep),
               SENACS_KG_SERVICE_ALLOWLIST='["https://query.wikidata.org/sparql"]')
    env.pop("XDG_RUNTIME_DIR", None)
    run = senacs_kg("serve", "--series", str(series.folder), "--store", str(tmp_path / "store"),
                    "--port", str(free_port()), timeout=120, env=env)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    said = run.stderr.strip().splitlines()[-1]
    assert said.startswith("senacs-kg serve: release 2025: "), said
    assert said.endswith("too long for a Unix socket (107 bytes at most): set TMPDIR to a "
                         "shorter folder"), said
    assert not list(deep.glob("senacs-kg-*"))

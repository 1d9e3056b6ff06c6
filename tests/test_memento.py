"""Time travel over a served series: 410 Gone for what the latest release lost, and Memento
(RFC 7089) for every resource: the plain IRI as TimeGate, TimeMaps, Memento-Datetime
(endpoint/memento.py), against a live server on 127.0.0.1.

The series (tests/serve_series_helper.py): 2023 (dated 2023-06-01) holds every action of the
seed, 2024 (2024-06-01) all but the first, with one summary edited, 2025 (no date) all but
the first two.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import requests
from conftest import SEED, dump_text
from serve_series_helper import series_server, shared_series
from werkzeug.http import http_date

from endpoint.memento import Dump

JUNE_2023 = "Thu, 01 Jun 2023 00:00:00 GMT"
JUNE_2024 = "Sat, 01 Jun 2024 00:00:00 GMT"


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    return shared_series(SEED, tmp_path_factory.mktemp)


@pytest.fixture(scope="module")
def site(series, tmp_path_factory):
    with series_server(series.folder, tmp_path_factory.mktemp("memento-store")) as (root, _):
        yield root


def path_of(iri: str) -> str:
    return iri.split("/senacs-kg/", 1)[1]


LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[a-z]+="[^"]*")*)')


def links(text: str) -> list[dict[str, str]]:
    """Link header values or a link-format TimeMap, parsed: each link's URI and parameters."""
    found = []
    for match in LINK.finditer(text):
        params = dict(re.findall(r'([a-z]+)="([^"]*)"', match.group(2)))
        found.append({"uri": match.group(1), **params})
    return found


def with_rel(found: list[dict[str, str]], rel: str) -> list[dict[str, str]]:
    return [link for link in found if rel in link.get("rel", "").split()]


def latest_datetime(series) -> str:
    """2025 has no date: it stands for the time its manifest.json was written."""
    stamp = int((series.folder / "2025" / "manifest.json").stat().st_mtime)
    return http_date(dt.datetime.fromtimestamp(stamp, dt.UTC))


def test_a_resource_the_latest_release_lost_is_gone_with_a_link_to_its_last_release(site, series):
    for held_by, last in ((("2023",), "2023"), (("2023", "2024"), "2024")):
        path = path_of(series.only_in(*held_by))
        response = requests.get(f"{site}/{path}", headers={"Accept": "text/turtle"}, timeout=30)
        assert response.status_code == 410
        assert response.headers["Content-Type"].startswith("text/plain")
        assert f"/release/{last}/{path}" in response.text
        last_memento = with_rel(links(response.headers["Link"]), "last")
        assert [link["uri"] for link in last_memento] == [f"/release/{last}/{path}"]
        followed = requests.get(site + last_memento[0]["uri"],
                                headers={"Accept": "application/n-triples"}, timeout=30)
        assert followed.status_code == 200
        assert f"<{series.only_in(*held_by)}> " in followed.text
        assert followed.headers["Memento-Datetime"] == (JUNE_2023 if last == "2023" else JUNE_2024)


def test_a_browser_gets_a_page_for_a_gone_resource(site, series):
    path = path_of(series.only_in("2023", "2024"))
    page = requests.get(f"{site}/{path}", headers={"Accept": "text/html,*/*;q=0.8"}, timeout=30)
    assert page.status_code == 410 and page.headers["Content-Type"].startswith("text/html")
    assert f'href="/release/2024/{path}"' in page.text
    assert f'href="/timemap/{path}"' in page.text


def test_the_plain_iri_is_a_timegate(site, series):
    path = path_of(series.only_in("2023", "2024", "2025"))
    for asked, release_id in (("Fri, 01 Dec 2023 12:00:00 GMT", "2023"),
                              ("Sat, 01 Jun 2024 00:00:00 GMT", "2024"),
                              ("Mon, 01 Jan 2100 00:00:00 GMT", "2025"),
                              ("Sat, 01 Jan 2000 00:00:00 GMT", "2023")):
        response = requests.get(f"{site}/{path}", headers={"Accept-Datetime": asked},
                                allow_redirects=False, timeout=30)
        assert response.status_code == 302, asked
        assert response.headers["Location"] == f"/release/{release_id}/{path}"
        assert response.headers["Vary"].lower() == "accept-datetime"
        found = links(response.headers["Link"])
        assert with_rel(found, "original")[0]["uri"] == f"/{path}"
        assert "timegate" in with_rel(found, "original")[0]["rel"].split()
        assert with_rel(found, "timemap")[0]["uri"] == f"/timemap/{path}"
    # a gone resource's TimeGate still leads to its past
    gone = path_of(series.only_in("2023"))
    response = requests.get(f"{site}/{gone}", headers={"Accept-Datetime": JUNE_2024},
                            allow_redirects=False, timeout=30)
    assert response.headers["Location"] == f"/release/2023/{gone}"


def test_a_timegate_answer_is_never_replayed_from_the_response_cache(site, series):
    path = path_of(series.only_in("2023", "2024", "2025"))
    for _ in range(2):  # the second plain GET is replayed by the response cache
        plain = requests.get(f"{site}/{path}.ttl", timeout=30)
        assert plain.status_code == 200
    assert "Age" in plain.headers
    gate = requests.get(f"{site}/{path}.ttl", headers={"Accept-Datetime": JUNE_2023},
                        allow_redirects=False, timeout=30)
    assert gate.status_code == 302
    assert gate.headers["Location"] == f"/release/2023/{path}.ttl"


def test_an_accept_datetime_that_is_no_date_is_a_400(site, series):
    path = path_of(series.only_in("2023", "2024", "2025"))
    response = requests.get(f"{site}/{path}", headers={"Accept-Datetime": "last spring"},
                            allow_redirects=False, timeout=30)
    assert response.status_code == 400
    assert "Accept-Datetime must be an HTTP date" in response.text
    assert "last spring" not in response.text


def test_the_timemap_lists_every_release_holding_the_resource(site, series):
    path = path_of(series.only_in("2023", "2024", "2025"))
    response = requests.get(f"{site}/timemap/{path}", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/link-format"
    found = links(response.text)
    assert with_rel(found, "original")[0]["uri"] == f"/{path}"
    assert with_rel(found, "timegate")[0]["uri"] == f"/{path}"
    self_link = with_rel(found, "self")[0]
    assert self_link["uri"] == f"/timemap/{path}" and self_link["from"] == JUNE_2023
    assert self_link["until"] == latest_datetime(series)
    mementos = with_rel(found, "memento")
    assert [(m["uri"], m["datetime"]) for m in mementos] == [
        (f"/release/2023/{path}", JUNE_2023), (f"/release/2024/{path}", JUNE_2024),
        (f"/release/2025/{path}", latest_datetime(series))]
    assert with_rel(found, "first")[0]["uri"] == f"/release/2023/{path}"
    assert with_rel(found, "last")[0]["uri"] == f"/release/2025/{path}"
    # each memento it lists answers, with the datetime the TimeMap gives it
    for memento in mementos:
        pinned = requests.get(site + memento["uri"], headers={"Accept": "text/turtle"},
                              timeout=30)
        assert pinned.status_code == 200
        assert pinned.headers["Memento-Datetime"] == memento["datetime"]
    only_2023 = path_of(series.only_in("2023"))
    found = links(requests.get(f"{site}/timemap/{only_2023}", timeout=30).text)
    assert [m["uri"] for m in with_rel(found, "memento")] == [f"/release/2023/{only_2023}"]


def test_an_unknown_resource_has_no_timemap(site):
    for path in ("action/nobody/nothing", "nowhere/at/all", "action/" + "x" * 3000):
        assert requests.get(f"{site}/timemap/{path}", timeout=30).status_code == 404


def test_a_pinned_resource_is_a_memento(site, series):
    action = series.only_in("2023", "2024", "2025")
    path = path_of(action)
    response = requests.get(f"{site}/release/2024/{path}", headers={"Accept": "text/turtle"},
                            timeout=30)
    assert response.headers["Memento-Datetime"] == JUNE_2024
    found = links(response.headers["Link"])
    assert with_rel(found, "original")[0]["uri"] == f"/{path}"
    assert with_rel(found, "timemap")[0]["uri"] == f"/timemap/{path}"
    assert with_rel(found, "prev")[0]["uri"] == f"/release/2023/{path}"
    assert with_rel(found, "next")[0]["uri"] == f"/release/2025/{path}"
    assert with_rel(found, "alternate")[0]["uri"].startswith(f"/release/2024/{path}.")
    assert response.headers["Content-Location"] == f"/release/2024/{path}.ttl"
    # the plain IRI is the current state: no Memento-Datetime, varies with Accept-Datetime
    plain = requests.get(f"{site}/{path}", headers={"Accept": "text/turtle"}, timeout=30)
    assert "Memento-Datetime" not in plain.headers
    assert "accept-datetime" in plain.headers["Vary"].lower()
    assert with_rel(links(plain.headers["Link"]), "timemap")[0]["uri"] == f"/timemap/{path}"


def test_a_release_without_a_date_stands_for_its_publication(site, series):
    listed = requests.get(f"{site}/release/", headers={"Accept": "application/json"},
                          timeout=30).json()["releases"]
    latest = next(r for r in listed if r["id"] == "2025")
    assert latest["datetime_from"] == "publication"
    assert latest["memento_datetime"] == latest_datetime(series)


def test_each_memento_shows_its_own_campaign(site, series):
    """The summary edited for 2024 is in 2024's memento of the action, not in 2023's."""
    edited = "Édité pour la campagne 2024."
    dump = dump_text(series.folder / "2024")
    line = next(line for line in dump.splitlines() if edited in line)
    path = path_of(line.split(" ", 1)[0][1:-1].split("#", 1)[0])
    texts = {r: requests.get(f"{site}/release/{r}/{path}.nt", timeout=30).text
             for r in ("2023", "2024")}
    assert edited in texts["2024"] and edited not in texts["2023"]
    assert texts["2023"].count("\n") > 10  # 2023's memento is there, only not edited


def test_the_dump_search_finds_exactly_the_subjects(series, tmp_path):
    """Dump.holds against the dump read line by line: every subject found, and neither a
    prefix of one, nor one of its hash parts' IRIs taken for it, nor a made-up IRI; in the
    release's subjects.txt (what the server reads) as in a plain sorted dump (what a release
    built before it was gzipped only had)."""
    text = dump_text(series.folder / "2024")
    plain = tmp_path / "dataset.nt"
    plain.write_text(text, encoding="utf-8")
    subjects = {line.split(" ", 1)[0][1:-1] for line in text.splitlines() if line.startswith("<")}
    resources = {iri for iri in subjects if "#" not in iri}
    listed = Dump(series.folder / "2024" / "subjects.txt", terminator=b"\n")
    for dump, held in ((Dump(plain), subjects), (listed, resources)):
        assert all(dump.holds(iri) for iri in held)
        some = sorted(resources)[len(resources) // 2]
        for absent in (some[:-1], some + "x", "https://w3id.org/senacs-kg/zzz", "", "a"):
            assert dump.holds(absent) == (absent in held)
    assert subjects - resources and not any(listed.holds(iri) for iri in subjects - resources)
    assert not Dump(series.folder / "no-such-dump.nt").holds(some)


def test_the_json_listing_and_the_timemaps_agree(site, series):
    listed = {r["id"]: r["memento_datetime"] for r in requests.get(
        f"{site}/release/", headers={"Accept": "application/json"}, timeout=30).json()["releases"]}
    path = path_of(series.only_in("2023", "2024", "2025"))
    mementos = with_rel(links(requests.get(f"{site}/timemap/{path}", timeout=30).text), "memento")
    assert {m["uri"].split("/")[2]: m["datetime"] for m in mementos} == listed
    assert json.loads(json.dumps(listed))  # plain JSON strings

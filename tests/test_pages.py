"""HTML pages in a real browser (Debian's Chromium, headless): content, links, and no injection.

The served release is the seed's first two records with HTML and script written
into the title, the summary and the structure name, as a hostile export could.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from browser import dump_dom
from conftest import SEED, build_release, live_server

HOSTILE_TITLE = ('<script>document.title="XSS1"</script>Café & "ateliers" '
                 "<img src=x onerror=\"document.title='XSS2'\">")
HOSTILE_SUMMARY = "</script><script>document.title='XSS3'</script> fin du résumé"
HOSTILE_NAME = "<b onmouseover=alert(1)>MAISON</b>"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    lines = SEED.read_text(encoding="utf-8").split("\n")
    first, second = lines[:89], lines[89:148]
    first[2] = HOSTILE_TITLE
    summary = first.index("- Résumé")
    first[summary + 1] = HOSTILE_SUMMARY
    first[4] = f"- {HOSTILE_NAME} - Haute-Garonne"
    work = tmp_path_factory.mktemp("site")
    source = work / "hostile.txt"
    source.write_text("\n".join(first + second), encoding="utf-8")
    build_release(source, work / "release")
    with live_server(work / "release", work / "store") as root:
        action = requests.get(root + "/sparql", params={
            "query": "SELECT ?a WHERE { ?a <http://purl.org/dc/terms/title> ?t . "
                     "FILTER(CONTAINS(?t, 'XSS1')) }"}, timeout=10).json()
        path = action["results"]["bindings"][0]["a"]["value"][len("https://w3id.org/senacs-kg"):]
        yield {"root": root, "action": path}


def test_no_script_from_the_data_runs_in_the_action_page(site):
    dom = dump_dom(site["root"] + site["action"])
    assert "<img src=\"x\"" not in dom and "<img src=x" not in dom
    assert "&lt;img src=x onerror=" in dom  # shown as text
    assert "<b onmouseover" not in dom and "&lt;b onmouseover=alert(1)&gt;MAISON&lt;/b&gt;" in dom
    assert "fin du résumé" in dom


def test_document_title_is_the_escaped_action_title(site):
    dom = dump_dom(site["root"] + site["action"])
    # had any injected script run, document.title would now be XSS1, XSS2 or XSS3
    title = re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
    assert title.startswith("&lt;script&gt;document.title=\"XSS1\"&lt;/script&gt;Café &amp;")


def test_embedded_json_ld_is_schema_org_and_safe(site):
    page = requests.get(site["root"] + site["action"], headers={"Accept": "text/html"},
                        timeout=10).text
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert len(blocks) == 1  # the hostile </script> in the summary did not end it early
    data = json.loads(blocks[0])
    assert data["@type"] == "Action" and data["name"] == HOSTILE_TITLE
    assert data["agent"]["name"] == HOSTILE_NAME
    assert HOSTILE_SUMMARY.split("<")[0] in data["description"] or \
        "fin du résumé" in data["description"]


def test_action_page_shows_fields_partners_extracted_values_and_source(site):
    page = requests.get(site["root"] + site["action"], headers={"Accept": "text/html"},
                        timeout=10).text
    for text in ("Statut de l&#39;action", "Terminée", "Caisse d&#39;allocations familiales de la "
                 "Haute-Garonne", "1550 € (total écrit) — ligne 66", "6 professionnels — ligne 68",
                 "début : 2019-02 — ligne 46", "hostile.txt, lignes 2 à 89"):
        assert text in page, text


def test_structure_organisation_concept_and_home_pages(site):
    root = site["root"]
    html = {"Accept": "text/html"}
    caf = requests.get(root + "/organisation/caf-31", headers=html, timeout=10).text
    assert "Structures qui travaillent avec cet organisme (1)" in caf
    assert "&lt;b onmouseover=alert(1)&gt;MAISON&lt;/b&gt;" in caf
    concept = requests.get(root + "/concept/keyword/intergenerationnel", headers=html,
                           timeout=10).text
    assert "Actions (1)" in concept
    structure = requests.get(root + "/structure/partage-31-31", headers=html, timeout=10).text
    assert "Actions de la structure (1)" in structure and "diagnostic territorial partagé" in structure
    home = requests.get(root + "/", timeout=10).text
    assert "2 actions" in home and 'href="/sparql"' in home

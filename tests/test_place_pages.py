"""Pages of places and public bodies: the structures and actions they hold, and how a
structure was placed (#15). Expected lists come from the records and the reference rule,
not from the graph."""

from __future__ import annotations

import html
import re
from collections import Counter

import pytest
import requests
from browser import dump_dom
from conftest import SEED

from mapping.reader import ExportFile
from mapping.reference import Reference


@pytest.fixture(scope="module")
def held() -> dict[str, Counter]:
    """INSEE code and EPCI SIREN -> Counter of structure name -> its number of actions."""
    reference, out = Reference.load(), {}
    for record in ExportFile(SEED).records():
        for commune in reference.structure_communes(record.structure_name, record.department):
            for key in (commune.insee, commune.epci):
                out.setdefault(key, Counter())[record.structure_name] += 1
    return out


def listed(page: str, heading: str) -> Counter:
    """The "name (n)" items of the list under the <h2> ``heading``."""
    block = page.split(f"<h2>{heading} (", 1)[1].split("</ul>", 1)[0]
    return Counter({html.unescape(name).strip(): int(n) for name, n in
                    re.findall(r"<a [^>]*>([^<]*)</a> \((\d+)\)", block)})


def titles(page: str, heading: str) -> list[str]:
    block = page.split(f"<h2>{heading} (", 1)[1].split("</ul>", 1)[0]
    return sorted(html.unescape(t) for t in re.findall(r"<a [^>]*>([^<]*)</a>", block))


def page(root: str, path: str) -> str:
    response = requests.get(root + path, headers={"Accept": "text/html"}, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


def test_a_commune_page_lists_its_structures_with_their_actions(seed_site, held):
    toulouse = page(seed_site, "/place/commune/31555")
    assert listed(toulouse, "Structures") == held["31555"]
    assert len(held["31555"]) == 5  # four neighbourhood centres and PARTAGE 31, by override
    assert "Commune de Toulouse" not in listed(toulouse, "Structures")
    assert len(titles(toulouse, "Actions des structures")) == sum(held["31555"].values())


def test_an_epci_page_lists_the_structures_of_its_territory(seed_site, held):
    metropole = page(seed_site, "/organisation/epci-243100518")
    assert "Toulouse Métropole" in metropole and "243100518" in metropole
    assert listed(metropole, "Structures de son territoire") == held["243100518"]
    assert len(titles(metropole, "Actions des structures de son territoire")) == \
        sum(held["243100518"].values())
    assert held["243100518"]["CENTRE SOCIAL ESCALQUENS"] == 0  # Escalquens is in the Sicoval


def test_a_structure_page_says_how_it_was_placed_in_a_browser(seed_site):
    dom = dump_dom(seed_site + "/structure/centre-social-escalquens-31")
    assert "Localisation :" in dom and "d'après son nom" in dom
    assert "the name ends with the commune Escalquens (31169)" in dom
    assert "Code officiel géographique 2026" in dom
    unplaced = page(seed_site, "/structure/mjc-jacques-prevert-31")
    assert "aucune commune" in unplaced and "no commune of department 31" in unplaced

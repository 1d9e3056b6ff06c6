"""The query page in a real browser: pick an example, run it, see the rows, follow a link.

Playwright drives Debian's chromium (/usr/bin/chromium, installed by .ci/run); no browser is
downloaded.
"""

from __future__ import annotations

import requests


def test_a_browser_gets_the_page_and_clients_get_results(seed_site):
    page = requests.get(seed_site + "/sparql", headers={"Accept": "text/html,*/*;q=0.8"}, timeout=10)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "PREFIX senacs:" in page.text and "Actions par mot clé" in page.text
    sd = requests.get(seed_site + "/sparql", timeout=10)
    assert sd.headers["Content-Type"].startswith("text/turtle")


def test_pick_an_example_run_it_see_rows_and_follow_a_link(seed_site, browser):
    page = browser.new_page()
    page.goto(seed_site + "/sparql")
    page.select_option("#examples", "actions-of-a-structure")
    assert "centre-social-reynerie-31" in page.input_value("#query")
    page.click("#run")
    page.wait_for_selector("#results table tbody tr")
    rows = page.locator("#results table tbody tr")
    assert rows.count() == 3  # the seed's three actions of the Reynerie centre
    assert "query=" in page.url  # the query is kept in the URL
    assert "3 ligne(s)" in page.inner_text("#status")
    csv_link = page.get_attribute("#downloads a", "href")
    assert "format=csv" in csv_link
    assert requests.get(seed_site + csv_link, timeout=10).text.splitlines()[0] == "action,title,status"
    first = rows.first.locator("a").first
    target = first.inner_text()
    first.click()
    page.wait_for_selector("h1")
    assert page.url.startswith(seed_site + "/action/centre-social-reynerie-31/")
    assert target.endswith(page.url[len(seed_site):])
    page.close()


def test_the_page_shows_every_row_the_endpoint_answers(seed_site, browser):
    page = browser.new_page(viewport={"width": 1100, "height": 1300})
    page.goto(seed_site + "/sparql")
    page.select_option("#examples", "actions-per-keyword")
    page.click("#run")
    page.wait_for_selector("#results table tbody tr")
    answer = requests.post(seed_site + "/sparql", data={"query": page.input_value("#query")},
                           headers={"Accept": "application/sparql-results+json"}, timeout=10)
    rows = answer.json()["results"]["bindings"]
    assert len(rows) > 1
    assert page.locator("#results table tbody tr").count() == len(rows)
    assert page.inner_text("#status").startswith(f"{len(rows)} ligne(s)")
    page.close()


def test_a_link_reproduces_the_query_and_errors_are_readable(seed_site, browser):
    page = browser.new_page()
    page.goto(seed_site + "/sparql?" + requests.compat.urlencode({
        "query": "PREFIX senacs: <https://w3id.org/senacs-kg/def#> "
                 "SELECT (COUNT(?a) AS ?n) WHERE { ?a a senacs:Action }"}))
    page.wait_for_selector("#results table tbody tr")
    assert page.inner_text("#results table tbody tr td") == "25"
    assert page.locator("#highlight .k").count() >= 3  # SELECT, COUNT, WHERE… highlighted
    page.fill("#query", "SELECT ?x WHERE { ?x ?y }")
    page.click("#run")
    page.wait_for_selector("#status.error")
    assert "Erreur 400" in page.inner_text("#status")
    assert "malformed query" in page.inner_text("#status")
    page.close()


# -- the network view ---------------------------------------------------------------------------


def test_release_network_files_are_served(seed_site, release_dir):
    import json

    stats = json.loads((release_dir / "network" / "network.json").read_text(encoding="utf-8"))
    assert stats["structures"]["nodes"] == 11 and stats["bipartite"]["betweenness"] == "exact"
    data = requests.get(seed_site + "/network/structures.view.json", timeout=10).json()
    assert data["shown"] == data["total"] == 11  # with a partner body (EPCI ones included)
    assert all({"x", "y", "label", "community", "degree"} <= set(n) for n in data["nodes"])
    graphml = requests.get(seed_site + "/network/partners.graphml", timeout=10)
    assert graphml.status_code == 200 and graphml.headers["ETag"]
    assert b"<graphml" in graphml.content
    assert requests.get(seed_site + "/network/../manifest.json", timeout=10).status_code == 404


def test_network_view_in_the_browser(seed_site, browser):
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    page.goto(seed_site + "/network/")
    page.wait_for_selector("#view circle")
    assert page.locator("#view circle").count() == 11
    all_links = page.locator("#view line").count()
    page.fill("#minWeight", "2")
    page.dispatch_event("#minWeight", "input")
    assert page.locator("#view line").count() < all_links
    page.locator("#view circle").first.click()
    page.wait_for_selector("h1")
    assert "/structure/" in page.url
    page.close()

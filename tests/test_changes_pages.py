"""What changed in a release, as pages and as queryable data (issue #16): the changelog graph
in the stores, ``/release/{id}/changes``, the previous version on resource pages, and the
example query that compares two campaigns.

A real series of three generated campaigns (tests/campaigns.py: records removed, added, edited,
a structure renamed, every record moved), published by ``senacs-kg build --series``, served by
``senacs-kg serve --series`` on 127.0.0.1. What the pages and queries answer is checked against
the release files themselves: each release's ``changes/summary.ttl`` read by rdflib, and the
dumps compared here in Python by the rule the README states.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from pathlib import Path

import html5lib
import pytest
import requests
from browser import dump_dom
from harness import dump_lines
from rdflib import Graph, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, RDF, RDFS
from serve_series_helper import series_server

from endpoint.store import MARKER, prepare_store
from mapping import vocab
from mapping.paths import EXAMPLES_FILE
from mapping.vocab import DEFAULT_BASE as B
from mapping.vocab import part_kind

SENACS = Namespace(B + "def#")
IDS = ("2024", "2025", "2026")
STATUS = {SENACS.Addition: "addition", SENACS.Removal: "removal",
          SENACS.Modification: "modification"}
KIND = {"action": "action", "structure": "structure", "organisation": "body"}
EDIT_WORDS = "Reconduction prévue avec les familles du quartier."  # campaigns.edit's line
HTML = {"Accept": "text/html"}


# -- the series --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def series(published_series) -> Path:
    """Three campaigns published into one series, each dated, the renames declared."""
    return published_series.folder


@pytest.fixture(scope="module")
def site(series, tmp_path_factory):
    with series_server(series, tmp_path_factory.mktemp("store"), WARM_CACHE=False) as (root, _):
        yield root


def summary(series: Path, release_id: str) -> Graph:
    return Graph().parse(series / release_id / "changes/summary.ttl", format="turtle")


def records(graph: Graph) -> dict[str, tuple[str, str]]:
    """The summary's change records: subject IRI -> (status, kind)."""
    out = {}
    for change in graph.subjects(DCTERMS.isPartOf, None):
        status = next(STATUS[t] for t in graph.objects(change, RDF.type) if t in STATUS)
        subject = str(graph.value(change, DCTERMS.subject))
        out[subject] = (status, KIND[subject[len(B):].split("/", 1)[0]])
    return out


def manifest(series: Path, release_id: str) -> dict:
    return json.loads((series / release_id / "manifest.json").read_text(encoding="utf-8"))


# -- reading the pages ---------------------------------------------------------------------------


def page(url: str, **params) -> html5lib.treebuilders.etree:
    response = requests.get(url, params=params, headers=HTML, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    return html5lib.parse(response.text, namespaceHTMLElements=False)


def rows(tree) -> list[dict]:
    """The changes a page lists: status, the resource's link, the fields, the previous link."""
    out = []
    for row in tree.iter("tr"):
        if row.get("class") not in STATUS.values():
            continue
        cells = row.findall("td")
        link = cells[1].find("a")
        previous = cells[3].find("a")
        out.append({"status": row.get("class"), "href": link.get("href"), "label": link.text,
                    "fields": sorted(s.get("title") for s in cells[2].findall("span")),
                    "previous": previous.get("href") if previous is not None else None})
    return out


def counts_table(tree) -> dict[str, list[int]]:
    table = next(t for t in tree.iter("table") if t.get("class") == "counts")
    return {r.find("th").text.strip(): [int(td.text) for td in r.findall("td")]
            for r in table.find("tbody").findall("tr")}


def text_of(tree) -> str:
    return " ".join("".join(tree.itertext()).split())


# -- the changes page -----------------------------------------------------------------------------


@pytest.mark.parametrize("release_id", ["2025", "2026"])
def test_the_page_lists_exactly_the_changes_the_summary_holds(site, series, release_id):
    previous = IDS[IDS.index(release_id) - 1]
    graph = summary(series, release_id)
    held = records(graph)
    tree = page(f"{site}/release/{release_id}/changes", size=1000)
    listed = rows(tree)
    assert len(listed) == len(held) > 0
    expected = set()
    for subject, (status, _) in held.items():
        path = subject[len(B):]
        home = previous if status == "removal" else release_id  # the release that holds it
        expected.add((status, f"/release/{home}/{path}",
                      f"/release/{previous}/{path}" if status == "modification" else None))
    assert {(r["status"], r["href"], r["previous"]) for r in listed} == expected
    # the fields each modification lists are the summary's changedProperty
    for row in listed:
        subject = URIRef(B + row["href"].split("/", 3)[3])
        change = graph.value(None, DCTERMS.subject, subject)
        fields = sorted(graph.namespace_manager.qname(p)
                        for p in graph.objects(change, SENACS.changedProperty))
        assert row["fields"] == fields
        assert row["label"] == str(graph.value(change, RDFS.label))
    # the counts: the manifest's, and they agree with the summary's records
    counted = Counter(held.values())
    resources = manifest(series, release_id)["changes"]["resources"]
    table = counts_table(tree)
    for heading, kind in (("Actions", "action"), ("Structures", "structure"),
                          ("Organismes publics", "body")):
        by_status = [counted[(s, kind)] for s in ("addition", "removal", "modification")]
        assert table[heading] == by_status == [resources[kind][s]
                                               for s in ("added", "removed", "changed")]
    assert f"+{manifest(series, release_id)['changes']['triples_added']}" in text_of(tree)


def test_the_changes_are_paged(site, series):
    whole = rows(page(f"{site}/release/2025/changes", size=1000))
    total = len(whole)
    assert total > 10
    pages, number = [], 1
    while True:
        tree = page(f"{site}/release/2025/changes", page=number, size=4)
        pages.append(rows(tree))
        nexts = [a.get("href") for a in tree.iter("a") if a.get("rel") == "next"]
        if not nexts:
            break
        assert nexts[0] == f"/release/2025/changes?page={number + 1}&size=4"
        number += 1
    assert number == -(-total // 4) and all(len(p) == 4 for p in pages[:-1])
    assert [r for p in pages for r in p] == whole  # every change once, in the same order
    beyond = requests.get(f"{site}/release/2025/changes", params={"page": number + 1, "size": 4},
                          headers=HTML, timeout=30)
    assert beyond.status_code == 404 and "no such page" in beyond.text
    for params in ({"page": "0"}, {"page": "x"}, {"page": "-1"}, {"size": "1001"},
                   {"page": "<script>"}, {"size": "9" * 40}):
        bad = requests.get(f"{site}/release/2025/changes", params=params, headers=HTML,
                           timeout=30)
        assert bad.status_code == 400 and "<script>" not in bad.text
        assert bad.headers["Content-Type"].startswith("text/plain")


def test_the_changeset_iri_dereferences_as_rdf(site, series):
    path = series / "2026/changes/summary.ttl"
    turtle = requests.get(f"{site}/release/2026/changes", headers={"Accept": "text/turtle"},
                          timeout=30)
    assert turtle.status_code == 200 and turtle.content == path.read_bytes()
    assert turtle.headers["Content-Type"].startswith("text/turtle")
    assert turtle.headers["Vary"] == "Accept"
    assert turtle.headers["Content-Location"] == "/release/2026/changes.ttl"
    expected = Graph().parse(path, format="turtle")
    for accept, fmt in (("application/n-triples", "nt"), ("application/ld+json", "json-ld"),
                        ("application/rdf+xml", "xml")):
        answer = requests.get(f"{site}/release/2026/changes", headers={"Accept": accept},
                              timeout=30)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(accept)
        assert isomorphic(Graph().parse(data=answer.content, format=fmt), expected)
    by_extension = requests.get(f"{site}/release/2026/changes.nt", timeout=30)
    assert isomorphic(Graph().parse(data=by_extension.content, format="nt"), expected)
    again = requests.get(f"{site}/release/2026/changes", timeout=30,
                         headers={"Accept": "text/turtle", "If-None-Match": turtle.headers["ETag"]})
    assert again.status_code == 304
    assert requests.get(f"{site}/release/2026/changes", headers={"Accept": "image/png"},
                        timeout=30).status_code == 406


def test_the_first_release_has_no_changes_and_the_others_are_linked(site, series):
    first = requests.get(f"{site}/release/2024/changes", headers=HTML, timeout=30)
    assert first.status_code == 404 and "first release of its series" in first.text
    assert requests.get(f"{site}/changes", headers=HTML, timeout=30).status_code == 404
    listed = requests.get(f"{site}/release/", headers={"Accept": "application/json"},
                          timeout=30).json()["releases"]
    assert [r["changes_page"] for r in listed] == [None, "/release/2025/changes",
                                                   "/release/2026/changes"]
    links = {a.get("href") for a in page(f"{site}/release/").iter("a")}
    assert {"/release/2025/changes", "/release/2026/changes"} <= links
    assert "/release/2024/changes" not in links
    for home, release_id in (("/release/2025/", "2025"), ("/release/2026/", "2026"),
                             ("/", "2026")):
        links = {a.get("href") for a in page(site + home).iter("a")}
        assert f"/release/{release_id}/changes" in links
    assert not any(h.endswith("/changes") for h in
                   (a.get("href") or "" for a in page(f"{site}/release/2024/").iter("a")))


# -- resource pages: the previous version ---------------------------------------------------------


def modified_action(series: Path, release_id: str, field) -> tuple[str, str]:
    """An action the summary says changed ``field`` in ``release_id``: (path, title)."""
    graph = summary(series, release_id)
    for change in sorted(graph.subjects(SENACS.changedProperty, field)):
        subject = str(graph.value(change, DCTERMS.subject))
        if (SENACS.Action in set(graph.objects(change, SENACS.resourceType))):
            return subject[len(B):], str(graph.value(change, RDFS.label))
    raise AssertionError(f"no action changed {field} in {release_id}")


def test_a_changed_actions_page_links_its_previous_version(site, series):
    path, title = modified_action(series, "2025", SENACS.perspectives)
    tree = page(f"{site}/release/2025/{path}")
    block = next(p for p in tree.iter("p") if p.get("class") == "changed")
    link = next(a for a in block.iter("a") if a.get("rel") == "predecessor-version")
    assert link.get("href") == f"/release/2024/{path}" and link.text == "version précédente (2024)"
    assert "perspectives" in text_of(block)
    assert EDIT_WORDS in text_of(tree)  # this release's perspectives
    old = page(site + link.get("href"))
    assert text_of(old.find(".//h1")) == title
    assert EDIT_WORDS not in text_of(old)  # the previous release's, before the edit
    # the plain IRI answers from the latest release: changed in 2026, its previous is 2025
    latest, _ = modified_action(series, "2026", SENACS.perspectives)
    block = next(p for p in page(f"{site}/{latest}").iter("p") if p.get("class") == "changed")
    assert f"/release/2025/{latest}" in {a.get("href") for a in block.iter("a")}
    assert requests.get(f"{site}/release/2025/{latest}", headers=HTML,
                        timeout=30).status_code == 200


def test_an_added_action_says_so_and_an_unchanged_one_says_nothing(site, series):
    graph = summary(series, "2026")
    added = next(str(graph.value(c, DCTERMS.subject)) for c in sorted(
        graph.subjects(RDF.type, SENACS.Addition))
        if SENACS.Action in set(graph.objects(c, SENACS.resourceType)))
    block = [p for p in page(f"{site}/{added[len(B):]}").iter("p") if p.get("class") == "changed"]
    assert len(block) == 1 and "Nouvelle dans la publication 2026" in text_of(block[0])
    assert "/release/2026/changes" in {a.get("href") for a in block[0].iter("a")}
    changed = {str(s) for s in graph.objects(None, DCTERMS.subject)}
    with dump_lines(series / "2026") as dump:
        same = next(line.split(" ", 1)[0][1:-1] for line in dump
                    if line.endswith(f"<{SENACS.Action}> .\n")
                    and line.split(" ", 1)[0][1:-1] not in changed)
    tree = page(f"{site}/{same[len(B):]}")
    assert not [p for p in tree.iter("p") if p.get("class") == "changed"]


# -- the changelog graph --------------------------------------------------------------------------


def select(endpoint: str, query: str, **params) -> list[dict[str, str]]:
    response = requests.post(endpoint, data={"query": query, **params},
                             headers={"Accept": "application/sparql-results+json"}, timeout=60)
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


PER_GRAPH = f"""SELECT ?g (COUNT(DISTINCT ?change) AS ?n) WHERE {{
  GRAPH ?g {{ ?change <{DCTERMS.isPartOf}> ?changes }} }} GROUP BY ?g"""


def test_each_store_holds_the_changelog_up_to_its_release_as_named_graphs(site, series):
    expected = {release_id: len(records(summary(series, release_id))) for release_id in IDS[1:]}
    graph = {release_id: f"{B}release/{release_id}/changes" for release_id in IDS}
    latest = {r["g"]: int(r["n"]) for r in select(f"{site}/sparql", PER_GRAPH)}
    assert latest == {graph[i]: n for i, n in expected.items()}
    pinned = {r["g"]: int(r["n"]) for r in select(f"{site}/release/2025/sparql", PER_GRAPH)}
    assert pinned == {graph["2025"]: expected["2025"]}
    assert select(f"{site}/release/2024/sparql", PER_GRAPH) == []
    # the protocol's dataset: named-graph-uri, and FROM NAMED in the query
    one = select(f"{site}/sparql", PER_GRAPH, **{"named-graph-uri": graph["2025"]})
    assert one == [{"g": graph["2025"], "n": str(expected["2025"])}]
    from_named = PER_GRAPH.replace("WHERE", f"FROM NAMED <{graph['2026']}> WHERE", 1)
    assert select(f"{site}/sparql", from_named) == [{"g": graph["2026"],
                                                     "n": str(expected["2026"])}]
    # the data is not counted with the changes: the default graph is the dump, no more
    triples = select(f"{site}/sparql", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    with dump_lines(series / "2026") as dump:
        assert int(triples[0]["n"]) == sum(1 for _ in dump) == manifest(series, "2026")["triples"]
    with dump_lines(series / "2026") as dump:
        actions = sum(1 for line in dump if line.endswith(f"<{SENACS.Action}> .\n"))
    assert f"{actions} actions" in text_of(page(f"{site}/"))


def test_a_retired_releases_changeset_stays_in_the_later_stores(series, tmp_path):
    """A retired release keeps changes/summary.ttl only; the next releases' stores still load
    it, and a store made before its changelog was there is loaded again."""
    copy = tmp_path / "senacs"
    shutil.copytree(series, copy)
    for name in ("dataset.nt.gz", "dataset.ttl.gz", "dataset.jsonld.gz"):
        (copy / "2025" / name).unlink()
    store = tmp_path / "store"
    prepare_store(copy / "2026", store, B)
    assert json.loads((store / MARKER).read_text())["changes"] == ["2025", "2026"]
    marker = json.loads((store / MARKER).read_text())
    (store / MARKER).write_text(json.dumps({"release": marker["release"], "base": B}))
    prepare_store(copy / "2026", store, B)  # a store of before: loaded again, with its changes
    assert json.loads((store / MARKER).read_text())["changes"] == ["2025", "2026"]
    (copy / "2025/changes/summary.ttl").write_text("# damaged\n", encoding="utf-8")
    shutil.rmtree(store)
    with pytest.raises(Exception, match="summary.ttl of release 2025"):
        prepare_store(copy / "2026", store, B)


# -- the example query ------------------------------------------------------------------------------


def example_query(name: str) -> str:
    catalogue = Graph().parse(EXAMPLES_FILE)
    node = URIRef(B + ".well-known/sparql-examples#" + name)
    return str(catalogue.value(node, URIRef("http://www.w3.org/ns/shacl#select")))


LOCATION = {"<http://www.w3.org/ns/prov#wasDerivedFrom>", f"<{SENACS.sourceLine}>"}
# derived from other fields, which are counted (README "The graph", shortcuts)
SHORTCUTS = {f"<{SENACS[name]}>" for name in vocab.SHORTCUTS}


def statements(release_dir: Path) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with dump_lines(release_dir) as lines:
        for line in lines:
            subject, predicate, rest = line.split(" ", 2)
            out[subject[1:-1]].add((predicate, rest[:-3]))
    return out


def fields_changed(old: Path, new: Path) -> Counter:
    """Per field, the actions of both releases whose values of it changed: their own
    statements compared, a part's changes (``#amount-1``) counted as the property that links
    it, where the record was read (file, lines, the ``#source`` part) and the shortcuts left
    aside."""
    before, after = statements(old), statements(new)
    typed = ("<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", f"<{SENACS.Action}>")
    actions = {s for s, st in before.items() if typed in st} & \
        {s for s, st in after.items() if typed in st}
    parts: dict[str, set[str]] = defaultdict(set)
    for subject in set(before) | set(after):
        if "#" in subject:
            parts[subject.partition("#")[0]].add(subject)
    count: Counter = Counter()
    for action in actions:
        fields = {p for p, _ in before[action] ^ after[action]} - LOCATION - SHORTCUTS
        links = {o[1:-1]: p for p, o in before[action] | after[action]}
        for part in parts[action]:
            if part_kind(part) != "source" and \
                    {p for p, _ in before.get(part, set()) ^ after.get(part, set())} - LOCATION:
                fields.add(links[part])
        count.update(f[1:-1] for f in fields)
    return count


@pytest.mark.parametrize("endpoint, old, new", [("/sparql", "2025", "2026"),
                                                 ("/release/2025/sparql", "2024", "2025")])
def test_the_example_compares_the_last_two_campaigns(site, series, endpoint, old, new):
    answer = select(site + endpoint, example_query("fields-changed-most"))
    expected = fields_changed(series / old, series / new)
    assert expected and {r["field"]: int(r["actions"]) for r in answer} == dict(expected)
    assert {(r["from"], r["to"]) for r in answer} == {(f"{B}release/{old}/",
                                                       f"{B}release/{new}/")}
    assert [int(r["actions"]) for r in answer] == sorted(expected.values(), reverse=True)
    assert any(r.get("label") == "perspectives" for r in answer)
    assert select(f"{site}/release/2024/sparql", example_query("fields-changed-most")) == []


def test_the_readme_shows_the_catalogues_query():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    part = readme[readme.index("### What changed, as pages and as data"):]
    start = part.index("```sparql\n") + len("```sparql\n")
    shown = part[start:part.index("\n```", start)]
    assert shown == example_query("fields-changed-most")


def test_the_changes_page_in_chromium(site):
    dom = html5lib.parse(dump_dom(f"{site}/release/2025/changes?size=5"),
                         namespaceHTMLElements=False)
    assert len(rows(dom)) == 5
    assert text_of(dom.find(".//h1")).startswith("Ce qui a changé dans la publication 2025")



def test_the_service_description_names_the_changelog_graphs(site):
    sd = "http://www.w3.org/ns/sparql-service-description#"
    names = {}
    for where in ("", "/release/2025", "/release/2024"):
        response = requests.get(f"{site}{where}/sparql", headers={"Accept": "text/turtle"},
                                timeout=30)
        assert response.status_code == 200
        names[where] = {str(o) for o in Graph().parse(data=response.text, format="turtle")
                        .objects(None, URIRef(sd + "name"))}
    assert names[""] == {f"{B}def", f"{B}release/2025/changes", f"{B}release/2026/changes"}
    assert names["/release/2025"] == {f"{B}def", f"{B}release/2025/changes"}
    assert names["/release/2024"] == {f"{B}def"}

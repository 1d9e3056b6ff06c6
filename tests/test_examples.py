"""The example-query catalogue: every question runs on the seed release and gets the right answer.

The expected answers are computed here from the records as the reader types
them (and the extractors and reference data), not from RDF: two independent
paths to the same numbers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import pyoxigraph as ox
import pytest
import requests
from rdflib import Graph
from rdflib.namespace import RDF, RDFS, SH

from mapping import extract
from mapping.mapper import DATE_FIELDS, DEPARTMENT_BODIES
from mapping.paths import EXAMPLES_FILE
from mapping.reference import Reference
from mapping.vocab import Iris, slug

B = "https://w3id.org/senacs-kg/"
EX = B + ".well-known/sparql-examples#"
CATALOGUE = Graph().parse(EXAMPLES_FILE)
QUERY_PROPS = (SH.select, SH.ask, SH.construct)


def query_of(name: str) -> str:
    node = next(s for s in CATALOGUE.subjects(RDF.type, SH.SPARQLExecutable)
                if str(s) == EX + name)
    return str(next(CATALOGUE.value(node, p) for p in QUERY_PROPS if CATALOGUE.value(node, p)))


@pytest.fixture(scope="module")
def endpoint(seed_site) -> str:
    """The session's server of the seed release (conftest), at its SPARQL URL."""
    return seed_site + "/sparql"


def rows(endpoint: str, name: str) -> list[dict[str, str]]:
    response = requests.post(endpoint, data={"query": query_of(name)}, timeout=30)
    assert response.status_code == 200, response.text
    return [{k: v["value"] for k, v in b.items()} for b in response.json()["results"]["bindings"]]


def structure_iri(record) -> str:
    return B + "structure/" + Iris.structure_slug(record.structure_name, "31")


def resolved(record, reference: Reference) -> set[str]:
    """The bodies a record's partner categories name (the rule of the README)."""
    out = set()
    for category in record.partner_categories:
        if category in DEPARTMENT_BODIES:
            out.add(f"{B}organisation/{DEPARTMENT_BODIES[category][0]}-31")
        elif category == "Commune":
            out |= {f"{B}organisation/commune-{c.insee}"
                    for c in reference.structure_communes(record.structure_name, "Haute-Garonne")}
        elif category == "Regroupement de communes":  # the EPCI, if all its communes share one
            epcis = {c.epci for c in reference.structure_communes(record.structure_name,
                                                                  "Haute-Garonne")}
            out |= {f"{B}organisation/epci-{e}" for e in epcis if len(epcis) == 1}
    return out


def test_the_catalogue_is_complete_and_bilingual():
    examples = list(CATALOGUE.subjects(RDF.type, SH.SPARQLExecutable))
    assert len(examples) >= 12
    for node in examples:
        assert {c.language for c in CATALOGUE.objects(node, RDFS.comment)} == {"fr", "en"}
        assert {c.language for c in CATALOGUE.objects(node, RDFS.label)} == {"fr", "en"}
        assert sum(1 for p in QUERY_PROPS if CATALOGUE.value(node, p)) == 1


def test_catalogue_is_served(endpoint):
    root = endpoint[:-len("/sparql")]
    response = requests.get(root + "/.well-known/sparql-examples", timeout=10)
    assert response.headers["Content-Type"] == "text/turtle; charset=utf-8"
    served = {str(t) for t in ox.parse(response.content, format=ox.RdfFormat.TURTLE)}
    assert any(EX + "budget-per-dimension" in t for t in served)


def test_actions_per_keyword_dimension_and_public(endpoint, seed_records):
    for name, values in (("actions-per-keyword", lambda r: r.keywords),
                         ("actions-per-dimension", lambda r: [r.dimension]),
                         ("actions-per-public", lambda r: [r.public])):
        want = Counter(v for r in seed_records for v in values(r) if v)
        got = rows(endpoint, name)
        label = next(k for k in got[0] if k != "actions")
        assert {(row[label], int(row["actions"])) for row in got} == set(want.items()), name
        counts = [int(row["actions"]) for row in got]
        assert counts == sorted(counts, reverse=True)


def test_structures_sharing_partners_and_partners_shared(endpoint, seed_records):
    reference = Reference.load()
    partners: dict[str, set[str]] = defaultdict(set)
    for record in seed_records:
        partners[structure_iri(record)] |= resolved(record, reference)
    got = rows(endpoint, "structures-sharing-partners")
    assert len(got) == 20
    for row in got:
        assert int(row["shared"]) == len(partners[row["structure1"]] & partners[row["structure2"]])
    best = max(len(a & b) for s1, a in partners.items() for s2, b in partners.items() if s1 < s2)
    assert int(got[0]["shared"]) == best
    by_partner = Counter(p for s in partners.values() for p in s)
    shared = rows(endpoint, "partners-shared-by-most")
    assert {(r["partner"], int(r["structures"])) for r in shared} == set(by_partner.items())


def test_budget_per_dimension(endpoint, seed_records):
    want: dict[str, list] = defaultdict(lambda: [Decimal(0), 0])
    for record in seed_records:
        text = record.text("resources")
        total = extract.budget_total(extract.amounts(text), text) if text else None
        if total and record.dimension:
            want[record.dimension][0] += total[0]
            want[record.dimension][1] += 1
    got = {r["dimension"]: [Decimal(r["total"]), int(r["actions"])]
           for r in rows(endpoint, "budget-per-dimension")}
    assert got == dict(want)


def test_actions_of_a_structure_and_finished_actions(endpoint, seed_records):
    reynerie = sorted((r.title, r.status) for r in seed_records
                      if r.structure_name == "CENTRE SOCIAL REYNERIE")
    assert sorted((r["title"], r["status"]) for r in rows(endpoint, "actions-of-a-structure")) \
        == reynerie
    finished = sorted((r.title, r.end_reason or None) for r in seed_records
                      if r.status == "Terminée")
    got = sorted((r["title"], r.get("reason")) for r in rows(endpoint, "finished-actions"))
    assert got == finished and len(got) == 7


def test_actions_started_per_year(endpoint, seed_records):
    want = Counter()
    for record in seed_records:
        fields = [(k, record.text(k)) for k in DATE_FIELDS if record.field(k) is not None]
        start = extract.start_date_of(fields)
        if start:
            want[str(start.year)] += 1
    got = {r["year"]: int(r["actions"]) for r in rows(endpoint, "actions-started-per-year")}
    assert got == dict(want) and sum(got.values()) == 10


def test_text_search_volunteers_and_actions_without_partner(endpoint, seed_records):
    parents = sorted(r.title for r in seed_records if "parent" in r.text("summary").lower())
    assert [r["title"] for r in rows(endpoint, "text-search")] == parents
    volunteers: Counter = Counter()
    for record in seed_records:
        for count in extract.headcounts(record.text("people")):
            if count.kind == extract.VOLUNTEERS:
                volunteers[record.structure_name] += count.maximum
    got = {r["name"]: int(r["total"]) for r in rows(endpoint, "volunteers-per-structure")}
    assert got == dict(volunteers)
    lonely = sorted(r.title for r in seed_records if not r.partner_categories)
    assert sorted(r["title"] for r in rows(endpoint, "actions-without-partner")) == lonely


def test_ask_and_construct_examples(endpoint, seed_records):
    answer = requests.post(endpoint, data={"query": query_of("any-neighbourhood-action")},
                           timeout=10).json()
    assert answer["boolean"] == any(r.territory_scale == "Un quartier" for r in seed_records)
    graph = requests.post(endpoint, data={"query": query_of("structure-card")},
                          headers={"Accept": "application/n-triples"}, timeout=10)
    triples = list(ox.parse(graph.content, format=ox.RdfFormat.N_TRIPLES))
    titles = {t.object.value for t in triples if t.predicate.value.endswith("/title")}
    assert titles == {r.title for r in seed_records if r.structure_name == "CENTRE SOCIAL D'EMPALOT"}
    assert slug("CENTRE SOCIAL D'EMPALOT") in query_of("structure-card")


def test_the_catalogue_is_answered_ahead_of_its_first_visitor(endpoint):
    import time

    health = endpoint[:-len("/sparql")] + "/healthz"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = requests.get(health, timeout=10).json()
        if state["examples_warmed"] == state["examples"]:
            break
        time.sleep(0.2)
    assert state["examples_warmed"] == state["examples"] == 18
    first = requests.post(endpoint, data={"query": query_of("budget-per-dimension")}, timeout=10)
    assert first.headers["X-Cache"] == "hit"
    other = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o . FILTER(isLiteral(?o)) }"
    assert requests.post(endpoint, data={"query": other}, timeout=10).headers["X-Cache"] == "miss"
    assert requests.post(endpoint, data={"query": other}, timeout=10).headers["X-Cache"] == "hit"


def test_questions_on_the_national_reference_data(endpoint, seed_records):
    """Actions per EPCI, structures per region, partners shared within an EPCI (#15)."""
    reference = Reference.load()
    actions, structures = Counter(), defaultdict(set)
    partners: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for record in seed_records:
        for epci in {c.epci for c in reference.structure_communes(record.structure_name,
                                                                  record.department)}:
            actions[epci] += 1
            structures[epci].add(record.structure_name)
            for body in resolved(record, reference):
                partners[epci][body].add(record.structure_name)
    got = {r["epci"].rsplit("-", 1)[1]: (int(r["actions"]), int(r["structures"]), r["kind"])
           for r in rows(endpoint, "actions-per-epci")}
    assert got == {e: (actions[e], len(structures[e]), reference.epcis[e].kind) for e in actions}
    assert got["243100518"][2] == "METRO"  # Toulouse Métropole
    regions = rows(endpoint, "structures-per-region")
    assert [(r["name"], int(r["structures"]), int(r["actions"])) for r in regions] == \
        [("Occitanie", len({r.structure_name for r in seed_records}), len(seed_records))]
    shared = {(r["epciName"], r["partnerName"]): int(r["structures"])
              for r in rows(endpoint, "partners-shared-within-an-epci")}
    names = _body_names(endpoint)
    want = {(reference.epcis[e].name, names[b]): len(s)
            for e, bodies in partners.items() for b, s in bodies.items() if len(s) >= 2}
    assert shared == want and shared  # Toulouse's structures share the Caf, at least


def _body_names(endpoint: str) -> dict[str, str]:
    answer = requests.post(endpoint, data={"query": "SELECT ?b ?n WHERE { ?a "
                           "<https://w3id.org/senacs-kg/def#resolvedPartner> ?b . "
                           "?b <https://schema.org/name> ?n }"}, timeout=30).json()
    return {b["b"]["value"]: b["n"]["value"] for b in answer["results"]["bindings"]}


def test_comparing_campaigns_on_a_single_release_is_empty(endpoint):
    """The seed is one release, with no changeset: the comparison through the changelog graph
    answers no row, and no error (tests/test_changes_pages.py asks it of a series)."""
    assert rows(endpoint, "fields-changed-most") == []

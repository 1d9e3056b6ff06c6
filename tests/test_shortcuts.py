"""The shortcut properties change how fast questions are answered, never their answers.

A release states a few values twice: qualified (``senacs:budgetTotal/schema:value``, an action's
``senacs:resolvedPartner``) and directly (``senacs:budgetTotalValue`` on the action,
``senacs:worksWith`` on the structure), as Wikidata publishes direct statements beside its
qualified ones. The example catalogue and the benchmark mix ask through the direct ones because
Oxigraph answers them many times faster (issue #18). Here, on a generated national release:

- the data *before* the shortcuts (the same dump without them) asked the questions as they
  were written before (``questions.BEFORE``, ``QUALIFIED_EXAMPLES``) gives exactly the
  answers that the release asked the questions as they are now gives, for every question of
  the catalogue and of the mix;
- each shortcut holds exactly what it is a shortcut for.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from harness import dump_bytes, senacs_kg
from national import write_export
from rdflib import Graph
from rdflib.namespace import RDF, SH

from mapping import vocab
from mapping.paths import EXAMPLES_FILE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from questions import BEFORE, FORMER, GRAPH_QUERIES, QUESTIONS  # noqa: E402

B = "https://w3id.org/senacs-kg/"
DEF = B + "def#"
SHORTCUTS = tuple(f"<{DEF}{name}>" for name in vocab.SHORTCUTS)
EX = B + ".well-known/sparql-examples#"
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
P = """PREFIX senacs: <https://w3id.org/senacs-kg/def#>
PREFIX schema: <https://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
# Questions asking for every statement of one resource: they also give its shortcuts now.
ALL_STATEMENTS = {"action description", "construct structure"}
BENCH_ACTION = B + "action/centre-social-reynerie-31/ateliers-sociolinguistiques"
# The catalogue's questions as they were written before the shortcuts (the rest are unchanged).
QUALIFIED_EXAMPLES = {
    "structures-sharing-partners": P + """
SELECT ?structure1 ?structure2 (COUNT(DISTINCT ?partner) AS ?shared) WHERE {
  ?a1 schema:agent ?structure1 ; senacs:resolvedPartner ?partner .
  ?a2 schema:agent ?structure2 ; senacs:resolvedPartner ?partner .
  FILTER(STR(?structure1) < STR(?structure2))
} GROUP BY ?structure1 ?structure2 ORDER BY DESC(?shared) ?structure1 ?structure2 LIMIT 20""",
    "partners-shared-by-most": P + """
SELECT ?partner ?name (COUNT(DISTINCT ?structure) AS ?structures) WHERE {
  ?action schema:agent ?structure ; senacs:resolvedPartner ?partner .
  ?partner schema:name ?name .
} GROUP BY ?partner ?name ORDER BY DESC(?structures) ?name""",
    "budget-per-dimension": P + """
SELECT ?dimension (SUM(?euros) AS ?total) (COUNT(?action) AS ?actions) WHERE {
  ?action senacs:dimension/skos:prefLabel ?dimension ; senacs:budgetTotal/schema:value ?euros .
  FILTER(lang(?dimension) = "fr")
} GROUP BY ?dimension ORDER BY DESC(?total)""",
    "partners-shared-within-an-epci": P + """
SELECT ?epciName ?partnerName (COUNT(DISTINCT ?structure) AS ?structures) WHERE {
  ?structure senacs:commune/senacs:epci ?epci .
  ?epci schema:name ?epciName .
  ?action schema:agent ?structure ; senacs:resolvedPartner ?partner .
  ?partner schema:name ?partnerName .
} GROUP BY ?epciName ?partnerName HAVING (COUNT(DISTINCT ?structure) >= 2)
ORDER BY ?epciName DESC(?structures) ?partnerName""",
}


def catalogue() -> dict[str, str]:
    graph = Graph().parse(EXAMPLES_FILE)
    out = {}
    for node in graph.subjects(RDF.type, SH.SPARQLExecutable):
        text = next(graph.value(node, p) for p in (SH.select, SH.ask, SH.construct)
                    if graph.value(node, p) is not None)
        out[str(node)[len(EX):]] = str(text)
    return out


@pytest.fixture(scope="module")
def release(tmp_path_factory, seed_path) -> Path:
    """A release of 1,000 generated records with structures in every department, and the seed's
    25 (the benchmark's questions name its Reynerie centre and one of its actions)."""
    work = tmp_path_factory.mktemp("shortcuts")
    write_export(work / "national.txt", 1000)
    run = senacs_kg("build", str(work / "national.txt"), str(seed_path), "--out",
                    str(work / "release"), timeout=600)
    assert run.returncode == 0, run.stderr
    return work / "release"


def _store(lines: list[bytes]) -> ox.Store:
    store = ox.Store()
    store.bulk_load(b"".join(lines), format=ox.RdfFormat.N_TRIPLES)
    return store


@pytest.fixture(scope="module")
def stores(release) -> tuple[ox.Store, ox.Store]:
    """(the release, the same data without its shortcut statements)."""
    lines = dump_bytes(release).splitlines(keepends=True)
    before = [line for line in lines if line.split(b" ", 2)[1].decode() not in SHORTCUTS]
    assert len(before) < len(lines)  # the release has shortcuts to take away
    return _store(lines), _store(before)


def answer(store: ox.Store, query: str) -> list:
    """The answer in order (every ordered question here orders completely), as text."""
    result = store.query(query)
    if isinstance(result, ox.QueryBoolean):
        return [bool(result)]
    if isinstance(result, ox.QuerySolutions):
        names = [v.value for v in result.variables]
        return [tuple(str(row[n]) if row[n] is not None else None for n in names)
                for row in result]
    return sorted(str(t) for t in result)


def without_shortcuts(rows: list) -> list:
    """The rows or triples that state no shortcut."""
    return [r for r in rows if not any(s in str(r) for s in SHORTCUTS)]


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_every_example_answers_as_it_did_before_the_shortcuts(name, stores):
    now, before = stores
    query = catalogue()[name]
    expected = answer(before, QUALIFIED_EXAMPLES.get(name, query))
    assert answer(now, query) == expected
    if name != "fields-changed-most":  # a single release has no changes to compare
        assert expected, f"{name}: no answer on 1,025 records proves nothing"
    assert expected != [(f'"0"^^<{XSD_INTEGER}>',)], f"{name}: a count of 0 proves nothing"


def test_the_rewritten_examples_are_the_ones_listed():
    """A question rewritten without its former text here would go unchecked."""
    assert set(QUALIFIED_EXAMPLES) <= set(catalogue())
    for name, text in QUALIFIED_EXAMPLES.items():
        assert catalogue()[name] != text
    assert set(BEFORE) <= set(QUESTIONS)


@pytest.mark.parametrize("name", sorted(QUESTIONS))
def test_every_benchmark_question_answers_as_it_did_before(name, stores):
    """The mix and the new questions of benchmarks/questions.py; a question asking for all
    that is said of one resource now also gets its shortcut statements, and nothing else."""
    now, before = stores
    # the benchmark's action is one of its generated records: one of the seed's stands in
    action = next(iter(now.query(P + "SELECT ?a WHERE { ?a senacs:budgetTotalValue ?v ; "
                                 f"schema:agent <{B}structure/centre-social-reynerie-31> }}")))
    question, qualified = (q.replace(f"<{BENCH_ACTION}>", str(action["a"]))
                           for q in (QUESTIONS[name], BEFORE.get(name, QUESTIONS[name])))
    expected = answer(before, qualified)
    got = answer(now, question)
    assert expected, f"{name}: no answer on 1,025 records proves nothing"
    assert expected != [(f'"0"^^<{XSD_INTEGER}>',)], f"{name}: a count of 0 proves nothing"
    if name in ALL_STATEMENTS:
        assert without_shortcuts(got) == expected and len(got) > len(expected)
    else:
        assert got == expected
    assert (name in GRAPH_QUERIES) == isinstance(now.query(question), ox.QueryTriples)
    if name in FORMER:  # the former text left the order of ties open: the same titles
        titles = [row[1] for row in answer(before, FORMER[name])]
        assert [row[1] for row in got] == titles


def test_the_title_rank_is_the_order_by_title_then_iri(stores):
    now, _ = stores
    ordered = answer(now, P + "PREFIX dcterms: <http://purl.org/dc/terms/> SELECT ?a WHERE { "
                     "?a a senacs:Action ; dcterms:title ?t } ORDER BY ?t ?a")
    ranked = answer(now, P + "SELECT ?a ?r WHERE { ?a senacs:titleRank ?r } ORDER BY ?r")
    assert [a for a, _ in ranked] == [a for (a,) in ordered]
    assert [r for _, r in ranked] == [f'"{n}"^^<{XSD_INTEGER}>'
                                      for n in range(1, len(ordered) + 1)]


def test_the_structure_rank_is_the_order_by_iri(stores):
    now, _ = stores
    ordered = answer(now, P + "SELECT ?s WHERE { ?s a senacs:Structure } ORDER BY ?s")
    ranked = answer(now, P + "SELECT ?s ?r WHERE { ?s senacs:structureRank ?r } ORDER BY ?r")
    assert len(ordered) > 100  # structures of every department, and the seed's
    assert [s for s, _ in ranked] == [s for (s,) in ordered]
    assert [r for _, r in ranked] == [f'"{n}"^^<{XSD_INTEGER}>'
                                      for n in range(1, len(ordered) + 1)]


def test_the_shortcuts_hold_what_they_stand_for(stores):
    now, _ = stores
    for direct, qualified in (
            ("?a senacs:budgetTotalValue ?v", "?a senacs:budgetTotal/schema:value ?v"),
            ("?a senacs:worksWith ?v", "?x schema:agent ?a ; senacs:resolvedPartner ?v"),
            ("?a senacs:agentDepartment ?v", "?a schema:agent/senacs:department ?v")):
        pairs = {P + f"SELECT DISTINCT ?a ?v WHERE {{ {q} }}" for q in (direct, qualified)}
        got = [set(answer(now, q)) for q in sorted(pairs)]
        assert got[0] == got[1] and len(got[0]) > 100


def test_the_text_search_by_regex_finds_what_lcase_contains_found():
    """"Text search across fields" asks REGEX(?x, "jardin", "i") instead of
    CONTAINS(LCASE(STR(?x)), "jardin"): the same texts on every case the two could part on
    (İ lowercases to i and a combining dot, fullwidth letters and accents are letters of
    their own, a text may be tagged fr or not), not only on the generated data, which holds
    none of them."""
    texts = ["Jardin partagé", "JARDINS familiaux", "jArDiN", "un jardinier", "JARDİN",
             "jardİn", "jardín", "jar din", "ja\u0301rdin", "Ｊardin", "jardin\n",
             "", "des jardins et des parents"]
    store = ox.Store()
    for i, text in enumerate(texts):
        store.add(ox.Quad(ox.NamedNode(f"{B}action/t{i}"), ox.NamedNode(f"{DEF}summary"),
                          ox.Literal(text, language="fr") if i % 2 else ox.Literal(text)))
    regex, lcase = (answer(store, P + f"SELECT ?a WHERE {{ ?a senacs:summary ?x FILTER({test}) }}"
                                      " ORDER BY ?a")
                    for test in ('REGEX(?x, "jardin", "i")', 'CONTAINS(LCASE(STR(?x)), "jardin")'))
    assert regex == lcase
    assert len(regex) == 6  # the first four, the newline, the last
    assert 'FILTER(REGEX(?x, "jardin", "i"))' in QUESTIONS["text search across fields"]
    assert 'FILTER(CONTAINS(LCASE(STR(?x)), "jardin"))' in BEFORE["text search across fields"]

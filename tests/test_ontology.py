"""The ontology and the concept schemes: documented, aligned, and covering what the mapping emits."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from mapping.concepts import SCHEME_OF_FIELD, Schemes, load_ontology_text
from mapping.mapper import Mapper, graph_of
from mapping.reader import ExportFile
from mapping.vocab import DEFAULT_BASE, OWL, RDF, RDFS, SKOS, Iris

DEF = DEFAULT_BASE + "def#"
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def ontology() -> Graph:
    graph = Graph()
    for name in ("senacs.ttl", "form.ttl", "schemes.ttl"):
        graph.parse(data=load_ontology_text(name, DEFAULT_BASE), format="turtle")
    return graph


def minted_terms(ontology: Graph) -> list[URIRef]:
    kinds = (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty)
    return sorted({s for k in kinds for s in ontology.subjects(RDF.type, k)
                   if str(s).startswith(DEF)})


def test_ontology_is_versioned(ontology):
    onto = URIRef(DEFAULT_BASE + "def")
    assert (onto, RDF.type, OWL.Ontology) in ontology
    assert ontology.value(onto, OWL.versionInfo) == Literal("0.1.0")


def test_every_minted_term_is_labelled_commented_and_aligned(ontology):
    terms = minted_terms(ontology)
    assert len(terms) > 40
    for term in terms:
        for prop in (RDFS.label, RDFS.comment):
            langs = {o.language for o in ontology.objects(term, prop)}
            assert {"fr", "en"} <= langs, f"{term} lacks {prop} in fr or en"
        parents = [o for p in (RDFS.subClassOf, RDFS.subPropertyOf) for o in ontology.objects(term, p)]
        assert parents and all(not str(o).startswith(DEF) for o in parents), \
            f"{term} is not aligned with a standard term"


def test_every_term_the_mapping_emits_is_declared(ontology, seed_graph):
    edge = graph_of([ExportFile(p) for p in sorted(GOLDEN.glob("*.txt"))])
    used = {p for _, p, _ in seed_graph} | {o for _, p, o in seed_graph if p == RDF.type}
    used |= {p for _, p, _ in edge}
    ours = {t for t in used if str(t).startswith(DEF)}
    declared = set(minted_terms(ontology))
    assert ours - declared == set()


def test_schemes_cover_the_seed_and_site_values(seed_records):
    mapper = Mapper()
    for record in seed_records:
        mapper.triples(record, DEFAULT_BASE + "action/x/y")
    assert mapper.schemes.new_values == {}  # every seed value is in a scheme
    schemes = Schemes(Iris())
    assert not schemes.concept("public", "Jeunes adultes").new
    assert not schemes.concept("keyword", "développement durable").new


def test_every_concept_is_labelled_in_fr_and_en(ontology):
    concepts = list(ontology.subjects(RDF.type, SKOS.Concept))
    assert len(concepts) >= 50
    for concept in concepts:
        assert {o.language for o in ontology.objects(concept, SKOS.prefLabel)} == {"fr", "en"}
    schemes = set(ontology.subjects(RDF.type, SKOS.ConceptScheme))
    assert {URIRef(DEFAULT_BASE + "concept/" + s) for s in SCHEME_OF_FIELD.values()} <= schemes


def test_a_configured_base_moves_every_iri():
    iris = Iris("https://example.org/kg/")
    schemes = Schemes(iris)
    assert str(schemes.concept("status", "En cours").iri) == "https://example.org/kg/concept/status/en-cours"


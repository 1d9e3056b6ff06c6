"""Record → RDF: everything a record says is in the graph, and the graph gives the text back."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import SEED, generate_export, read_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdflib import Graph, Literal, URIRef

from mapping.export_text import GraphReader
from mapping.labels import LABEL_LINES
from mapping.mapper import Mapper, graph_of
from mapping.reader import ExportFile
from mapping.vocab import DCTERMS, RDF, SCHEMA, SKOS, Iris

BASE = "https://w3id.org/senacs-kg/"
D = Iris().DEF
CAF_31 = URIRef(BASE + "organisation/caf-31")


def export_text(graph: Graph) -> str:
    return "".join(text for _, text in GraphReader(graph, Iris()).files())


def actions(graph: Graph) -> list[URIRef]:
    return sorted(graph.subjects(RDF.type, D.Action))


# -- nothing lost ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt, suffix", [("nt", ".nt"), ("turtle", ".ttl"), ("json-ld", ".jsonld")])
def test_export_text_gives_the_seed_back_byte_for_byte(seed_graph, tmp_path, fmt, suffix):
    dump = tmp_path / f"seed{suffix}"
    dump.write_bytes(seed_graph.serialize(format=fmt, encoding="utf-8"))
    run = subprocess.run([sys.executable, "-m", "mapping.cli", "export-text", str(dump)],
                         capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == SEED.read_bytes()


def test_seed_needs_no_verbatim_copy(seed_graph):
    # every seed record is rebuilt from its values alone: no senacs:sourceText fallback
    assert list(seed_graph.subject_objects(D.sourceText)) == []
    assert len(actions(seed_graph)) == 25


def test_generated_records_round_trip_with_distinct_iris(tmp_path):
    path = generate_export(1000, 11, tmp_path / "gen.txt")
    graph = graph_of([ExportFile(path)])
    assert len(actions(graph)) == 1000  # same structure and title never merge two records
    assert export_text(graph) == path.read_text(encoding="utf-8")


def test_malformed_records_are_kept_verbatim(seed_text, tmp_path):
    text = seed_text.replace("- Statut de l'action\n- En cours", "- Statut de l'action\nEn cours", 1)
    text = text.replace("- Dimension\n- Citoyenneté", "- Dimensoin\n- Citoyenneté", 1)
    export, records, problems = read_text(text, tmp_path)
    assert problems and len(records) == 25
    graph = graph_of([ExportFile(tmp_path / "export.txt")])
    # neither record can be printed from its values (a list item without its dash; a
    # missing label): both are kept verbatim beside their values
    assert len(list(graph.subject_objects(D.sourceText))) == 2
    assert export_text(graph) == text


def test_unknown_values_are_minted_as_new_concepts(seed_text, tmp_path):
    text = seed_text.replace("- Parentalité\n", "- Parentalité\n- Numérique\n", 1)
    read_text(text, tmp_path)
    mapper = Mapper()
    graph = graph_of([ExportFile(tmp_path / "export.txt")], mapper)
    new = URIRef(BASE + "concept/keyword/numerique")
    assert (new, D.isNewValue, Literal(True)) in graph
    assert (new, SKOS.inScheme, URIRef(BASE + "concept/keyword")) in graph
    assert (new, SKOS.prefLabel, Literal("Numérique", lang="fr")) in graph
    assert mapper.schemes.new_values == {("keyword", "Numérique"): 1}
    assert len(list(graph.subjects(D.keyword, new))) == 1
    assert export_text(graph) == text


# -- what the graph says -----------------------------------------------------------------


def test_every_action_has_its_structure_department_and_provenance(seed_graph, seed_text):
    n_lines = seed_text.count("\n") + 1
    for action in actions(seed_graph):
        structure = seed_graph.value(action, SCHEMA.agent)
        assert (structure, RDF.type, D.Structure) in seed_graph
        assert seed_graph.value(structure, D.department) == URIRef(BASE + "place/departement/31")
        derivation = seed_graph.value(action, URIRef("http://www.w3.org/ns/prov#qualifiedDerivation"))
        first, last = seed_graph.value(derivation, D.firstLine), seed_graph.value(derivation, D.lastLine)
        assert 2 <= first.toPython() < last.toPython() <= n_lines


def test_text_is_french_and_empty_fields_give_no_triple(seed_graph):
    texts = [o for _, p, o in seed_graph if isinstance(o, Literal) and o.language is not None]
    assert texts and all(str(o) != "" for o in texts)
    first = URIRef(BASE + "action/sous-les-tilleuls-31/"
                   "bien-ensemble-sous-les-tilleuls-les-cafes-des-rencontres")
    assert seed_graph.value(first, D.endReason) == Literal("Période de crise sanitaire.", lang="fr")
    assert seed_graph.value(first, D.initiativeNote) is None  # no "Précision" field in record 1
    assert (first, D.hasEmptyField, Iris().field("files")) in seed_graph


def test_every_caf_partner_resolves_to_one_organisation(seed_graph, seed_records):
    with_caf = {r.line for r in seed_records if "Caf" in r.partner_categories}
    assert len(with_caf) == 6
    pointing = set(seed_graph.subjects(D.resolvedPartner, CAF_31))
    assert len(pointing) == 6
    assert seed_graph.value(CAF_31, SCHEMA.name) == Literal(
        "Caisse d'allocations familiales de la Haute-Garonne", lang="fr")
    council = URIRef(BASE + "organisation/departement-31")
    assert seed_graph.value(council, D.siren) == Literal("223100017")


def test_commune_partners_resolve_through_the_reference_csv(seed_graph):
    toulouse = URIRef(BASE + "organisation/commune-31555")
    assert seed_graph.value(toulouse, SCHEMA.name) == Literal("Commune de Toulouse", lang="fr")
    reynerie = URIRef(BASE + "structure/centre-social-reynerie-31")
    assert seed_graph.value(reynerie, D.commune) == URIRef(BASE + "place/commune/31555")
    # a structure the reference does not place has no commune: never guessed
    assert seed_graph.value(URIRef(BASE + "structure/mjc-jacques-prevert-31"), D.commune) is None


def test_iris_are_identical_on_every_rebuild(seed_graph):
    again = graph_of([ExportFile(SEED)])
    assert set(seed_graph) == set(again)


def test_same_structure_and_title_get_a_deterministic_suffix(seed_text, tmp_path):
    first = seed_text.split("\nActions\n")[1]
    text = seed_text + "\nActions\n" + first + "\nActions\n" + first
    read_text(text, tmp_path)
    names = [str(a) for a in actions(graph_of([ExportFile(tmp_path / "export.txt")]))]
    twins = sorted(n for n in names if "/bien-ensemble-sous-les-tilleuls" in n)
    assert len(twins) == 3
    plain = BASE + "action/sous-les-tilleuls-31/bien-ensemble-sous-les-tilleuls-les-cafes-des-rencontres"
    assert twins[0] == plain
    assert twins[1].startswith(plain + "-") and twins[2] == twins[1] + "-2"
    again = [str(a) for a in actions(graph_of([ExportFile(tmp_path / "export.txt")]))]
    assert sorted(again) == sorted(names)


def test_title_and_status(seed_graph):
    titles = {str(o) for o in seed_graph.objects(None, DCTERMS.title) if o.language == "fr"}
    assert '"Bien ensemble Sous les Tilleuls", les cafés des rencontres' in titles
    finished = set(seed_graph.subjects(SCHEMA.actionStatus, SCHEMA.CompletedActionStatus))
    assert len(finished) == 7


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_mutated_seed_comes_back_from_the_graph(seed_text, tmp_path, data):
    """Delete, duplicate or replace lines anywhere: the graph still gives the text back."""
    lines = seed_text.split("\n")
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(lines) - 1))
        op = data.draw(st.sampled_from(["delete", "duplicate", "replace"]))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines[i] = data.draw(st.one_of(st.sampled_from(sorted(LABEL_LINES) + ["-", "Actions"]),
                                           st.text(max_size=20).map(lambda s: s.replace("\r", ""))))
    text = "\n".join(lines).replace("\r", "")
    path = tmp_path / "mutated.txt"
    path.write_bytes(text.encode("utf-8"))
    graph = graph_of([ExportFile(path)])
    assert export_text(graph) == text


def test_hash_parts_are_minted_and_read_in_one_place():
    from mapping import vocab

    action = "https://w3id.org/senacs-kg/action/s/t"
    assert vocab.part(action, "amount", 2) == action + "#amount-2"
    assert vocab.part(action, "source") == action + "#source"
    assert vocab.part_kind(action + "#headcount-3") == "headcount"
    assert vocab.part_kind(action) is None and vocab.part_kind(action + "#other") is None
    assert vocab.field_key(str(vocab.Iris().field("territory_repeat"))) == "territory-repeat"
    with pytest.raises(ValueError):
        vocab.part(action, "nothing")

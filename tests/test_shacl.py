"""SHACL shapes: every shape catches what it should, and the fast engine reports what pySHACL does.

A valid base graph (two real-looking records, every kind of node) is broken one
way per shape by a SPARQL Update; the test asserts the focus node, path and
severity the shape reports. The Oxigraph engine and pySHACL must give the same
results on the seed and on 1,000 generated records with injected violations.
"""

from __future__ import annotations

import random

import pyoxigraph as ox
import pytest
from conftest import SEED, generate_export
from rdflib import Graph
from rdflib.namespace import RDF, SH

from mapping import ntriples as nt
from mapping.build import shapes_text, vocabulary_lines
from mapping.mapper import Mapper, map_exports
from mapping.reader import ExportFile
from mapping.shacl import Validator, compile_shapes, validate
from mapping.vocab import DEFAULT_BASE, Iris

B = DEFAULT_BASE
SHAPES = B + "shapes#"
PREFIXES = f"""
PREFIX senacs: <{B}def#>
PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX igeo: <http://rdf.insee.fr/def/geo#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
PREFIX concept: <{B}concept/>
"""
A = f"<{B}action/espace-de-vie-sociale-les-3-rivieres-72/cafe-numerique-b-ateliers-b>"
A_IRI = A.strip("<>")
S = f"<{B}structure/espace-de-vie-sociale-les-3-rivieres-72>"
CAF = f"<{B}organisation/caf-31>"
PAULHAC = f"<{B}place/commune/31407>"
DEPT = f"<{B}place/departement/72>"
HG_DEPT = f"<{B}place/departement/31>"
REGION = f"<{B}place/region/76>"
EPCI = f"<{B}organisation/epci-243100732>"  # Paulhac's: CC des Coteaux du Girou
PLACEMENT = f"<{B}structure/sous-les-tilleuls-31#placement>"
AMOUNT = f"<{A_IRI}#amount-1>"
BUDGET = f"<{A_IRI}#budget>"
HEAD = f"<{A_IRI}#headcount-1>"
DERIV = f"<{A_IRI}#source>"
FILE = f"<{B}source/base.txt>"
START = f"<{A_IRI}#start>"
MEDIA = f"<{A_IRI}#file-1>"
KEYWORD = f"<{B}concept/keyword/parentalite>"
SCHEME = f"<{B}concept/keyword>"
FIELD = f"<{B}def#field-people>"


def _set(focus: str, path: str, value: str) -> str:
    """Replace every value of a property by one value."""
    return f"DELETE {{ {focus} {path} ?o }} WHERE {{ {focus} {path} ?o }} ; " \
           f"INSERT DATA {{ {focus} {path} {value} }}"


def _drop(focus: str, path: str) -> str:
    return f"DELETE WHERE {{ {focus} {path} ?o }}"


def _add(focus: str, path: str, value: str) -> str:
    return f"INSERT DATA {{ {focus} {path} {value} }}"


def _rename(old: str, new: str) -> str:
    """Give a node another IRI (its triples move with it)."""
    return (f"DELETE {{ {old} ?p ?o }} INSERT {{ {new} ?p ?o }} WHERE {{ {old} ?p ?o }} ; "
            f"DELETE {{ ?s ?p {old} }} INSERT {{ ?s ?p {new} }} WHERE {{ ?s ?p {old} }}")


TEXTS = ["endReason", "summary", "initiativeNote", "experience", "generalDescription",
         "resourcesText", "peopleText", "resultForTerritory", "resultForCentre",
         "resultForResidents", "limits", "perspectives"]
# shape -> (the update that breaks it, focus node, severity)
BREAKS: dict[str, tuple[str, str, str]] = {
    "ActionShape": (_rename(A, f"<{B}action/Bad_IRI>"), f"<{B}action/Bad_IRI>", "Violation"),
    "Action-title": (_add(A, "dcterms:title", '"second"@en'), A, "Violation"),
    "Action-title-present": (_drop(A, "dcterms:title"), A, "Warning"),
    "Action-agent": (_set(A, "schema:agent", CAF), A, "Violation"),
    "Action-organiserName": (_add(A, "senacs:organiserName", '"AUTRE"'), A, "Violation"),
    "Action-status": (_drop(A, "senacs:status"), A, "Violation"),
    "Action-status-scheme": (_set(A, "senacs:status", KEYWORD), A, "Violation"),
    "Action-dimension": (_add(A, "senacs:dimension", '"Services"'), A, "Violation"),
    "Action-dimension-scheme": (_set(A, "senacs:dimension", KEYWORD), A, "Violation"),
    "Action-keyword": (_add(A, "senacs:keyword", '"Parentalité"'), A, "Violation"),
    "Action-keyword-scheme": (_add(A, "senacs:keyword", "concept:public\\/familles"), A,
                              "Violation"),
    "Action-initiator": (_add(A, "senacs:initiator", '"Autre"'), A, "Violation"),
    "Action-initiator-scheme": (_add(A, "senacs:initiator", KEYWORD), A, "Violation"),
    "Action-territoryScale": (_add(A, "senacs:territoryScale",
                                   "<" + B + "concept/territory-scale/un-quartier>"), A,
                              "Violation"),
    "Action-territoryScale-scheme": (_set(A, "senacs:territoryScale", KEYWORD), A, "Violation"),
    "Action-audience": (_add(A, "senacs:audience", "<" + B + "concept/public/adultes>"), A,
                        "Violation"),
    "Action-audience-scheme": (_set(A, "senacs:audience", KEYWORD), A, "Violation"),
    "Action-partnerCategory": (_add(A, "senacs:partnerCategory", '"Caf"'), A, "Violation"),
    "Action-partnerCategory-scheme": (_add(A, "senacs:partnerCategory", KEYWORD), A,
                                      "Violation"),
    **{f"Action-{p}": (_add(A, f"senacs:{p}", '"in English"@en'), A, "Violation") for p in TEXTS},
    "Action-summary-present": (_drop(A, "senacs:summary"), A, "Warning"),
    "Action-derivation": (_drop(A, "prov:qualifiedDerivation"), A, "Violation"),
    "Action-source": (_set(A, "prov:wasDerivedFrom", S), A, "Violation"),
    "Action-budgetLine": (_add(A, "senacs:budgetLine", '"600 €"'), A, "Violation"),
    "Action-budgetTotal": (_add(A, "senacs:budgetTotal", AMOUNT), A, "Violation"),
    "Action-budgetTotalValue": (_add(A, "senacs:budgetTotalValue", '"cent"'), A, "Violation"),
    "Action-budgetTotalValue-agrees": (_set(A, "senacs:budgetTotalValue", '"1"^^xsd:decimal'),
                                       A, "Violation"),
    "Action-titleRank": (_set(A, "senacs:titleRank", "0"), A, "Violation"),
    "Action-agentDepartment": (_set(A, "senacs:agentDepartment", S), A, "Violation"),
    # the action's structure is in the Sarthe, not in this department
    "Action-agentDepartment-agrees": (_set(A, "senacs:agentDepartment", HG_DEPT), A,
                                      "Violation"),
    "Action-headcount": (_add(A, "senacs:headcount", AMOUNT), A, "Violation"),
    "Action-startDate": (_set(A, "senacs:startDate", '"septembre 2021"'), A, "Violation"),
    "Action-startMention": (_add(A, "senacs:startMention", AMOUNT), A, "Violation"),
    "Action-resolvedPartner": (_add(A, "senacs:resolvedPartner", S), A, "Violation"),
    "Action-emptyField": (_add(A, "senacs:hasEmptyField", KEYWORD), A, "Violation"),
    "Action-media": (_add(A, "schema:associatedMedia", '"programme.pdf"'), A, "Violation"),
    "Action-sourceText": (_add(A, "senacs:sourceText", '"Actions"@fr'), A, "Violation"),
    "Action-verbatim": (_add(A, "senacs:sourceText", '"Actions"'), A, "Warning"),
    "StructureShape": (_rename(S, f"<{B}structure/BAD IRI>".replace(" ", "%20")),
                       f"<{B}structure/BAD%20IRI>", "Violation"),
    "Structure-name": (_set(S, "schema:name", '""'), S, "Violation"),
    "Structure-department": (_add(S, "senacs:department", PAULHAC), S, "Violation"),
    "Structure-department-present": (_drop(S, "senacs:department"), S, "Warning"),
    "Structure-commune": (_add(S, "senacs:commune", DEPT), S, "Violation"),
    "Structure-worksWith": (_add(S, "senacs:worksWith", '"Caf"'), S, "Violation"),
    "Structure-structureRank": (_set(S, "senacs:structureRank", "0"), S, "Violation"),
    # the Caf of the Haute-Garonne is no partner of a Sarthe structure's actions
    "Structure-worksWith-agrees": (_add(S, "senacs:worksWith", CAF), S, "Violation"),
    "Structure-commune-present": (_drop(f"<{B}structure/sous-les-tilleuls-31>",
                                        "senacs:commune"),
                                  f"<{B}structure/sous-les-tilleuls-31>", "Warning"),
    "OrganisationShape": (_rename(CAF, f"<{B}organisation/Caf_31>"),
                          f"<{B}organisation/Caf_31>", "Violation"),
    "Organisation-name": (_add(CAF, "schema:name", '"Caf 31"@fr'), CAF, "Violation"),
    "Organisation-kind": (_set(CAF, "senacs:organisationKind", '"cpam"'), CAF, "Violation"),
    "Organisation-department": (_set(CAF, "senacs:department", PAULHAC), CAF, "Violation"),
    "DepartmentBody-department": (_add(EPCI, "senacs:department", DEPT), EPCI, "Violation"),
    "Intercommunalite-siren": (_drop(EPCI, "senacs:siren"), EPCI, "Violation"),
    "Intercommunalite-kind": (_set(EPCI, "senacs:epciKind", '"SIVOM"'), EPCI, "Violation"),
    "Intercommunalite-member": (_drop(EPCI, "senacs:memberCommune"), EPCI, "Violation"),
    "Placement-method": (_set(PLACEMENT, "senacs:placementMethod", '"guess"'), PLACEMENT,
                         "Violation"),
    "Placement-evidence": (_drop(PLACEMENT, "senacs:evidence"), PLACEMENT, "Violation"),
    "Region-code": (_set(REGION, "igeo:codeINSEE", '"7"'), REGION, "Violation"),
    "Region-name": (_add(REGION, "igeo:nom", '"Occitània"@fr'), REGION, "Violation"),
    "Commune-region": (_add(PAULHAC, "senacs:region", f"<{B}place/region/52>"), PAULHAC,
                       "Violation"),
    "Commune-epci": (_add(PAULHAC, "senacs:epci", CAF), PAULHAC, "Violation"),
    "Departement-region": (_set(DEPT, "senacs:region", PAULHAC), DEPT, "Violation"),
    "Organisation-siren": (_add(CAF, "senacs:siren", '"12345"'), CAF, "Violation"),
    "Commune-code": (_set(PAULHAC, "igeo:codeINSEE", '"3140"'), PAULHAC, "Violation"),
    "Commune-name": (_set(PAULHAC, "igeo:nom", '"Paulhac"@oc'), PAULHAC, "Violation"),
    "Commune-department": (_add(PAULHAC, "senacs:department", DEPT), PAULHAC, "Violation"),
    "Departement-name": (_add(DEPT, "igeo:nom", '"La Sarthe"@fr'), DEPT, "Violation"),
    "Departement-code": (_set(DEPT, "igeo:codeINSEE", '"720"'), DEPT, "Violation"),
    "Departement-code-present": (_drop(DEPT, "igeo:codeINSEE"), DEPT, "Warning"),
    "Amount-value": (_set(AMOUNT, "schema:value", '"-5"^^xsd:decimal'), AMOUNT, "Violation"),
    "Amount-currency": (_set(AMOUNT, "schema:currency", '"€"'), AMOUNT, "Violation"),
    "Amount-extractedFrom": (_drop(AMOUNT, "senacs:extractedFrom"), AMOUNT, "Violation"),
    "Amount-isTotal": (_set(AMOUNT, "senacs:isTotal", '"non"'), AMOUNT, "Violation"),
    "Amount-totalMethod": (_set(BUDGET, "senacs:totalMethod", '"guess"'), BUDGET, "Violation"),
    "Headcount-min": (_set(HEAD, "schema:minValue", "9"), HEAD, "Violation"),
    "Headcount-max": (_drop(HEAD, "schema:maxValue"), HEAD, "Violation"),
    "Headcount-kind": (_drop(HEAD, "senacs:personKind"), HEAD, "Violation"),
    "Headcount-kind-scheme": (_set(HEAD, "senacs:personKind", KEYWORD), HEAD, "Violation"),
    "Headcount-extractedFrom": (_set(HEAD, "senacs:extractedFrom", KEYWORD), HEAD, "Violation"),
    "Headcount-line": (_set(HEAD, "senacs:sourceLine", "0"), HEAD, "Violation"),
    "Derivation-entity": (_drop(DERIV, "prov:entity"), DERIV, "Violation"),
    "Derivation-first": (_set(DERIV, "senacs:firstLine", "999"), DERIV, "Violation"),
    "Derivation-last": (_set(DERIV, "senacs:lastLine", '"46"'), DERIV, "Violation"),
    "SourceFile-title": (_drop(FILE, "dcterms:title"), FILE, "Violation"),
    "SourceFile-newline": (_set(FILE, "senacs:endsWithNewline", '"yes"'), FILE, "Violation"),
    "SourceFile-records": (_set(FILE, "senacs:recordCount", "-1"), FILE, "Violation"),
    "DateMention-date": (_set(START, "senacs:date", '"2021-13"'), START, "Violation"),
    "DateMention-extractedFrom": (_drop(START, "senacs:extractedFrom"), START, "Violation"),
    "DateMention-line": (_drop(START, "senacs:sourceLine"), START, "Violation"),
    "Media-name": (_drop(MEDIA, "schema:name"), MEDIA, "Violation"),
    "Media-position": (_set(MEDIA, "senacs:position", '"first"'), MEDIA, "Violation"),
    "Concept-label": (_drop(KEYWORD, "skos:prefLabel"), KEYWORD, "Violation"),
    "Concept-scheme": (_set(KEYWORD, "skos:inScheme", S), KEYWORD, "Violation"),
    "Concept-new": (_add(KEYWORD, "senacs:isNewValue", "true"), KEYWORD, "Warning"),
    "ConceptScheme-title": (_drop(SCHEME, "dcterms:title"), SCHEME, "Violation"),
    "FormField-label": (_drop(FIELD, "senacs:label"), FIELD, "Violation"),
    "FormField-position": (_set(FIELD, "senacs:position", "1.5"), FIELD, "Violation"),
}


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return Graph().parse(data=shapes_text(DEFAULT_BASE), format="turtle")


@pytest.fixture(scope="module")
def vocabulary() -> list[str]:
    return vocabulary_lines(Iris())


@pytest.fixture(scope="module")
def validator(shapes, vocabulary) -> Validator:
    return Validator(shapes, vocabulary)


@pytest.fixture(scope="module")
def base_lines(tmp_path_factory) -> str:
    """Two valid records: the seed's first and one with files, amounts, headcounts and a date."""
    seed = SEED.read_text(encoding="utf-8").split("\n")
    edge = (SEED.parent.parent.parent / "tests" / "golden" / "edge_cases.txt")
    edge_lines = edge.read_text(encoding="utf-8").split("\n")[1:46]
    path = tmp_path_factory.mktemp("base") / "base.txt"
    path.write_text("\n".join(seed[:89] + edge_lines), encoding="utf-8")
    return "".join(nt.line(t) for t in map_exports([ExportFile(path)], Mapper()))


def _store(validator: Validator, lines: str, update: str | None = None) -> ox.Store:
    store = ox.Store()
    store.bulk_load(validator.vocabulary + lines.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
    if update:
        store.update(PREFIXES + update)
    return store


def test_every_shape_has_a_breaking_fixture(shapes):
    named = {str(s)[len(SHAPES):] for s in shapes.subjects(RDF.type, SH.PropertyShape)}
    named |= {str(s)[len(SHAPES):] for s in shapes.subjects(SH.pattern, None)
              if (s, RDF.type, SH.NodeShape) in shapes}
    assert named == set(BREAKS)


def test_the_base_graph_has_no_violation(validator, base_lines):
    results = validate(_store(validator, base_lines), validator).results
    assert [r for r in results if r.is_violation] == []
    # warnings only: a structure the reference cannot place, the new keyword "Numérique"
    assert {r.shape[len(SHAPES):] for r in results} == {"Structure-commune-present", "Concept-new"}


@pytest.mark.parametrize("shape", sorted(BREAKS))
def test_each_shape_reports_its_break(shape, shapes, validator, base_lines):
    update, focus, severity = BREAKS[shape]
    before = set(validate(_store(validator, base_lines), validator).results)
    after = set(validate(_store(validator, base_lines, update), validator).results)
    new = [r for r in after - before if r.shape == SHAPES + shape]
    assert new, f"{shape}: the break was not reported"
    assert {r.focus for r in new} == {focus}
    assert {r.severity for r in new} == {str(SH[severity])}
    path = shapes.value(SH_URI(shape), SH.path)
    if path is not None:  # node shapes have no path
        assert {r.path for r in new} and all(r.path for r in new)
    # the same break, seen by pySHACL
    store = _store(validator, base_lines, update)
    theirs = {r for r in validate(store, shapes, engine="pyshacl").results
              if r.shape == SHAPES + shape}
    assert theirs == set(new) | {r for r in before if r.shape == SHAPES + shape}


def SH_URI(shape: str):
    from rdflib import URIRef

    return URIRef(SHAPES + shape)


def test_only_supported_constraints_compile(shapes):
    assert len(compile_shapes(shapes)) > 150
    bad = shapes + Graph().parse(data=f"""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        <{SHAPES}X> sh:targetClass <{B}def#Action> ; sh:property <{SHAPES}Y> .
        <{SHAPES}Y> sh:path <{B}def#summary> ; sh:uniqueLang true .""", format="turtle")
    with pytest.raises(ValueError, match="uniqueLang"):
        compile_shapes(bad)


# -- the fast engine reports exactly what pySHACL reports ------------------------------------


def _results(engine: str, shapes: Graph, lines: str, vocabulary=()):
    return set(validate(lines.encode("utf-8"), shapes, engine=engine,
                        vocabulary=vocabulary).results)


def test_engines_agree_on_the_seed(shapes, vocabulary):
    lines = "".join(nt.line(t) for t in map_exports([ExportFile(SEED)], Mapper()))
    ours = _results("sparql", shapes, lines, vocabulary)
    assert ours == _results("pyshacl", shapes, lines, vocabulary)
    assert len(ours) == 5  # five structures with no known commune


def test_engines_agree_on_generated_records_with_injected_violations(tmp_path, shapes, vocabulary):
    path = generate_export(1000, 3, tmp_path / "gen.txt")
    lines = "".join(nt.line(t) for t in map_exports([ExportFile(path)], Mapper()))
    validator = Validator(shapes, vocabulary)
    store = _store(validator, lines)
    actions = [str(r["a"]) for r in store.query(
        f"SELECT ?a WHERE {{ ?a a <{B}def#Action> }} ORDER BY ?a")]
    rng = random.Random(5)
    breaks = 0
    for shape, (update, focus, _) in sorted(BREAKS.items()):
        if not focus.startswith(A[:-1]) or "#" in focus or shape == "ActionShape":
            continue  # action-level breaks, moved onto a random generated action
        target = rng.choice(actions)
        store.update(PREFIXES + update.replace(A, target))
        breaks += 1
    assert breaks > 30
    broken = "".join(f"{q.triple} .\n" for q in store)
    ours = _results("sparql", shapes, broken)
    theirs = _results("pyshacl", shapes, broken)
    assert sum(r.is_violation for r in ours) >= breaks - 10
    assert ours == theirs


# -- the one door: validate() and its Report --------------------------------------------------


def test_a_file_a_store_and_bytes_give_the_same_report(tmp_path, shapes, vocabulary, validator,
                                                       base_lines):
    broken = _store(validator, base_lines, BREAKS["Action-status"][0])
    data = broken.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.DefaultGraph())
    path = tmp_path / "broken.nt"
    path.write_bytes(data)
    from_file = validate(path, shapes, base=B)
    assert from_file.results == validate(data, shapes).results \
        == validate(broken, validator).results
    assert (from_file.violations, from_file.warnings) == (1, 2)
    assert not from_file.conforms  # sh:conforms: any result, warnings included
    # the summary names the record by FILE:LINE, read from the data's provenance
    assert "Action-status (Violation, 1): " in from_file.summary
    assert f"base.txt:90: {A}" in from_file.summary
    assert "sh:conforms false" in from_file.turtle()
    assert "sh:sourceConstraintComponent sh:MinCountConstraintComponent" in from_file.turtle()


def test_valid_data_conforms(shapes, vocabulary):
    report = validate(b"", shapes, vocabulary=vocabulary)
    assert report.conforms and report.results == () and report.violations == 0
    assert report.summary.startswith("0 violation(s), 0 warning(s) in 0 shape(s)")
    assert "sh:conforms true ." in report.turtle()


def test_unreadable_files_are_one_line_errors(tmp_path, shapes):
    from mapping.shacl import UnknownFormat, UnreadableData

    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle", encoding="utf-8")
    with pytest.raises(UnreadableData, match=r"bad\.ttl: not readable as Turtle"):
        validate(bad, shapes)
    with pytest.raises(UnknownFormat, match="unknown RDF format"):
        validate(tmp_path / "data.xyz", shapes)


def test_ranks_written_without_their_subjects_types_are_checked(validator):
    """A build writes the ranks once, after the last record, in a batch that holds no
    rdf:type: the rank shapes reach them there through sh:targetSubjectsOf."""
    integer, decimal = (f"<http://www.w3.org/2001/XMLSchema#{t}>" for t in ("integer", "decimal"))
    structure, action = f"<{B}structure/x-31>", f"<{B}action/x-31/y>"
    lines = (f'{structure} <{B}def#structureRank> "0"^^{integer} .\n'
             f'{action} <{B}def#titleRank> "1.5"^^{decimal} .\n')
    results = validate(_store(validator, lines), validator).results
    assert {(r.shape[len(SHAPES):], r.focus) for r in results if r.is_violation} == {
        ("Structure-structureRank", structure), ("Action-titleRank", action)}

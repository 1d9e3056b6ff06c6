"""The form's table (mapping/labels.py) and the Turtle that describes the same fields agree.

The table says, for each field, its label, its position, the property its value is written with
and a controlled field's concept scheme. ``ontology/form.ttl`` states the same (one
``senacs:FormField`` each, with ``senacs:valueProperty``), each scheme of ``ontology/schemes.ttl``
names the field it serves (``dcterms:source``), and the SHACL shapes keep each controlled
property's values in its scheme. Each check is a function returning what disagrees, so that a
tampered copy can show the check sees it.
"""

from __future__ import annotations

import pytest
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection

from mapping.concepts import PERSON_KINDS, load_ontology_text
from mapping.labels import CONCEPT_FIELDS, FIELD_BY_KEY, FIELDS
from mapping.mapper import Mapper
from mapping.paths import SHAPES_DIR
from mapping.vocab import DCTERMS, DEFAULT_BASE, RDF, SKOS, Iris, expand, field_key

SH = Namespace("http://www.w3.org/ns/shacl#")
IRIS = Iris()


def ontology(form: str | None = None) -> Graph:
    """form.ttl and schemes.ttl as shipped, or with ``form`` as form.ttl's text."""
    graph = Graph()
    graph.parse(data=form or load_ontology_text("form.ttl", DEFAULT_BASE), format="turtle")
    graph.parse(data=load_ontology_text("schemes.ttl", DEFAULT_BASE), format="turtle")
    return graph


def form_disagreements(graph: Graph) -> list[str]:
    """Where form.ttl and the table differ, both ways."""
    found = []
    stated = set(graph.subjects(RDF.type, IRIS.DEF.FormField))
    for iri in sorted(stated - {IRIS.field(spec.key) for spec in FIELDS}):
        found.append(f"{iri} is a form field the table lacks")
    for position, spec in enumerate(FIELDS):
        field = IRIS.field(spec.key)
        if field not in stated:
            found.append(f"{spec.key} is not in form.ttl")
            continue
        checks = {"label": (graph.value(field, IRIS.DEF.label), Literal(spec.label)),
                  "position": (graph.value(field, IRIS.DEF.position), Literal(position)),
                  "valueProperty": (graph.value(field, IRIS.DEF.valueProperty),
                                    URIRef(expand(spec.prop)))}
        found += [f"{spec.key}: form.ttl says {name} {said}, the table {table}"
                  for name, (said, table) in checks.items() if said != table]
    return found


def scheme_disagreements(graph: Graph) -> list[str]:
    """Where the schemes' dcterms:source and the table's schemes differ, both ways."""
    found = []
    by_fragment = {field_key(str(IRIS.field(spec.key))): spec for spec in FIELDS}
    named = {IRIS.scheme(spec.scheme): spec.scheme for spec in CONCEPT_FIELDS}
    named[IRIS.scheme(PERSON_KINDS)] = PERSON_KINDS  # the kinds of people the headcounts count
    source_of = {}
    for scheme in graph.subjects(RDF.type, SKOS.ConceptScheme):
        if scheme not in named:
            found.append(f"{scheme} is a scheme the mapping does not know")
            continue
        source = by_fragment.get(field_key(str(graph.value(scheme, DCTERMS.source))))
        source_of[named[scheme]] = source.key if source else None
    for spec in CONCEPT_FIELDS:
        if source_of.get(spec.scheme) != spec.key:
            found.append(f"{spec.key}: its scheme {spec.scheme} names "
                         f"{source_of.get(spec.scheme)} as its source")
    if source_of.get(PERSON_KINDS) != "people":
        found.append(f"{PERSON_KINDS} does not name the people field as its source")
    for spec in FIELDS:
        if spec.repeat_of:
            shown = FIELD_BY_KEY[spec.repeat_of]
            if (spec.prop, spec.scheme) != (shown.prop, shown.scheme):
                found.append(f"{spec.key} repeats {shown.key} with another property or scheme")
    return found


def shape_disagreements(shapes: Graph) -> list[str]:
    """Where the shapes' ``sh:path (property skos:inScheme) ; sh:in (scheme)`` and the table differ."""
    held = {}
    for shape, path in shapes.subject_objects(SH.path):
        steps = list(Collection(shapes, path)) if isinstance(path, BNode) else []
        if len(steps) == 2 and steps[1] == SKOS.inScheme:
            held[str(steps[0])] = [str(s) for s in Collection(shapes, shapes.value(shape, SH["in"]))]
    expected = {expand(spec.prop): [str(IRIS.scheme(spec.scheme))] for spec in CONCEPT_FIELDS}
    expected[str(IRIS.DEF.personKind)] = [str(IRIS.scheme(PERSON_KINDS))]  # not a form field
    return [f"{prop}: the shapes keep it in {held.get(prop)}, the table in {want}"
            for prop, want in expected.items() if held.get(prop) != want] + \
        [f"{prop}: the shapes keep it in a scheme the table does not name"
         for prop in held.keys() - expected.keys()]


def shapes_graph(text: str | None = None) -> Graph:
    return Graph().parse(data=text or (SHAPES_DIR / "senacs.shapes.ttl").read_text(encoding="utf-8"),
                         format="turtle")


def test_form_ttl_states_every_field_of_the_table_and_no_other():
    assert form_disagreements(ontology()) == []


def test_each_scheme_serves_the_field_the_table_gives_it():
    assert scheme_disagreements(ontology()) == []


def test_the_shapes_keep_each_controlled_field_in_its_scheme():
    assert shape_disagreements(shapes_graph()) == []


@pytest.mark.parametrize("old, new, expected", [
    ("senacs:field-keywords a senacs:FormField ;\n    senacs:valueProperty senacs:keyword ;",
     "senacs:field-keywords a senacs:FormField ;\n    senacs:valueProperty senacs:dimension ;",
     "keywords: form.ttl says valueProperty"),
    ("senacs:position 21 .", "senacs:position 21 .\nsenacs:field-extra a senacs:FormField .",
     "field-extra is a form field the table lacks"),
    ("senacs:field-limits a senacs:FormField", "senacs:field-limit a senacs:FormField",
     "limits is not in form.ttl"),
])
def test_the_form_check_sees_a_tampered_form_ttl(old, new, expected):
    text = load_ontology_text("form.ttl", DEFAULT_BASE)
    assert old in text
    found = form_disagreements(ontology(text.replace(old, new)))
    assert any(expected in line for line in found), found


def test_the_scheme_and_shape_checks_see_a_tampered_copy():
    graph = ontology()
    graph.set((IRIS.scheme("public"), DCTERMS.source, IRIS.field("keywords")))
    assert any("public" in line for line in scheme_disagreements(graph))
    text = (SHAPES_DIR / "senacs.shapes.ttl").read_text(encoding="utf-8")
    swapped = text.replace("sh:in ( concept:public )", "sh:in ( concept:keyword )")
    assert swapped != text
    assert any("audience" in line for line in shape_disagreements(shapes_graph(swapped)))


def test_the_mapping_writes_each_field_with_the_table_property(seed_records):
    """What the mapper writes for a seed record: each shown value under the table's property,
    a controlled value as a concept of the table's scheme."""
    mapper = Mapper()
    record = next(r for r in seed_records if r.field("end_reason") is not None)
    triples = mapper.triples(record, DEFAULT_BASE + "action/x/y")
    action = f"<{DEFAULT_BASE}action/x/y>"
    written = {p for s, p, _ in triples if s == action}
    for spec in FIELDS:
        if spec.key != "files" and record.field(spec.key) is not None and not spec.repeat_of:
            assert f"<{expand(spec.prop)}>" in written, spec.key
    for spec in CONCEPT_FIELDS:
        objects = [o for s, p, o in triples if s == action and p == f"<{expand(spec.prop)}>"]
        assert objects and all(o.startswith(f"<{IRIS.scheme(spec.scheme)}/") for o in objects)

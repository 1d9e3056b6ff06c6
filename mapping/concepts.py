"""The SKOS concept schemes of the controlled fields, as the mapping uses them.

Which field takes which scheme is the form's table (``mapping/labels.py``).
Known values come from ``ontology/schemes.ttl``. A value met in no scheme is
never dropped: it gets a concept in its scheme, marked ``senacs:isNewValue``,
and is counted here so the build report can list it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import NamedTuple

from rdflib import Graph

from mapping import ntriples as nt
from mapping.labels import CONCEPT_FIELDS
from mapping.paths import ONTOLOGY_DIR
from mapping.vocab import RDF, SKOS, Iris, rebase, slug

# The scheme of each controlled field of the form, from the form's table.
SCHEME_OF_FIELD: dict[str, str] = {spec.key: spec.scheme for spec in CONCEPT_FIELDS
                                   if spec.scheme is not None}
PERSON_KINDS = "person-kind"  # the scheme of headcounts' kinds of people (not a form field)


class Concept(NamedTuple):
    iri: str
    label: str
    order: int | None  # rank among the form's checkboxes; None for a new value
    new: bool


def load_ontology_text(name: str, base: str) -> str:
    """An ontology file's Turtle, its IRIs moved onto the configured base."""
    return rebase((ONTOLOGY_DIR / name).read_text(encoding="utf-8"), base)


class Schemes:
    """Label → concept for every scheme, plus the new values met so far."""

    def __init__(self, iris: Iris, path: Path | None = None) -> None:
        self.iris = iris
        graph = Graph()
        if path is None:
            graph.parse(data=load_ontology_text("schemes.ttl", iris.base), format="turtle")
        else:
            graph.parse(path)
        order_prop = iris.DEF.formOrder
        self._known: dict[tuple[str, str], Concept] = {}
        scheme_names = {iris.scheme(s): s for s in [*SCHEME_OF_FIELD.values(), PERSON_KINDS]}
        for concept in graph.subjects(RDF.type, SKOS.Concept):
            scheme = scheme_names[graph.value(concept, SKOS.inScheme)]
            label = next(str(lab) for lab in graph.objects(concept, SKOS.prefLabel)
                         if lab.language == "fr")
            order = graph.value(concept, order_prop)
            self._known[(scheme, label)] = Concept(
                str(concept), label, None if order is None else int(order), False)
        self.new_values: Counter[tuple[str, str]] = Counter()

    def concept(self, scheme: str, label: str) -> Concept:
        """The concept for a value; a new one (counted) when the scheme lacks it."""
        known = self._known.get((scheme, label))
        if known is not None:
            return known
        self.new_values[(scheme, label)] += 1
        return Concept(str(self.iris.concept(scheme, slug(label))), label, None, True)

    def new_concept_triples(self, concept: Concept, scheme: str) -> list[nt.Triple]:
        iri = nt.iri(concept.iri)
        return [(iri, nt.RDF_TYPE, nt.iri(SKOS.Concept)),
                (iri, nt.iri(SKOS.inScheme), nt.iri(self.iris.scheme(scheme))),
                (iri, nt.iri(SKOS.prefLabel), nt.fr(concept.label)),
                (iri, nt.iri(self.iris.DEF.isNewValue), nt.boolean(True))]

    def known(self, scheme: str) -> list[Concept]:
        return sorted((c for (s, _), c in self._known.items() if s == scheme),
                      key=lambda c: c.order if c.order is not None else -1)

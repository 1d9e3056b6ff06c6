"""Graph → export text: the records rendered back from the graph alone.

The proof that the mapping loses nothing: on the seed, the output is the
source file byte for byte. Everything read here comes from the graph: the
form's values from the action's triples and the concepts' labels and form
order from the concept schemes the graph carries.
"""

from __future__ import annotations

from collections.abc import Iterator

from rdflib import Graph, URIRef

from mapping.form import FormValues, render
from mapping.labels import CONCEPT_FIELDS, FIELDS, OPTIONAL_FIELDS, TEXT_FIELDS
from mapping.vocab import DCTERMS, IGEO, PROV, RDF, SCHEMA, SKOS, Iris, expand


class GraphReader:
    """Reads the form's values of each action back out of a graph."""

    def __init__(self, graph: Graph, iris: Iris) -> None:
        self.g = graph
        self.iris = iris
        self.D = iris.DEF
        # The property of each form field's value, as the form's table (mapping/labels.py) says.
        self.prop = {spec.key: URIRef(expand(spec.prop, iris.base)) for spec in FIELDS}
        self._labels: dict[URIRef, tuple[bool, int, str]] = {}

    def source_files(self) -> list[URIRef]:
        files = self.g.subjects(RDF.type, self.D.SourceFile)
        return sorted(files, key=lambda f: str(self.g.value(f, DCTERMS.title)))

    def actions_of(self, source: URIRef) -> list[URIRef]:
        """The file's actions in source order."""
        D = self.D
        found = []
        for derivation in self.g.subjects(PROV.entity, source):
            first = self.g.value(derivation, D.firstLine)
            for action in self.g.subjects(PROV.qualifiedDerivation, derivation):
                found.append((int(first), action))
        return [action for _, action in sorted(found)]

    def _concept_key(self, concept: URIRef) -> tuple[bool, int, str]:
        key = self._labels.get(concept)
        if key is None:
            label = next(str(lab) for lab in self.g.objects(concept, SKOS.prefLabel)
                         if lab.language == "fr")
            order = self.g.value(concept, self.D.formOrder)
            key = (order is None, int(order) if order is not None else 0, label)
            self._labels[concept] = key
        return key

    def form_values(self, action: URIRef) -> FormValues:
        g, D = self.g, self.D
        title = g.value(action, DCTERMS.title)
        values = FormValues(str(title) if title is not None else "")
        empty = set(g.objects(action, D.hasEmptyField))
        texts = {s.key: g.value(action, self.prop[s.key]) for s in TEXT_FIELDS}
        concepts = {s.key: sorted(g.objects(action, self.prop[s.key]), key=self._concept_key)
                    for s in CONCEPT_FIELDS}
        media = sorted(g.objects(action, self.prop["files"]),
                       key=lambda m: int(g.value(m, D.position)))
        for spec in FIELDS:
            key = spec.key
            if key in OPTIONAL_FIELDS:
                shown = self.iris.field(key) in empty or (
                    texts[key] is not None if key in texts else bool(media))
                if not shown:
                    continue
            if key == "structure":
                values.fields[key] = self._structure_line(action)
            elif key == "files":
                values.fields[key] = [str(g.value(m, SCHEMA.name)) for m in media]
            elif spec.kind == "text":
                values.fields[key] = str(texts[key]) if texts[key] is not None else ""
            else:  # a controlled field, or the repeat of one
                values.fields[key] = [self._concept_key(c)[2]
                                      for c in concepts[spec.repeat_of or key]]
        return values

    def _structure_line(self, action: URIRef) -> list[str]:
        name = self.g.value(action, self.D.organiserName)
        if name is None:
            return []
        structure = self.g.value(action, self.prop["structure"])
        dept = self.g.value(structure, self.D.department)
        if dept is None:
            return [str(name)]
        return [f"{name} - {self.g.value(dept, IGEO.nom)}"]

    def record_text(self, action: URIRef) -> str:
        source = self.g.value(action, self.D.sourceText)
        return str(source) if source is not None else render(self.form_values(action))

    def file_text(self, source: URIRef) -> str:
        """One source file, as the export wrote it."""
        preamble = self.g.value(source, self.D.preamble)
        parts = [str(preamble)] if preamble is not None else []
        parts += [self.record_text(a) for a in self.actions_of(source)]
        text = "\n".join(parts)
        if self.g.value(source, self.D.endsWithNewline).toPython():
            text += "\n"
        return text

    def files(self) -> Iterator[tuple[str, str]]:
        """(file name, text) of every source file the graph holds."""
        for source in self.source_files():
            yield str(self.g.value(source, DCTERMS.title)), self.file_text(source)

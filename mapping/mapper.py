"""Record → triples: what a fiche action says, as RDF, losing nothing.

``Mapper.triples(record, iri)`` is a pure function of the record (plus the
schemes and reference data loaded once): it never reads files and never talks
to a store. IRIs come from :class:`ActionNamer`, the one stateful piece, which
keeps two records with the same structure and title apart deterministically.

Losslessness: the graph holds the record's :class:`~mapping.form.FormValues`
(title, texts, concepts, files, which optional fields were shown empty) and
its source lines. If the form's rendering of those values is not exactly the
record's text (a malformed record, list values out of the form's order…),
the record's text is also kept verbatim in ``senacs:sourceText``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef

from mapping import extract
from mapping.concepts import PERSON_KINDS, SCHEME_OF_FIELD, Concept, Schemes, load_ontology_text
from mapping.form import FormValues, render, values_of
from mapping.labels import FIELD_BY_KEY, FIELDS
from mapping.reader import ExportFile
from mapping.record import Record
from mapping.reference import Department, Reference
from mapping.vocab import DCTERMS, IGEO, ORG, PROV, RDF, SCHEMA, SKOS, WD, XSD, Iris, slug

Triple = tuple[URIRef, URIRef, URIRef | Literal | BNode]

# Free-text fields and the property each is written with.
TEXT_PROPERTIES = {
    "end_reason": "endReason", "summary": "summary", "precision": "initiativeNote",
    "experience": "experience", "description": "generalDescription",
    "resources": "resourcesText", "people": "peopleText",
    "result_territory": "resultForTerritory", "result_centre": "resultForCentre",
    "result_residents": "resultForResidents", "limits": "limits", "perspectives": "perspectives",
}
# Controlled fields and their property (the territory is shown twice, with one value).
CONCEPT_PROPERTIES = {
    "status": "status", "dimension": "dimension", "keywords": "keyword",
    "initiators": "initiator", "territory": "territoryScale", "public": "audience",
    "partners": "partnerCategory",
}
OPTIONAL_FIELDS = ("files", "end_reason", "precision")
# Where a start date is looked for, in this order.
DATE_FIELDS = ("summary", "experience", "description", "end_reason", "result_territory",
               "result_centre", "result_residents", "limits", "perspectives", "people",
               "resources")
STATUS_SCHEMA = {"En cours": SCHEMA.ActiveActionStatus, "Terminée": SCHEMA.CompletedActionStatus}
# Partner categories that name one body given the structure's department.
DEPARTMENT_BODIES = {
    "Caf": ("caf", "Caisse d'allocations familiales {of}"),
    "Conseil départemental": ("departement", "Département {of}"),
    "Préfecture": ("prefecture", "Préfecture {of}"),
    "Éducation Nationale": ("dsden", "Direction des services départementaux de l'Éducation "
                                     "nationale {of}"),
}
PERSON_KIND_LABELS = {extract.STAFF: "professionnels", extract.VOLUNTEERS: "bénévoles",
                      extract.PARTICIPANTS: "participants"}


def fr(text: str) -> Literal:
    return Literal(text, lang="fr")


class ActionNamer:
    """Readable, stable action IRIs: ``action/{structure}/{title}``.

    The first record with a given structure and title gets the plain IRI; a
    later one gets a suffix from a hash of its text, and records whose text is
    identical too are numbered. Same inputs in the same order, same IRIs.
    """

    def __init__(self, iris: Iris) -> None:
        self.iris = iris
        self._taken: set[str] = set()

    def __call__(self, record: Record, structure_slug: str) -> URIRef:
        title = slug(record.title) if record.title.strip() else "sans-titre"
        key = f"{structure_slug}/{title}"
        if key in self._taken:
            digest = hashlib.sha1(record.render().encode("utf-8")).hexdigest()[:8]
            base, key, n = f"{key}-{digest}", f"{key}-{digest}", 1
            while key in self._taken:
                n += 1
                key = f"{base}-{n}"
        self._taken.add(key)
        return self.iris.action(*key.split("/", 1))


class Mapper:
    """Maps records to triples with the scheme and reference data of one build."""

    def __init__(self, iris: Iris | None = None, schemes: Schemes | None = None,
                 reference: Reference | None = None) -> None:
        self.iris = iris or Iris()
        self.schemes = schemes or Schemes(self.iris)
        self.reference = reference or Reference.load()
        self.namer = ActionNamer(self.iris)
        self.D = self.iris.DEF

    # -- files ---------------------------------------------------------------------------

    def source_iri(self, path: str) -> URIRef:
        return self.iris.source(Path(path).name)

    def file_triples(self, export: ExportFile, records: int) -> list[Triple]:
        """What the graph says of a source file once it has been read."""
        src, D = self.source_iri(export.name), self.D
        out: list[Triple] = [
            (src, RDF.type, D.SourceFile),
            (src, DCTERMS.title, Literal(Path(export.name).name)),
            (src, D.endsWithNewline, Literal(export.final_newline)),
            (src, D.recordCount, Literal(records, datatype=XSD.nonNegativeInteger)),
        ]
        if export.preamble:
            out.append((src, D.preamble, Literal("\n".join(export.preamble))))
        return out

    # -- records -------------------------------------------------------------------------

    def structure_slug(self, record: Record) -> str:
        dept = self.reference.department(record.department)
        return Iris.structure_slug(record.structure_name or "sans-structure",
                                   dept.code if dept else (slug(record.department)
                                                           if record.department else None))

    def map_record(self, record: Record) -> tuple[URIRef, list[Triple]]:
        """Name the record's action and map it."""
        iri = self.namer(record, self.structure_slug(record))
        return iri, self.triples(record, iri)

    def triples(self, record: Record, action: URIRef) -> list[Triple]:
        D = self.D
        out: list[Triple] = [(action, RDF.type, D.Action)]
        add = out.append
        values = values_of(record)
        if record.title:
            add((action, DCTERMS.title, fr(record.title)))

        dept = self.reference.department(record.department)
        if record.structure_name is not None:
            self._structure(record, action, dept, out)
        for key, prop in TEXT_PROPERTIES.items():
            text = values.fields.get(key)
            if text:
                add((action, D[prop], fr(text)))
        # What the graph will give back: required fields are always shown.
        canonical = FormValues(values.title, dict(values.fields))
        for spec in FIELDS:
            if spec.required and spec.key not in canonical.fields:
                canonical.fields[spec.key] = "" if spec.kind == "text" else []
        for key, prop in CONCEPT_PROPERTIES.items():
            items = values.fields.get(key)
            if not items:
                continue
            scheme = SCHEME_OF_FIELD[key]
            concepts = [self.schemes.concept(scheme, item) for item in items]
            for concept in concepts:
                add((action, D[prop], concept.iri))
                if concept.new:
                    out.extend(self.schemes.new_concept_triples(concept, scheme))
            canonical.fields[key] = [c.label for c in _form_order(concepts)]
            if key == "status" and items[0] in STATUS_SCHEMA:
                add((action, SCHEMA.actionStatus, STATUS_SCHEMA[items[0]]))
        # The graph holds the territory once; its repeat prints the same value.
        canonical.fields["territory_repeat"] = canonical.fields.get("territory", [])
        for k, name in enumerate(values.fields.get("files") or ()):
            media = URIRef(f"{action}#file-{k + 1}")
            out += [(action, SCHEMA.associatedMedia, media), (media, RDF.type, SCHEMA.MediaObject),
                    (media, SCHEMA.name, Literal(name)),
                    (media, D.position, Literal(k, datatype=XSD.nonNegativeInteger))]
        for key in OPTIONAL_FIELDS:
            if key in values.fields and not values.fields[key]:
                add((action, D.hasEmptyField, self.iris.field(key)))
        # The graph holds one structure line: the organiser's name and its department's name.
        line = record.structure_line
        if line is not None and dept is not None and record.department != dept.name:
            line = f"{record.structure_name} - {dept.name}"
        canonical.fields["structure"] = [line] if line is not None else []
        self._partners(record, action, dept, out)
        self._extracted(record, action, out)
        self._provenance(record, action, out)
        if render(canonical) != record.render():
            add((action, D.sourceText, Literal(record.render())))
        return out

    def _structure(self, record: Record, action: URIRef, dept: Department | None,
                   out: list[Triple]) -> None:
        D, name = self.D, record.structure_name
        structure = self.iris.structure(self.structure_slug(record))
        out += [(action, SCHEMA.agent, structure), (action, D.organiserName, Literal(name)),
                (structure, RDF.type, D.Structure), (structure, SCHEMA.name, Literal(name))]
        if record.department is None:
            return
        place = self._department_place(record.department, dept, out)
        out.append((structure, D.department, place))
        for commune in self.reference.structure_communes(name, record.department):
            place = self.iris.commune(commune.insee)
            out += [(structure, D.commune, place), (place, RDF.type, IGEO.Commune),
                    (place, IGEO.codeINSEE, Literal(commune.insee)),
                    (place, IGEO.nom, fr(commune.name))]
            if commune.wikidata:
                out.append((place, SKOS.exactMatch, WD[commune.wikidata]))
            if dept is not None:
                out.append((place, D.department, self.iris.department(dept.code)))

    def _department_place(self, written: str, dept: Department | None,
                          out: list[Triple]) -> URIRef:
        if dept is None:
            place = self.iris.department(slug(written))
            out += [(place, RDF.type, IGEO.Departement), (place, IGEO.nom, fr(written))]
            return place
        place = self.iris.department(dept.code)
        out += [(place, RDF.type, IGEO.Departement), (place, IGEO.codeINSEE, Literal(dept.code)),
                (place, IGEO.nom, fr(dept.name))]
        if dept.wikidata:
            out.append((place, SKOS.exactMatch, WD[dept.wikidata]))
        return place

    def _partners(self, record: Record, action: URIRef, dept: Department | None,
                  out: list[Triple]) -> None:
        """Resolve partner categories that name one body given the structure's place."""
        if dept is None:
            return
        D = self.D
        for category in record.partner_categories:
            if category in DEPARTMENT_BODIES:
                kind, pattern = DEPARTMENT_BODIES[category]
                body = self.reference.bodies.get((kind, dept.code))
                org = self.iris.organisation(f"{kind}-{dept.code.lower()}")
                name = body.name if body else pattern.format(of=dept.of_name)
                out += [(action, D.resolvedPartner, org), (org, RDF.type, ORG.FormalOrganization),
                        (org, RDF.type, SCHEMA.Organization if kind == "caf"
                         else SCHEMA.GovernmentOrganization),
                        (org, SCHEMA.name, fr(name)), (org, D.organisationKind, Literal(kind)),
                        (org, D.department, self.iris.department(dept.code))]
                if body and body.siren:
                    out.append((org, D.siren, Literal(body.siren)))
                if body and body.wikidata:
                    out.append((org, SKOS.exactMatch, WD[body.wikidata]))
            elif category == "Commune" and record.structure_name:
                for commune in self.reference.structure_communes(record.structure_name,
                                                                 record.department):
                    org = self.iris.organisation(f"commune-{commune.insee}")
                    out += [(action, D.resolvedPartner, org),
                            (org, RDF.type, ORG.FormalOrganization),
                            (org, RDF.type, SCHEMA.GovernmentOrganization),
                            (org, SCHEMA.name, fr(f"Commune de {commune.name}")),
                            (org, D.organisationKind, Literal("commune")),
                            (org, D.commune, self.iris.commune(commune.insee)),
                            (org, D.department, self.iris.department(dept.code))]

    def _extracted(self, record: Record, action: URIRef, out: list[Triple]) -> None:
        """Amounts, headcounts and the start date, each with the field and line it came from."""
        D = self.D
        resources = record.field("resources")
        if resources is not None and resources.values:
            text = resources.text
            found = extract.amounts(text)
            source = self.iris.field("resources")
            for k, amount in enumerate(found, start=1):
                node = URIRef(f"{action}#amount-{k}")
                out += [(action, D.budgetLine, node), *self._money(node, amount.value),
                        (node, D.isTotal, Literal(amount.is_total)),
                        (node, D.extractedFrom, source),
                        (node, D.sourceLine, _line(resources.line + 1 + amount.line)),
                        (node, D.sourceSnippet, Literal(amount.snippet))]
                if amount.label:
                    out.append((node, SCHEMA.name, Literal(amount.label)))
            total = extract.budget_total(found, text)
            if total is not None:
                node = URIRef(f"{action}#budget")
                out += [(action, D.budgetTotal, node), *self._money(node, total[0]),
                        (node, D.totalMethod, Literal(total[1])),
                        (node, D.extractedFrom, source)]
        people = record.field("people")
        if people is not None and people.values:
            source = self.iris.field("people")
            for k, count in enumerate(extract.headcounts(people.text), start=1):
                node = URIRef(f"{action}#headcount-{k}")
                kind = self.schemes.concept(PERSON_KINDS, PERSON_KIND_LABELS[count.kind])
                out += [(action, D.headcount, node), (node, RDF.type, D.Headcount),
                        (node, D.personKind, kind.iri),
                        (node, SCHEMA.minValue, Literal(count.minimum)),
                        (node, SCHEMA.maxValue, Literal(count.maximum)),
                        (node, D.extractedFrom, source),
                        (node, D.sourceLine, _line(people.line + 1 + count.line)),
                        (node, D.sourceSnippet, Literal(count.snippet))]
                if count.minimum == count.maximum:
                    out.append((node, SCHEMA.value, Literal(count.minimum)))
        fields = {key: record.field(key) for key in DATE_FIELDS}
        start = extract.start_date_of([(k, f.text) for k, f in fields.items() if f is not None])
        if start is not None:
            node = URIRef(f"{action}#start")
            date = Literal(start.iso, datatype=XSD.gYearMonth if start.month else XSD.gYear)
            out += [(action, D.startDate, date), (action, D.startMention, node),
                    (node, RDF.type, D.DateMention), (node, D.date, date),
                    (node, D.extractedFrom, self.iris.field(start.key)),
                    (node, D.sourceLine, _line(fields[start.key].line + 1 + start.line)),
                    (node, D.sourceSnippet, Literal(start.snippet))]

    def _money(self, node: URIRef, value) -> list[Triple]:
        return [(node, RDF.type, SCHEMA.MonetaryAmount),
                (node, SCHEMA.value, decimal_literal(value)),
                (node, SCHEMA.currency, Literal("EUR"))]

    def _provenance(self, record: Record, action: URIRef, out: list[Triple]) -> None:
        D, src = self.D, self.source_iri(record.path)
        node = URIRef(f"{action}#source")
        out += [(action, PROV.wasDerivedFrom, src), (action, PROV.qualifiedDerivation, node),
                (node, RDF.type, PROV.Derivation), (node, PROV.entity, src),
                (node, D.firstLine, _line(record.line)), (node, D.lastLine, _line(record.end_line))]


def decimal_literal(value) -> Literal:
    """An xsd:decimal in its canonical form ("1350.0", "600.5"): same value, same bytes."""
    text = format(value.normalize(), "f")
    if "." not in text:
        text += ".0"
    return Literal(text, datatype=XSD.decimal)


def _line(number: int) -> Literal:
    return Literal(number, datatype=XSD.positiveInteger)


def _form_order(concepts: list[Concept]) -> list[Concept]:
    """Concepts as the form lists them: known values in form order, new ones after, by label;
    a value ticked twice is listed once."""
    unique = {c.iri: c for c in concepts}.values()
    return sorted(unique, key=lambda c: (c.order is None, c.order or 0, c.label))


def map_exports(exports: Iterable[ExportFile], mapper: Mapper | None = None):
    """Every triple of every record of the exports, file by file (a generator)."""
    mapper = mapper or Mapper()
    for export in exports:
        count = 0
        for record in export.records():
            count += 1
            yield from mapper.map_record(record)[1]
        yield from mapper.file_triples(export, count)


def vocabulary_graph(iris: Iris) -> Graph:
    """The concept schemes and the form's fields: data the dataset carries with its records."""
    graph = Graph()
    for name in ("schemes.ttl", "form.ttl"):
        graph.parse(data=load_ontology_text(name, iris.base), format="turtle")
    return graph


def graph_of(exports: Iterable[ExportFile], mapper: Mapper | None = None) -> Graph:
    """The whole dataset of some exports in one in-memory graph (tests, small inputs)."""
    mapper = mapper or Mapper()
    graph = vocabulary_graph(mapper.iris)
    for triple in map_exports(exports, mapper):
        graph.add(triple)
    return graph


assert set(TEXT_PROPERTIES) | set(CONCEPT_PROPERTIES) | {"structure", "files", "territory_repeat"} \
    == set(FIELD_BY_KEY), "every field of the form has a place in the graph"

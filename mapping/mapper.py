"""Record → triples: what a fiche action says, as RDF, losing nothing.

``Mapper.triples(record, iri)`` is a pure function of the record (plus the
schemes and reference data loaded once): it never reads files and never talks
to a store. IRIs come from :class:`ActionNamer`, the one stateful piece, which
keeps two records with the same structure and title apart, whatever their order.

Losslessness: the graph holds the record's :class:`~mapping.form.FormValues`
(title, texts, concepts, files, which optional fields were shown empty) and
its source lines. If the form's rendering of those values is not exactly the
record's text (a malformed record, list values out of the form's order…),
the record's text is also kept verbatim in ``senacs:sourceText``.

Which property each field's value is written with, and which concept scheme a
controlled field's values belong to, is the form's table (``mapping/labels.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from rdflib import Graph

from mapping import extract, vocab
from mapping import ntriples as nt
from mapping.concepts import PERSON_KINDS, Concept, Schemes, load_ontology_text
from mapping.form import FormValues, render, values_of
from mapping.identity import Renames
from mapping.labels import (
    CONCEPT_FIELDS,
    FIELD_BY_KEY,
    FIELDS,
    OPTIONAL_FIELDS,
    REPEATED_FIELDS,
    TEXT_FIELDS,
)
from mapping.ntriples import RDF_TYPE, Triple
from mapping.reader import ExportFile
from mapping.record import Record
from mapping.reference import Department, Reference
from mapping.territory import COMMUNE_CATEGORY, DEPARTMENT_BODIES, EPCI_CATEGORY, Territory
from mapping.vocab import DCTERMS, IGEO, ORG, PROV, SCHEMA, SKOS, Iris, slug

# Where a start date is looked for, in this order.
DATE_FIELDS = ("summary", "experience", "description", "end_reason", "result_territory",
               "result_centre", "result_residents", "limits", "perspectives", "people",
               "resources")
STATUS_SCHEMA = {"En cours": nt.iri(SCHEMA.ActiveActionStatus),
                 "Terminée": nt.iri(SCHEMA.CompletedActionStatus)}
PERSON_KIND_LABELS = {extract.STAFF: "professionnels", extract.VOLUNTEERS: "bénévoles",
                      extract.PARTICIPANTS: "participants"}


class Terms:
    """Every IRI the mapping writes, formatted once as an N-Triples term."""

    def __init__(self, iris: Iris) -> None:
        for name in ("Action", "Structure", "SourceFile", "Headcount", "DateMention",
                     "organiserName", "hasEmptyField", "sourceText", "resolvedPartner",
                     "organisationKind", "department", "commune", "siren", "budgetLine",
                     "budgetTotal", "isTotal", "totalMethod", "extractedFrom", "sourceLine",
                     "sourceSnippet", "headcount", "personKind", "startDate", "startMention",
                     "date", "firstLine", "lastLine", "position", "preamble", "endsWithNewline",
                     "recordCount", "budgetTotalValue", "worksWith", "titleRank",
                     "structureRank", "agentDepartment"):
            setattr(self, name, nt.iri(iris.DEF[name]))
        # The property of each form field's value, as the form's table (mapping/labels.py) says.
        self.prop = {spec.key: nt.iri(vocab.expand(spec.prop, iris.base)) for spec in FIELDS}
        self.agent, self.media = self.prop["structure"], self.prop["files"]
        self.title, self.source_title = nt.iri(DCTERMS.title), nt.iri(DCTERMS.title)
        self.name, self.actionStatus = nt.iri(SCHEMA.name), nt.iri(SCHEMA.actionStatus)
        self.MediaObject, self.MonetaryAmount = nt.iri(SCHEMA.MediaObject), nt.iri(SCHEMA.MonetaryAmount)
        self.value, self.currency = nt.iri(SCHEMA.value), nt.iri(SCHEMA.currency)
        self.minValue, self.maxValue = nt.iri(SCHEMA.minValue), nt.iri(SCHEMA.maxValue)
        self.Organization = nt.iri(SCHEMA.Organization)
        self.GovernmentOrganization = nt.iri(SCHEMA.GovernmentOrganization)
        self.FormalOrganization = nt.iri(ORG.FormalOrganization)
        self.Commune, self.Departement = nt.iri(IGEO.Commune), nt.iri(IGEO.Departement)
        self.codeINSEE, self.nom = nt.iri(IGEO.codeINSEE), nt.iri(IGEO.nom)
        self.exactMatch = nt.iri(SKOS.exactMatch)
        self.wasDerivedFrom = nt.iri(PROV.wasDerivedFrom)
        self.qualifiedDerivation = nt.iri(PROV.qualifiedDerivation)
        self.Derivation, self.entity = nt.iri(PROV.Derivation), nt.iri(PROV.entity)
        self.EUR = nt.text("EUR")
        self.fields = {spec.key: nt.iri(iris.field(spec.key)) for spec in FIELDS}


class ActionNamer:
    """Readable, stable action IRIs: ``action/{structure}/{title}``, whatever the order of records.

    An action is its structure and its title. When several records of one build share both,
    their texts (but their structure line) tell them apart: the record whose text has the
    smallest sha1 gets the plain IRI, every other one ``-{8 hex of the sha1 of its text}``;
    records whose text is identical too (their triples differ only in their line numbers, or
    in how the structure's name is written) are numbered ``-2``, ``-3`` in reading order.
    Which keys are shared, and by whom, is known only after reading every record: :meth:`plan`
    is that first pass (the build, :func:`map_exports` and :func:`graph_of` run it). Without a
    plan, the first record read keeps the plain IRI.
    """

    def __init__(self, iris: Iris) -> None:
        self.iris = iris
        self._taken: set[tuple[str, str]] = set()
        self._shared: dict[int, int] | None = None  # shared key -> the smallest text digest

    def plan(self, keyed: Iterable[tuple[str, Record]]) -> None:
        """Read every (structure slug, record) pair once and keep the keys several records
        share, each with the smallest digest of their texts. One number a record while sorting
        (about 50 bytes: 50 MB for a million records), then one entry per shared key."""
        packed = sorted(_key(structure, _title_slug(record)) << 64 | _text_digest(record)[1]
                        for structure, record in keyed)
        shared: dict[int, int] = {}
        previous, smallest = -1, 0
        for value in packed:  # sorted: a key's values are together, its smallest digest first
            key = value >> 64
            if key != previous:
                previous, smallest = key, value & _LOW64
            elif key not in shared:
                shared[key] = smallest
        self._shared = shared

    def __call__(self, record: Record, structure_slug: str) -> str:
        title = _title_slug(record)
        plain = (structure_slug, title) not in self._taken
        if plain and self._shared:
            smallest = self._shared.get(_key(structure_slug, title))
            plain = smallest is None or _text_digest(record)[1] == smallest
        if not plain:
            title = first = f"{title}-{_text_digest(record)[0][:8]}"
            n = 1
            while (structure_slug, title) in self._taken:
                n += 1
                title = f"{first}-{n}"
        self._taken.add((structure_slug, title))
        return str(self.iris.action(structure_slug, title))


_LOW64 = (1 << 64) - 1


def _title_slug(record: Record) -> str:
    return slug(record.title) if record.title.strip() else "sans-titre"


def _key(structure_slug: str, title_slug: str) -> int:
    """64 bits naming a (structure, title) key (a collision would only add a suffix)."""
    digest = hashlib.blake2b(f"{structure_slug}/{title_slug}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _text_digest(record: Record) -> tuple[str, int]:
    """The sha1 of the record's text but its structure line, in hex (suffixes) and its first 64
    bits (comparisons). The structure is part of the key already; left out of the digest, a
    declared rename (mapping/identity.py) keeps the suffixes of the structure's actions too."""
    lines = record.source_lines
    structure = record.field("structure")
    if structure is not None and structure.values:
        at = structure.line - record.line + 1
        lines = lines[:at] + lines[at + len(structure.values):]
    hexdigest = hashlib.sha1("\n".join(lines).encode("utf-8")).hexdigest()
    return hexdigest, int(hexdigest[:16], 16)


def _ranks(prop: str, ordered: list[str]) -> list[Triple]:
    """``prop`` on each of these IRIs: its 1-based position in the order given."""
    return [(nt.iri(iri), prop, nt.integer(rank)) for rank, iri in enumerate(ordered, start=1)]


class Mapper:
    """Maps records to triples with the scheme and reference data of one build."""

    def __init__(self, iris: Iris | None = None, schemes: Schemes | None = None,
                 reference: Reference | None = None, renames: Renames | None = None) -> None:
        self.iris = iris or Iris()
        self.schemes = schemes or Schemes(self.iris)
        self.reference = reference or Reference.packaged()
        # a structure renamed between campaigns keeps its IRI (data/reference/overrides/)
        self.renames = renames or Renames.load(None, self.reference, None)
        self.namer = ActionNamer(self.iris)
        self.t = Terms(self.iris)
        self.territory = Territory(self.iris, self.reference, self.t)
        self._slugs: dict[str | None, str] = {}  # structure line -> its slug
        self._titled: list[tuple[str, str]] = []  # (title, action IRI) of every titled action
        self._structures: set[str] = set()  # every structure's IRI, in N-Triples form

    # -- files ---------------------------------------------------------------------------

    def source_iri(self, path: str) -> str:
        return nt.iri(self.iris.source(Path(path).name))

    def file_triples(self, export: ExportFile, records: int) -> list[Triple]:
        """What the graph says of a source file once it has been read."""
        src, t = self.source_iri(export.name), self.t
        out: list[Triple] = [
            (src, RDF_TYPE, t.SourceFile),
            (src, t.title, nt.text(Path(export.name).name)),
            (src, t.endsWithNewline, nt.boolean(export.final_newline)),
            (src, t.recordCount, nt.integer(records)),
        ]
        if export.preamble:
            out.append((src, t.preamble, nt.text("\n".join(export.preamble))))
        return out

    # -- records -------------------------------------------------------------------------

    def structure_slug(self, record: Record) -> str:
        """The structure's IRI slug: from its name and department, or the slug it keeps from
        a former name (renames.csv)."""
        return self.renames(self.written_structure_slug(record))

    def written_structure_slug(self, record: Record) -> str:
        """The slug of the structure's name as this record writes it, before any rename
        (kept per structure line: thousands of records name the same structure)."""
        line = record.structure_line
        found = self._slugs.get(line)
        if found is None:
            dept = self.reference.department(record.department)
            found = Iris.structure_slug(record.structure_name or "sans-structure",
                                        dept.code if dept else (slug(record.department)
                                                                if record.department else None))
            self._slugs[line] = found
        return found

    def closing_triples(self) -> list[Triple]:
        """What is written once per build, after the last record (EPCI member lists, each
        action's rank by title and each structure's rank by IRI)."""
        return self.territory.closing_triples() + self.title_ranks() + self.structure_ranks()

    def title_ranks(self) -> list[Triple]:
        """``senacs:titleRank``: each titled action's 1-based position among the build's
        actions ordered by title, then IRI (code point order, as SPARQL's ORDER BY ?title
        ?action orders them): a shortcut that pages through actions by title without sorting
        every title at query time."""
        ranked = [iri for _, iri in sorted(self._titled)]
        self._titled = []
        return _ranks(self.t.titleRank, ranked)

    def structure_ranks(self) -> list[Triple]:
        """``senacs:structureRank``: each structure's 1-based position among the build's
        structures ordered by IRI (code point order, as SPARQL's ORDER BY ?structure orders
        them): a shortcut that breaks ties between structures (which share the most partners
        with one) by an integer, where ordering by the IRI itself reads every IRI's text from
        the store at each comparison (about 5 times slower at 100,000 records)."""
        ranked = sorted(iri[1:-1] for iri in self._structures)  # the IRIs, not their <...>
        self._structures = set()
        return _ranks(self.t.structureRank, ranked)

    def map_record(self, record: Record) -> tuple[str, list[Triple]]:
        """Name the record's action and map it: (action IRI, triples)."""
        iri = self.namer(record, self.structure_slug(record))
        if record.title:
            self._titled.append((record.title, iri))  # ranked once all are read
        return iri, self.triples(record, iri)

    def triples(self, record: Record, action_iri: str) -> list[Triple]:
        t = self.t
        action = nt.iri(action_iri)
        out: list[Triple] = [(action, RDF_TYPE, t.Action)]
        add = out.append
        values = values_of(record)
        if record.title:
            add((action, t.title, nt.fr(record.title)))

        dept = self.reference.department(record.department)
        structure = (nt.iri(self.iris.structure(self.structure_slug(record)))
                     if record.structure_name is not None else None)
        if structure is not None:
            self._structure(record, action, structure, dept, out)
        for spec in TEXT_FIELDS:
            text = values.fields.get(spec.key)
            if text:
                add((action, t.prop[spec.key], nt.fr(text)))
        # What the graph will give back: required fields are always shown.
        canonical = FormValues(values.title, dict(values.fields))
        for spec in FIELDS:
            if spec.required and spec.key not in canonical.fields:
                canonical.fields[spec.key] = "" if spec.kind == "text" else []
        for spec in CONCEPT_FIELDS:
            key, scheme = spec.key, spec.scheme
            items = values.fields.get(key)
            if not items or scheme is None:
                continue
            predicate = t.prop[key]
            concepts = [self.schemes.concept(scheme, item) for item in items]
            for concept in concepts:
                add((action, predicate, nt.iri(concept.iri)))
                if concept.new:
                    out.extend(self.schemes.new_concept_triples(concept, scheme))
            canonical.fields[key] = [c.label for c in _form_order(concepts)]
            if key == "status" and items[0] in STATUS_SCHEMA:
                add((action, t.actionStatus, STATUS_SCHEMA[items[0]]))
        # The graph holds a field the form shows twice (the territory) once: its repeat prints it.
        for spec in REPEATED_FIELDS:
            canonical.fields[spec.key] = canonical.fields.get(spec.repeat_of or "", [])
        for k, name in enumerate(values.fields.get("files") or ()):
            media = nt.iri(vocab.part(action_iri, "file", k + 1))
            out += [(action, t.media, media), (media, RDF_TYPE, t.MediaObject),
                    (media, t.name, nt.text(name)),
                    (media, t.position, nt.integer(k))]
        for key in OPTIONAL_FIELDS:
            if key in values.fields and not values.fields[key]:
                add((action, t.hasEmptyField, t.fields[key]))
        # The graph holds one structure line: the organiser's name and its department's name.
        line = record.structure_line
        if line is not None and dept is not None and record.department != dept.name:
            line = f"{record.structure_name} - {dept.name}"
        canonical.fields["structure"] = [line] if line is not None else []
        self._partners(record, action, structure, dept, out)
        self._extracted(record, action_iri, out)
        self._provenance(record, action_iri, out)
        if render(canonical) != record.render():
            add((action, t.sourceText, nt.text(record.render())))
        return out

    def _structure(self, record: Record, action: str, structure: str, dept: Department | None,
                   out: list[Triple]) -> None:
        t, name = self.t, record.structure_name
        out += [(action, t.agent, structure), (action, t.organiserName, nt.text(name)),
                (structure, RDF_TYPE, t.Structure), (structure, t.name, nt.text(name))]
        self._structures.add(structure)  # ranked once all are read
        if record.department is None:
            return
        department = self.territory.department(record.department, dept, out)
        # the shortcut beside schema:agent/senacs:department: one join fewer per action
        out += [(structure, t.department, department), (action, t.agentDepartment, department)]
        for commune in self.territory.placement(structure, name, record.department, out):
            out.append((structure, t.commune, self.territory.commune(commune, out)))

    def _partners(self, record: Record, action: str, structure: str | None,
                  dept: Department | None, out: list[Triple]) -> None:
        """Resolve partner categories that name one body given the structure's place; a
        category that names no single body there stays a category (never a guess). The
        structure works with every body its actions name (senacs:worksWith, a shortcut: the
        build's sort keeps one line of each)."""
        if dept is None:
            return
        communes = self.reference.structure_communes(record.structure_name or "",
                                                     record.department)
        for category in record.partner_categories:
            bodies: list[str | None] = []
            if category in DEPARTMENT_BODIES:
                bodies.append(self.territory.department_body(category, dept, out))
            elif category == COMMUNE_CATEGORY:
                bodies += [self.territory.commune_body(c, out) for c in communes]
            elif category == EPCI_CATEGORY and communes:
                bodies.append(self.territory.epci_body(communes, out))
            out += [(action, self.t.resolvedPartner, body) for body in bodies if body]
            if structure is not None:
                out += [(structure, self.t.worksWith, body) for body in bodies if body]

    def _extracted(self, record: Record, action_iri: str, out: list[Triple]) -> None:
        """Amounts, headcounts and the start date, each with the field and line it came from."""
        t = self.t
        action = nt.iri(action_iri)
        resources = record.field("resources")
        if resources is not None and resources.values:
            text = resources.text
            found = extract.amounts(text)
            source = t.fields["resources"]
            for k, amount in enumerate(found, start=1):
                node = nt.iri(vocab.part(action_iri, "amount", k))
                out += [(action, t.budgetLine, node), *self._money(node, amount.value),
                        (node, t.isTotal, nt.boolean(amount.is_total)),
                        (node, t.extractedFrom, source),
                        (node, t.sourceLine, _line(resources.line + 1 + amount.line)),
                        (node, t.sourceSnippet, nt.text(amount.snippet))]
                if amount.label:
                    out.append((node, t.name, nt.text(amount.label)))
            total = extract.budget_total(found, text)
            if total is not None:
                node = nt.iri(vocab.part(action_iri, "budget"))
                out += [(action, t.budgetTotal, node), *self._money(node, total[0]),
                        (node, t.totalMethod, nt.text(total[1])),
                        (node, t.extractedFrom, source),
                        # the direct statement beside the qualified one (ontology: shortcuts)
                        (action, t.budgetTotalValue, nt.decimal(total[0]))]
        people = record.field("people")
        if people is not None and people.values:
            source = t.fields["people"]
            for k, count in enumerate(extract.headcounts(people.text), start=1):
                node = nt.iri(vocab.part(action_iri, "headcount", k))
                kind = self.schemes.concept(PERSON_KINDS, PERSON_KIND_LABELS[count.kind])
                out += [(action, t.headcount, node), (node, RDF_TYPE, t.Headcount),
                        (node, t.personKind, nt.iri(kind.iri)),
                        (node, t.minValue, nt.integer(count.minimum)),
                        (node, t.maxValue, nt.integer(count.maximum)),
                        (node, t.extractedFrom, source),
                        (node, t.sourceLine, _line(people.line + 1 + count.line)),
                        (node, t.sourceSnippet, nt.text(count.snippet))]
                if count.minimum == count.maximum:
                    out.append((node, t.value, nt.integer(count.minimum)))
        fields = {key: record.field(key) for key in DATE_FIELDS}
        start = extract.start_date_of([(k, f.text) for k, f in fields.items() if f is not None])
        if start is not None:
            node = nt.iri(vocab.part(action_iri, "start"))
            date = nt.typed(start.iso, "gYearMonth" if start.month else "gYear")
            out += [(action, t.startDate, date), (action, t.startMention, node),
                    (node, RDF_TYPE, t.DateMention), (node, t.date, date),
                    (node, t.extractedFrom, t.fields[start.key]),
                    (node, t.sourceLine, _line(fields[start.key].line + 1 + start.line)),
                    (node, t.sourceSnippet, nt.text(start.snippet))]

    def _money(self, node: str, value) -> list[Triple]:
        t = self.t
        return [(node, RDF_TYPE, t.MonetaryAmount), (node, t.value, nt.decimal(value)),
                (node, t.currency, t.EUR)]

    def _provenance(self, record: Record, action_iri: str, out: list[Triple]) -> None:
        t, src = self.t, self.source_iri(record.path)
        action, node = nt.iri(action_iri), nt.iri(vocab.part(action_iri, "source"))
        out += [(action, t.wasDerivedFrom, src), (action, t.qualifiedDerivation, node),
                (node, RDF_TYPE, t.Derivation), (node, t.entity, src),
                (node, t.firstLine, _line(record.line)), (node, t.lastLine, _line(record.end_line))]


def _line(number: int) -> str:
    return nt.integer(number)


def _form_order(concepts: list[Concept]) -> list[Concept]:
    """Concepts as the form lists them: known values in form order, new ones after, by label;
    a value ticked twice is listed once."""
    unique = {c.iri: c for c in concepts}.values()
    return sorted(unique, key=lambda c: (c.order is None, c.order or 0, c.label))


def map_exports(exports: Iterable[ExportFile], mapper: Mapper | None = None) -> Iterator[Triple]:
    """Every triple of every record of the exports, file by file (a generator); the records
    are read twice, first to name their actions whatever their order (ActionNamer.plan)."""
    mapper = mapper or Mapper()
    exports = list(exports)
    plan_names(mapper, [(e.path, e.encoding) for e in exports])
    for export in exports:
        count = 0
        for record in export.records():
            count += 1
            yield from mapper.map_record(record)[1]
        yield from mapper.file_triples(export, count)
    yield from mapper.closing_triples()


def plan_names(mapper: Mapper, sources: Iterable[tuple[str | Path, str | None]]) -> None:
    """The first pass over the inputs (file, encoding) that the action names need: it reads
    them with fresh readers, so that their problems are not reported twice. It also refuses a
    renamed structure named both ways in one build (ReferenceError): one IRI would then get
    two names and two placements."""
    names = mapper.renames.names_seen()

    def keyed() -> Iterator[tuple[str, Record]]:
        for path, encoding in sources:
            for record in ExportFile(Path(path), encoding).records():
                written = mapper.written_structure_slug(record)
                names.add(written, record.structure_name or "")
                yield mapper.renames(written), record

    mapper.namer.plan(keyed())
    names.check()


def vocabulary_graph(iris: Iris) -> Graph:
    """The concept schemes and the form's fields: data the dataset carries with its records."""
    graph = Graph()
    for name in ("schemes.ttl", "form.ttl"):
        graph.parse(data=load_ontology_text(name, iris.base), format="turtle")
    return graph


def to_graph(triples: Iterable[Triple], graph: Graph | None = None) -> Graph:
    """Mapped triples into an rdflib graph (tests and small inputs)."""
    graph = graph if graph is not None else Graph()
    graph.parse(data="".join(map(nt.line, triples)), format="nt")
    return graph


def graph_of(exports: Iterable[ExportFile], mapper: Mapper | None = None) -> Graph:
    """The whole dataset of some exports in one in-memory graph (tests, small inputs)."""
    mapper = mapper or Mapper()
    return to_graph(map_exports(exports, mapper), vocabulary_graph(mapper.iris))


assert {s.key for s in (*TEXT_FIELDS, *CONCEPT_FIELDS, *REPEATED_FIELDS)} | {"structure", "files"} \
    == set(FIELD_BY_KEY), "every field of the form has a place in the graph (structure and " \
    "files are written by Mapper._structure and Mapper.triples)"

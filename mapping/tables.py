"""The release's tables: the graph's facts as CSV and Parquet, described twice (a Frictionless
data package with a Table Schema per table, and CSV on the Web metadata).

Portals preview and validate CSV, researchers start from data frames: each release carries
``tables/`` beside its RDF, one row per thing, derived from the release's own canonical dump
(the build's plain copy of ``dataset.nt.gz``) after it is written, so that the tables say what
the graph says:

- everything but the actions (structures, places, bodies, concepts, source files: a few
  percent of the dump) is loaded into an on-disk Oxigraph store in the build's work folder;
  SPARQL gives the ``structures``, ``structure_communes`` and ``bodies`` tables and the few
  facts the action rows look up (a concept's label, a structure's place, a body's kind);
- the actions, nearly all of the dump, are streamed: the dump is sorted, so each action's
  triples come together, after those of its parts (``#budget``, ``#headcount-1``,
  ``#source``); an action's rows are written as soon as its block ends (``actions``,
  ``action_partners``, ``action_concepts``), so that no table is ever held whole.

Same dump, same bytes: rows in the dump's order (by IRI as N-Triples writes it), Parquet
without timestamps, JSON with sorted keys. The CSV is meant for spreadsheets too: a text
cell starting with ``=``, ``+``, ``-``, ``@``, a tab, a carriage return or an apostrophe gets
one apostrophe in front (``spreadsheet_safe``), so that no spreadsheet runs it as a formula;
the Parquet files, like the RDF, keep every text as it is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from mapping import extract, lifetime, release
from mapping.labels import TEXT_FIELDS
from mapping.territory import COMMUNE_CATEGORY, DEPARTMENT_BODIES, EPCI_CATEGORY
from mapping.vocab import DCTERMS, IGEO, ORG, PROV, SCHEMA, SKOS, Iris, part_kind

FOLDER = "tables"
DATAPACKAGE = "datapackage.json"
CSVW_METADATA = "csv-metadata.json"  # the name CSVW looks for beside a CSV file
SCHEMAS = "schemas"
BATCH_ROWS = 10_000  # rows per Parquet row group, and per write
DECIMAL_PRECISION, DECIMAL_SCALE = 18, 2  # euros: amounts are read with at most two decimals

# -- the tables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column: its stable name, its type, its French title and what it holds."""

    name: str
    kind: str  # "iri", "string", "integer", "decimal"
    title: str
    description: str
    required: bool = False
    pattern: str | None = None
    enum_scheme: str | None = None  # the values are the labels of this SKOS scheme's concepts
    enum: tuple[str, ...] = ()  # or these fixed values


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    title_en: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = ()  # (column, table, column there)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


def _snake(prefixed: str) -> str:
    """``senacs:resultForTerritory`` → ``result_for_territory``."""
    local = prefixed.partition(":")[2]
    return re.sub(r"(?<!^)([A-Z])", r"_\1", local).lower()


# The form's free-text fields, named after the graph's properties, titled with the form's labels.
TEXT_COLUMNS = tuple((spec.prop, Column(_snake(spec.prop), "string", spec.label,
                                        f"Le champ « {spec.label} » de la fiche, tel qu'écrit."))
                     for spec in TEXT_FIELDS)
# The headcounts' kinds of people (the person-kind scheme's French labels) and their columns.
HEADCOUNT_KINDS = {extract.STAFF: "staff", extract.VOLUNTEERS: "volunteers",
                   extract.PARTICIPANTS: "participants"}
# The partner category that names each kind of body (mapping/territory.py resolves them so).
CATEGORY_KINDS = {**{category: kind for category, (kind, _) in DEPARTMENT_BODIES.items()},
                  COMMUNE_CATEGORY: "commune", EPCI_CATEGORY: "epci"}
# The schemes of action_concepts: the controlled fields that may hold several values or that
# the actions table does not carry (status and dimension are its columns).
CONCEPT_SCHEMES = ("keyword", "public", "initiator", "territory-scale")
BODY_KINDS = ("caf", "departement", "prefecture", "dsden", "commune", "epci")
EPCI_KINDS = ("CC", "CA", "CU", "METRO", "MET69")
PLACEMENT_METHODS = ("name", "override", "none")
DEPARTMENT_CODE = r"^([0-9]{2}|2A|2B|9[78][0-9])$"
COMMUNE_CODE = r"^[0-9][0-9AB][0-9]{3}$"
REGION_CODE = r"^[0-9]{2,3}$"
SIREN = r"^[0-9]{9}$"


def _headcount_columns() -> tuple[Column, ...]:
    out = []
    for label, name in HEADCOUNT_KINDS.items():
        out += [Column(f"{name}_min", "integer", f"Effectif minimal : {label}",
                       f"Somme des effectifs de {label} lus dans la fiche (bas des fourchettes)."),
                Column(f"{name}_max", "integer", f"Effectif maximal : {label}",
                       f"Somme des effectifs de {label} lus dans la fiche (haut des fourchettes).")]
    return tuple(out)


ACTIONS = Table(
    "actions", "Actions", "Actions",
    "Une ligne par action (fiche action) : sa structure, son lieu, son statut, sa dimension, les "
    "valeurs lues dans ses textes (date de début, budget, effectifs), sa provenance et ses textes.",
    (
        Column("action_iri", "iri", "Action (IRI)", "L'IRI de l'action dans le graphe.", True),
        Column("title", "string", "Titre", "Le titre de la fiche."),
        Column("structure_iri", "iri", "Structure (IRI)", "La structure organisatrice.", True),
        Column("structure_name", "string", "Structure organisatrice",
               "Le nom de la structure tel que la fiche l'écrit."),
        Column("department_code", "string", "Code du département",
               "Code INSEE du département de la structure (vide s'il est inconnu).",
               pattern=DEPARTMENT_CODE),
        Column("commune_code", "string", "Code de la commune",
               "Code INSEE de la commune de la structure quand elle en a une seule (sinon vide : "
               "voir structure_communes).", pattern=COMMUNE_CODE),
        Column("status", "string", "Statut de l'action", "Le statut coché.", True,
               enum_scheme="status"),
        Column("dimension", "string", "Dimension", "La dimension du projet social cochée.",
               enum_scheme="dimension"),
        Column("start_date", "string", "Date de début",
               "Le début de l'action lu dans ses textes, ISO 8601 (AAAA ou AAAA-MM).",
               pattern=r"^[0-9]{4}(-[0-9]{2})?$"),
        Column("start_year", "integer", "Année de début", "L'année de start_date."),
        Column("budget_total", "decimal", "Budget total (euros)",
               "Le total lu dans les ressources financières : le total écrit, ou la somme des "
               "montants d'un budget détaillé."),
        Column("budget_total_method", "string", "Méthode du total",
               "stated : total écrit dans la fiche ; sum : somme des montants.",
               enum=("stated", "sum")),
        *_headcount_columns(),
        Column("source_file", "string", "Fichier source", "Le fichier d'export lu.", True),
        Column("first_line", "integer", "Première ligne", "Première ligne de la fiche dans le "
               "fichier source.", True),
        Column("last_line", "integer", "Dernière ligne", "Dernière ligne de la fiche dans le "
               "fichier source.", True),
        *(column for _, column in TEXT_COLUMNS),
    ),
    ("action_iri",),
    (("structure_iri", "structures", "structure_iri"),),
)

STRUCTURES = Table(
    "structures", "Structures", "Structures",
    "Une ligne par structure (centre social, espace de vie sociale) : son département, sa région et "
    "comment sa commune a été trouvée.",
    (
        Column("structure_iri", "iri", "Structure (IRI)", "L'IRI de la structure.", True),
        Column("name", "string", "Nom", "Le nom de la structure (le premier dans l'ordre des "
               "caractères si les fiches l'écrivent de plusieurs façons).", True),
        Column("department_code", "string", "Code du département", "Code INSEE du département.",
               pattern=DEPARTMENT_CODE),
        Column("department_name", "string", "Département", "Nom du département (tel qu'écrit "
               "quand il est inconnu du Code officiel géographique)."),
        Column("region_code", "string", "Code de la région", "Code INSEE de la région.",
               pattern=REGION_CODE),
        Column("region_name", "string", "Région", "Nom de la région."),
        Column("commune_count", "integer", "Nombre de communes",
               "Le nombre de communes où la structure est placée (voir structure_communes).", True),
        Column("commune_code", "string", "Code de la commune",
               "Code INSEE de la commune quand la structure en a une seule.", pattern=COMMUNE_CODE),
        Column("commune_name", "string", "Commune", "Nom de cette commune."),
        Column("placement_method", "string", "Méthode de localisation",
               "name : commune trouvée dans le nom ; override : table de corrections ; none : "
               "aucune.", enum=PLACEMENT_METHODS),
        Column("placement_evidence", "string", "Justification de la localisation",
               "Ce qui a permis de placer la structure, ou pourquoi elle ne l'est pas."),
    ),
    ("structure_iri",),
)

STRUCTURE_COMMUNES = Table(
    "structure_communes", "Communes des structures", "Communes of the structures",
    "Une ligne par structure et par commune où elle est placée, avec l'EPCI à fiscalité propre de "
    "la commune.",
    (
        Column("structure_iri", "iri", "Structure (IRI)", "La structure.", True),
        Column("commune_code", "string", "Code de la commune", "Code INSEE de la commune.", True,
               pattern=COMMUNE_CODE),
        Column("commune_name", "string", "Commune", "Nom de la commune.", True),
        Column("department_code", "string", "Code du département",
               "Code INSEE du département de la commune.", pattern=DEPARTMENT_CODE),
        Column("epci_iri", "iri", "EPCI (IRI)", "L'EPCI à fiscalité propre de la commune."),
        Column("epci_siren", "string", "SIREN de l'EPCI", "Son numéro SIREN.", pattern=SIREN),
        Column("epci_name", "string", "EPCI", "Son nom."),
    ),
    ("structure_iri", "commune_code"),
    (("structure_iri", "structures", "structure_iri"), ("epci_iri", "bodies", "body_iri")),
)

BODIES = Table(
    "bodies", "Organismes", "Bodies",
    "Une ligne par organisme identifié (Caf, département, préfecture, services de l'Éducation "
    "nationale, commune, EPCI) avec ses identifiants officiels.",
    (
        Column("body_iri", "iri", "Organisme (IRI)", "L'IRI de l'organisme.", True),
        Column("name", "string", "Nom", "Le nom de l'organisme.", True),
        Column("kind", "string", "Type d'organisme", "Le type d'organisme.", True,
               enum=BODY_KINDS),
        Column("siren", "string", "SIREN", "Numéro SIREN (répertoire Sirene de l'INSEE).",
               pattern=SIREN),
        Column("commune_code", "string", "Code de la commune",
               "Code INSEE de la commune (pour une commune).", pattern=COMMUNE_CODE),
        Column("department_code", "string", "Code du département",
               "Code INSEE du département de l'organisme.", pattern=DEPARTMENT_CODE),
        Column("epci_kind", "string", "Nature juridique de l'EPCI",
               "CC, CA, CU, METRO ou MET69 (pour un EPCI).", enum=EPCI_KINDS),
        Column("wikidata", "iri", "Wikidata", "Le même organisme dans Wikidata."),
    ),
    ("body_iri",),
)

ACTION_PARTNERS = Table(
    "action_partners", "Partenaires des actions", "Partners of the actions",
    "Une ligne par action, catégorie de partenaire cochée et organisme qu'elle désigne là où est la "
    "structure (organisme vide quand la catégorie n'en désigne pas un seul).",
    (
        Column("action_iri", "iri", "Action (IRI)", "L'action.", True),
        Column("partner_category", "string", "Catégorie de partenaire", "La catégorie cochée.",
               enum_scheme="partner-category"),
        Column("body_iri", "iri", "Organisme (IRI)", "L'organisme que la catégorie désigne."),
        Column("body_name", "string", "Organisme", "Son nom."),
    ),
    ("action_iri", "partner_category", "body_iri"),
    (("action_iri", "actions", "action_iri"), ("body_iri", "bodies", "body_iri")),
)

ACTION_CONCEPTS = Table(
    "action_concepts", "Mots clés, publics, initiateurs et territoires des actions",
    "Keywords, audiences, initiators and territories of the actions",
    "Une ligne par action et par valeur cochée dans les listes contrôlées : mots clés, public, "
    "initiateurs, échelle du territoire.",
    (
        Column("action_iri", "iri", "Action (IRI)", "L'action.", True),
        Column("scheme", "string", "Liste", "La liste contrôlée (schéma SKOS).", True,
               enum=CONCEPT_SCHEMES),
        Column("concept_iri", "iri", "Valeur (IRI)", "Le concept SKOS.", True),
        Column("label", "string", "Valeur", "Son libellé.", True, enum_scheme="*"),
    ),
    ("action_iri", "concept_iri"),
    (("action_iri", "actions", "action_iri"),),
)

TABLES = (ACTIONS, STRUCTURES, STRUCTURE_COMMUNES, BODIES, ACTION_PARTNERS, ACTION_CONCEPTS)


def table_files() -> list[tuple[Table, str, str]]:
    """(table, file format, path in the release) of every data file the tables step writes."""
    return [(table, fmt, f"{FOLDER}/{table.name}.{fmt}") for table in TABLES
            for fmt in ("csv", "parquet")]


def schema_path(table: Table) -> str:
    """Where the table's Table Schema is, in the release."""
    return f"{FOLDER}/{SCHEMAS}/{table.name}.json"


SPREADSHEET_RISK = r"^[=+\-@\t\r']"


def spreadsheet_safe(text: str) -> str:
    """The CSV cell of a text: an apostrophe in front of a text that a spreadsheet would take for
    a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return), and of one that starts with an
    apostrophe already, so that dropping one leading apostrophe always gives the text back."""
    return "'" + text if re.match(SPREADSHEET_RISK, text) else text


# -- reading the dump ------------------------------------------------------------------------

_ESCAPED = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_json_string = json.decoder.scanstring
_SIMPLE = {'"': '"', "\\": "\\", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "'": "'"}


def _unescape(match: re.Match) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else _SIMPLE[match.group(3)]


def value(term: str) -> str:
    """The value of an N-Triples term (what follows it on its line may stay): an IRI without its
    brackets, a literal's lexical form with its escapes read."""
    if term[0] == "<":
        return term[1:term.index(">")]
    lexical = term[1:term.rindex('"')]
    if "\\" not in lexical:
        return lexical
    if "\\U" in lexical or "\\'" in lexical:  # never written by Oxigraph nor by mapping.ntriples
        return _ESCAPED.sub(_unescape, lexical)
    return _json_string(f'"{lexical}"', 1, False)[0]  # the other escapes are JSON's (in C)


def _line_start(handle: BinaryIO, position: int) -> int:
    """The first line start at or after ``position``."""
    if position == 0:
        return 0
    handle.seek(position - 1)
    handle.readline()
    return handle.tell()


def lower_bound(handle: BinaryIO, size: int, key: bytes) -> int:
    """The offset of the first line not below ``key`` in a file of sorted lines (a bisection:
    the dump's lines are sorted, and UTF-8 bytes sort as the code points they encode)."""
    low, high = 0, size  # both line starts; the answer lies in [low, high]
    while low < high:
        middle = _line_start(handle, (low + high) // 2)
        probe = middle if middle < high else low
        handle.seek(probe)
        if handle.readline() < key:
            low = handle.tell()
        else:
            high = probe
    return low


def _copy_range(source: BinaryIO, start: int, end: int, out: BinaryIO) -> None:
    source.seek(start)
    left = end - start
    while left > 0:
        block = source.read(min(left, 1 << 20))
        if not block:
            break
        out.write(block)
        left -= len(block)


def _subjects(path: Path, start: int, prefix: str) -> Iterator[tuple[str, dict[str, list[str]]]]:
    """From the line start ``start`` of the sorted dump, while lines start with ``prefix``:
    (subject, {predicate: [object, each with the rest of its line]}) per subject."""
    subject, props = "", {}
    with path.open(encoding="utf-8") as handle:
        handle.seek(start)  # a line start: the decoder has no state to carry there
        for line in handle:
            if not line.startswith(prefix):
                break
            s, p, rest = line.split(" ", 2)
            if s != subject:
                if subject:
                    yield subject, props
                subject, props = s, {p: [rest]}
            elif p in props:
                props[p].append(rest)
            else:
                props[p] = [rest]
    if subject:
        yield subject, props


# -- what the actions look up: the rest of the graph, through SPARQL -------------------------


class Rest:
    """Everything of the dump but the actions, in an on-disk Oxigraph store, queried by SPARQL."""

    def __init__(self, store, base: str) -> None:
        self.store, self.iris = store, Iris(base)
        self.prologue = "".join(f"PREFIX {k}: <{v}>\n" for k, v in {
            "senacs": str(self.iris.DEF), "schema": str(SCHEMA), "skos": str(SKOS),
            "igeo": str(IGEO), "org": str(ORG), "dcterms": str(DCTERMS)}.items())

    def select(self, query: str) -> list[dict[str, str]]:
        results = self.store.query(self.prologue + query)
        names = [v.value for v in results.variables]
        return [{n: row[n].value for n in names if row[n] is not None} for row in results]

    def pairs(self, query: str) -> dict[str, str]:
        """``?key ?value`` rows as a dict (the least value when a key has several)."""
        out: dict[str, str] = {}
        for row in self.select(query):
            key, found = row["key"], row.get("value")
            if found is not None and (key not in out or found < out[key]):
                out[key] = found
        return out


@dataclass
class Lookups:
    """What an action row needs from outside its own triples."""

    concept_label: dict[str, str]  # concept IRI -> French label
    concept_scheme: dict[str, str]  # concept IRI -> scheme name (keyword, public…)
    structure_department: dict[str, str]  # structure IRI -> department code
    structure_commune: dict[str, str]  # structure IRI -> its only commune's code
    body_kind: dict[str, str]
    body_name: dict[str, str]
    source_name: dict[str, str]  # source file IRI -> file name


def lookups(graph: Rest, structures: list[dict]) -> Lookups:
    concepts = graph.select("""SELECT ?concept ?scheme ?label WHERE {
        ?concept skos:inScheme ?scheme ; skos:prefLabel ?label . FILTER(lang(?label) = "fr") }""")
    scheme_base = str(graph.iris.base) + "concept/"
    return Lookups(
        concept_label={r["concept"]: r["label"] for r in concepts},
        concept_scheme={r["concept"]: r["scheme"].removeprefix(scheme_base) for r in concepts},
        structure_department={s["structure_iri"]: s["department_code"] for s in structures
                              if s.get("department_code")},
        structure_commune={s["structure_iri"]: s["commune_code"] for s in structures
                           if s.get("commune_code")},
        body_kind=graph.pairs("SELECT ?key ?value WHERE { ?key a org:FormalOrganization ; "
                              "senacs:organisationKind ?value }"),
        body_name=graph.pairs("SELECT ?key ?value WHERE { ?key a org:FormalOrganization ; "
                              "schema:name ?value }"),
        source_name=graph.pairs("SELECT ?key ?value WHERE { ?key a senacs:SourceFile ; "
                                "dcterms:title ?value }"),
    )


def structure_rows(graph: Rest) -> tuple[list[dict], list[dict]]:
    """The structures and structure_communes tables, in the dump's order."""
    names: dict[str, str] = graph.pairs(
        "SELECT ?key ?value WHERE { ?key a senacs:Structure ; schema:name ?value }")
    place = {r["structure"]: r for r in graph.select("""
        SELECT ?structure ?department_code ?department_name ?region_code ?region_name WHERE {
          ?structure a senacs:Structure ; senacs:department ?department .
          OPTIONAL { ?department igeo:codeINSEE ?department_code }
          OPTIONAL { ?department igeo:nom ?department_name }
          OPTIONAL { ?department senacs:region ?region .
                     ?region igeo:codeINSEE ?region_code ; igeo:nom ?region_name }
        }""")}
    placement = {r["structure"]: r for r in graph.select("""
        SELECT ?structure ?method ?evidence WHERE {
          ?structure a senacs:Structure ; senacs:placement ?placement .
          ?placement senacs:placementMethod ?method ; senacs:evidence ?evidence }""")}
    communes = sorted(graph.select("""
        SELECT ?structure_iri ?commune_code ?commune_name ?department_code ?epci_iri ?epci_siren
               ?epci_name WHERE {
          ?structure_iri a senacs:Structure ; senacs:commune ?commune .
          ?commune igeo:codeINSEE ?commune_code ; igeo:nom ?commune_name .
          OPTIONAL { ?commune senacs:department/igeo:codeINSEE ?department_code }
          OPTIONAL { ?commune senacs:epci ?epci_iri .
                     OPTIONAL { ?epci_iri senacs:siren ?epci_siren }
                     OPTIONAL { ?epci_iri schema:name ?epci_name } }
        }"""), key=lambda r: (dump_order(r["structure_iri"]), r["commune_code"]))
    by_structure: dict[str, list[dict]] = {}
    for row in communes:
        by_structure.setdefault(row["structure_iri"], []).append(row)
    rows = []
    for iri in sorted(names, key=dump_order):
        where, how, its = place.get(iri, {}), placement.get(iri, {}), by_structure.get(iri, [])
        only = its[0] if len(its) == 1 else {}
        rows.append({
            "structure_iri": iri, "name": names[iri],
            "department_code": where.get("department_code"),
            "department_name": where.get("department_name"),
            "region_code": where.get("region_code"), "region_name": where.get("region_name"),
            "commune_count": len(its), "commune_code": only.get("commune_code"),
            "commune_name": only.get("commune_name"),
            "placement_method": how.get("method"), "placement_evidence": how.get("evidence"),
        })
    return rows, communes


def body_rows(graph: Rest) -> list[dict]:
    """The bodies table: every organisation of the graph, with its official identifiers."""
    columns = {
        "name": "schema:name ?value", "kind": "senacs:organisationKind ?value",
        "siren": "senacs:siren ?value", "commune_code": "senacs:commune/igeo:codeINSEE ?value",
        "department_code": "senacs:department/igeo:codeINSEE ?value",
        "epci_kind": "senacs:epciKind ?value", "wikidata": "skos:exactMatch ?value",
    }
    found = {name: graph.pairs(f"SELECT ?key ?value WHERE {{ ?key a org:FormalOrganization ; "
                               f"{path} }}") for name, path in columns.items()}
    bodies = {r["body"] for r in graph.select("SELECT ?body WHERE { ?body a org:FormalOrganization }")}
    return [{"body_iri": iri, **{name: found[name].get(iri) for name in columns}}
            for iri in sorted(bodies, key=dump_order)]


def dump_order(iri: str) -> str:
    """The sort key that puts IRIs in the dump's order (``<a/t-2>`` before ``<a/t>``)."""
    return f"<{iri}>"


# -- the actions, streamed -------------------------------------------------------------------


class ActionRows:
    """An action's rows in the three action tables, from its triples and its parts'."""

    PARTS = ("budget", "headcount", "source")  # the parts whose values the rows carry

    def __init__(self, base: str, found: Lookups) -> None:
        iris = Iris(base)
        d = iris.DEF
        term = lambda iri: f"<{iri}>"  # noqa: E731
        self.found = found
        self.title, self.agent = term(DCTERMS.title), term(SCHEMA.agent)
        self.organiser, self.status, self.dimension = (term(d.organiserName), term(d.status),
                                                       term(d.dimension))
        self.start, self.budget, self.headcount = term(d.startDate), term(d.budgetTotal), \
            term(d.headcount)
        self.derived, self.derivation = term(PROV.wasDerivedFrom), term(PROV.qualifiedDerivation)
        self.first, self.last = term(d.firstLine), term(d.lastLine)
        self.amount, self.method = term(SCHEMA.value), term(d.totalMethod)
        self.kind, self.minimum, self.maximum = term(d.personKind), term(SCHEMA.minValue), \
            term(SCHEMA.maxValue)
        self.partner, self.resolved = term(d.partnerCategory), term(d.resolvedPartner)
        self.concepts = [term(d[p]) for p in ("keyword", "audience", "initiator", "territoryScale")]
        self.texts = [(term(iris.DEF[prop.partition(":")[2]]), column.name)
                      for prop, column in TEXT_COLUMNS]
        self.pending: dict[str, dict[str, list[str]]] = {}  # parts met before their action

    def part(self, subject: str, props: dict[str, list[str]]) -> None:
        """Keep a part the action rows need until its action comes."""
        if part_kind(subject[1:-1]) in self.PARTS:
            self.pending[subject[1:-1]] = props

    def rows(self, subject: str, props: dict[str, list[str]]) -> tuple[dict, list, list]:
        """(actions row, action_partners rows, action_concepts rows) of one action."""
        get = lambda p: _one(props.get(p))  # noqa: E731
        found = self.found
        structure = get(self.agent)
        row = {
            "action_iri": subject[1:-1], "title": get(self.title), "structure_iri": structure,
            "structure_name": get(self.organiser),
            "department_code": found.structure_department.get(structure),
            "commune_code": found.structure_commune.get(structure),
            "status": found.concept_label.get(get(self.status)),
            "dimension": found.concept_label.get(get(self.dimension)),
            "start_date": get(self.start),
        }
        row["start_year"] = int(row["start_date"][:4]) if row["start_date"] else None
        budget = self._part(props, self.budget)
        amount = _one(budget.get(self.amount))
        row["budget_total"] = Decimal(amount) if amount is not None else None
        row["budget_total_method"] = _one(budget.get(self.method))
        row.update(self._headcounts(props))
        source = self._part(props, self.derivation)
        row["source_file"] = found.source_name.get(get(self.derived))
        row["first_line"] = _integer(_one(source.get(self.first)))
        row["last_line"] = _integer(_one(source.get(self.last)))
        for predicate, name in self.texts:
            row[name] = get(predicate)
        return row, self._partners(subject, props), self._concepts(subject, props)

    def _part(self, props: dict[str, list[str]], link: str) -> dict[str, list[str]]:
        iri = _one(props.get(link))
        return self.pending.pop(iri, {}) if iri else {}

    def _headcounts(self, props: dict[str, list[str]]) -> dict[str, int | None]:
        """Per kind of people, the sums of the headcounts' lower and upper bounds."""
        sums: dict[str, int | None] = {f"{name}_{end}": None for name in HEADCOUNT_KINDS.values()
                                       for end in ("min", "max")}
        for term in props.get(self.headcount, ()):
            part = self.pending.pop(value(term), {})
            kind = HEADCOUNT_KINDS.get(self.found.concept_label.get(_one(part.get(self.kind)), ""))
            if kind is None:
                continue
            for end, predicate in (("min", self.minimum), ("max", self.maximum)):
                count = _integer(_one(part.get(predicate)))
                if count is not None:
                    sums[f"{kind}_{end}"] = (sums[f"{kind}_{end}"] or 0) + count
        return sums

    def _partners(self, subject: str, props: dict[str, list[str]]) -> list[dict]:
        """One row per (category, body it names); a category that names none has one row."""
        found, action = self.found, subject[1:-1]
        bodies = sorted((value(b) for b in props.get(self.resolved, ())), key=dump_order)
        categories = sorted({found.concept_label.get(value(c), value(c))
                             for c in props.get(self.partner, ())})
        rows, placed = [], set()
        for category in categories:
            named = [b for b in bodies if found.body_kind.get(b) == CATEGORY_KINDS.get(category)]
            placed.update(named)
            rows += [{"action_iri": action, "partner_category": category, "body_iri": b,
                      "body_name": found.body_name.get(b)} for b in named or [None]]
        rows += [{"action_iri": action, "partner_category": None, "body_iri": b,
                  "body_name": found.body_name.get(b)} for b in bodies if b not in placed]
        return rows

    def _concepts(self, subject: str, props: dict[str, list[str]]) -> list[dict]:
        found, action = self.found, subject[1:-1]
        concepts = {value(c) for p in self.concepts for c in props.get(p, ())}
        rows = [{"action_iri": action, "scheme": found.concept_scheme.get(c), "concept_iri": c,
                 "label": found.concept_label.get(c)} for c in concepts]
        order = {scheme: n for n, scheme in enumerate(CONCEPT_SCHEMES)}
        return sorted(rows, key=lambda r: (order.get(r["scheme"], len(order)),
                                           dump_order(r["concept_iri"])))


def _one(terms: list[str] | None) -> str | None:
    """The value of a single-valued property (the least, should the graph hold several)."""
    if not terms:
        return None
    return value(terms[0]) if len(terms) == 1 else min(value(t) for t in terms)


def _integer(text: str | None) -> int | None:
    return None if text is None else int(text)


# -- writing ---------------------------------------------------------------------------------


class TableWriter:
    """One table's CSV and Parquet files, written a batch of rows at a time (both by Arrow)."""

    def __init__(self, table: Table, folder: Path) -> None:
        import pyarrow.csv as pv
        import pyarrow.parquet as pq

        self.table, self.rows = table, 0
        self.schema = arrow_schema(table)
        self.parquet = pq.ParquetWriter(folder / f"{table.name}.parquet", self.schema,
                                        compression="zstd", version="2.6")
        # RFC 4180: CRLF after each record; Arrow quotes every text cell, leaves a number bare
        # and an unknown value empty
        self.csv = pv.CSVWriter(folder / f"{table.name}.csv", self.schema,
                                write_options=pv.WriteOptions(eol="\r\n", quoting_header="none"))
        self.batch: list[dict] = []

    def add(self, rows: Iterable[dict]) -> None:
        self.batch.extend(rows)
        if len(self.batch) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        import pyarrow as pa

        if not self.batch:
            return
        arrays = [pa.array([row.get(c.name) for row in self.batch], type=self.schema.field(c.name).type)
                  for c in self.table.columns]
        self.parquet.write_table(pa.Table.from_arrays(arrays, schema=self.schema),
                                 row_group_size=BATCH_ROWS)
        self.csv.write_table(pa.Table.from_arrays(
            [_spreadsheet_safe(a) if c.kind == "string" else a
             for a, c in zip(arrays, self.table.columns)], schema=self.schema))
        self.rows += len(self.batch)
        self.batch = []

    def close(self) -> None:
        self.flush()
        self.csv.close()
        self.parquet.close()


def _spreadsheet_safe(texts):
    """``spreadsheet_safe`` over an Arrow array of texts."""
    import pyarrow.compute as pc

    risky = pc.match_substring_regex(texts, SPREADSHEET_RISK)
    return pc.if_else(risky, pc.binary_join_element_wise("'", texts, ""), texts)


def arrow_schema(table: Table):
    """The Parquet schema: the same columns, their logical types, titles as field metadata."""
    import pyarrow as pa

    types = {"iri": pa.string(), "string": pa.string(), "integer": pa.int64(),
             "decimal": pa.decimal128(DECIMAL_PRECISION, DECIMAL_SCALE)}
    return pa.schema([pa.field(c.name, types[c.kind], nullable=not c.required,
                               metadata={"title": c.title, "description": c.description})
                      for c in table.columns],
                     metadata={"title": table.title, "description": table.description})


@dataclass
class Written:
    """What the tables step wrote: rows per table, and each data file's sha256 and size."""

    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Terms:
    """Under which terms the tables are offered: the build's ``--license`` (an IRI) and
    ``--rights`` (a statement), the same the catalog gives every distribution."""

    license: str | None = None
    rights: str | None = None


def write_tables(dump: Path, staged: Path, base: str, work: Path,
                 terms: Terms = Terms()) -> Written:
    """Every table of the release in ``staged/tables/``, from its canonical dump, plain at
    ``dump`` (the build's work copy: the tables bisect and seek in it)."""
    import pyoxigraph as ox

    folder, scratch = staged / FOLDER, work / "tables"
    folder.mkdir()
    scratch.mkdir()
    start, end = action_block(dump, base)
    rest = scratch / "rest.nt"
    with dump.open("rb") as source, rest.open("wb") as out:
        _copy_range(source, 0, start, out)
        _copy_range(source, end, dump.stat().st_size, out)
    store = ox.Store(str(scratch / "store"))
    store.bulk_load(path=str(rest), format=ox.RdfFormat.N_TRIPLES)
    graph = Rest(store, base)
    structures, communes = structure_rows(graph)
    bodies = body_rows(graph)
    found = lookups(graph, structures)
    enums = _enumerations(graph)
    del graph, store
    writers = {t.name: TableWriter(t, folder) for t in TABLES}
    writers["structures"].add(structures)
    writers["structure_communes"].add(communes)
    writers["bodies"].add(bodies)
    _write_actions(_subjects(dump, start, f"<{Iris(base).base}action/"), base, found, writers)
    for writer in writers.values():
        writer.close()
    shutil.rmtree(scratch)
    written = Written(rows={name: w.rows for name, w in writers.items()})
    for _, _, path in table_files():
        digest, size = release.file_digest(staged / path)
        written.files[path] = {"sha256": digest, "bytes": size}
    write_descriptors(folder, base, enums, written.files, terms)
    return written


@contextmanager
def in_background(dump: Path, staged: Path, base: str, work: Path,
                  terms: Terms = Terms()) -> Iterator[Future]:
    """``write_tables`` in a process of its own (a child of the build, ending with it), so that
    the build's next step, which reads the same dump, runs meanwhile on the other core."""
    pool = ProcessPoolExecutor(max_workers=1, mp_context=release.WORKER_START,
                               initializer=lifetime.die_with_parent, initargs=(os.getpid(),))
    try:
        yield pool.submit(write_tables, dump, staged, base, work, terms)
    finally:
        pool.shutdown(cancel_futures=True)


def action_block(dump: Path, base: str) -> tuple[int, int]:
    """Where the actions' lines (their parts' included) start and end in the sorted dump."""
    prefix = f"<{Iris(base).base}action/".encode()
    size = dump.stat().st_size
    with dump.open("rb") as handle:
        return (lower_bound(handle, size, prefix),
                lower_bound(handle, size, prefix[:-1] + b"0"))  # "0" follows "/"


def _write_actions(subjects: Iterable[tuple[str, dict[str, list[str]]]], base: str,
                   found: Lookups, writers: dict[str, TableWriter]) -> None:
    actions = ActionRows(base, found)
    for subject, props in subjects:
        if "#" in subject:
            actions.part(subject, props)
            continue
        row, partners, concepts = actions.rows(subject, props)
        writers["actions"].add([row])
        writers["action_partners"].add(partners)
        writers["action_concepts"].add(concepts)


def _enumerations(graph: Rest) -> dict[str, list[str]]:
    """Each scheme's French labels (the values of its enumerated columns), ``*`` for the labels
    of every scheme of action_concepts."""
    rows = graph.select("""SELECT ?scheme ?label WHERE {
        ?concept skos:inScheme ?scheme ; skos:prefLabel ?label . FILTER(lang(?label) = "fr") }""")
    scheme_base = graph.iris.base + "concept/"
    out: dict[str, set[str]] = {}
    for row in rows:
        name = row["scheme"].removeprefix(scheme_base)
        out.setdefault(name, set()).add(row["label"])
        if name in CONCEPT_SCHEMES:
            out.setdefault("*", set()).add(row["label"])
    return {name: sorted(labels) for name, labels in out.items()}


# -- the two descriptions --------------------------------------------------------------------

TITLE = "Fiches actions des centres sociaux (SENACS) : tables"
DESCRIPTION = ("Les faits du graphe de connaissances senacs-kg en tables, une ligne par chose : "
               "actions, structures et leurs communes, organismes, partenaires et valeurs des "
               "listes contrôlées de chaque action. Dans les CSV, un texte qui commence par =, +, "
               "-, @, une tabulation, un retour chariot ou une apostrophe est précédé d'une "
               "apostrophe (à retirer pour retrouver le texte) ; les fichiers Parquet gardent les "
               "textes tels quels.")


def _table_schema(table: Table, enums: dict[str, list[str]]) -> dict:
    """A Frictionless Table Schema: types, constraints, enumerations, primary and foreign keys."""
    fields = []
    for c in table.columns:
        spec = {"name": c.name, "title": c.title, "description": c.description,
                **{"iri": {"type": "string", "format": "uri"}, "string": {"type": "string"},
                   "integer": {"type": "integer"},
                   "decimal": {"type": "number", "decimalChar": "."}}[c.kind]}
        constraints: dict = {}
        if c.required:
            constraints["required"] = True
        if c.pattern:
            constraints["pattern"] = c.pattern
        values = list(c.enum) or enums.get(c.enum_scheme or "", [])
        if values:
            constraints["enum"] = [spreadsheet_safe(v) for v in values]
        if c.kind in ("integer", "decimal") and c.name != "start_year":
            constraints["minimum"] = 0
        if constraints:
            spec["constraints"] = constraints
        fields.append(spec)
    return {"fields": fields, "missingValues": [""], "primaryKey": list(table.primary_key),
            "foreignKeys": [{"fields": [col], "reference": {"resource": other, "fields": [there]}}
                            for col, other, there in table.foreign_keys]}


def _datapackage(base: str, files: dict[str, dict], terms: Terms) -> dict:
    resources = []
    for table in TABLES:
        path = f"{FOLDER}/{table.name}.csv"
        resources.append({
            "name": table.name, "title": table.title, "description": table.description,
            "path": f"{table.name}.csv", "profile": "tabular-data-resource", "format": "csv",
            "mediatype": "text/csv", "encoding": "utf-8",
            "bytes": files[path]["bytes"], "hash": f"sha256:{files[path]['sha256']}",
            "schema": f"{SCHEMAS}/{table.name}.json",
        })
    package = {"profile": "tabular-data-package", "name": "senacs-kg", "title": TITLE,
               "description": DESCRIPTION, "homepage": base, "resources": resources}
    if terms.license:  # Data Package: a licence is named by its path (its IRI); the rights
        package["licenses"] = [{"path": terms.license}]  # statement stays in the CSVW metadata
    return package


CSVW_TYPES = {"iri": "anyURI", "string": "string", "integer": "integer", "decimal": "decimal"}


def _csvw(base: str, terms: Terms) -> dict:
    """CSV on the Web metadata (W3C): each table's columns, datatypes and keys."""
    tables = []
    for table in TABLES:
        columns = []
        for c in table.columns:
            datatype: str | dict = CSVW_TYPES[c.kind]
            if c.pattern:
                datatype = {"base": "string", "format": c.pattern}
            elif c.kind in ("integer", "decimal") and c.name != "start_year":
                datatype = {"base": datatype, "minimum": 0}
            columns.append({"name": c.name, "titles": [c.name, c.title], "datatype": datatype,
                            "required": c.required, "dc:description": c.description})
        schema: dict = {"columns": columns, "primaryKey": list(table.primary_key)}
        if table.foreign_keys:
            schema["foreignKeys"] = [{"columnReference": col,
                                      "reference": {"resource": f"{other}.csv",
                                                    "columnReference": there}}
                                     for col, other, there in table.foreign_keys]
        tables.append({"url": f"{table.name}.csv", "dc:title": table.title,
                       "dc:description": table.description, "tableSchema": schema})
    described = {"@context": ["http://www.w3.org/ns/csvw", {"@language": "fr"}], "dc:title": TITLE,
                 "dc:description": DESCRIPTION, "dc:source": base + "dataset", "tables": tables}
    if terms.license:
        described["dc:license"] = {"@id": terms.license}
    if terms.rights:
        described["dc:rights"] = terms.rights
    return described


def write_descriptors(folder: Path, base: str, enums: dict[str, list[str]],
                      files: dict[str, dict], terms: Terms = Terms()) -> None:
    """datapackage.json with a Table Schema per table (in ``schemas/``), and csv-metadata.json."""
    (folder / SCHEMAS).mkdir()
    for table in TABLES:
        _write_json(folder / SCHEMAS / f"{table.name}.json", _table_schema(table, enums))
    _write_json(folder / DATAPACKAGE, _datapackage(base, files, terms))
    _write_json(folder / CSVW_METADATA, _csvw(base, terms))


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")

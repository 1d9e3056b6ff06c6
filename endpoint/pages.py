"""HTML pages for people: the home page, the query page, and what the graph says of a
resource, read through SPARQL.

Data access (queries, through the store interface, so remote stores work too)
is kept apart from presentation (Jinja templates in ``endpoint/templates``,
which escape every value). French first; English labels are given beside.
The home page's route is here (``bp``); the query page is what ``/sparql`` gives a browser,
and a resource's page what its IRI gives one (``endpoint/sparql.py``,
``endpoint/resources.py``: the routes that negotiate between HTML and data).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, g, render_template, request

from endpoint import memento
from endpoint.cache import REPLAYABLE
from endpoint.guard import iri_term
from endpoint.headers import mounted
from endpoint.state import server_state
from endpoint.store import changes_graph
from mapping.vocab import Iris, field_key, part_kind, sparql_prologue

bp = Blueprint("pages", __name__)

RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
LABEL_PROPS = ("http://www.w3.org/2004/02/skos/core#prefLabel", "https://schema.org/name",
               "http://purl.org/dc/terms/title", "http://rdf.insee.fr/def/geo#nom")
# Labels of the standard terms the pages show (the ontology labels its own terms).
KNOWN_LABELS = {
    "http://purl.org/dc/terms/title": ("titre", "title"),
    "https://schema.org/agent": ("structure organisatrice", "organising structure"),
    "https://schema.org/name": ("nom", "name"),
    "https://schema.org/actionStatus": ("statut (schema.org)", "status (schema.org)"),
    "https://schema.org/associatedMedia": ("fichier joint", "attached file"),
    RDF_TYPE: ("type", "type"),
    "http://www.w3.org/ns/prov#wasDerivedFrom": ("provient de", "derived from"),
    "http://www.w3.org/ns/prov#qualifiedDerivation": ("provenance", "provenance"),
    "http://www.w3.org/2004/02/skos/core#prefLabel": ("libellé", "label"),
    "http://www.w3.org/2004/02/skos/core#inScheme": ("schéma", "scheme"),
    "http://www.w3.org/2004/02/skos/core#exactMatch": ("équivalent", "exact match"),
    "http://rdf.insee.fr/def/geo#nom": ("nom", "name"),
    "http://rdf.insee.fr/def/geo#codeINSEE": ("code INSEE", "INSEE code"),
}


@dataclass
class Node:
    """One resource as the page sees it: its statements and the labels of what it links to."""

    iri: str
    values: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    parts: dict[str, dict[str, list]] = field(default_factory=dict)  # hash IRIs

    def one(self, prop: str):
        found = self.values.get(prop)
        return found[0] if found else None


def site_iris() -> Iris:
    """Our IRI rules under the configured base (never one taken from the request)."""
    return Iris(current_app.config["BASE"])


def _select(query: str) -> list[dict]:
    """The rows of a page's query (IRIs in its text come through guard.iri_term)."""
    # the background warm-up (sparql.warm) may take longer than a visitor's query
    answer = server_state().store.query(
        query, row_cap=5000, timeout=g.get("senacs_query_timeout"))
    results = ox.parse_query_results(answer.payload, format=ox.QueryResultsFormat.JSON)
    names = [v.value for v in results.variables]
    return [{n: row[n] for n in names} for row in results]


def load(iri: str, data: bytes) -> Node:
    node = Node(iri)
    for triple in ox.parse(data, format=ox.RdfFormat.N_TRIPLES):
        subject, prop = triple.subject.value, triple.predicate.value
        target = node.values if subject == iri else node.parts.setdefault(
            subject, defaultdict(list))
        target[prop].append(triple.object)
    return node


def labels_of(iris: set[str]) -> dict[str, dict[str, str]]:
    """fr/en labels (or names, titles) of the given IRIs, from the data and the ontology."""
    if not iris:
        return {}
    values = " ".join(iri_term(i) for i in sorted(iris))
    props = ", ".join(f"<{p}>" for p in (*LABEL_PROPS, "http://www.w3.org/2000/01/rdf-schema#label"))
    # a FILTER on ?p, not a second VALUES: Oxigraph then walks each IRI's own statements
    # (0.7 ms) instead of joining two value tables against every statement (70 ms at 10k)
    rows = _select(f"""SELECT ?x ?label WHERE {{ VALUES ?x {{ {values} }}
        {{ ?x ?p ?label }} UNION {{ GRAPH <{site_iris().ontology}> {{ ?x ?p ?label }} }}
        FILTER(?p IN ({props})) }}""")
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for iri, (fr, en) in KNOWN_LABELS.items():
        if iri in iris:
            found[iri] = {"fr": fr, "en": en}
    for row in rows:
        label = row["label"]
        lang = getattr(label, "language", None) or ""
        found[row["x"].value].setdefault(lang or "fr", label.value)
    return found


# An IRI a page may link to: http(s), with no space or control character a browser would
# strip or re-read (``java\tscript:`` is ``javascript:`` to a browser, ``/\t/host`` is ``//host``).
_LINKABLE = re.compile(r"https?://[^\x00-\x20\x7f]+", re.IGNORECASE)
_PLAIN_PATH = re.compile(r"[^/\\\x00-\x20\x7f][^\x00-\x20\x7f]*")


def href(iri: str) -> str | None:
    """Where a link to ``iri`` points: this server's path for the base's IRIs, the IRI itself for
    other http(s) IRIs, and None for any other scheme (``javascript:``, ``data:``, ``vbscript:``…
    from the data or a query), which the templates show as text, never as a link."""
    base = current_app.config["BASE"]
    # a path starting with "/" or "\\" would be read as another host's ("//host"): not rewritten
    if iri.startswith(base) and _PLAIN_PATH.fullmatch(iri[len(base):]):
        return "/" + mounted(iri[len(base):])  # a pinned release's page links its own pages
    return iri if _LINKABLE.fullmatch(iri) else None


def _form_fields() -> list[dict]:
    prologue = sparql_prologue(current_app.config["BASE"], ("senacs", "rdfs"))
    rows = _select(prologue + f"""SELECT ?f ?pos ?prop ?fr ?en WHERE {{ GRAPH <{site_iris().ontology}> {{
          ?f a senacs:FormField ; senacs:position ?pos ; senacs:valueProperty ?prop ;
             rdfs:label ?fr , ?en . FILTER(lang(?fr) = "fr" && lang(?en) = "en") }} }}
        ORDER BY ?pos""")
    return [{"iri": r["f"].value, "prop": r["prop"].value, "fr": r["fr"].value,
             "en": r["en"].value} for r in rows]


def _json_ld(data: dict) -> str:
    """schema.org JSON-LD, safe inside a <script> element (no <, > or & left as such)."""
    text = json.dumps(data, ensure_ascii=False, indent=1)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def series_changeset() -> tuple[str, str] | None:
    """(the release's id, the previous release's) when the release served is one of a series
    with a changeset; None for one release served alone, or the first of its series."""
    from endpoint.changelog import previous_of  # it imports the resource routes, which import us

    versions = memento.holdings()
    previous = previous_of(server_state().manifest) if versions is not None else None
    return (versions.release_id, previous) if previous else None


def change_of(iri: str, senacs: str) -> dict | None:
    """What the release's changelog (its named graph in the store) says of the resource: new
    in this release, or changed, with the fields that changed and its previous version;
    None when it did not change, or outside a series. One query, the IRIs bound as terms."""
    pinned = series_changeset()
    base = current_app.config["BASE"]
    if pinned is None or not iri.startswith(base):
        return None
    release_id, previous = pinned
    graph = iri_term(changes_graph(base, release_id))
    rows = _select(f"""SELECT ?status ?field WHERE {{ GRAPH {graph} {{
        ?change <http://purl.org/dc/terms/subject> {iri_term(iri)} ; a ?status .
        OPTIONAL {{ ?change <{senacs}changedProperty> ?field }} }} }}""")
    statuses = {row["status"].value for row in rows}
    if senacs + "Modification" in statuses:
        status = "changed"
    elif senacs + "Addition" in statuses:
        status = "added"
    else:
        return None
    path = iri[len(base):]
    return {"status": status, "release": release_id, "previous": previous,
            "previous_href": memento.pinned(previous, path),
            "changes_href": f"/release/{release_id}/changes",
            "fields": sorted({row["field"].value for row in rows if row["field"] is not None})}


def action_page(node: Node, senacs: str) -> str:
    linked = {t.value for vs in node.values.values() for t in vs if isinstance(t, ox.NamedNode)}
    kinds = {t.value for values in node.parts.values()
             for t in values.get(senacs + "personKind", [])}
    change = change_of(node.iri, senacs)
    changed = set(change["fields"]) if change else set()
    labels = labels_of(linked | kinds | set(node.values) | changed)  # one query for the whole page
    fields = [f for f in _form_fields() if field_key(f["iri"]) != "territory-repeat"]
    parts = node.parts
    extracted: dict[str, list[dict]] = defaultdict(list)
    for part_iri, values in sorted(parts.items()):
        source = values.get(senacs + "extractedFrom")
        if not source:
            continue
        kind = part_kind(part_iri)
        entry = {"kind": kind, "line": _value(values.get(senacs + "sourceLine")),
                 "snippet": _value(values.get(senacs + "sourceSnippet"))}
        if kind == "amount":
            entry["text"] = f"{_value(values.get('https://schema.org/value'))} €" + (
                " (total écrit)" if _value(values.get(senacs + "isTotal")) == "true" else "")
        elif kind == "budget":
            stated = _value(values.get(senacs + "totalMethod")) == "stated"
            entry["text"] = (f"budget total : {_value(values.get('https://schema.org/value'))} € "
                             f"({'écrit' if stated else 'somme des postes'})")
        elif kind == "headcount":
            low = _value(values.get("https://schema.org/minValue"))
            high = _value(values.get("https://schema.org/maxValue"))
            person = values.get(senacs + "personKind")
            kind_label = labels.get(person[0].value, {}) if person else {}
            entry["text"] = f"{low if low == high else f'{low} à {high}'} {kind_label.get('fr', '')}"
        elif kind == "start":
            entry["text"] = f"début : {_value(values.get(senacs + 'date'))}"
        extracted[source[0].value].append(entry)
    for entries in extracted.values():
        entries.sort(key=lambda e: (int(e["line"] or 0), e["kind"] == "budget"))
    derivation = next((v for k, v in parts.items() if part_kind(k) == "source"), {})
    source_file = node.one("http://www.w3.org/ns/prov#wasDerivedFrom")
    structure = node.one("https://schema.org/agent")
    title = _value(node.values.get("http://purl.org/dc/terms/title")) or "(sans titre)"
    ld = {"@context": "https://schema.org", "@type": "Action", "@id": node.iri, "name": title}
    if structure is not None:
        ld["agent"] = {"@type": "Organization", "@id": structure.value,
                       "name": labels.get(structure.value, {}).get("fr", "")}
    summary = _value(node.values.get(senacs + "summary"))
    if summary:
        ld["description"] = summary
    status = node.one("https://schema.org/actionStatus")
    if status is not None:
        ld["actionStatus"] = status.value
    return render_template(
        "action.html", node=node, title=title, fields=fields, labels=labels,
        extracted=extracted, href=href, structure=structure, senacs=senacs,
        first_line=_value(derivation.get(senacs + "firstLine")),
        last_line=_value(derivation.get(senacs + "lastLine")),
        source_name=labels.get(source_file.value, {}).get("fr") if source_file else None,
        partners=sorted(node.values.get(senacs + "resolvedPartner", []), key=lambda t: t.value),
        source_text=_value(node.values.get(senacs + "sourceText")),
        json_ld=_json_ld(ld), change=change)


def _value(values) -> str | None:
    return values[0].value if values else None


def generic_page(node: Node, kind: str, senacs: str) -> str:
    """Structures, organisations, concepts, places, source files: statements plus the lists
    of what they link to or hold (each list a section: heading, rows, and how many more)."""
    linked = {t.value for vs in node.values.values() for t in vs if isinstance(t, ox.NamedNode)}
    change = change_of(node.iri, senacs)
    changed = set(change["fields"]) if change else set()
    labels = labels_of(linked | set(node.values) | {node.iri} | changed)
    name = labels.get(node.iri, {}).get("fr") or node.iri.rsplit("/", 1)[-1]
    sections: list[dict] = []
    this = iri_term(node.iri)
    types = {t.value for t in node.values.get(RDF_TYPE, ())}
    if kind == "structure":
        sections += [_section("Actions de la structure", f"""SELECT ?x ?label WHERE {{
            ?x <https://schema.org/agent> {this} ; <http://purl.org/dc/terms/title> ?label }}"""),
                     _section("Partenaires identifiés", f"""SELECT ?x ?label (COUNT(?a) AS ?n)
            WHERE {{ ?a <https://schema.org/agent> {this} ; <{senacs}resolvedPartner> ?x .
            ?x <https://schema.org/name> ?label }} GROUP BY ?x ?label""")]
    elif kind == "organisation":
        sections.append(_section("Structures qui travaillent avec cet organisme", f"""
            SELECT ?x ?label (COUNT(?a) AS ?n) WHERE {{
            ?a <{senacs}resolvedPartner> {this} ; <https://schema.org/agent> ?x .
            ?x <https://schema.org/name> ?label }} GROUP BY ?x ?label"""))
        if senacs + "Intercommunalite" in types:
            sections += _held(f"?c <{senacs}epci> {this} . "
                              f"?s a <{senacs}Structure> ; <{senacs}commune> ?c .",
                              "de son territoire")
    elif kind == "place":
        where = next((w for t, w in _PLACE_STRUCTURES.items() if t in types), None)
        if where:
            sections += _held(where.format(this=this, senacs=senacs), "")
    elif kind == "concept":
        sections.append(_section("Actions", f"""SELECT ?x ?label WHERE {{ ?x ?p {this} ;
            a <{senacs}Action> ; <http://purl.org/dc/terms/title> ?label }}"""))
    ld = {"@context": "https://schema.org", "@id": node.iri, "name": name,
          "@type": {"structure": "Organization", "organisation": "GovernmentOrganization",
                    "concept": "DefinedTerm", "place": "Place"}.get(kind, "Thing")}
    return render_template("resource.html", node=node, name=name, kind=kind, labels=labels,
                           href=href, sections=sections, json_ld=_json_ld(ld),
                           placement=_placement(node, senacs), change=change)


def _section(heading: str, query: str) -> dict:
    rows, more = _listing(query)
    return {"heading": heading, "rows": rows, "more": more}


# The structures (?s) a place holds, by the place's class (``{this}``: the place, as a term).
_PLACE_STRUCTURES = {
    "http://rdf.insee.fr/def/geo#Commune": "?s a <{senacs}Structure> ; <{senacs}commune> {this} .",
    "http://rdf.insee.fr/def/geo#Departement": "?s a <{senacs}Structure> ; <{senacs}department> {this} .",
    "http://rdf.insee.fr/def/geo#Region":
        "?s a <{senacs}Structure> ; <{senacs}department>/<{senacs}region> {this} .",
}


def _held(where: str, whose: str) -> list[dict]:
    """The structures matching ``where`` (binding ?s), each with its number of actions, and
    their actions: two sections of a place's or an EPCI's page."""
    whose = f" {whose}" if whose else ""
    return [_section(f"Structures{whose}", f"""SELECT ?x ?label (COUNT(?a) AS ?n) WHERE {{
                {where} BIND(?s AS ?x) ?x <https://schema.org/name> ?label .
                OPTIONAL {{ ?a <https://schema.org/agent> ?x }} }} GROUP BY ?x ?label"""),
            _section(f"Actions des structures{whose}", f"""SELECT ?x ?label WHERE {{ {where}
                ?x <https://schema.org/agent> ?s ; <http://purl.org/dc/terms/title> ?label }}""")]


def _placement(node: Node, senacs: str) -> dict | None:
    """How a structure's commune was found, or why not: its #placement part, if any."""
    target = node.one(senacs + "placement")
    part = node.parts.get(target.value) if target is not None else None
    if not part:
        return None
    method = part.get(senacs + "placementMethod", [None])[0]
    evidence = part.get(senacs + "evidence", [None])[0]
    source = part.get("http://purl.org/dc/terms/source", [None])[0]
    return {"method": method.value if method else "", "evidence": evidence.value if evidence else "",
            "source": source.value if source else ""}


LIST_CAP = 1000  # rows a page lists; beyond, it says how many and links the full query


def _listing(query: str) -> tuple[list[dict], dict | None]:
    """The rows of ``query`` for a page, sorted here, at most LIST_CAP of them.

    Sorting in Python rather than with ORDER BY: Oxigraph's ORDER BY on strings
    looks every value up again at each comparison (0.7 s to sort 10,000 titles).
    When there are more rows, the page says how many and links to the full query.
    """
    rows = _select(f"{query} LIMIT {LIST_CAP + 1}")
    rows.sort(key=lambda r: (-int(r["n"].value) if r.get("n") is not None else 0,
                             r["label"].value, r["x"].value))
    if len(rows) <= LIST_CAP:
        return rows, None
    counted = _select(f"SELECT (COUNT(*) AS ?total) WHERE {{ {query} }}")
    return rows[:LIST_CAP], {"total": int(counted[0]["total"].value),
                             "query": "/" + mounted("sparql") + "?" + urlencode({"query": query})}


# -- the home page (/) ---------------------------------------------------------------------------


def home_page() -> str:
    """Counts, the most frequent partners and keywords, the release's files (also run by the
    warm-up, sparql.warm, so that its first visitor waits no longer than the next)."""
    senacs = str(site_iris().DEF)
    counts = {}
    for label, cls in (("actions", senacs + "Action"), ("structures", senacs + "Structure"),
                       ("organismes", "http://www.w3.org/ns/org#FormalOrganization"),
                       ("concepts", "http://www.w3.org/2004/02/skos/core#Concept")):
        rows = _select(f"SELECT (COUNT(?x) AS ?n) WHERE {{ ?x a <{cls}> }}")
        counts[label] = rows[0]["n"].value if rows else "0"
    organisations = _select(f"""SELECT ?x ?label (COUNT(DISTINCT ?s) AS ?n) WHERE {{
        ?a <{senacs}resolvedPartner> ?x ; <https://schema.org/agent> ?s .
        ?x <https://schema.org/name> ?label }} GROUP BY ?x ?label ORDER BY DESC(?n) LIMIT 10""")
    keywords = _select(f"""SELECT ?x ?label (COUNT(?a) AS ?n) WHERE {{ ?a <{senacs}keyword> ?x .
        ?x <http://www.w3.org/2004/02/skos/core#prefLabel> ?label . FILTER(lang(?label) = "fr") }}
        GROUP BY ?x ?label ORDER BY DESC(?n) LIMIT 20""")
    state = server_state()
    return render_template("home.html", counts=counts, organisations=organisations,
                           keywords=keywords, href=href, release=state.release,
                           files=sorted(state.manifest["files"]), changes=series_changeset())


@bp.route("/")
def home() -> Response:
    """The home page, replayed while its release is served."""
    response = Response(home_page(), content_type="text/html; charset=utf-8")
    response.set_etag(f"{server_state().release}-home")
    request.environ[REPLAYABLE] = True
    return response.make_conditional(request)


# -- the query page (what /sparql gives a browser) --------------------------------------------------

# The query page's first query, after the PREFIX lines of every name in vocab.PREFIXES.
DEFAULT_QUERY = """
SELECT ?action ?title WHERE {
  ?action a senacs:Action ; dcterms:title ?title .
} ORDER BY ?title LIMIT 20
"""


def query_page(initial: str) -> Response:
    """The query editor, with ``initial`` (else a first example query) and the catalogue."""
    examples = server_state().examples
    body = render_template(
        # the public IRI from configuration, never from the Host header any client writes
        "query.html", examples=examples, endpoint=current_app.config["BASE"] + mounted("sparql"),
        initial=initial or sparql_prologue(current_app.config["BASE"]) + DEFAULT_QUERY,
        examples_json=_json_ld({ex["id"]: ex for ex in examples}))
    response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["Vary"] = "Accept"
    return response

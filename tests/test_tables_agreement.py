"""The tables say what the graph says: every cell recomputed from the release's dump by SPARQL.

The build streams the tables out of the sorted dump (mapping/tables.py); here each table is
asked of the graph again, with queries written independently of that code, and compared cell
by cell with the Parquet file and with the CSV file (read with the types of its Table Schema
and the spreadsheet rule undone). Row counts are checked against plain counts of the graph,
and the example catalogue's questions that tables can answer get the same answers from DuckDB
over the Parquet files as from SPARQL on the server. On the seed, and on a generated national
export (bodies across France, EPCIs, structures in several communes or none).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pyoxigraph as ox
import pytest
import requests
from conftest import build_release, dump_bytes
from national import write_export
from rdflib import Graph
from rdflib.namespace import RDF, SH

from mapping.paths import EXAMPLES_FILE

B = "https://w3id.org/senacs-kg/"
XSD = "http://www.w3.org/2001/XMLSchema#"
PROLOGUE = f"""PREFIX senacs: <{B}def#>
PREFIX schema: <https://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX igeo: <http://rdf.insee.fr/def/geo#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX dcterms: <http://purl.org/dc/terms/>
"""
TEXTS = {"end_reason": "endReason", "summary": "summary", "initiative_note": "initiativeNote",
         "experience": "experience", "general_description": "generalDescription",
         "resources_text": "resourcesText", "people_text": "peopleText",
         "result_for_territory": "resultForTerritory", "result_for_centre": "resultForCentre",
         "result_for_residents": "resultForResidents", "limits": "limits",
         "perspectives": "perspectives"}
KINDS = {"staff": "professionnels", "volunteers": "bénévoles", "participants": "participants"}


def _headcounts(kind: str, label: str) -> str:
    return f"""OPTIONAL {{ SELECT ?action_iri (SUM(?lo) AS ?{kind}_min) (SUM(?hi) AS ?{kind}_max)
      WHERE {{ ?action_iri senacs:headcount ?h . ?h senacs:personKind/skos:prefLabel "{label}"@fr ;
               schema:minValue ?lo ; schema:maxValue ?hi }} GROUP BY ?action_iri }}"""


ACTIONS = f"""SELECT * WHERE {{
  ?action_iri a senacs:Action ; schema:agent ?structure_iri ; prov:wasDerivedFrom ?source ;
    prov:qualifiedDerivation ?derivation .
  ?source dcterms:title ?source_file .
  ?derivation senacs:firstLine ?first_line ; senacs:lastLine ?last_line .
  OPTIONAL {{ ?action_iri dcterms:title ?t BIND(STR(?t) AS ?title) }}
  OPTIONAL {{ ?action_iri senacs:organiserName ?structure_name }}
  OPTIONAL {{ ?structure_iri senacs:department/igeo:codeINSEE ?department_code }}
  OPTIONAL {{ SELECT ?structure_iri (SAMPLE(?code) AS ?commune_code) WHERE {{
      ?structure_iri senacs:commune/igeo:codeINSEE ?code }} GROUP BY ?structure_iri
      HAVING (COUNT(?code) = 1) }}
  OPTIONAL {{ ?action_iri senacs:status/skos:prefLabel ?s FILTER(lang(?s) = "fr")
             BIND(STR(?s) AS ?status) }}
  OPTIONAL {{ ?action_iri senacs:dimension/skos:prefLabel ?d FILTER(lang(?d) = "fr")
             BIND(STR(?d) AS ?dimension) }}
  OPTIONAL {{ ?action_iri senacs:startDate ?date BIND(STR(?date) AS ?start_date)
             BIND(xsd:integer(SUBSTR(?start_date, 1, 4)) AS ?start_year) }}
  OPTIONAL {{ ?action_iri senacs:budgetTotal ?b . ?b schema:value ?budget_total ;
             senacs:totalMethod ?budget_total_method }}
  {" ".join(_headcounts(kind, label) for kind, label in KINDS.items())}
  {" ".join(f"OPTIONAL {{ ?action_iri senacs:{p} ?{c}_ BIND(STR(?{c}_) AS ?{c}) }}"
            for c, p in TEXTS.items())}
}}"""

STRUCTURES = """SELECT * WHERE {
  { SELECT ?structure_iri (MIN(STR(?n)) AS ?name) (COUNT(DISTINCT ?c) AS ?commune_count) WHERE {
      ?structure_iri a senacs:Structure ; schema:name ?n OPTIONAL { ?structure_iri senacs:commune ?c }
    } GROUP BY ?structure_iri }
  OPTIONAL { ?structure_iri senacs:commune ?only . ?only igeo:codeINSEE ?commune_code ; igeo:nom ?cn .
             BIND(STR(?cn) AS ?commune_name) FILTER(?commune_count = 1) }
  OPTIONAL { ?structure_iri senacs:department ?dep .
             OPTIONAL { ?dep igeo:codeINSEE ?department_code }
             OPTIONAL { ?dep igeo:nom ?dn BIND(STR(?dn) AS ?department_name) }
             OPTIONAL { ?dep senacs:region ?reg . ?reg igeo:codeINSEE ?region_code ; igeo:nom ?rn
                        BIND(STR(?rn) AS ?region_name) } }
  OPTIONAL { ?structure_iri senacs:placement ?p . ?p senacs:placementMethod ?placement_method ;
             senacs:evidence ?placement_evidence }
}"""

STRUCTURE_COMMUNES = """SELECT * WHERE {
  ?structure_iri a senacs:Structure ; senacs:commune ?c .
  ?c igeo:codeINSEE ?commune_code ; igeo:nom ?cn BIND(STR(?cn) AS ?commune_name)
  OPTIONAL { ?c senacs:department/igeo:codeINSEE ?department_code }
  OPTIONAL { ?c senacs:epci ?epci_iri OPTIONAL { ?epci_iri senacs:siren ?epci_siren }
             OPTIONAL { ?epci_iri schema:name ?en BIND(STR(?en) AS ?epci_name) } }
}"""

BODIES = """SELECT * WHERE {
  ?body_iri a org:FormalOrganization ; schema:name ?n ; senacs:organisationKind ?kind .
  BIND(STR(?n) AS ?name)
  OPTIONAL { ?body_iri senacs:siren ?siren }
  OPTIONAL { ?body_iri senacs:commune/igeo:codeINSEE ?commune_code }
  OPTIONAL { ?body_iri senacs:department/igeo:codeINSEE ?department_code }
  OPTIONAL { ?body_iri senacs:epciKind ?epci_kind }
  OPTIONAL { ?body_iri skos:exactMatch ?wikidata }
}"""

# The category that names each kind of body, as the README states the rule.
ACTION_PARTNERS = """SELECT ?action_iri ?partner_category ?body_iri ?body_name WHERE {
  ?action_iri senacs:partnerCategory/skos:prefLabel ?l . FILTER(lang(?l) = "fr")
  BIND(STR(?l) AS ?partner_category)
  OPTIONAL {
    VALUES (?category ?kind) { ("Caf" "caf") ("Conseil départemental" "departement")
      ("Département" "departement") ("Préfecture" "prefecture") ("Éducation Nationale" "dsden")
      ("Commune" "commune") ("Regroupement de communes" "epci") }
    ?action_iri senacs:resolvedPartner ?body_iri . ?body_iri senacs:organisationKind ?kind ;
      schema:name ?bn . BIND(STR(?bn) AS ?body_name)
    FILTER(?category = ?partner_category) }
}"""

ACTION_CONCEPTS = """SELECT ?action_iri ?scheme ?concept_iri ?label WHERE {
  VALUES (?p ?scheme) { (senacs:keyword "keyword") (senacs:audience "public")
                        (senacs:initiator "initiator") (senacs:territoryScale "territory-scale") }
  ?action_iri ?p ?concept_iri . ?concept_iri skos:prefLabel ?l . FILTER(lang(?l) = "fr")
  BIND(STR(?l) AS ?label)
}"""

QUERIES = {"actions": ACTIONS, "structures": STRUCTURES, "structure_communes": STRUCTURE_COMMUNES,
           "bodies": BODIES, "action_partners": ACTION_PARTNERS,
           "action_concepts": ACTION_CONCEPTS}


def _python(term):
    if isinstance(term, ox.Literal):
        datatype = term.datatype.value
        if datatype == XSD + "integer":
            return int(term.value)
        if datatype == XSD + "decimal":
            return Decimal(term.value)
        return term.value
    return term.value


def graph_rows(store: ox.Store, table: str, columns: list[str]) -> list[dict]:
    results = store.query(PROLOGUE + "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
                          + QUERIES[table])
    return [{c: _python(row[c]) if row[c] is not None else None for c in columns}
            for row in results]


def parquet_rows(release: Path, table: str) -> list[dict]:
    return pq.read_table(release / "tables" / f"{table}.parquet").to_pylist()


def csv_rows(release: Path, table: str) -> list[dict]:
    """The CSV read as a portal would: typed by its Table Schema, the spreadsheet rule undone."""
    schema = json.loads((release / "tables" / "schemas" / f"{table}.json").read_text("utf-8"))
    types = {f["name"]: f["type"] for f in schema["fields"]}
    read = {"integer": int, "number": Decimal, "string": lambda cell: cell[1:]
            if cell.startswith("'") else cell}
    with (release / "tables" / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
        return [{name: read[types[name]](cell) if cell != "" else None
                 for name, cell in row.items()}
                for row in csv.DictReader(handle)]


def _key(row: dict) -> tuple:
    return tuple(str(v) for v in row.values())


def store_of(release: Path) -> ox.Store:
    store = ox.Store()
    store.bulk_load(dump_bytes(release), format=ox.RdfFormat.N_TRIPLES)
    return store


@pytest.fixture(scope="module")
def national_release(tmp_path_factory) -> Path:
    """A generated national export of 400 records, built."""
    work = tmp_path_factory.mktemp("national-tables")
    write_export(work / "national.txt", 400)
    return build_release(work / "national.txt", work / "release")


@pytest.fixture(scope="module", params=["seed", "national"])
def release(request, release_dir, national_release) -> tuple[Path, ox.Store]:
    folder = release_dir if request.param == "seed" else national_release
    return folder, store_of(folder)


@pytest.mark.parametrize("table", list(QUERIES))
def test_every_cell_of_every_table_is_the_graphs(release, table):
    folder, store = release
    from_parquet = parquet_rows(folder, table)
    columns = pq.read_schema(folder / "tables" / f"{table}.parquet").names
    expected = sorted(graph_rows(store, table, columns), key=_key)
    assert expected, f"the graph has no {table}"
    assert sorted(from_parquet, key=_key) == expected
    assert sorted(csv_rows(folder, table), key=_key) == expected


def _count(store: ox.Store, pattern: str) -> int:
    query = PROLOGUE + f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}"
    return int(next(iter(store.query(query)))["n"].value)


def test_row_counts_are_the_graphs_counts(release):
    folder, store = release
    rows = {t: pq.read_metadata(folder / "tables" / f"{t}.parquet").num_rows for t in QUERIES}
    assert rows["actions"] == _count(store, "?a a senacs:Action")
    assert rows["structures"] == _count(store, "?s a senacs:Structure")
    assert rows["bodies"] == _count(store, "?b a org:FormalOrganization")
    assert rows["structure_communes"] == _count(store, "?s a senacs:Structure ; senacs:commune ?c")
    assert rows["action_concepts"] == _count(
        store, "?a senacs:keyword|senacs:audience|senacs:initiator|senacs:territoryScale ?c")
    partners = parquet_rows(folder, "action_partners")
    assert len({(r["action_iri"], r["partner_category"]) for r in partners}) == _count(
        store, "?a senacs:partnerCategory ?c")
    assert len({(r["action_iri"], r["body_iri"]) for r in partners if r["body_iri"]}) == _count(
        store, "?a senacs:resolvedPartner ?b")


def test_rows_come_in_the_dumps_order(release):
    """Same dump, same rows in the same order: by IRI as N-Triples writes it."""
    folder, _ = release
    iris = [r["action_iri"] for r in parquet_rows(folder, "actions")]
    assert iris == sorted(iris, key=lambda iri: f"<{iri}>")
    bodies = [r["body_iri"] for r in parquet_rows(folder, "bodies")]
    assert bodies == sorted(bodies, key=lambda iri: f"<{iri}>")


def test_the_national_tables_hold_what_the_seed_lacks(national_release):
    """The second release is there for its cases: they must be in it for the test to test."""
    structures = parquet_rows(national_release, "structures")
    assert Counter(s["commune_count"] for s in structures).keys() >= {0, 1}
    assert {s["placement_method"] for s in structures} >= {"name", "none"}
    kinds = {b["kind"] for b in parquet_rows(national_release, "bodies")}
    assert kinds >= {"caf", "departement", "commune", "epci"}
    assert len({b["department_code"] for b in parquet_rows(national_release, "bodies")}) > 20
    actions = parquet_rows(national_release, "actions")
    assert any(a["budget_total"] is not None for a in actions)
    assert any(a["volunteers_max"] is not None for a in actions)


# -- the example catalogue's questions, from DuckDB over the Parquet files --------------------

CATALOGUE = Graph().parse(EXAMPLES_FILE)
EX = B + ".well-known/sparql-examples#"
REYNERIE = B + "structure/centre-social-reynerie-31"
NEIGHBOURHOOD = B + "concept/territory-scale/un-quartier"

# Each question the tables can answer, as DuckDB SQL over the Parquet files ({t} is the folder);
# its columns in the order of the SPARQL query's variables.
SQL = {
    "actions-per-keyword": """SELECT label, count(*) FROM '{t}/action_concepts.parquet'
        WHERE scheme = 'keyword' GROUP BY label ORDER BY 2 DESC, 1""",
    "actions-per-dimension": """SELECT dimension, count(*) FROM '{t}/actions.parquet'
        WHERE dimension IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1""",
    "actions-per-public": """SELECT label, count(*) FROM '{t}/action_concepts.parquet'
        WHERE scheme = 'public' GROUP BY label ORDER BY 2 DESC, 1""",
    "structures-sharing-partners": """WITH sp AS (SELECT DISTINCT a.structure_iri AS s, p.body_iri AS b
          FROM '{t}/actions.parquet' a JOIN '{t}/action_partners.parquet' p USING (action_iri)
          WHERE p.body_iri IS NOT NULL)
        SELECT x.s, y.s, count(DISTINCT x.b) FROM sp x JOIN sp y ON x.b = y.b AND x.s < y.s
        GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 20""",
    "partners-shared-by-most": """SELECT b.body_iri, b.name, count(DISTINCT a.structure_iri)
        FROM '{t}/actions.parquet' a JOIN '{t}/action_partners.parquet' p USING (action_iri)
        JOIN '{t}/bodies.parquet' b ON b.body_iri = p.body_iri GROUP BY 1, 2 ORDER BY 3 DESC, 2""",
    "budget-per-dimension": """SELECT dimension, sum(budget_total), count(*) FROM '{t}/actions.parquet'
        WHERE dimension IS NOT NULL AND budget_total IS NOT NULL GROUP BY 1 ORDER BY 2 DESC""",
    "actions-of-a-structure": f"""SELECT action_iri, title, status FROM '{{t}}/actions.parquet'
        WHERE structure_iri = '{REYNERIE}' AND title IS NOT NULL ORDER BY title""",
    "finished-actions": """SELECT action_iri, title, end_reason FROM '{t}/actions.parquet'
        WHERE status = 'Terminée' AND title IS NOT NULL ORDER BY title""",
    "actions-started-per-year": """SELECT CAST(start_year AS VARCHAR), count(*)
        FROM '{t}/actions.parquet' WHERE start_year IS NOT NULL GROUP BY 1 ORDER BY 1""",
    "text-search": """SELECT action_iri, title FROM '{t}/actions.parquet'
        WHERE contains(lower(summary), 'parent') AND title IS NOT NULL ORDER BY title""",
    "volunteers-per-structure": """SELECT a.structure_iri, s.name, sum(a.volunteers_max)
        FROM '{t}/actions.parquet' a JOIN '{t}/structures.parquet' s USING (structure_iri)
        WHERE a.volunteers_max IS NOT NULL GROUP BY 1, 2 ORDER BY 3 DESC, 2""",
    "actions-without-partner": """SELECT action_iri, title FROM '{t}/actions.parquet' a
        WHERE title IS NOT NULL AND NOT EXISTS (SELECT 1 FROM '{t}/action_partners.parquet' p
          WHERE p.action_iri = a.action_iri) ORDER BY title""",
    "any-neighbourhood-action": f"""SELECT count(*) > 0 FROM '{{t}}/action_concepts.parquet'
        WHERE concept_iri = '{NEIGHBOURHOOD}'""",
    "actions-per-epci": """SELECT c.epci_iri, c.epci_name, b.epci_kind, count(DISTINCT a.action_iri),
          count(DISTINCT a.structure_iri)
        FROM '{t}/actions.parquet' a JOIN '{t}/structure_communes.parquet' c USING (structure_iri)
        JOIN '{t}/bodies.parquet' b ON b.body_iri = c.epci_iri GROUP BY 1, 2, 3 ORDER BY 4 DESC, 2""",
    # the region's IRI is not a column: its INSEE code and name are
    "structures-per-region": """SELECT s.region_name, count(DISTINCT s.structure_iri),
          count(DISTINCT a.action_iri)
        FROM '{t}/actions.parquet' a JOIN '{t}/structures.parquet' s USING (structure_iri)
        WHERE s.region_name IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1""",
    "partners-shared-within-an-epci": """SELECT c.epci_name, p.body_name,
          count(DISTINCT a.structure_iri)
        FROM '{t}/actions.parquet' a JOIN '{t}/action_partners.parquet' p USING (action_iri)
        JOIN '{t}/structure_communes.parquet' c USING (structure_iri)
        WHERE p.body_iri IS NOT NULL AND c.epci_name IS NOT NULL GROUP BY 1, 2
        HAVING count(DISTINCT a.structure_iri) >= 2 ORDER BY 1, 3 DESC, 2""",
}
# SPARQL variables compared, when not all of them are columns
COMPARED = {"structures-per-region": ("name", "structures", "actions")}
# a CONSTRUCT (a graph, not a table); a comparison of two campaigns (the changelog graph has
# no table)
NOT_TABLE_QUESTIONS = {"structure-card", "fields-changed-most"}


def _examples() -> dict[str, str]:
    out = {}
    for node in CATALOGUE.subjects(RDF.type, SH.SPARQLExecutable):
        query = next(CATALOGUE.value(node, p) for p in (SH.select, SH.ask, SH.construct)
                     if CATALOGUE.value(node, p))
        out[str(node).removeprefix(EX)] = str(query)
    return out


def test_every_example_is_asked_of_the_tables_or_said_why_not():
    assert set(_examples()) == set(SQL) | NOT_TABLE_QUESTIONS


def _sparql_value(binding: dict):
    datatype = binding.get("datatype", "")
    if datatype == XSD + "integer":
        return int(binding["value"])
    if datatype == XSD + "decimal":
        return Decimal(binding["value"])
    return binding["value"]


def _duck_value(cell):
    return cell if not isinstance(cell, float) else Decimal(str(cell))


@pytest.mark.parametrize("name", sorted(SQL))
def test_examples_answer_the_same_from_duckdb_over_parquet_as_from_sparql(seed_site, release_dir,
                                                                          name):
    response = requests.post(seed_site + "/sparql", data={"query": _examples()[name]},
                             headers={"Accept": "application/sparql-results+json"}, timeout=30)
    assert response.status_code == 200, response.text
    answer = response.json()
    sql = SQL[name].format(t=release_dir / "tables")
    from_tables = [tuple(_duck_value(c) for c in row) for row in duckdb.sql(sql).fetchall()]
    if "boolean" in answer:
        assert from_tables == [(answer["boolean"],)]
        return
    variables = COMPARED.get(name, answer["head"]["vars"])
    from_graph = [tuple(_sparql_value(b[v]) if v in b else None for v in variables)
                  for b in answer["results"]["bindings"]]
    assert from_graph, f"{name}: the seed gives no answer, nothing is compared"
    assert from_tables == from_graph

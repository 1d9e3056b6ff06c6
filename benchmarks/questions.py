"""The researcher questions that bench_queries.py measures: the one place their SPARQL is kept.

``MIX`` is the benchmark mix of issues #5 and #18 (name -> query text); ``NEW`` holds the six
researcher questions issue #18 adds, each a kind of question the mix does not cover. Several
read the release's direct shortcut properties (mapping.vocab.SHORTCUTS: senacs:budgetTotalValue,
senacs:worksWith, senacs:agentDepartment, senacs:titleRank, senacs:structureRank): on a
release without them they answer empty, or differently (bench_queries.py finds which in their
text and says so). ``GRAPH_QUERIES`` are the CONSTRUCT/DESCRIBE ones (asked for N-Triples, and
compared by triple count only). Edit the texts here: the benchmark reads them from nowhere else.
"""

from __future__ import annotations

P = """PREFIX senacs: <https://w3id.org/senacs-kg/def#>
PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
B = "https://w3id.org/senacs-kg/"

MIX = {
    "action description": P + f"""SELECT ?p ?o WHERE {{
        <{B}action/centre-social-reynerie-31/ateliers-sociolinguistiques> ?p ?o }}""",
    "count per keyword": P + """SELECT ?k (COUNT(?a) AS ?n) WHERE { ?a senacs:keyword ?k }
        GROUP BY ?k ORDER BY DESC(?n)""",
    # all pairs at once is the network analysis' job (senacs-kg network); a researcher asks
    # which structures share partners with one structure
    # ties broken by the structure's rank by IRI (an integer, inline in the store), not by
    # the IRI, whose text Oxigraph reads from its string table at every comparison: at
    # 100,000 records 9,367 structures tie, 0.1 s instead of 0.5 s in process, the same rows
    "shared partners": P + f"""SELECT ?other ?shared WHERE {{
        {{ SELECT ?other (COUNT(DISTINCT ?o) AS ?shared) WHERE {{
            <{B}structure/centre-social-reynerie-31> senacs:worksWith ?o .
            ?other senacs:worksWith ?o .
            FILTER(?other != <{B}structure/centre-social-reynerie-31>) }} GROUP BY ?other }}
        ?other senacs:structureRank ?rank }}
        ORDER BY DESC(?shared) ?rank LIMIT 20""",
    "text search": P + """SELECT ?a ?t WHERE { ?a senacs:summary ?s ; dcterms:title ?t .
        FILTER(CONTAINS(LCASE(STR(?s)), "numérique")) } LIMIT 50""",
    # the two sides joined by hash (each a sub-select), not one lookup per action
    "budget per dimension": P + """SELECT ?d (SUM(?v) AS ?total) (COUNT(?a) AS ?n) WHERE {
        { SELECT ?a ?v WHERE { ?a senacs:budgetTotalValue ?v } }
        { SELECT ?a ?d WHERE { ?a senacs:dimension ?d } } } GROUP BY ?d""",
    # the page by rank (integers, inline in the store), its titles joined afterwards
    "paging": P + """SELECT ?a ?t WHERE {
        { SELECT ?a ?r WHERE { ?a senacs:titleRank ?r } ORDER BY ?r LIMIT 20 OFFSET 200 }
        ?a dcterms:title ?t } ORDER BY ?r""",
    "construct structure": P + f"""CONSTRUCT {{ ?s ?p ?o . ?a schema:agent ?s }} WHERE {{
        BIND(<{B}structure/centre-social-reynerie-31> AS ?s) {{ ?s ?p ?o }} UNION
        {{ ?a schema:agent ?s }} }}""",
    "describe partner": f"DESCRIBE <{B}organisation/caf-31>",
}

NEW = {
    "actions per department and year": P + """SELECT ?department ?year (COUNT(?a) AS ?actions)
        WHERE {
        { SELECT ?a ?year WHERE { ?a senacs:startDate ?date
            BIND(SUBSTR(STR(?date), 1, 4) AS ?year) } }
        { SELECT ?a ?department WHERE { ?a senacs:agentDepartment ?department } } }
        GROUP BY ?department ?year ORDER BY ?department ?year""",
    "partner category and dimension": P + """SELECT ?category ?dimension (COUNT(?a) AS ?actions)
        WHERE {
        { SELECT ?a ?category WHERE { ?a senacs:partnerCategory ?category } }
        { SELECT ?a ?dimension WHERE { ?a senacs:dimension ?dimension } } }
        GROUP BY ?category ?dimension ORDER BY ?category ?dimension""",
    "actions above the average budget": P + """SELECT (COUNT(?a) AS ?actions) WHERE {
        { SELECT (AVG(?v) AS ?mean) WHERE { ?x senacs:budgetTotalValue ?v } }
        ?a senacs:budgetTotalValue ?w FILTER(?w > ?mean) }""",
    "structures with no partner": P + """SELECT ?s WHERE { ?s a senacs:Structure
        FILTER NOT EXISTS { ?s senacs:worksWith ?o } } ORDER BY ?s""",
    # REGEX with the "i" flag tests each text as it is read, where LCASE first makes a
    # lowercased copy of it: 11-24 % faster at 100,000 records and 17-23 % at 1,000,000 in
    # process (bench_rewrites.py), 6.0 s instead of 7.4 s over HTTP at 1,000,000 (Oxigraph
    # 0.5.13), the same count (the former text is in BEFORE; for "jardin" the two agree on
    # every text: no character but J A R D I N folds or lowercases to its letters,
    # tests/test_shortcuts.py). What remains is reading two million texts from the store's
    # string table: about 1.3 us a text and 4.7 ns a byte.
    "text search across fields": P + """SELECT (COUNT(DISTINCT ?a) AS ?actions) WHERE {
        { ?a dcterms:title ?x } UNION { ?a senacs:summary ?x }
        FILTER(REGEX(?x, "jardin", "i")) }""",
    # the pair's order is tested once per group (HAVING), not once per joined row (FILTER):
    # STR() decodes both IRIs from the store's string table, and at 100,000 records the join
    # has 453,313 rows but only 225 groups: 0.38 s instead of 1.6 s in-process (Oxigraph
    # 0.5.13), the same 20 rows (the former text is in BEFORE)
    "keyword pairs": P + """SELECT ?k1 ?k2 (COUNT(?a) AS ?actions) WHERE {
        { SELECT ?a ?k1 WHERE { ?a senacs:keyword ?k1 } }
        { SELECT ?a ?k2 WHERE { ?a senacs:keyword ?k2 } } }
        GROUP BY ?k1 ?k2 HAVING(STR(?k1) < STR(?k2))
        ORDER BY DESC(?actions) ?k1 ?k2 LIMIT 20""",
}

QUESTIONS = {**MIX, **NEW}
# Questions rewritten for speed, as they were asked before (through the qualified statements,
# or filtering before grouping): tests/test_shortcuts.py proves each gives the same answer as
# its text above.
BEFORE = {
    "shared partners": P + f"""SELECT ?other (COUNT(DISTINCT ?o) AS ?shared) WHERE {{
        ?a1 schema:agent <{B}structure/centre-social-reynerie-31> ; senacs:resolvedPartner ?o .
        ?a2 senacs:resolvedPartner ?o ; schema:agent ?other .
        FILTER(?other != <{B}structure/centre-social-reynerie-31>) }}
        GROUP BY ?other ORDER BY DESC(?shared) ?other LIMIT 20""",
    "budget per dimension": P + """SELECT ?d (SUM(?v) AS ?total) (COUNT(?a) AS ?n) WHERE {
        ?a senacs:dimension ?d ; senacs:budgetTotal/schema:value ?v } GROUP BY ?d""",
    "actions per department and year": P + """SELECT ?department ?year (COUNT(?a) AS ?actions)
        WHERE {
        { SELECT ?a ?year WHERE { ?a senacs:startDate ?date
            BIND(SUBSTR(STR(?date), 1, 4) AS ?year) } }
        { SELECT ?a ?department WHERE { ?a schema:agent ?s . ?s senacs:department ?department } } }
        GROUP BY ?department ?year ORDER BY ?department ?year""",
    "actions above the average budget": P + """SELECT (COUNT(?a) AS ?actions) WHERE {
        { SELECT (AVG(?v) AS ?mean) WHERE { ?x senacs:budgetTotal/schema:value ?v } }
        ?a senacs:budgetTotal/schema:value ?w FILTER(?w > ?mean) }""",
    "structures with no partner": P + """SELECT ?s WHERE { ?s a senacs:Structure
        FILTER NOT EXISTS { ?a schema:agent ?s ; senacs:resolvedPartner ?o } } ORDER BY ?s""",
    # before #18 the mix ordered by title alone; titles tie (the generated records have about
    # seventy), so which of the tied actions a page held was the engine's choice: the rank
    # orders ties by IRI, and the test also checks the titles against the former text
    "paging": P + """SELECT ?a ?t WHERE { ?a a senacs:Action ; dcterms:title ?t }
        ORDER BY ?t ?a LIMIT 20 OFFSET 200""",
    "text search across fields": P + """SELECT (COUNT(DISTINCT ?a) AS ?actions) WHERE {
        { ?a dcterms:title ?x } UNION { ?a senacs:summary ?x }
        FILTER(CONTAINS(LCASE(STR(?x)), "jardin")) }""",
    "keyword pairs": P + """SELECT ?k1 ?k2 (COUNT(?a) AS ?actions) WHERE {
        { SELECT ?a ?k1 WHERE { ?a senacs:keyword ?k1 } }
        { SELECT ?a ?k2 WHERE { ?a senacs:keyword ?k2 } }
        FILTER(STR(?k1) < STR(?k2)) }
        GROUP BY ?k1 ?k2 ORDER BY DESC(?actions) ?k1 ?k2 LIMIT 20""",
}
# the mix's texts before #18 where the one above only refines their order (ties broken)
FORMER = {"paging": P + """SELECT ?a ?t WHERE { ?a a senacs:Action ; dcterms:title ?t }
        ORDER BY ?t LIMIT 20 OFFSET 200"""}
GRAPH_QUERIES = {"construct structure", "describe partner"}

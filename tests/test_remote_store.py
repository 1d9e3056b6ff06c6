"""The remote backend: the same queries sent to a real Virtuoso give the embedded store's answers.

Virtuoso (Debian's virtuoso-opensource, installed by .ci/run) is started on
127.0.0.1 and loaded with the seed release; the server runs with
STORE=remote pointing at it, and both servers are asked the same questions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
import requests
from conftest import free_port, stop, wait_for
from virtuoso import Virtuoso, available

from endpoint.store import QueryError, RemoteStore

P = """PREFIX senacs: <https://w3id.org/senacs-kg/def#>
PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
QUERIES = {
    "actions per keyword": P + """SELECT ?keyword (COUNT(?a) AS ?actions) WHERE {
        ?a a senacs:Action ; senacs:keyword/skos:prefLabel ?keyword . FILTER(lang(?keyword) = "fr")
        } GROUP BY ?keyword ORDER BY DESC(?actions) ?keyword""",
    "structures sharing partners": P + """SELECT ?s1 ?s2 (COUNT(DISTINCT ?o) AS ?shared) WHERE {
        ?a1 schema:agent ?s1 ; senacs:resolvedPartner ?o . ?a2 schema:agent ?s2 ;
        senacs:resolvedPartner ?o . FILTER(STR(?s1) < STR(?s2)) } GROUP BY ?s1 ?s2
        ORDER BY DESC(?shared) ?s1 ?s2 LIMIT 10""",
    "budget per dimension": P + """SELECT ?dimension (SUM(?v) AS ?total) WHERE {
        ?a senacs:dimension/skos:prefLabel ?dimension ; senacs:budgetTotal/schema:value ?v .
        FILTER(lang(?dimension) = "fr") } GROUP BY ?dimension ORDER BY ?dimension""",
    "text search": P + """SELECT ?a ?title WHERE { ?a dcterms:title ?title ; senacs:summary ?s .
        FILTER(CONTAINS(LCASE(STR(?s)), "parent")) } ORDER BY ?a""",
    "finished actions": P + """ASK { ?a senacs:status/skos:prefLabel "Terminée"@fr }""",
    "a structure": P + """CONSTRUCT { ?s ?p ?o } WHERE {
        BIND(<https://w3id.org/senacs-kg/structure/centre-social-reynerie-31> AS ?s) ?s ?p ?o }""",
}


def _values(body: dict) -> object:
    if "boolean" in body:
        return body["boolean"]
    rows = []
    for binding in body["results"]["bindings"]:
        row = []
        for var in body["head"]["vars"]:
            term = binding.get(var)
            if term is None:
                row.append(None)
            elif term.get("datatype", "").startswith("http://www.w3.org/2001/XMLSchema#") and \
                    term["datatype"].rsplit("#", 1)[1] in ("integer", "decimal", "int", "long"):
                row.append(Decimal(term["value"]))  # same number, whatever the integer type
            else:
                row.append((term["value"], term.get("xml:lang")))
        rows.append(tuple(row))
    return rows


@pytest.fixture(scope="module")
def virtuoso(release_dir, tmp_path_factory):
    assert available(), "virtuoso-opensource is not installed (.ci/run installs it)"
    with Virtuoso(tmp_path_factory.mktemp("virtuoso"), release_dir, buffers=20_000) as server:
        yield server


@pytest.fixture(scope="module")
def remote_server(release_dir, virtuoso):
    """senacs-kg serving the release through the remote backend (Virtuoso)."""
    port = free_port()
    env = dict(os.environ, SENACS_KG_STORE='"remote"',
               SENACS_KG_REMOTE_ENDPOINT=f'"{virtuoso.endpoint}"')
    proc = subprocess.Popen([sys.executable, "-m", "mapping.cli", "serve", "--release",
                             str(release_dir), "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for(f"http://127.0.0.1:{port}/healthz", proc)
    yield f"http://127.0.0.1:{port}/sparql"
    stop(proc)


@pytest.fixture(scope="module")
def local_server(seed_site) -> str:
    """The session's server of the seed release (conftest), the embedded store, at /sparql."""
    return seed_site + "/sparql"


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_remote_and_embedded_give_the_same_answers(name, local_server, remote_server):
    server = local_server
    query = QUERIES[name]
    if "CONSTRUCT" in query:
        accept = "application/n-triples"
    else:
        accept = "application/sparql-results+json"
    local = requests.post(server, data={"query": query}, headers={"Accept": accept}, timeout=30)
    remote = requests.post(remote_server, data={"query": query}, headers={"Accept": accept},
                           timeout=30)
    assert local.status_code == remote.status_code == 200, remote.text
    if accept == "application/n-triples":
        assert set(local.text.splitlines()) == set(remote.text.splitlines())
        assert len(local.text.splitlines()) >= 4  # type, name, department, commune
    else:
        ours, theirs = _values(local.json()), _values(remote.json())
        assert ours == theirs
        assert ours  # a question with an answer


def test_remote_errors_are_query_errors(virtuoso):
    with pytest.raises(QueryError, match="syntax error"):
        RemoteStore(virtuoso.endpoint).query("SELECT ?x WHERE { ?x ?y }")

"""Where the network's data comes from: a release (queried in memory) or any SPARQL endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox


def store_select(store: ox.Store):
    """A SELECT function over an Oxigraph store: rows of {variable: value}."""

    def select(query: str) -> list[dict[str, str]]:
        results = store.query(query)
        names = [v.value for v in results.variables]
        return [{n: row[n].value for n in names if row[n] is not None} for row in results]

    return select


def release_select(release_dir: Path):
    """A SELECT function over a release's canonical dump, loaded into an in-memory store."""
    store = ox.Store()
    store.bulk_load(path=str(release_dir / "dataset.nt"), format=ox.RdfFormat.N_TRIPLES)
    return store_select(store)


def endpoint_select(url: str, timeout: float = 120):
    """A SELECT function over a SPARQL 1.1 endpoint (ours, Virtuoso, Fuseki…)."""
    from SPARQLWrapper import JSON, POST, SPARQLWrapper

    def select(query: str) -> list[dict[str, str]]:
        client = SPARQLWrapper(url)
        client.setMethod(POST)
        client.setQuery(query)
        client.setReturnFormat(JSON)
        client.setTimeout(int(timeout))
        result = client.query()
        try:
            data = json.loads(result.response.read())
        finally:
            result.response.close()
        return [{k: v["value"] for k, v in b.items()} for b in data["results"]["bindings"]]

    return select


def release_base(release_dir: Path) -> str:
    manifest = json.loads((release_dir / "manifest.json").read_text(encoding="utf-8"))
    return manifest["base"]

"""Where the network's data comes from: a release (its network triples in a temporary on-disk
store) or any SPARQL endpoint."""

from __future__ import annotations

import json
import shutil
import tempfile
import weakref
from pathlib import Path

import pyoxigraph as ox

from mapping.release import dump_file, open_dump, read_manifest
from mapping.vocab import SCHEMA, SKOS, Iris


def network_predicates(base: str) -> frozenset[str]:
    """The predicates of every triple ``network.fetch``'s queries read (N-Triples form)."""
    senacs = Iris(base).DEF
    return frozenset(f"<{iri}>" for iri in (SCHEMA.agent, SCHEMA.name, senacs.resolvedPartner,
                                             senacs.partnerCategory, SKOS.prefLabel))


def store_select(store: ox.Store):
    """A SELECT function over an Oxigraph store: rows of {variable: value}."""

    def select(query: str) -> list[dict[str, str]]:
        results = store.query(query)
        names = [v.value for v in results.variables]
        return [{n: row[n].value for n in names if row[n] is not None} for row in results]

    return select


def release_select(release_dir: Path):
    """A SELECT function over a release's network triples.

    They are streamed out of the canonical dump into an on-disk store in a temporary
    directory, removed when the function is: the whole dump in a memory store took about
    17 GB at a million records.
    """
    dump = dump_file(release_dir)
    if dump is None:
        raise FileNotFoundError(f"{release_dir}: no canonical dump (dataset.nt.gz) in this "
                                "release")
    work = Path(tempfile.mkdtemp(prefix="senacs-kg-network-"))
    select = dump_select(dump, release_base(release_dir), work)
    weakref.finalize(select, shutil.rmtree, work, True)
    return select


def dump_select(dump: Path, base: str, work: Path):
    """A SELECT function over the network triples of a canonical dump, in an on-disk store
    under ``work`` (the caller removes it): the build reads its release before publishing it,
    when it has no manifest yet."""
    keep = {p.encode() for p in network_predicates(base)}
    lines = work / "network.nt"
    with open_dump(dump) as source, lines.open("wb") as out:
        out.writelines(line for line in source if line.split(b" ", 2)[1] in keep)
    store = ox.Store(str(work / "store"))
    store.bulk_load(path=str(lines), format=ox.RdfFormat.N_TRIPLES)
    lines.unlink()
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
    return read_manifest(release_dir)["base"]

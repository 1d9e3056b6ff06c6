"""The RDF dataset a query runs on, and the IRI ``{base}dataset`` that names the default graph.

The store holds the data as its default graph and the ontology as the named
graph ``{base}def``. ``{base}dataset`` names the default graph wherever a
default graph is chosen: in ``default-graph-uri`` and in ``FROM``. The worker
passes it to Oxigraph as the default graph; a ``FROM`` in the query text is
read by Oxigraph itself, which knows no graph of that name, so a query whose
``FROM`` names it gets its dataset clause as a protocol dataset instead (the
same graphs, ``{base}dataset`` read as the default graph).

It cannot be a *named* graph (``named-graph-uri``, ``FROM NAMED``): Oxigraph
offers only stored named graphs under ``GRAPH``, and the data is stored once,
as the default graph. Those requests get a 400 that says so, rather than an
empty graph in silence.

Following the SPARQL 1.1 Protocol (2.1.4), a dataset given by the request
replaces the query's ``FROM`` and ``FROM NAMED`` entirely.
"""

from __future__ import annotations

from urllib.parse import urljoin

from endpoint import guard
from endpoint.store import DEFAULT_GRAPH_NAME


class DatasetError(ValueError):
    """The dataset asked for cannot be served (a 400 with this message)."""


def resolve(query: str, default_graphs: list[str], named_graphs: list[str], base: str,
            base_iri: str) -> tuple[list[str], list[str]]:
    """The (default graphs, named graphs) to hand the store: the request's if it gives any;
    the query's own FROM clauses if they name ``{base}dataset``; else none (the query's)."""
    name = base + DEFAULT_GRAPH_NAME
    if name in named_graphs:
        raise DatasetError(_not_named(name, "named-graph-uri"))
    if default_graphs or named_graphs:
        return default_graphs, named_graphs
    try:
        clauses = from_clauses(query, base_iri)
    except ValueError:  # an IRI urljoin cannot read (http://[): Oxigraph reports the query's error
        return [], []
    if all(iri != name for _, iri in clauses) or any(iri is None for _, iri in clauses):
        return [], []  # Oxigraph reads the query's dataset itself (and reports its errors)
    if (True, name) in clauses:
        raise DatasetError(_not_named(name, "FROM NAMED"))
    return ([iri for named, iri in clauses if not named],
            [iri for named, iri in clauses if named])


def _not_named(name: str, where: str) -> str:
    return (f"<{name}> names the default graph: give it in default-graph-uri or FROM, not in "
            f"{where} (the data is stored as the default graph, not as a named graph)")


def from_clauses(query: str, base_iri: str) -> list[tuple[bool, str | None]]:
    """(is FROM NAMED, absolute IRI) for each dataset clause of the query, in order; the IRI is
    None where a prefix is not declared. ``FROM`` is a keyword only in dataset clauses."""
    toks = guard.tokens(query)
    base, prefixes = base_iri, {}
    clauses: list[tuple[bool, str | None]] = []
    for i, tok in enumerate(toks):
        word = tok.text.upper() if tok.kind == "name" else ""
        after = toks[i + 1] if i + 1 < len(toks) else None
        if word == "BASE" and after is not None and after.kind == "iri":
            base = urljoin(base, after.text[1:-1])
        elif word == "PREFIX" and after is not None and i + 2 < len(toks) \
                and toks[i + 2].kind == "iri":
            prefixes[after.text.rstrip(":")] = urljoin(base, toks[i + 2].text[1:-1])
        elif word == "FROM" and after is not None:
            named = after.kind == "name" and after.text.upper() == "NAMED"
            target = toks[i + 2] if named and i + 2 < len(toks) else after if not named else None
            clauses.append((named, _iri(target, base, prefixes)))
    return clauses


def _iri(tok: guard.Token | None, base: str, prefixes: dict[str, str]) -> str | None:
    """The absolute IRI an IRI reference or a prefixed name stands for."""
    if tok is None:
        return None
    if tok.kind == "iri":
        return urljoin(base, tok.text[1:-1])
    if tok.kind == "name" and ":" in tok.text:
        prefix, _, local = tok.text.partition(":")
        if prefix in prefixes:
            return prefixes[prefix] + _unescape(local)
    return None


def _unescape(local: str) -> str:
    """A prefixed name's local part as an IRI: ``\\`` escapes dropped (PN_LOCAL_ESC)."""
    out, chars = [], iter(local)
    for char in chars:
        out.append(next(chars, "") if char == "\\" else char)
    return "".join(out)

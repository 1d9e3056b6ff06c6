"""Content negotiation as one explicit step: Accept (with q-values) or a ``format`` parameter,
and the one table of media types for each concern the server writes.

``choose(accept, offers)`` returns the offered media type the client prefers, or
None when it accepts none of them (a 406). Ties go to the order of ``offers``,
whose first entry is the default for ``*/*`` and for a missing Accept header.

``format=`` means the same on every route that takes it (``/sparql``, ``/catalog``,
``/.well-known/void``, ``/.well-known/sparql-examples``, ``/def``): a short name from the
route's alias table, in any case (``jsonld``, ``csv``), or the media type itself
(``application/ld+json``); ``named_format`` reads it. The tables:

- ``RDF_FORMATS`` / ``RDF_ALIASES``: RDF documents (resources, graph answers, descriptions);
- ``RDF_EXTENSIONS``: the file extensions of RDF documents (resource paths, release files);
- ``RESULT_FORMATS`` / ``RESULT_ALIASES``: SELECT and ASK results;
  ``GRAPH_RESULT_FORMATS``: CONSTRUCT and DESCRIBE answers;
- ``SPREADSHEETS``: the spreadsheet downloads of SELECT results (``download=spreadsheet``);
- ``FILE_TYPES``: the release's files, at ``/dumps/`` and ``/network/``, by suffix (the tables'
  ``.csv`` and ``.parquet`` among them).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import pyoxigraph as ox

# -- RDF documents ---------------------------------------------------------------------------------

# The RDF media types the server writes, and the ``format=`` names that stand for them on every
# route that takes the parameter (a media type itself is accepted too). Each route keeps its
# own offer order (its first is its default), but takes the writer from here.
RDF_FORMATS = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
RDF_ALIASES = {
    "turtle": "text/turtle", "ttl": "text/turtle", "n3": "text/turtle",
    "nt": "application/n-triples", "ntriples": "application/n-triples",
    "n-triples": "application/n-triples",
    "rdfxml": "application/rdf+xml", "rdf": "application/rdf+xml", "xml": "application/rdf+xml",
    "rdf+xml": "application/rdf+xml",
    "jsonld": "application/ld+json", "json-ld": "application/ld+json",
    "json": "application/ld+json",
}
# An RDF document's file extension (resource paths such as ``/action/x.ttl``, release files)
RDF_EXTENSIONS = {
    ".ttl": "text/turtle", ".nt": "application/n-triples", ".jsonld": "application/ld+json",
    ".rdf": "application/rdf+xml",
}

# -- SPARQL answers (/sparql) ----------------------------------------------------------------------

# SELECT and ASK results: each media type with the name ``results.write`` writes it by. ASK has
# no CSV or TSV form (those formats are defined for SELECT): /sparql answers 406.
RESULT_FORMATS = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
    "application/json": "json",
    "application/xml": "xml",
}
RESULT_ALIASES = {
    "json": "application/sparql-results+json", "xml": "application/sparql-results+xml",
    "csv": "text/csv", "tsv": "text/tab-separated-values",
}
# CONSTRUCT, DESCRIBE and the service description: the RDF formats, and N-Triples as text/plain
GRAPH_RESULT_FORMATS = {**RDF_FORMATS, "text/plain": ox.RdfFormat.N_TRIPLES}


@dataclass(frozen=True)
class Spreadsheet:
    """How a spreadsheet download of SELECT results is written and named."""

    delimiter: str
    extension: str


# ``download=spreadsheet`` (the query page's links): SELECT results as a spreadsheet's file
SPREADSHEETS = {
    "text/csv": Spreadsheet(",", "csv"),
    "text/tab-separated-values": Spreadsheet("\t", "tsv"),
}

# -- the release's files (/dumps/, /network/) ------------------------------------------------------

# By suffix, the same type whichever route serves the file; any other suffix is
# ``application/octet-stream`` (see ``file_type``). Bare media types: werkzeug adds
# ``; charset=utf-8`` to ``text/*`` and ``+xml`` ones (a charset written here came out twice).
FILE_TYPES = {
    **RDF_EXTENSIONS,
    ".gz": "application/gzip",
    ".json": "application/json",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".parquet": "application/vnd.apache.parquet",
    ".graphml": "application/graphml+xml",
    ".gexf": "application/gexf+xml",
}
OTHER_FILE = "application/octet-stream"


def file_type(suffix: str) -> str:
    """The media type a release file is served as, from its suffix (``.gz``, ``.graphml``…)."""
    return FILE_TYPES.get(suffix, OTHER_FILE)


def named_format(wanted: str, known: Collection[str], aliases: Mapping[str, str]) -> str | None:
    """The media type a ``format=`` value names, an alias (any case) or the media type itself,
    if it is among ``known``; None if it names none of them."""
    media = aliases.get(wanted.lower(), wanted)
    return media if media in known else None


def parse_accept(header: str | None) -> list[tuple[str, float, int]]:
    """(media range, q, specificity) for each entry of an Accept header."""
    if not header:
        return [("*/*", 1.0, 0)]
    ranges = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not media:
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(value)))
                except ValueError:
                    q = 0.0
        if media == "*":
            media = "*/*"
        specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
        ranges.append((media, q, specificity))
    return ranges


def _quality(media: str, ranges: list[tuple[str, float, int]]) -> float:
    best, best_specificity = 0.0, -1
    kind = media.split("/")[0]
    for pattern, q, specificity in ranges:
        if pattern == media or pattern == "*/*" or pattern == f"{kind}/*":
            if specificity > best_specificity:
                best, best_specificity = q, specificity
    return best


def choose(accept: str | None, offers: Sequence[str]) -> str | None:
    ranges = parse_accept(accept)
    scored = [(_quality(media, ranges), -i, media) for i, media in enumerate(offers)]
    q, _, media = max(scored)
    return media if q > 0 else None

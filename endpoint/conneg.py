"""Content negotiation as one explicit step: Accept (with q-values) or a ``format`` parameter.

``choose(accept, offers)`` returns the offered media type the client prefers, or
None when it accepts none of them (a 406). Ties go to the order of ``offers``,
whose first entry is the default for ``*/*`` and for a missing Accept header.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyoxigraph as ox

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


def named_format(wanted: str, offers: Sequence[str], aliases: dict[str, str]) -> str | None:
    """The offered media type a ``format=`` value names (an alias or the media type itself),
    or None if it names none of them."""
    media = aliases.get(wanted.lower(), wanted)
    return media if media in offers else None


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

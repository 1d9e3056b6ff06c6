"""Content negotiation as one explicit step: Accept (with q-values) or a ``format`` parameter.

``choose(accept, offers)`` returns the offered media type the client prefers, or
None when it accepts none of them (a 406). Ties go to the order of ``offers``,
whose first entry is the default for ``*/*`` and for a missing Accept header.
"""

from __future__ import annotations

from collections.abc import Sequence


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

"""N-Triples terms as plain strings: how the mapping writes RDF fast.

A triple is three strings already in N-Triples syntax (``<iri>``,
``"text"@fr``, ``"12"^^<…#integer>``); a line is ``s p o .``. Building them
directly is several times faster than building rdflib terms and serialising
them, which matters at a million records. Integers are plain ``xsd:integer``
and decimals carry no trailing zero, the forms Oxigraph stores (it would turn
``xsd:positiveInteger`` into ``xsd:integer`` and ``1350.0`` into ``1350``), so
the dump and the store hold the same terms. Literals are written in
canonical N-Triples form, byte for byte as Oxigraph writes them (``"``, ``\\``,
LF, CR, tab, backspace and form feed escaped with a backslash, other control
characters as ``\\uXXXX``), so that the same value always gives the same bytes.
``rdflib`` and ``pyoxigraph`` both parse the result.
"""

from __future__ import annotations

import re
from decimal import Decimal

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"

Triple = tuple[str, str, str]

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
            "\f": "\\f"}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


def _escape_char(match: re.Match) -> str:
    char = match.group(0)
    return _ESCAPES.get(char) or f"\\u{ord(char):04X}"


def escape(text: str) -> str:
    return _NEEDS_ESCAPE.sub(_escape_char, text)


def iri(value: str) -> str:
    return f"<{value}>"


def text(value: str) -> str:
    """A plain string literal (xsd:string)."""
    return f'"{escape(value)}"'


def fr(value: str) -> str:
    return f'"{escape(value)}"@fr'


def lang(value: str, tag: str) -> str:
    return f'"{escape(value)}"@{tag}'


def typed(lexical: str, datatype: str) -> str:
    return f'"{escape(lexical)}"^^<{XSD}{datatype}>'


def integer(value: int) -> str:
    return f'"{value}"^^<{XSD}integer>'


def boolean(value: bool) -> str:
    return f'"{"true" if value else "false"}"^^<{XSD}boolean>'


def decimal(value: Decimal) -> str:
    """An xsd:decimal in canonical form ("1350", "600.5"), as Oxigraph stores it."""
    lexical = format(value.normalize(), "f")
    return f'"{lexical}"^^<{XSD}decimal>'


def line(triple: Triple) -> str:
    return f"{triple[0]} {triple[1]} {triple[2]} .\n"

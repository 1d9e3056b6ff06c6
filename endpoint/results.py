"""SELECT and ASK results in JSON, XML, CSV and TSV, written from the interchange JSON.

Written here rather than by Oxigraph where Oxigraph's writer breaks its format:
its CSV leaves a field unquoted when an IRI holds a comma, and its XML writes a
carriage return raw (an XML parser reads it back as a line feed) and any
control character XML 1.0 cannot carry. TSV is Oxigraph's, which follows its
specification (terms in Turtle syntax, tab, line feed and carriage return
escaped). CSV and TSV have no form for an ASK answer: the protocol layer
answers 406 before asking for one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache

import pyoxigraph as ox

SPARQL_RESULTS = "http://www.w3.org/2005/sparql-results#"
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"

# Characters XML 1.0 cannot carry at all, not even as a character reference.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Any character text content cannot hold as it is (most values have none: written unchanged).
_TEXT_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                            "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})
_CSV_QUOTED = re.compile('[",\r\n]')


class NoSuchForm(ValueError):
    """The answer has no form in the asked format (an ASK answer in CSV or TSV)."""


def write(payload: bytes, fmt: str, links: Sequence[str] = ()) -> bytes:
    """The interchange payload (SPARQL JSON results) in ``fmt``, with the head's ``links``."""
    if fmt == "json" and not links:
        return payload
    if fmt == "tsv":
        parsed = ox.parse_query_results(payload, format=ox.QueryResultsFormat.JSON)
        if isinstance(parsed, ox.QueryBoolean):
            raise NoSuchForm("an ASK answer has no TSV form")
        return parsed.serialize(format=ox.QueryResultsFormat.TSV)
    data = json.loads(payload)
    if fmt == "json":
        data["head"] = {**data.get("head", {}), "link": list(links)}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    if fmt == "xml":
        return xml(data, links)
    if "boolean" in data:
        raise NoSuchForm(f"an ASK answer has no {fmt.upper()} form")
    if fmt == "csv":
        return csv(data)
    raise ValueError(f"unknown results format {fmt!r}")


# -- CSV (SPARQL 1.1 Query Results CSV, RFC 4180) -------------------------------------------------


def csv(data: dict) -> bytes:
    """Header of variable names, then one CRLF-ended line per solution; unbound is empty."""
    names = data["head"].get("vars", [])
    lines = [",".join(_csv_field(name) for name in names)]
    for row in data["results"]["bindings"]:
        lines.append(",".join(_csv_field(cell_text(row[name])) if name in row else ""
                              for name in names))
    return ("\r\n".join(lines) + "\r\n").encode()


def _csv_field(text: str) -> str:
    """RFC 4180: a field holding a quote, comma, CR or LF is quoted, its quotes doubled."""
    return '"' + text.replace('"', '""') + '"' if _CSV_QUOTED.search(text) else text


def cell_text(term: dict) -> str:
    """An IRI as itself, a literal as its lexical form, a blank node as ``_:label``."""
    kind = term["type"]
    if kind == "bnode":
        return "_:" + term["value"]
    if kind == "triple":
        return _turtle(term)
    return term["value"]


def _turtle(term: dict) -> str:
    """A term in Turtle 1.2 syntax (the CSV form of a triple term has no other spelling)."""
    kind, value = term["type"], term["value"]
    if kind == "uri":
        return f"<{value}>"
    if kind == "bnode":
        return "_:" + value
    if kind == "triple":
        parts = " ".join(_turtle(value[k]) for k in ("subject", "predicate", "object"))
        return f"<<( {parts} )>>"
    text = '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
        .replace("\r", "\\r") + '"'
    if "xml:lang" in term:
        return f"{text}@{term['xml:lang']}"
    datatype = term.get("datatype", XSD_STRING)
    return text if datatype == XSD_STRING else f"{text}^^<{datatype}>"


# -- XML (SPARQL Query Results XML Format) --------------------------------------------------------


def xml(data: dict, links: Sequence[str] = ()) -> bytes:
    """The results document: in ``head`` the variables first, then the links (the schema's
    order); a carriage return as ``&#13;``; a character XML 1.0 cannot carry as U+FFFD."""
    names = data.get("head", {}).get("vars", [])
    head = "".join(f'<variable name="{_attribute(name)}"/>' for name in names)
    head += "".join(f'<link href="{_attribute(link)}"/>' for link in links)
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<sparql xmlns="{SPARQL_RESULTS}">',
           f"<head>{head}</head>"]
    if "boolean" in data:
        out.append(f"<boolean>{'true' if data['boolean'] else 'false'}</boolean>")
    else:
        out.append("<results>")
        opening = {name: f'<binding name="{_attribute(name)}">' for name in names}
        for row in data["results"]["bindings"]:
            bindings = "".join(f"{opening.get(name) or _opening(name)}{_xml_term(term)}</binding>"
                               for name, term in row.items())
            out.append(f"<result>{bindings}</result>")
        out.append("</results>")
    out.append("</sparql>\n")
    return "\n".join(out).encode()


def _opening(name: str) -> str:
    return f'<binding name="{_attribute(name)}">'


def _xml_term(term: dict) -> str:
    kind, value = term["type"], term["value"]
    if kind == "triple":
        parts = "".join(f"<{k}>{_xml_term(value[k])}</{k}>"
                        for k in ("subject", "predicate", "object"))
        return f"<triple>{parts}</triple>"
    if _TEXT_SPECIAL.search(value):
        value = _NOT_XML.sub("\ufffd", value).translate(_TEXT)
    if kind == "uri":
        return f"<uri>{value}</uri>"
    if kind == "bnode":
        return f"<bnode>{value}</bnode>"
    if "xml:lang" in term:
        return f'<literal xml:lang="{_attribute(term["xml:lang"])}">{value}</literal>'
    datatype = term.get("datatype", XSD_STRING)
    if datatype == XSD_STRING:
        return f"<literal>{value}</literal>"
    return f'<literal datatype="{_attribute(datatype)}">{value}</literal>'


@lru_cache(maxsize=1024)  # variable names, datatypes and language tags repeat on every row
def _attribute(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value).translate(_ATTRIBUTE)

"""Answers of two engines to the same question, compared as a researcher would compare them.

An answer is ``{"vars": [...], "rows": [{var: term}]}`` for SELECT (terms as in the SPARQL
JSON results format), ``{"triples": n}`` for CONSTRUCT/DESCRIBE, ``{"boolean": b}`` for ASK.
SELECT rows are compared as multisets after normalising what two correct engines may write
differently: a number by its value (COUNT as xsd:integer or xsd:int, SUM as decimal or double),
a plain string and an xsd:string alike, a language tag in any case, every blank node alike.
Nothing else is forgiven; where the query allows different rows (a LIMIT without ORDER BY,
ties of the ORDER BY at the LIMIT's edge) the verdict says so instead of calling them equal.
"""

from __future__ import annotations

import re
from collections import Counter
from decimal import Decimal, InvalidOperation

XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC = {XSD + t for t in (
    "integer", "decimal", "double", "float", "int", "long", "short", "byte", "nonNegativeInteger",
    "positiveInteger", "negativeInteger", "nonPositiveInteger", "unsignedInt", "unsignedLong",
    "unsignedShort", "unsignedByte")}


def term_key(term: dict | None) -> tuple:
    """A term reduced to what its meaning is (see the module's docstring)."""
    if term is None:
        return ("unbound",)
    kind = term.get("type")
    if kind == "uri":
        return ("uri", term["value"])
    if kind == "bnode":
        return ("bnode",)
    value, datatype = term.get("value", ""), term.get("datatype")
    if term.get("xml:lang"):
        return ("lang", value, term["xml:lang"].lower())
    if datatype in NUMERIC:
        return ("number", number_key(value))
    if datatype == XSD + "boolean":
        return ("boolean", value.strip() in ("true", "1"))
    if datatype in (None, XSD + "string"):
        return ("string", value)
    return ("typed", value, datatype)


def number_key(value: str) -> str:
    """A number's value: integers exactly, others to 12 significant digits (a decimal SUM and
    a double SUM of the same values agree to that)."""
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return value
    if number.is_finite() and number == number.to_integral_value():
        return str(int(number))
    return format(float(number), ".12g")


def rows_of(answer: dict) -> Counter:
    """The rows of a SELECT answer as a multiset of normalised rows."""
    names = answer["vars"]
    return Counter(tuple(term_key(row.get(v)) for v in names) for row in answer["rows"])


def _tail(query: str) -> str:
    """The solution modifiers of the outer query (what follows its last closing brace)."""
    return query[query.rfind("}") + 1:]


def order_keys(query: str) -> list[str] | None:
    """The variables the outer ORDER BY sorts on, None without an outer ORDER BY."""
    found = re.search(r"ORDER\s+BY(.*?)(LIMIT|OFFSET|$)", _tail(query), re.I | re.S)
    return re.findall(r"\?(\w+)", found.group(1)) if found else None


def has_limit(query: str) -> bool:
    return re.search(r"\b(LIMIT|OFFSET)\b", _tail(query), re.I) is not None


def compare(query: str, ours: dict, theirs: dict) -> tuple[bool, str]:
    """(no real difference, a one-line verdict) for two answers to ``query``."""
    if "rows" not in ours or "rows" not in theirs:
        if ours == theirs:
            return True, "same"
        return False, f"DIFFERS: {_size(ours)} vs {_size(theirs)}"
    if [v.lower() for v in ours["vars"]] != [v.lower() for v in theirs["vars"]]:
        return False, f"DIFFERS: columns {ours['vars']} vs {theirs['vars']}"
    mine, other = rows_of(ours), rows_of(theirs)
    if mine == other:
        return True, f"same ({sum(mine.values())} rows)"
    only_mine, only_other = mine - other, other - mine
    counts = (f"{sum(mine.values())} vs {sum(other.values())} rows, "
              f"{sum(only_mine.values())} only ours, {sum(only_other.values())} only theirs")
    if has_limit(query):
        keys = order_keys(query)
        if keys is None and sum(mine.values()) == sum(other.values()):
            return True, f"differs as allowed (LIMIT without ORDER BY): {counts}"
        if keys and all(k in ours["vars"] for k in keys) \
                and _sort_keys(ours, keys) == _sort_keys(theirs, keys):
            return True, f"differs only among rows of equal sort keys (ties: allowed): {counts}"
    return False, f"DIFFERS: {counts}; e.g. ours {_sample(only_mine)}, theirs {_sample(only_other)}"


def _sort_keys(answer: dict, keys: list[str]) -> Counter:
    return Counter(tuple(term_key(row.get(k)) for k in keys) for row in answer["rows"])


def _size(answer: dict) -> str:
    if "triples" in answer:
        return f"{answer['triples']} triples"
    if "boolean" in answer:
        return str(answer["boolean"])
    return f"{len(answer.get('rows', []))} rows"


def _sample(rows: Counter) -> str:
    if not rows:
        return "none"
    return str(next(iter(rows)))[:160]

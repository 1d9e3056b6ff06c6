"""What a query may do here, read before it runs: its form, no Update, no SERVICE unless allowed.

This is the polite half of the SERVICE defence: it refuses a federated query
with a clear message before it runs. The hard half is where the query runs:
the query workers cannot open a network connection at all
(``endpoint/sandbox.py``), so a text this reader misreads still reaches no
address. The reader follows the SPARQL 1.1 grammar's terminals (section 19.8)
where they decide what is code and what is not: ``\\u``/``\\U`` escapes are
decoded first (19.2); strings end as STRING_LITERAL1/2 and their long forms
say, with ECHAR escapes only; comments run to the end of the line, CR or LF;
IRIs are IRIREF; a prefixed name's local part takes PLX escapes (``\\'``,
``\\#``, ``%41``…), so an escaped quote or ``#`` in a name starts no string
and no comment. Oxigraph's parser does not require a keyword to end at a word
boundary (``SERVICEex:x {…}`` and ``SERVICESILENT<…>`` call a service), so any
name beginning with SERVICE is read as the keyword. ``tests/test_guard.py``
checks this reader against the engine itself on generated texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD",
                "WITH"}
FORMS = {"SELECT": "select", "ASK": "ask", "CONSTRUCT": "graph", "DESCRIBE": "graph"}

# SPARQL 1.1 grammar, 19.8: PN_CHARS_BASE, PN_CHARS_U, PN_CHARS, PLX, ECHAR
_BASE = ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
         "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
         "\U00010000-\U000effff")
_U = _BASE + "_"
_CHARS = _U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PN_PREFIX = f"[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?"
_PN_LOCAL = f"(?:[{_U}:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?"
_ECHAR = r"\\[tbnrf\\\"']"
_STRINGS = "|".join((
    f'"""(?:(?:"|"")?(?:[^"\\\\]|{_ECHAR}))*"""',
    f"'''(?:(?:'|'')?(?:[^'\\\\]|{_ECHAR}))*'''",
    f'"(?:[^"\\\\\\r\\n]|{_ECHAR})*"',
    f"'(?:[^'\\\\\\r\\n]|{_ECHAR})*'",
))
_TOKEN = re.compile("|".join((
    r"(?P<comment>#[^\r\n]*)",
    f"(?P<string>{_STRINGS})",
    r'(?P<iri><[^<>"{}|^`\\\x00-\x20]*>)',
    f"(?P<bnode>_:[{_U}0-9](?:[{_CHARS}.]*[{_CHARS}])?)",
    f"(?P<var>[?$][{_U}0-9][{_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*)",
    f"(?P<name>(?:{_PN_PREFIX})?:(?:{_PN_LOCAL})?|[A-Za-z][A-Za-z0-9_]*)",
    r"(?P<space>\s+)",
    r"(?P<other>.)",
)), re.DOTALL)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_LOCAL_ESCAPE = re.compile(r"\\(.)")
SERVICE = "SERVICE"


class Refused(Exception):
    """The query is not allowed here (the message says why)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def _unescape(match: re.Match) -> str:
    code = int(match.group(1) or match.group(2), 16)
    return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)


def tokens(query: str) -> list[Token]:
    query = _ESCAPE.sub(_unescape, query)
    out = []
    for match in _TOKEN.finditer(query):
        kind = match.lastgroup
        if kind not in ("comment", "space"):
            out.append(Token(kind, match.group(0)))
    return out


def query_form(toks: list[Token]) -> str | None:
    """"select", "ask" or "graph" (CONSTRUCT, DESCRIBE), "update", or None if unknown."""
    for tok in toks:
        if tok.kind != "name":
            continue
        word = tok.text.upper()
        if word in ("PREFIX", "BASE") or ":" in tok.text:
            continue
        if word in FORMS:
            return FORMS[word]
        if word in UPDATE_WORDS:
            return "update"
        return None
    return None


def _prefixes(toks: list[Token]) -> dict[str, str]:
    found = {}
    for i, tok in enumerate(toks[:-2]):
        if tok.kind == "name" and tok.text.upper() == "PREFIX" and toks[i + 2].kind == "iri":
            found[toks[i + 1].text.rstrip(":")] = toks[i + 2].text[1:-1]
    return found


def _resolve(name: str, prefixes: dict[str, str]) -> str | None:
    """A prefixed name's IRI (its local part's PLX escapes undone), None if the prefix is unknown."""
    prefix, _, local = name.partition(":")
    return prefixes[prefix] + _LOCAL_ESCAPE.sub(r"\1", local) if prefix in prefixes else None


def _target(tok: Token | None, prefixes: dict[str, str]) -> str | None:
    if tok is not None and tok.kind == "iri":
        return tok.text[1:-1]
    if tok is not None and tok.kind == "name" and ":" in tok.text:
        return _resolve(tok.text, prefixes)
    return None  # a variable, or nothing the engine could call by name


def service_targets(toks: list[Token]) -> list[str | None]:
    """The IRI each SERVICE calls (None for a variable or an unresolvable name).

    A name glued to the keyword is its target, as the engine reads it:
    ``SERVICEex:x`` calls ``ex:x``, ``SERVICESILENT<iri>`` calls ``iri``.
    """
    prefixes = _prefixes(toks)
    targets: list[str | None] = []
    for i, tok in enumerate(toks):
        if tok.kind != "name" or not tok.text.upper().startswith(SERVICE):
            continue
        rest = tok.text[len(SERVICE):]
        if rest.upper().startswith("SILENT"):
            rest = rest[len("SILENT"):]
        if rest:
            targets.append(_resolve(rest, prefixes) if ":" in rest else None)
            continue
        j = i + 1
        if j < len(toks) and toks[j].kind == "name" and toks[j].text.upper() == "SILENT":
            j += 1
        targets.append(_target(toks[j] if j < len(toks) else None, prefixes))
    return targets


def check(query: str, allowlist: Iterable[str] = ()) -> str:
    """The query's form; raises Refused for an Update or a SERVICE not in the allow-list."""
    return _check(query, tuple(allowlist))


@lru_cache(maxsize=256)  # the view and the store's door check the same text: read it once
def _check(query: str, allowlist: tuple[str, ...]) -> str:
    toks = tokens(query)
    form = query_form(toks)
    if form == "update":
        raise Refused("SPARQL Update is not accepted: this endpoint is read-only")
    allowed = set(allowlist)
    for target in service_targets(toks):
        if target is None:
            raise Refused("SERVICE with a variable or an unknown prefix is not accepted; "
                          "name the endpoint's IRI")
        if target not in allowed:
            raise Refused(f"SERVICE <{target}> is not accepted: federated queries may only call "
                          "the endpoints of the server's SERVICE allow-list"
                          + ("" if allowed else " (empty)"))
    return form or "select"


def iri_term(iri: str) -> str:
    """An IRI as query text: checked as an IRI by the engine's own parser and written back
    (``<…>``). The one way an IRI that came from a request becomes part of a query; a text
    that is no IRI (a quote, a space, ``>``…) raises ValueError, so it never reaches a query."""
    import pyoxigraph as ox

    return str(ox.NamedNode(iri))


class GuardedStore:
    """Any store, every query checked first: the SPARQL view's, the pages', the warm-up's.

    The one door to the store in the server: whatever builds a query text, it
    passes ``check`` with the same allow-list before the store sees it.
    """

    def __init__(self, store, allowlist: Iterable[str] = ()) -> None:
        self.store, self.allowlist = store, tuple(allowlist)

    @property
    def enabled(self) -> bool:  # the answer caches (endpoint.cache.CachedStore) are on
        return bool(getattr(self.store, "enabled", False))

    def query(self, text: str, *args, **kwargs):
        check(text, self.allowlist)
        return self.store.query(text, *args, **kwargs)

    def close(self) -> None:
        self.store.close()

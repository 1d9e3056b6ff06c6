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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from endpoint.store import Store

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
    """The query is not allowed here (the message says why): a 403."""


class TooDeep(Exception):
    """The query nests deeper than the engine is let to parse: a 400 naming the limit."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def _unescape(match: re.Match) -> str:
    code = int(match.group(1) or match.group(2), 16)
    return chr(code) if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else match.group(0)


def decoded(query: str) -> str:
    """The query with its ``\\u``/``\\U`` escapes decoded, as the engine reads it (19.2)."""
    return _ESCAPE.sub(_unescape, query)


def lexemes(text: str) -> Iterator[re.Match]:
    """The tokens of a decoded query as matches (kind ``lastgroup``, place ``start()``), spaces
    and comments left out: for messages that point at a place (``endpoint/syntax.py``)."""
    return (match for match in _TOKEN.finditer(text)
            if match.lastgroup not in ("comment", "space"))


def tokens(query: str) -> list[Token]:
    return [Token(match.lastgroup, match.group(0)) for match in _TOKEN.finditer(decoded(query))
            if match.lastgroup not in ("comment", "space")]


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


@dataclass(frozen=True)
class Reading:
    """What the guard reads in a query, in one pass over its tokens: its form, the targets of
    its SERVICE calls, how deep it nests, and whether its answer may be kept."""

    form: str | None
    services: tuple[str | None, ...]
    depth: int
    deterministic: bool


@lru_cache(maxsize=256)  # the view, the store's door and the cache read the same text: once
def read(query: str) -> Reading:
    toks = tokens(query)
    services = tuple(service_targets(toks))
    return Reading(query_form(toks), services, _nesting(toks),
                   not services and not _calls_nondeterministic(toks))


def check(query: str, allowlist: Iterable[str] = (), max_nesting: int = 0) -> str:
    """The query's form; raises Refused for an Update or a SERVICE not in the allow-list, and
    TooDeep if it nests deeper than ``max_nesting`` (0: no limit)."""
    reading = read(query)
    if reading.form == "update":
        raise Refused("SPARQL Update is not accepted: this endpoint is read-only")
    allowed = set(allowlist)
    for target in reading.services:
        if target is None:
            raise Refused("SERVICE with a variable or an unknown prefix is not accepted; "
                          "name the endpoint's IRI")
        if target not in allowed:
            raise Refused(f"SERVICE <{target}> is not accepted: federated queries may only call "
                          "the endpoints of the server's SERVICE allow-list"
                          + ("" if allowed else " (empty)"))
    if max_nesting and reading.depth > max_nesting:
        raise TooDeep(f"the query nests {reading.depth} levels deep (brackets and unary "
                      f"operators); the limit is {max_nesting}")
    return reading.form or "select"


# -- bounds and cacheability, read from the same tokens -------------------------------------------

_OPENING, _CLOSING = frozenset("([{"), frozenset(")]}")
_UNARY = frozenset("!+-^")  # a run of these nests as deep as it is long in the engine's tree
NONDETERMINISTIC = frozenset({"NOW", "RAND", "UUID", "STRUUID", "BNODE"})


def _with_next(toks: list[Token]) -> Iterable[tuple[Token, Token]]:
    """Each token with the one after it (an empty one after the last)."""
    return zip(toks, [*toks[1:], Token("other", "")])


def nesting_depth(query: str) -> int:
    """How deep the query nests: brackets ``( [ {`` open inside one another, each with the
    unary operators (``!``, ``+``, ``-``, ``^``) right before it, plus a run of unary operators
    before an operand; strings, IRIs and comments do not count. Oxigraph parses and evaluates
    recursively, so a deep enough query overflows the query worker's stack (some 840 nested
    ``FILTER EXISTS`` do on 8 MB): the endpoint refuses such a query before the engine
    parses it. A binary ``-`` or ``+`` before a bracket counts as one level more, which only
    errs on the safe side."""
    return read(query).depth


def _nesting(toks: list[Token]) -> int:
    opened: list[int] = []  # the levels each open bracket added
    depth = deepest = run = 0
    for tok, after in _with_next(toks):
        text = tok.text if tok.kind == "other" else ""
        if text in _UNARY and (text, after.text) != ("!", "="):
            run += 1
            continue
        if text in _OPENING:
            opened.append(1 + run)
            depth += 1 + run
        elif text in _CLOSING:
            depth -= opened.pop() if opened else 0
        else:
            deepest = max(deepest, depth + run)
        run = 0
        deepest = max(deepest, depth)
    return max(deepest, depth + run)


def is_deterministic(query: str) -> bool:
    """Whether the same query always gives the same answer on the same release, so that it
    may be cached and replayed: not if it calls NOW, RAND, UUID, STRUUID or BNODE (as
    functions: a word followed by ``(``, not in a string, an IRI, a comment or a prefixed
    name), nor if it has a SERVICE, read as ``check`` reads it (another endpoint's data
    changes)."""
    return read(query).deterministic


def _calls_nondeterministic(toks: list[Token]) -> bool:
    return any(tok.kind == "name" and tok.text.upper() in NONDETERMINISTIC and after.text == "("
               for tok, after in _with_next(toks))


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

    def __init__(self, store: Store, allowlist: Iterable[str] = (), max_nesting: int = 0) -> None:
        self.store, self.allowlist, self.max_nesting = store, tuple(allowlist), max_nesting

    @property
    def enabled(self) -> bool:  # the answer caches (endpoint.cache.CachedStore) are on
        return bool(getattr(self.store, "enabled", False))

    def query(self, text: str, *args, **kwargs):
        check(text, self.allowlist, self.max_nesting)
        return self.store.query(text, *args, **kwargs)

    def close(self) -> None:
        self.store.close()

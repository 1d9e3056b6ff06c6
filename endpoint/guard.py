"""What a query may do here, read before it runs: its form, no Update, no SERVICE unless allowed.

Oxigraph would execute SERVICE by fetching any URL, so a visitor could make
the server call any address (127.0.0.1 included). The query text is scanned
with a small SPARQL lexer (comments, strings and IRIs are skipped; ``\\u``
escapes are decoded first, as SPARQL does) and every SERVICE target must be
an IRI of the allow-list; a variable target is always refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD",
                "WITH"}
FORMS = {"SELECT": "select", "ASK": "ask", "CONSTRUCT": "graph", "DESCRIBE": "graph"}

_TOKEN = re.compile(r'''
    (?P<comment>\#[^\n]*)
  | (?P<string>"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'(?:[^'\\]|\\.|'(?!''))*\'\'\'
              |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][\w\u00b7\u0300-\u036f\u203f-\u2040]+)
  | (?P<name>[^\W\d][\w.\-]*(?::[\w.\-:%\\]*)?|:[\w.\-:%\\]*)
  | (?P<space>\s+)
  | (?P<other>.)
''', re.VERBOSE | re.DOTALL)
_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")


class Refused(Exception):
    """The query is not allowed here (the message says why)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokens(query: str) -> list[Token]:
    query = _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), query)
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


def service_targets(toks: list[Token]) -> list[str | None]:
    """The IRI each SERVICE calls (None for a variable or an unresolvable name)."""
    prefixes = _prefixes(toks)
    targets: list[str | None] = []
    for i, tok in enumerate(toks):
        if tok.kind != "name" or tok.text.upper() != "SERVICE":
            continue
        j = i + 1
        if j < len(toks) and toks[j].kind == "name" and toks[j].text.upper() == "SILENT":
            j += 1
        target = toks[j] if j < len(toks) else None
        if target is not None and target.kind == "iri":
            targets.append(target.text[1:-1])
        elif target is not None and target.kind == "name" and ":" in target.text:
            prefix, _, local = target.text.partition(":")
            targets.append(prefixes[prefix] + local if prefix in prefixes else None)
        else:
            targets.append(None)
    return targets


def check(query: str, allowlist: Iterable[str] = ()) -> str:
    """The query's form; raises Refused for an Update or a SERVICE not in the allow-list."""
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
    toks = tokens(query)
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
    name), nor if it has a SERVICE (another endpoint's data changes)."""
    toks = tokens(query)
    for tok, after in _with_next(toks):
        if tok.kind != "name" or ":" in tok.text:
            continue
        word = tok.text.upper()
        if word == "SERVICE" or (word in NONDETERMINISTIC and after.text == "("):
            return False
    return True

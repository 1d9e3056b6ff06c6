"""A malformed query's message that says what was found where, when the engine's would mislead.

Oxigraph's parser reports the furthest place it reached and what it could have read there. For
a query whose form is misspelt (``SELEC ?s WHERE {?s ?p ?o}``) that is "error at 1:10: expected
CONSTRUCT", which sends the reader looking for a CONSTRUCT. Once the engine has refused a query,
``explain`` looks where the query form must be (after the PREFIX, BASE and VERSION declarations)
and, when something else is there (a misspelt form: ``SELEC``, ``SELECTT``, ``ASKK``), says
what was found, at which line and column, and what was expected; otherwise the engine's own
message stands.

Only a plain word, variable or punctuation mark from the query is repeated in the message
(bounded in length); anything else is named by its kind ("an IRI", "a string").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from endpoint import guard

FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
EXPECTED_FORM = ("the query form was expected: SELECT, ASK, CONSTRUCT or DESCRIBE (after any "
                 "PREFIX and BASE declarations)")
PREFIX_EXAMPLE = "(PREFIX ex: <http://example.org/ns#>)"
# Oxigraph reads a keyword glued to what follows it (``SELECTDISTINCT``, ``ASKWHERE``,
# ``DESCRIBEex:x``, ``PREFIXex:``): such a word is left to the engine, as is any word starting
# with an Update keyword (an Update is refused before it is parsed). Any other word in the
# form's place is no form, ``SELECTT`` and ``ASKK`` included.
GLUED = {"SELECT": ("DISTINCT", "REDUCED"), "ASK": ("FROM", "WHERE"),
         "CONSTRUCT": ("FROM", "WHERE"), "DESCRIBE": ("FROM", "WHERE")}
LEFT_TO_THE_ENGINE = ("PREFIX", "BASE", "VERSION", *sorted(guard.UPDATE_WORDS))
_SHOWN = re.compile(r"[?$]?[A-Za-z_][A-Za-z0-9_:.\-]{0,39}|[!-~]")
KINDS = {"iri": "an IRI", "string": "a string", "bnode": "a blank node", "var": "a variable",
         "name": "a name"}


def explain(query: str) -> str | None:
    """Where a query with no query form in its place went wrong, or None to keep the engine's
    message (the form is there, or the query starts with a keyword this reader leaves alone)."""
    text = guard.decoded(query)
    problem = _prologue_problem(guard.lexemes(text))
    if problem is None:
        return None
    found, expected = problem
    if found is None:
        return f"the query ends where {expected}"
    line, column = _place(text, found.start())
    return f"line {line}, column {column}: found {_shown(found)} where {expected}"


def _prologue_problem(matches: Iterator[re.Match]) -> tuple[re.Match | None, str] | None:
    """The token (None: the end) standing where the prologue or the query form should be, and
    what should be there; None if the query form is in its place."""
    for match in matches:
        word = match.group(0).upper() if match.lastgroup == "name" else ""
        if word == "BASE":
            after = next(matches, None)
            if after is None or after.lastgroup != "iri":
                return after, "BASE needs an IRI in angle brackets (BASE <http://example.org/>)"
        elif word == "PREFIX":
            name = next(matches, None)
            if name is None or name.lastgroup != "name" or not name.group(0).endswith(":"):
                return name, f"PREFIX needs a prefix name ending in ':' {PREFIX_EXAMPLE}"
            after = next(matches, None)
            if after is None or after.lastgroup != "iri":
                return after, (f"PREFIX {_shown(name)} needs an IRI in angle brackets "
                               f"{PREFIX_EXAMPLE}")
        elif word == "VERSION":
            after = next(matches, None)
            if after is None or after.lastgroup != "string":
                return None  # SPARQL 1.2's declaration: left to the engine
        elif word in FORMS or _glued(word):
            return None
        else:
            return match, EXPECTED_FORM
    return None, EXPECTED_FORM


def _glued(word: str) -> bool:
    """Whether ``word`` may be a keyword glued to what follows it, as the engine reads it."""
    for form, followers in GLUED.items():
        rest = word[len(form):] if word.startswith(form) else None
        if rest is not None and (rest.startswith(followers) or ":" in rest):
            return True
    return word.startswith(LEFT_TO_THE_ENGINE)


def _place(text: str, offset: int) -> tuple[int, int]:
    """Line and column (from 1, in characters) of ``offset``, as the engine counts them."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _shown(match: re.Match) -> str:
    """The token quoted if it is a short plain word, variable or mark; else its kind."""
    token = match.group(0)
    if _SHOWN.fullmatch(token):
        return f"'{token}'"
    return KINDS.get(match.lastgroup or "", f"the character U+{ord(token[0]):04X}")

"""The guard against the engine itself: whatever text makes Oxigraph call a service, the guard
refuses. The engine runs here in the test process, unconfined, against a loopback listener
(the server's workers are confined: tests/test_security.py), so it shows what it would do."""

from __future__ import annotations

import pyoxigraph as ox
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ssrf_variants import MARKER, PROLOGUE, all_variants

from endpoint import guard


@pytest.fixture(scope="module")
def engine():
    """An in-memory store with one statement, so every pattern has a row to join with."""
    store = ox.Store()
    e = ox.NamedNode("http://e/x")
    store.add(ox.Quad(e, e, e))
    return store


def calls_service(store: ox.Store, text: str) -> bool | None:
    """True if the engine reached the listener, False if it ran without, None if it refused
    the text (a syntax error)."""
    try:
        result = store.query(text)
        rows = [str(r) for r in result] if not isinstance(result, ox.QueryBoolean) else []
    except SyntaxError:
        return None
    except OSError:  # the listener's reply did not suit it: it was reached all the same
        return True
    except RuntimeError:  # e.g. SERVICE with an unbound variable: nothing was called
        return False
    return any(MARKER in r for r in rows)


def refused(text: str) -> bool:
    try:
        guard.check(text)
    except guard.Refused:
        return True
    return False


def test_every_generated_variant_the_engine_would_call_is_refused(listener, engine):
    variants = all_variants(listener.port)
    assert len(variants) >= 300
    called = [v for v in variants if calls_service(engine, v)]
    missed = [v for v in called if not refused(v)]
    assert missed == []
    # the variants are real attacks: most of them do reach the listener when unguarded
    assert len(called) >= 200, len(called)
    assert len(listener.connections) >= 200


def test_texts_that_only_look_like_service_are_not_refused(engine):
    for text in ['SELECT ?x WHERE { BIND("SERVICE <http://127.0.0.1:1/> {}" AS ?x) }',
                 "SELECT ?x WHERE { BIND('service' AS ?x) } # SERVICE <http://127.0.0.1:1/>",
                 'PREFIX ex: <http://e/> SELECT ?x WHERE { ?x ex:SERVICE ?y }',
                 "SELECT ?x WHERE { ?x <http://e/SERVICE> ?y }"]:
        assert calls_service(engine, text) is False
        assert not refused(text), text


def test_the_guard_reads_names_as_the_grammar_does():
    toks = guard.tokens("PREFIX ex: <http://e/> SELECT * { ?s ex:a\\'b\\#c%41 ?o } # x\rSERVICE")
    assert [t.text for t in toks if t.kind == "name"] == ["PREFIX", "ex:", "SELECT",
                                                          "ex:a\\'b\\#c%41", "SERVICE"]
    assert guard.service_targets(guard.tokens(
        "PREFIX ex: <http://h/> SELECT * { SERVICEex:a\\~b {} }")) == ["http://h/a~b"]


# Pieces the grammar gives a meaning to: quotes, escapes, comment starts, line ends, IRI
# brackets, prefixed-name escapes, unicode escapes of the keyword's letters.
PIECES = ["'", '"', "\\", "\\'", '\\"', "#", "\r", "\n", "<", ">", "ex:", "ex:a\\'", "ex:\\#",
          "%27", "\\u0027", "\\u0022", "\\u0053", "'''", '"""', "_:b", "?v", " ", "{", "}",
          "(", ")", ".", "BIND(", " AS ?h)", "S", "ERVICE", "SERVICE", "x", "é", "\t", "\f"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=st.lists(st.sampled_from(PIECES), max_size=8),
       keyword=st.sampled_from(["SERVICE", "service", "\\u0053ERVICE", "SERVICE SILENT"]),
       after=st.lists(st.sampled_from(PIECES), max_size=4))
def test_fuzzed_texts_the_engine_would_call_are_refused(listener, engine, before, keyword, after):
    target = f"<http://127.0.0.1:{listener.port}/sparql>"
    text = (f"{PROLOGUE}SELECT * WHERE {{ ?s ?p ?o . {''.join(before)} "
            f"{keyword} {target} {{ ?s ?p ?o }} {''.join(after)} }}")
    if calls_service(engine, text):
        assert refused(text), text


def test_an_empty_or_blank_query_is_read_without_error():
    for text in ("", "   ", "# only a comment"):
        assert guard.nesting_depth(text) == 0
        assert guard.is_deterministic(text)
        assert guard.check(text, (), 64) == "select"  # the engine then says it is malformed

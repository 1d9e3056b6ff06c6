"""mapping/vocab.py: the one prefix table, and the IRIs of ours it mints and reads back."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pyoxigraph as ox
import pytest

from mapping import vocab
from mapping.paths import EXAMPLES_FILE, ONTOLOGY_DIR, SHAPES_DIR
from mapping.vocab import DEFAULT_BASE

# `@prefix p: <…>` in Turtle, `PREFIX p: <…>` in SPARQL (the example queries sit inside Turtle)
DECLARED = re.compile(r"(?:@prefix|PREFIX)\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.IGNORECASE)


def declared(text: str) -> list[tuple[str, str]]:
    return DECLARED.findall(text)


def test_the_table_under_a_base():
    table = vocab.prefixes("https://example.org/kg/")
    assert table["senacs"] == "https://example.org/kg/def#"
    assert table["action"] == "https://example.org/kg/action/"
    assert table["rdfs"] == "http://www.w3.org/2000/01/rdf-schema#"
    assert "dcat" not in table and vocab.prefixes(metadata=True)["dcat"] == "http://www.w3.org/ns/dcat#"


def test_a_sparql_prologue_declares_the_names_asked_for():
    prologue = vocab.sparql_prologue("https://example.org/kg/", ("senacs", "skos"))
    assert prologue == ("PREFIX senacs: <https://example.org/kg/def#>\n"
                        "PREFIX skos: <http://www.w3.org/2004/02/skos/core#>\n")
    everything = vocab.sparql_prologue()
    assert dict(declared(everything)) == vocab.prefixes()
    terms = " ".join(f"{name}:x" for name in vocab.PREFIXES)  # every name usable in a query
    rows = ox.Store().query(everything + f"SELECT ?t WHERE {{ VALUES ?t {{ {terms} }} }}")
    assert [row["t"].value for row in rows] == [ns + "x" for ns in vocab.prefixes().values()]


@pytest.mark.parametrize("name, metadata", [("dataset.ttl.gz", False), ("catalog.ttl", True),
                                            ("void.ttl", True)])
def test_the_release_turtle_declares_the_table(release_dir, name, metadata):
    data = (release_dir / name).read_bytes()
    text = (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8")
    head = text[:text.index("\n", text.rindex("@prefix"))]  # the prefix lines come first
    assert dict(declared(head)) == vocab.prefixes(DEFAULT_BASE, metadata=metadata)


def shipped_texts() -> dict[str, str]:
    """Every Turtle file of ours, the example queries inside one of them included: they declare
    their prefixes themselves (the code's queries take theirs from vocab.sparql_prologue)."""
    files = [*ONTOLOGY_DIR.glob("*.ttl"), *SHAPES_DIR.glob("*.ttl"), EXAMPLES_FILE]
    return {str(p.relative_to(Path(ONTOLOGY_DIR).parent)): p.read_text(encoding="utf-8")
            for p in files}


def test_no_file_of_ours_binds_a_name_of_the_table_to_another_namespace():
    table = vocab.prefixes(DEFAULT_BASE, metadata=True)
    texts = shipped_texts()
    assert len(texts) >= 5
    for where, text in texts.items():
        found = declared(text)
        assert found, f"{where} declares no prefix: the test reads it wrong"
        wrong = {(name, iri) for name, iri in found if name in table and table[name] != iri}
        assert not wrong, f"{where} binds {wrong}, the table says otherwise"


def test_the_scan_catches_a_name_bound_elsewhere():
    text = "@prefix senacs: <https://example.org/def#> .\nPREFIX skos: <http://skos/>\n"
    assert declared(text) == [("senacs", "https://example.org/def#"), ("skos", "http://skos/")]


def test_the_iris_of_each_kind_under_a_base():
    iris = vocab.Iris("https://example.org/kg")  # the missing "/" is added
    assert str(iris.action("cs-31", "cafe")) == "https://example.org/kg/action/cs-31/cafe"
    assert str(iris.structure("cs-31")) == "https://example.org/kg/structure/cs-31"
    assert str(iris.organisation("caf-2a")) == "https://example.org/kg/organisation/caf-2a"
    assert str(iris.department("2A")) == "https://example.org/kg/place/departement/2A"
    assert str(iris.commune("2A004")) == "https://example.org/kg/place/commune/2A004"
    assert str(iris.scheme("public")) == "https://example.org/kg/concept/public"
    assert str(iris.concept("public", "jeunes")) == "https://example.org/kg/concept/public/jeunes"
    assert str(iris.field("territory_repeat")) == "https://example.org/kg/def#field-territory-repeat"
    # a file name is one path segment: spaces, "#", "?" and "/" percent-encoded
    assert str(iris.source("export 2024 #1?/x.txt")) == \
        "https://example.org/kg/source/export%202024%20%231%3F%2Fx.txt"


def test_hash_iris_read_back():
    action = str(vocab.Iris().action("cs-31", "cafe"))
    amount = vocab.part(action, "amount", 2)
    assert (vocab.part_kind(amount), vocab.part_of(amount)) == ("amount", action)
    assert vocab.part_of(vocab.part(action, "source")) == action
    assert vocab.part_of(action) is None
    assert vocab.part_of(str(vocab.Iris().field("people"))) is None  # a field is no part
    assert vocab.hash_name(DEFAULT_BASE + "shapes#Action-title") == "Action-title"
    assert vocab.hash_name(DEFAULT_BASE + ".well-known/sparql-examples#actions-per-keyword") \
        == "actions-per-keyword"


def test_expand_reads_the_table_and_refuses_other_names():
    assert vocab.expand("senacs:status", "https://example.org/kg/") == \
        "https://example.org/kg/def#status"
    assert vocab.expand("schema:agent") == "https://schema.org/agent"
    for wrong in ("status", "sh:path", "dcat:Dataset"):
        with pytest.raises(ValueError, match="not a prefixed name"):
            vocab.expand(wrong)

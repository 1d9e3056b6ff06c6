"""Golden files: representative records and the Turtle they must map to (graph isomorphism).

tests/golden/NAME.txt is the input, tests/golden/NAME.ttl the reviewed expected graph.
finished_action_with_budget is the seed's first record; edge_cases holds a record outside
Haute-Garonne with a new keyword, an attached file, an empty optional field, a line that
looks like a label inside free text and HTML in the title, and a malformed record kept
verbatim. After an intended change of the mapping, regenerate with
``python tests/test_golden.py`` and review the diff before committing it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import graph_diff, to_isomorphic

from mapping.mapper import Mapper, map_exports, to_graph
from mapping.reader import ExportFile

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.txt"))
PREFIXES = {"senacs": "https://w3id.org/senacs-kg/def#", "schema": "https://schema.org/",
            "prov": "http://www.w3.org/ns/prov#", "igeo": "http://rdf.insee.fr/def/geo#",
            "org": "http://www.w3.org/ns/org#"}


def mapped(name: str) -> Graph:
    graph = Graph()
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns)
    return to_graph(map_exports([ExportFile(GOLDEN / f"{name}.txt")], Mapper()), graph)


@pytest.mark.parametrize("name", CASES)
def test_record_maps_to_its_golden_turtle(name):
    got = to_isomorphic(mapped(name))
    want = to_isomorphic(Graph().parse(GOLDEN / f"{name}.ttl"))
    if got != want:
        _, only_got, only_want = graph_diff(got, want)
        pytest.fail(f"{name}: the mapping differs from the golden file\n"
                    f"--- only in the mapping:\n{only_got.serialize(format='nt')}\n"
                    f"--- only in {name}.ttl:\n{only_want.serialize(format='nt')}")


def test_every_golden_input_has_its_turtle_and_every_turtle_its_input():
    """A case missing one of its two files would silently not be compared; the two cases the
    docstring describes must be among them."""
    expected = sorted(p.stem for p in GOLDEN.glob("*.ttl"))
    assert CASES == expected
    assert {"finished_action_with_budget", "edge_cases"} <= set(CASES)


if __name__ == "__main__":  # regenerate the golden files (review the diff!)
    import pyoxigraph as ox

    from mapping import ntriples as nt

    for case in CASES:
        lines = sorted(set(map(nt.line, map_exports([ExportFile(GOLDEN / f"{case}.txt")], Mapper()))))
        triples = ox.parse("".join(lines).encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
        ox.serialize(triples, str(GOLDEN / f"{case}.ttl"), ox.RdfFormat.TURTLE,
                     prefixes={**PREFIXES, "xsd": "http://www.w3.org/2001/XMLSchema#",
                               "dcterms": "http://purl.org/dc/terms/",
                               "skos": "http://www.w3.org/2004/02/skos/core#"})
        print(f"wrote {GOLDEN / case}.ttl", file=sys.stderr)

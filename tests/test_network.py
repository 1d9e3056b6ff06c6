"""Shared-partner networks: right weights, metrics from networkx, every export format, any source."""

from __future__ import annotations

import csv
import gc
import tempfile
from collections import defaultdict

import networkx as nx
import pytest
from conftest import SEED, build_release, dump_bytes, run_cli
from test_examples import resolved, structure_iri

from analysis import network
from analysis.sources import endpoint_select, network_predicates, release_select
from mapping.reference import Reference

B = "https://w3id.org/senacs-kg/"


@pytest.fixture(scope="module")
def networks(release_dir):
    return network.fetch(release_select(release_dir), B)


def expected_partners(seed_records) -> dict[str, set[str]]:
    reference = Reference.load()
    partners: dict[str, set[str]] = defaultdict(set)
    for record in seed_records:
        found = resolved(record, reference)
        if found:
            partners[structure_iri(record)] |= found
    return partners


def test_projection_weights_are_the_numbers_of_shared_partners(networks, seed_records):
    partners = expected_partners(seed_records)
    graph = networks.structures
    assert set(graph) == set(partners)
    for a in partners:
        for b in partners:
            shared = len(partners[a] & partners[b])
            if a < b and shared:
                assert graph[a][b]["weight"] == shared
            elif a < b:
                assert not graph.has_edge(a, b)
    by_partner = defaultdict(set)
    for structure, bodies in partners.items():
        for body in bodies:
            by_partner[body].add(structure)
    for p, q, data in networks.partners.edges(data=True):
        assert data["weight"] == len(by_partner[p] & by_partner[q])
    assert networks.bipartite.number_of_edges() == sum(len(v) for v in partners.values())


def test_metrics(networks):
    graph = networks.structures.copy()
    stats = network.annotate(graph)
    assert stats["nodes"] == graph.number_of_nodes()
    assert stats["components"] == nx.number_connected_components(graph)
    assert stats["density"] == round(nx.density(graph), 6)
    for node, data in graph.nodes(data=True):
        assert data["degree"] == graph.degree(node)
        assert data["weighted_degree"] == sum(d["weight"] for _, _, d in graph.edges(node, data=True))
        assert 0 <= data["betweenness"] <= 1
    again = networks.structures.copy()
    network.annotate(again)
    assert [again.nodes[n]["community"] for n in sorted(again)] == \
        [graph.nodes[n]["community"] for n in sorted(graph)]  # fixed seed: same communities


@pytest.mark.parametrize("fmt", ["graphml", "gexf", "csv", "png", "svg"])
def test_cli_writes_each_format(release_dir, tmp_path, fmt):
    out = tmp_path / f"net.{fmt}"
    run = run_cli("network", "--release", str(release_dir), "--format", fmt, "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert '"components"' in run.stderr
    if fmt == "graphml":
        graph = nx.read_graphml(out)
        assert all("betweenness" in d and "label" in d for _, d in graph.nodes(data=True))
    elif fmt == "gexf":
        assert nx.read_gexf(out).number_of_nodes() > 5
    elif fmt == "csv":
        nodes = list(csv.DictReader(out.read_text(encoding="utf-8").splitlines()))
        edges = list(csv.DictReader((tmp_path / "net.edges.csv").read_text(encoding="utf-8")
                                    .splitlines()))
        assert {"id", "label", "degree", "weighted_degree", "betweenness", "community"} <= \
            set(nodes[0])
        assert edges and all(int(e["weight"]) >= 1 for e in edges)
    elif fmt == "png":
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert b"<svg" in out.read_bytes()[:500]


def test_same_release_same_files(release_dir, tmp_path):
    outputs = []
    for n in range(2):
        out = tmp_path / f"run{n}.graphml"
        run = run_cli("network", "--release", str(release_dir), "--graph", "partners",
                      "--format", "graphml", "--out", str(out))
        assert run.returncode == 0, run.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_through_the_endpoint_the_network_is_the_same(seed_site, networks):
    remote = network.fetch(endpoint_select(seed_site + "/sparql"), B)
    assert nx.utils.edges_equal(sorted(remote.structures.edges(data="weight")),
                                sorted(networks.structures.edges(data="weight")))


def test_categories_instead_of_bodies(release_dir):
    graph = network.fetch(release_select(release_dir), B, categories=True).bipartite
    labels = {d["label"] for _, d in graph.nodes(data=True) if d["kind"] == "partner"}
    assert {"Caf", "Commune", "Association locale"} <= labels


def test_network_cli_bad_input_is_a_one_line_error(tmp_path):
    for args in (["--release", str(tmp_path / "none")],
                 ["--endpoint", "http://127.0.0.1:1/sparql"]):
        run = run_cli("network", *args, "--format", "csv", "--out", str(tmp_path / "n.csv"))
        assert run.returncode == 2, run.stderr
        assert "Traceback" not in run.stderr
        assert "no release here" in run.stderr or "could not read the network" in run.stderr


def test_a_release_where_no_partner_resolves_has_an_empty_network(tmp_path):
    record = SEED.read_text(encoding="utf-8").split("\n")[:89]
    for category in ("- Association locale", "- Caf", "- Commune", "- Conseil départemental"):
        record[record.index(category)] = category + " inconnue"
    source = tmp_path / "unresolved.txt"
    source.write_text("\n".join(record), encoding="utf-8")
    build_release(source, tmp_path / "release")
    networks = network.fetch(release_select(tmp_path / "release"), B)
    assert networks.structures.number_of_nodes() == networks.partners.number_of_nodes() == 0


def test_a_release_is_read_through_its_network_triples_on_disk(release_dir, tmp_path,
                                                               monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # not /tmp, which others share
    select = release_select(release_dir)
    (work,) = tmp_path.glob("senacs-kg-network-*")
    rows = select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    dump_lines = dump_bytes(release_dir).count(b"\n")
    assert 0 < int(rows[0]["n"]) < dump_lines / 3  # only what the analysis reads
    predicates = {row["p"] for row in select("SELECT DISTINCT ?p WHERE { ?s ?p ?o }")}
    assert {f"<{p}>" for p in predicates} == network_predicates(B)
    assert (work / "store").is_dir()
    del select
    gc.collect()
    assert not work.exists()  # the temporary store goes with the function

"""Shared-partner networks: which structures work with the same bodies, and which bodies connect them.

The data is read through SPARQL (any function that answers a SELECT with
SPARQL JSON results: the embedded store, the HTTP endpoint, a remote Virtuoso),
so the analysis is the same wherever the graph lives. The graphs and metrics
are networkx's; nothing here re-implements a graph algorithm.

- the bipartite graph: structures on one side, partners on the other, an edge
  when some action of the structure names the partner;
- its weighted projections: structures linked by the number of partners they
  share, partners linked by the number of structures they share;
- per node: degree, weighted degree, betweenness; per graph: components,
  density, communities (Louvain, fixed seed: the same data gives the same
  communities).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import networkx as nx
from networkx.algorithms import bipartite

from mapping.vocab import sparql_prologue

# The two queries, after the PREFIX lines of vocab.PREFIXES under the release's base (fetch).
RESOLVED_QUERY = """SELECT DISTINCT ?structure ?structureName ?partner ?partnerName WHERE {
  ?action schema:agent ?structure ; senacs:resolvedPartner ?partner .
  ?structure schema:name ?structureName . ?partner schema:name ?partnerName .
} ORDER BY ?structure ?partner"""
CATEGORY_QUERY = """SELECT DISTINCT ?structure ?structureName ?partner ?partnerName WHERE {
  ?action schema:agent ?structure ; senacs:partnerCategory ?partner .
  ?structure schema:name ?structureName .
  ?partner skos:prefLabel ?partnerName . FILTER(lang(?partnerName) = "fr")
} ORDER BY ?structure ?partner"""

Select = Callable[[str], list[dict[str, str]]]  # a SELECT query -> rows of {variable: value}


class Networks:
    """The bipartite graph, and its projections computed when first asked for."""

    def __init__(self, graph: nx.Graph) -> None:
        self.bipartite = canonical(graph)

    def side(self, kind: str) -> list[str]:
        return [n for n, d in self.bipartite.nodes(data=True) if d["kind"] == kind]

    @cached_property
    def structures(self) -> nx.Graph:
        """Structures linked by shared partners (weight: how many)."""
        return _projection(self.bipartite, self.side("structure"))

    @cached_property
    def partners(self) -> nx.Graph:
        """Partners linked by shared structures (weight: how many)."""
        return _projection(self.bipartite, self.side("partner"))

    def projection_edges_at_least(self, name: str) -> int:
        """A lower bound of a projection's links, without computing it: the node of the other
        side with the most neighbours links all of them pairwise."""
        other = "partner" if name == "structures" else "structure"
        most = max((self.bipartite.degree(n) for n in self.side(other)), default=0)
        return most * (most - 1) // 2


def fetch(select: Select, base: str, categories: bool = False) -> Networks:
    prologue = sparql_prologue(base, ("senacs", "schema", "skos"))
    rows = select(prologue + (CATEGORY_QUERY if categories else RESOLVED_QUERY))
    graph = nx.Graph()
    for row in rows:
        graph.add_node(row["structure"], label=row["structureName"], kind="structure",
                       bipartite=0)
        graph.add_node(row["partner"], label=row["partnerName"], kind="partner", bipartite=1)
        graph.add_edge(row["structure"], row["partner"])
    return Networks(graph)


def _projection(graph: nx.Graph, nodes: list[str]) -> nx.Graph:
    if not nodes:  # no action names a resolved partner: networkx refuses an empty projection
        return nx.Graph()
    projected = bipartite.weighted_projected_graph(graph, sorted(nodes))
    for node in projected:
        projected.nodes[node].update(graph.nodes[node])
    return canonical(projected)


def canonical(graph: nx.Graph) -> nx.Graph:
    """The same graph with nodes and edges in sorted order: networkx keeps insertion order,
    and a projection's comes from sets, whose order changes from one process to the next."""
    ordered = nx.Graph()
    ordered.add_nodes_from(sorted(graph.nodes(data=True), key=lambda n: n[0]))
    ordered.add_edges_from(sorted((min(a, b), max(a, b), d) for a, b, d in graph.edges(data=True)))
    return ordered


BETWEENNESS_BUDGET = 5_000_000  # source nodes × edges; beyond, betweenness is sampled


def annotate(graph: nx.Graph) -> dict[str, object]:
    """Per-node metrics written onto the nodes; per-graph metrics returned.

    Exact betweenness costs nodes × edges; beyond BETWEENNESS_BUDGET it is estimated from a
    sample of source nodes (fixed seed, so reproducible) that fits the budget.
    """
    weighted = dict(graph.degree(weight="weight"))
    # betweenness over distances that shrink as links strengthen
    for _, _, data in graph.edges(data=True):
        data["distance"] = 1 / data.get("weight", 1)
    edges = max(1, graph.number_of_edges())
    sample = max(20, BETWEENNESS_BUDGET // edges)
    sampled = len(graph) * edges > BETWEENNESS_BUDGET and sample < len(graph)
    # unweighted graphs (the bipartite one) need breadth-first search, not Dijkstra: far faster
    weighted_links = any(d.get("weight", 1) != 1 for _, _, d in graph.edges(data=True))
    betweenness = nx.betweenness_centrality(
        graph, weight="distance" if weighted_links else None, k=sample if sampled else None,
        seed=0) if len(graph) else {}
    communities = nx.community.louvain_communities(graph, weight="weight", seed=0) \
        if graph.number_of_edges() else [{n} for n in graph]
    community_of = {n: i for i, members in enumerate(sorted(communities, key=lambda c: sorted(c)))
                    for n in members}
    for node in graph:
        graph.nodes[node].update(degree=graph.degree(node), weighted_degree=weighted[node],
                                 betweenness=round(betweenness.get(node, 0.0), 6),
                                 community=community_of[node])
    for _, _, data in graph.edges(data=True):
        del data["distance"]
    return {"nodes": graph.number_of_nodes(), "edges": graph.number_of_edges(),
            "components": nx.number_connected_components(graph) if len(graph) else 0,
            "density": round(nx.density(graph), 6) if len(graph) > 1 else 0.0,
            "communities": len(communities),
            "betweenness": f"estimated from {sample} sources" if sampled else "exact"}


def write(graph: nx.Graph, fmt: str, out: Path) -> list[Path]:
    """Write a graph as GraphML, GEXF, CSV (nodes and edges) or a PNG/SVG drawing."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "graphml":
        nx.write_graphml(graph, out)
        return [out]
    if fmt == "gexf":
        # networkx stamps today's date in <meta>: drop it, same graph must give same bytes
        text = "\n".join(nx.generate_gexf(graph)) + "\n"
        out.write_text(re.sub(r'<meta lastmodifieddate="[^"]*">', "<meta>", text, count=1),
                       encoding="utf-8")
        return [out]
    if fmt == "csv":
        edges = out.with_name(out.stem + ".edges.csv") if out.suffix == ".csv" else \
            out.with_name(out.name + ".edges.csv")
        out.write_text(nodes_csv(graph), encoding="utf-8")
        edges.write_text(edges_csv(graph), encoding="utf-8")
        return [out, edges]
    if fmt in ("png", "svg"):
        draw(graph, out, fmt)
        return [out]
    raise ValueError(f"unknown network format {fmt!r}: graphml, gexf, csv, png or svg")


def nodes_csv(graph: nx.Graph) -> str:
    buffer = io.StringIO()
    fields = ["id", "label", "kind", "degree", "weighted_degree", "betweenness", "community"]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for node in sorted(graph):
        writer.writerow({"id": node, **graph.nodes[node]})
    return buffer.getvalue()


def edges_csv(graph: nx.Graph) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["source", "target", "weight"])
    for a, b, data in sorted(graph.edges(data=True), key=lambda e: tuple(sorted(e[:2]))):
        source, target = sorted((a, b))
        writer.writerow([source, target, data.get("weight", 1)])
    return buffer.getvalue()


def layout(graph: nx.Graph) -> dict:
    """Each connected component laid out on its own (fixed seed), largest first, in a grid:
    one spring layout for all would fling small components to the edges."""
    import math

    components = sorted((sorted(c) for c in nx.connected_components(graph)),
                        key=lambda c: (-len(c), c))
    columns = max(1, math.ceil(math.sqrt(len(components))))
    positions = {}
    for i, nodes in enumerate(components):
        sub = graph.subgraph(nodes)
        local = nx.spring_layout(sub, seed=0, weight="weight") if len(nodes) > 1 \
            else {nodes[0]: (0.0, 0.0)}
        size = 1.0 if i == 0 else 0.5
        x0, y0 = (i % columns) * 2.5, -(i // columns) * 2.5
        for node, (x, y) in local.items():
            positions[node] = (x0 + size * x, y0 + size * y)
    return positions


def draw(graph: nx.Graph, out: Path, fmt: str) -> None:
    """A static drawing (spring layout with a fixed seed; thicker edges for more sharing)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(12, 9), dpi=100)
    positions = layout(graph)
    widths = [0.5 + data.get("weight", 1) for _, _, data in graph.edges(data=True)]
    colors = [graph.nodes[n].get("community", 0) for n in graph]
    nx.draw_networkx_edges(graph, positions, ax=axes, width=widths, alpha=0.4)
    nx.draw_networkx_nodes(graph, positions, ax=axes, node_color=colors, cmap="tab20",
                           node_size=[80 + 40 * graph.degree(n) for n in graph])
    nx.draw_networkx_labels(graph, positions, ax=axes, font_size=7,
                            labels={n: graph.nodes[n].get("label", n)[:30] for n in graph})
    axes.set_axis_off()
    figure.tight_layout()
    metadata = {"Software": "senacs-kg"} if fmt == "png" else {"Date": None}
    figure.savefig(out, format=fmt, metadata=metadata)
    plt.close(figure)

"""Shared-partner networks from the server: the release's files, JSON for the view, the view.

The release carries the networks (computed at build time through SPARQL, see
``senacs-kg network``); the server reads them from there, adds a layout for
the browser, and offers the files for download.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, render_template, request, send_file

from endpoint import spreadsheet
from endpoint.conneg import file_type
from endpoint.errors import ProtocolError
from endpoint.state import server_state

bp = Blueprint("network", __name__)
VIEW_MAX_NODES = 400  # the view shows the most connected nodes beyond this
GRAPHS = ("structures", "partners", "bipartite")


def _folder() -> Path:
    return Path(str(current_app.config["RELEASE_DIR"])) / "network"


@lru_cache(maxsize=8)
def _view(path: str, mtime: float) -> dict:
    """Nodes with positions and metrics, and edges, as the view draws them."""
    import networkx as nx

    from analysis.network import layout

    graph = nx.read_graphml(path)
    total = graph.number_of_nodes()
    if total > VIEW_MAX_NODES:
        keep = sorted(graph, key=lambda n: (-graph.nodes[n].get("weighted_degree", 0), n))
        graph = graph.subgraph(keep[:VIEW_MAX_NODES]).copy()
    positions = layout(graph)
    nodes = [{"id": n, **graph.nodes[n], "x": round(positions[n][0], 4),
              "y": round(positions[n][1], 4)} for n in sorted(graph)]
    edges = [{"source": a, "target": b, "weight": d.get("weight", 1)}
             for a, b, d in sorted(graph.edges(data=True))]
    return {"nodes": nodes, "edges": edges, "shown": len(nodes), "total": total}


@bp.route("/network/")
def view() -> Response:
    available = [g for g in GRAPHS if (_folder() / f"{g}.graphml").is_file()]
    if not available:
        raise ProtocolError(404, "this release has no network files")
    stats = json.loads((_folder() / "network.json").read_text(encoding="utf-8"))
    return Response(render_template("network.html", graphs=available, stats=stats),
                    content_type="text/html; charset=utf-8")


@bp.route("/network/<name>.view.json")
def view_json(name: str) -> Response:
    path = _folder() / f"{name}.graphml"
    if name not in GRAPHS or not path.is_file():
        raise ProtocolError(404, f"no network {name!r} in this release")
    data = _view(str(path), path.stat().st_mtime)
    return Response(json.dumps(data, ensure_ascii=False), content_type="application/json")


@bp.route("/network/<path:name>")
def download(name: str) -> Response:
    listed = server_state().manifest["files"].get(f"network/{name}")
    if listed is None:
        raise ProtocolError(404, f"no file {name!r} among the release's network files")
    path = _folder() / name
    if request.args.get(spreadsheet.PARAMETER) == spreadsheet.VALUE and path.suffix == ".csv":
        return spreadsheet.csv_file(path, listed["sha256"])  # the network page's CSV links
    return send_file(path, mimetype=file_type(path.suffix),
                     conditional=True, etag=listed["sha256"], as_attachment=False)

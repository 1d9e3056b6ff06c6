"""The rooms keep their doors: who may import whom (../shared/DESIGN.md, "Dependencies point one way")."""

from __future__ import annotations

import ast
from pathlib import Path

from mapping.paths import REPO_ROOT

# endpoint reads releases: it may use the IRI rules, the release format and the data folders.
ENDPOINT_MAY_IMPORT = {"mapping.vocab", "mapping.release", "mapping.paths", "mapping.lifetime"}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module in ("mapping", "endpoint"):
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # submodules
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
            found |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    return found


def test_mapping_never_imports_endpoint_but_for_the_serve_command():
    for path in sorted((REPO_ROOT / "mapping").glob("*.py")):
        reached = {m for m in imports(path) if m == "endpoint" or m.startswith("endpoint.")}
        if path.name == "cli.py":  # `senacs-kg serve`: the single user door starts the server
            assert reached <= {"endpoint.app", "endpoint.store", "endpoint.config"}
        else:
            assert not reached, f"{path.name} imports {reached}"


def test_endpoint_imports_only_the_release_contract_of_mapping():
    for path in sorted((REPO_ROOT / "endpoint").glob("*.py")):
        reached = {m for m in imports(path) if m == "mapping" or m.startswith("mapping.")}
        assert reached <= ENDPOINT_MAY_IMPORT, f"{path.name} imports {reached - ENDPOINT_MAY_IMPORT}"


def test_analysis_reads_releases_and_knows_no_server():
    """analysis/ (network analysis) is used by the build, the CLI and the server's network
    views: it may read the release contract of mapping, and import nothing of the endpoint."""
    allowed = {"mapping.release", "mapping.vocab", "mapping.paths"}
    for path in sorted((REPO_ROOT / "analysis").glob("*.py")):
        ours = {m for m in imports(path) if m.split(".")[0] in ("mapping", "endpoint")}
        assert ours <= allowed, f"{path.name} imports {ours - allowed}"

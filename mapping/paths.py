"""Where the project's data folders are: the one place that knows the repository layout.

``ontology/``, ``shapes/`` and ``data/`` are data, not code; every module finds
them through these names instead of walking the tree itself.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ONTOLOGY_DIR = REPO_ROOT / "ontology"
SHAPES_DIR = REPO_ROOT / "shapes"
DATA_DIR = REPO_ROOT / "data"
SOURCE_DIR = DATA_DIR / "source"
REFERENCE_DIR = DATA_DIR / "reference"
BUILD_DIR = DATA_DIR / "build"
EXAMPLES_FILE = DATA_DIR / "queries" / "examples.ttl"  # the example-query catalogue


def default_sources() -> list[Path]:
    """The exports a build reads when none are named: ``data/source/*.txt``, sorted."""
    return sorted(SOURCE_DIR.glob("*.txt"))

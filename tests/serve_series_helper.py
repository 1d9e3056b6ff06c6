"""A small release series for the serving tests, made with today's ``senacs-kg build --out``.

Three campaigns from the seed export, each a complete release in ``DIR/{id}``:

- ``2023`` (dated 2023-06-01): every record of the seed;
- ``2024`` (dated 2024-06-01): without the first record, one summary edited, and a hand-made
  ``changes/`` (added.nt.gz, removed.nt.gz, summary.ttl), listed in its manifest, as a series
  publication writes it;
- ``2025`` (no date: its Memento-Datetime is the time its manifest.json was written), without
  the first two records;

and ``series.json`` written by hand as the series contract says. Which actions exist in which
release is read back from the dumps, not assumed from the IRI rules.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import harness
from harness import build_release, dump_text

from mapping.reader import ExportFile

RELEASES = (("2023", "2023-06-01"), ("2024", "2024-06-01"), ("2025", None))
ACTION_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/senacs-kg/def#Action> ."


@dataclass(frozen=True)
class SeriesFixture:
    folder: Path
    actions: dict[str, set[str]]  # release id -> IRIs of its actions

    def only_in(self, *ids: str) -> str:
        """An action IRI held by exactly the releases ``ids``."""
        wanted = set(ids)
        found = sorted(iri for iri in set().union(*self.actions.values())
                       if {r for r, held in self.actions.items() if iri in held} == wanted)
        assert found, f"no action held by exactly {sorted(wanted)}"
        return found[0]


def exports(seed: Path, folder: Path) -> dict[str, Path]:
    """One export per campaign, edited from the seed."""
    export = ExportFile(seed)
    records = list(export.records())
    texts = {"2023": [r.render() for r in records],
             "2024": [r.render() for r in records[1:]],
             "2025": [r.render() for r in records[2:]]}
    edited = texts["2024"][1].replace("- Résumé\n", "- Résumé\nÉdité pour la campagne 2024.\n", 1)
    assert edited != texts["2024"][1], "the record to edit has no summary label"
    texts["2024"][1] = edited
    paths = {}
    for release_id, records_text in texts.items():
        path = paths[release_id] = folder / f"campaign-{release_id}.txt"
        path.write_text("\n".join(export.preamble + records_text) + "\n", encoding="utf-8")
    return paths


def actions_of(release: Path) -> set[str]:
    with io.StringIO(dump_text(release)) as dump:
        return {line.split(" ", 1)[0][1:-1] for line in dump if line.rstrip().endswith(ACTION_TYPE)}


def changes(old: Path, new: Path) -> None:
    """A changeset as the build side publishes it (sorted N-Triples, gzipped, and a summary),
    listed in the new release's manifest."""
    before = set(dump_text(old).splitlines(keepends=True))
    after = set(dump_text(new).splitlines(keepends=True))
    folder = new / "changes"
    folder.mkdir()
    for name, lines in (("added.nt.gz", after - before), ("removed.nt.gz", before - after)):
        with gzip.GzipFile(folder / name, "wb", mtime=0) as out:
            out.write("".join(sorted(lines)).encode("utf-8"))
    (folder / "summary.ttl").write_text(
        "@prefix prov: <http://www.w3.org/ns/prov#> .\n"
        f"<urn:senacs-kg:changes:{new.name}> a prov:Activity .\n", encoding="utf-8")
    manifest = json.loads((new / "manifest.json").read_text(encoding="utf-8"))
    for path in sorted(folder.iterdir()):
        data = path.read_bytes()
        manifest["files"][f"changes/{path.name}"] = {
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (new / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")


def write_series(folder: Path, releases, latest: str) -> None:
    """series.json, replaced atomically (written beside, then renamed), as a publication does."""
    entries, previous = [], None
    for release_id, date in releases:
        entries.append({"id": release_id, "date": date, "previous": previous})
        previous = release_id
    staged = folder / ".series.json.new"
    staged.write_text(json.dumps({"format": 1, "releases": entries, "latest": latest},
                                 indent=1) + "\n", encoding="utf-8")
    os.replace(staged, folder / "series.json")


def make_series(seed: Path, work: Path, releases=RELEASES) -> SeriesFixture:
    """The series of ``releases`` in ``work/series`` (the exports in ``work/exports``)."""
    folder, sources = work / "series", work / "exports"
    folder.mkdir(parents=True)
    sources.mkdir()
    paths = exports(seed, sources)
    previous = None
    for release_id, date in releases:
        out = folder / release_id
        build_release(paths[release_id], out, *(["--release-date", date] if date else []))
        if previous is not None and release_id == "2024":
            changes(previous, out)
        previous = out
    write_series(folder, releases, releases[-1][0])
    return SeriesFixture(folder, {r: actions_of(folder / r) for r, _ in releases})


def start_series(series: Path, store: Path, port: int, **settings) -> subprocess.Popen:
    """``senacs-kg serve --series`` (the development server) with SENACS_KG_* settings, once it
    answers (harness's own start: its own process group, stderr kept in a file)."""
    env = dict(os.environ)
    env.update({f"SENACS_KG_{k}": json.dumps(v) for k, v in settings.items()})
    return harness._start([sys.executable, "-m", "mapping.cli", "serve", "--series", str(series),
                           "--store", str(store), "--port", str(port)], env, port)


@contextmanager
def series_server(series: Path, store: Path, **settings) -> Iterator[tuple[str, subprocess.Popen]]:
    """A server of the series for the ``with`` block: its root URL and its process."""
    port = harness.free_port()
    proc = start_series(series, store, port, **settings)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        harness.stop(proc)


_made: dict[Path, SeriesFixture] = {}


def shared_series(seed: Path, work_factory) -> SeriesFixture:
    """One series per test session, whichever module asks first (``work_factory``: pytest's
    ``tmp_path_factory.mktemp``); the modules only read it."""
    if seed not in _made:
        _made[seed] = make_series(seed, work_factory("series"))
    return _made[seed]

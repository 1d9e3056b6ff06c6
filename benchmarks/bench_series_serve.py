"""Serving a release series: start time once the stores exist, and a pinned query's cost
against the same query on a server of that release alone.

A series of ``--releases`` campaigns of ``--records`` generated records (each campaign drops
1 % more of the records than the one before) is built with ``senacs-kg build --out`` and its
series.json written, then every release's store is made by a first server. Measured, each
server started alone on the 2 cores:

- start: ``senacs-kg serve --series`` until ``/healthz`` answers (the latest store opened,
  its query workers ready), against ``senacs-kg serve --release`` of the latest release on the
  same store (the baseline); target ≤ 5 s;
- queries: the median of ``--repeat`` GET requests of each query with every cache off (the
  store answers each time), at ``/release/{first}/sparql`` of the series server (its store
  opened by a first request, not counted, reported apart) and at ``/sparql`` of a server of
  that release alone, both servers running, their requests alternated; target: no more than
  the single release.

    python benchmarks/bench_series_serve.py                      # 3 campaigns of 10,000 records
    python benchmarks/bench_series_serve.py --releases 10 --records 10000
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import requests
from common import build_release, free_port, generated, stop
from harness import start_server
from serve_series_helper import start_series, write_series

from mapping.reader import ExportFile

NO_CACHE = {"CACHE_ENTRIES": 0, "CACHE_MEMORY_MB": 0, "CACHE_DISK_MB": 0,
            "CACHE_RESPONSES_MB": 0, "WARM_CACHE": False}
PREFIX = "PREFIX senacs: <https://w3id.org/senacs-kg/def#>\nPREFIX dct: <http://purl.org/dc/terms/>\n"
QUERIES = {
    "count actions": "SELECT (COUNT(?a) AS ?n) WHERE { ?a a senacs:Action }",
    "count per keyword": "SELECT ?k (COUNT(?a) AS ?n) WHERE { ?a senacs:keyword ?k } "
                         "GROUP BY ?k ORDER BY DESC(?n) LIMIT 10",
    "titles, first 100": "SELECT ?a ?t WHERE { ?a a senacs:Action ; dct:title ?t } LIMIT 100",
}


def campaigns(source: Path, count: int, folder: Path) -> list[Path]:
    """``count`` exports: campaign i without the first i % of the records."""
    export = ExportFile(source)
    records = [r.render() for r in export.records()]
    paths = []
    for i in range(count):
        path = folder / f"campaign-{i}.txt"
        kept = records[len(records) * i // 100:]
        path.write_text("\n".join(export.preamble + kept) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def make_series(records: int, count: int, work: Path) -> tuple[Path, list[str]]:
    folder = work / "series"
    folder.mkdir()
    ids = [str(2020 + i) for i in range(count)]
    for release_id, export in zip(ids, campaigns(generated(records, work), count, work)):
        started = time.perf_counter()
        build_release(export, folder / release_id, "--release-date", f"{release_id}-06-01",
                      timeout=None)
        print(f"built {release_id} in {time.perf_counter() - started:.1f} s", flush=True)
    write_series(folder, [(i, f"{i}-06-01") for i in ids], ids[-1])
    return folder, ids


def timed_start(start, *args, **settings) -> tuple[float, object]:
    """``start(*args, port, **settings)`` timed until the server answers /healthz."""
    started = time.perf_counter()
    proc = start(*args, free_port(), **settings)
    return time.perf_counter() - started, proc


def ask(url: str, query: str) -> float:
    started = time.perf_counter()
    response = requests.get(url, params={"query": PREFIX + query},
                            headers={"Accept": "application/sparql-results+json"}, timeout=600)
    response.raise_for_status()
    return time.perf_counter() - started


def alternated(one: str, other: str, repeat: int) -> tuple[dict[str, float], dict[str, float]]:
    """The median time of each query at ``one`` and at ``other``, asked in turn."""
    times: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in QUERIES}
    for _ in range(repeat):
        for name, query in QUERIES.items():
            times[name][0].append(ask(one, query))
            times[name][1].append(ask(other, query))
    return ({name: statistics.median(t[0]) for name, t in times.items()},
            {name: statistics.median(t[1]) for name, t in times.items()})


def root_of(proc) -> str:
    return f"http://127.0.0.1:{proc.args[proc.args.index('--port') + 1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--releases", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--starts", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-series-") as tmp:
        work = Path(tmp)
        folder, ids = make_series(args.records, args.releases, work)
        stores = work / "stores"
        first, latest = ids[0], ids[-1]
        # every release's store made once, as the first queries of a series make them
        proc = start_series(folder, stores, free_port(), SERIES_OPEN_STORES=2, **NO_CACHE)
        try:
            for release_id in ids:
                started = time.perf_counter()
                ask(f"{root_of(proc)}/release/{release_id}/sparql", QUERIES["count actions"])
                print(f"store of {release_id} built and opened by its first query in "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
        finally:
            stop(proc)
        series_starts, single_starts = [], []
        for _ in range(args.starts):
            took, proc = timed_start(start_series, folder, stores, **NO_CACHE)
            stop(proc)
            series_starts.append(took)
            took, proc = timed_start(start_server, folder / latest, stores / latest, **NO_CACHE)
            stop(proc)
            single_starts.append(took)
        # both servers up at once, their requests alternated: drift on a shared machine
        # falls on both alike
        series_proc = start_series(folder, stores, free_port(), **NO_CACHE)
        single_proc = start_server(folder / first, stores / first, free_port(), **NO_CACHE)
        try:
            started = time.perf_counter()
            ask(f"{root_of(series_proc)}/release/{first}/sparql", "ASK { ?s ?p ?o }")
            opening = time.perf_counter() - started
            pinned, single = alternated(f"{root_of(series_proc)}/release/{first}/sparql",
                                        f"{root_of(single_proc)}/sparql", args.repeat)
        finally:
            stop(series_proc)
            stop(single_proc)
    print(f"\n{args.releases} releases of {args.records:,} records, stores on disk")
    print(f"start (until /healthz answers, median of {args.starts}): series "
          f"{statistics.median(series_starts):.2f} s, one release {statistics.median(single_starts):.2f} s"
          " (target: series ≤ 5 s)")
    print(f"first query of release {first} (its store opened): {opening * 1000:.0f} ms")
    print(f"query (median of {args.repeat}, caches off) | /release/{first}/sparql | "
          "same release alone | ratio")
    for name in QUERIES:
        print(f"{name} | {pinned[name] * 1000:.1f} ms | {single[name] * 1000:.1f} ms | "
              f"{pinned[name] / single[name]:.2f}")


if __name__ == "__main__":
    main()

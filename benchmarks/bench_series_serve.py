"""Serving a release series: start time once the stores exist, and a pinned query's cost
against the same query on a server of that release alone (the serving half of
benchmarks/bench_series.py, which builds the series with ``senacs-kg build --series``).

Measured, each server started alone on the 2 cores, every answer cache off:

- stores: each release's store made from its dump (``endpoint.store.prepare_store``, as a
  series server makes it on the release's first query) in a process of its own: time, peak
  memory, disk use; a store already made for that release is kept;
- start: ``senacs-kg serve --series`` until ``/healthz`` answers (the latest store opened,
  its query workers ready), against ``senacs-kg serve --release`` of the latest release on
  the same store (the baseline); target ≤ 5 s;
- queries: queries of the example catalogue, the median of ``--repeat`` GET requests of each,
  at ``/release/{first}/sparql`` of the series server (its store opened by a first request,
  not counted, reported apart) and at ``/sparql`` of a server of that release alone, both
  servers running, after a round not counted, their requests alternated (each round starting
  with the other one);
  target: no more than the release alone (within ``--tolerance``, the noise of a shared
  machine).

    python benchmarks/bench_series_serve.py                      # 3 campaigns of 10,000 records
    python benchmarks/bench_series_serve.py --releases 10 --records 10000 --workdir /var/tmp/s
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from common import disk_use, free_port, measured, stop
from harness import start_server
from serve_series_helper import start_series

START_SECONDS = 5
NO_CACHE = {"CACHE_ENTRIES": 0, "CACHE_MEMORY_MB": 0, "CACHE_DISK_MB": 0,
            "CACHE_RESPONSES_MB": 0, "WARM_CACHE": False}
# the same for both servers: caches off, and room for a slow query at 100,000 records
SETTINGS = {**NO_CACHE, "QUERY_TIMEOUT": 300}
# queries of the example catalogue (data/queries/examples.ttl), by their French label: a
# count over every action, an aggregate over amounts, a text search, a join across places
EXAMPLES = ("Actions par mot clé", "Budget par dimension", "Recherche dans le texte",
            "Structures par région")
MAKE_STORE = ("import sys; from pathlib import Path; from endpoint.store import prepare_store; "
              "prepare_store(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])")
STORE_MARKER = "senacs-kg-store.json"  # endpoint/store.py's MARKER


# -- the stores ----------------------------------------------------------------------------------


def manifest_of(release: Path) -> dict:
    return json.loads((release / "manifest.json").read_text(encoding="utf-8"))


def store_ready(release: Path, store: Path) -> bool:
    """Whether ``store`` holds this release already (what prepare_store checks first)."""
    marker = store / STORE_MARKER
    if not marker.is_file():
        return False
    held, manifest = json.loads(marker.read_text(encoding="utf-8")), manifest_of(release)
    return held.get("release") == manifest["release"] and held.get("base") == manifest["base"]


def make_stores(series: Path, stores: Path, ids: list[str], figures: dict,
                keep: Callable[[dict], None]) -> None:
    """Every release's store, made in a process of its own unless it is made already."""
    for release_id in ids:
        release, store = series / release_id, stores / release_id
        if store_ready(release, store):
            continue
        print(f"store of {release_id} …", end=" ", flush=True)
        seconds, peak, _ = measured([sys.executable, "-c", MAKE_STORE, str(release), str(store),
                                     manifest_of(release)["base"]])
        figures["stores"][release_id] = {"seconds": seconds, "peak_mb": peak}
        keep(figures)
        print(f"{seconds:.1f} s, peak {peak:,.0f} MB, {disk_use(store) / 1e6:,.0f} MB on disk",
              flush=True)


# -- starts and queries --------------------------------------------------------------------------


def root_of(proc) -> str:
    return f"http://127.0.0.1:{proc.args[proc.args.index('--port') + 1]}"


def timed_start(start: Callable, *args) -> tuple[float, object]:
    """``start(*args, port, **SETTINGS)`` timed until the server answers /healthz."""
    started = time.perf_counter()
    proc = start(*args, free_port(), **SETTINGS)
    return time.perf_counter() - started, proc


def start_times(series: Path, stores: Path, latest: str, count: int) -> tuple[list[float], list[float]]:
    """``count`` starts of the series server and of the latest release alone, in turn."""
    series_starts, single_starts = [], []
    for _ in range(count):
        took, proc = timed_start(start_series, series, stores)
        stop(proc)
        series_starts.append(took)
        took, proc = timed_start(start_server, series / latest, stores / latest)
        stop(proc)
        single_starts.append(took)
    return series_starts, single_starts


def ask(url: str, query: str) -> tuple[float, int]:
    """One GET of the query: its wall time and the number of rows of its answer."""
    started = time.perf_counter()
    response = requests.get(url, params={"query": query},
                            headers={"Accept": "application/sparql-results+json"}, timeout=600)
    took = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    body = response.json()
    return took, len(body["results"]["bindings"]) if "results" in body else 1


def examples(release: Path) -> dict[str, str]:
    """The benchmark's queries, read from the release's own example catalogue."""
    from endpoint.sparql import load_examples

    found = {e["label"]: e["query"] for e in load_examples(release / "examples.ttl")}
    missing = [label for label in EXAMPLES if label not in found]
    if missing:
        raise SystemExit(f"{release}/examples.ttl has no example labelled {missing}: "
                         "update EXAMPLES in benchmarks/bench_series_serve.py")
    return {label: found[label] for label in EXAMPLES}


@dataclass
class Query:
    pinned: list[float] = field(default_factory=list)
    alone: list[float] = field(default_factory=list)
    rows: tuple[int, int] = (0, 0)  # rows answered pinned and alone (the same release)


def alternated(pinned_url: str, alone_url: str, queries: dict[str, str],
               repeat: int) -> dict[str, Query]:
    """Each query ``repeat`` times at both URLs, in turn, each round starting with the other
    one: drift on a shared machine falls on both alike."""
    found = {name: Query() for name in queries}
    for round_ in range(repeat):
        for name, text in queries.items():
            order = ((pinned_url, found[name].pinned), (alone_url, found[name].alone))
            rows = {}
            for url, times in order if round_ % 2 == 0 else reversed(order):
                took, rows[url] = ask(url, text)
                times.append(took)
            found[name].rows = (rows[pinned_url], rows[alone_url])
    return found


def pinned_costs(series: Path, stores: Path, release_id: str,
                 repeat: int) -> tuple[float, dict[str, Query]]:
    """The first pinned query's time (its store opened) and each query's times, pinned and
    on a server of the release alone, both servers up."""
    queries = examples(series / release_id)
    series_proc = start_series(series, stores, free_port(), **SETTINGS)
    try:
        alone_proc = start_server(series / release_id, stores / release_id, free_port(),
                                  **SETTINGS)
        try:
            pinned_url = f"{root_of(series_proc)}/release/{release_id}/sparql"
            alone_url = f"{root_of(alone_proc)}/sparql"
            opening, _ = ask(pinned_url, "ASK { ?s ?p ?o }")
            alternated(pinned_url, alone_url, queries, 1)  # a round not counted: both warm
            return opening, alternated(pinned_url, alone_url, queries, repeat)
        finally:
            stop(alone_proc)
    finally:
        stop(series_proc)


# -- the figures ---------------------------------------------------------------------------------


@dataclass
class Serving:
    latest: str
    pinned_id: str
    series_starts: list[float]
    single_starts: list[float]
    opening: float  # the first pinned query, its store opened
    queries: dict[str, Query]
    tolerance: float

    @property
    def start(self) -> float:
        return statistics.median(self.series_starts)

    def ratio(self, query: Query) -> float:
        return statistics.median(query.pinned) / statistics.median(query.alone)

    def print_details(self) -> None:
        print(f"\n`serve --series` start until /healthz answers, stores on disk (median of "
              f"{len(self.series_starts)}): {self.start:.2f} s (target ≤ {START_SECONDS} s: "
              f"{'met' if self.start <= START_SECONDS else 'NOT met'}); `serve --release "
              f"{self.latest}` alone: {statistics.median(self.single_starts):.2f} s")
        print(f"first query of release {self.pinned_id} (its store opened): "
              f"{self.opening * 1000:,.0f} ms")
        print(f"\n| query (median of {len(next(iter(self.queries.values())).pinned)}, caches "
              f"off) | rows | /release/{self.pinned_id}/sparql | same release alone | ratio | "
              f"target ≤ {1 + self.tolerance:.2f} |")
        print("|---|---|---|---|---|---|")
        for name, query in self.queries.items():
            same = "" if query.rows[0] == query.rows[1] else f" (alone: {query.rows[1]:,}!)"
            print(f"| {name} | {query.rows[0]:,}{same} | "
                  f"{statistics.median(query.pinned) * 1000:,.1f} ms | "
                  f"{statistics.median(query.alone) * 1000:,.1f} ms | {self.ratio(query):.2f} | "
                  f"{'met' if self.ratio(query) <= 1 + self.tolerance else 'NOT met'} |")

    def rows(self) -> list[str]:
        """The summary table's rows for the serving targets."""
        out = [f"| `serve --series` start, stores on disk (median of {len(self.series_starts)}; "
               f"one release alone: {statistics.median(self.single_starts):.2f} s) | "
               f"{self.start:.2f} s | ≤ {START_SECONDS} s | "
               f"{'met' if self.start <= START_SECONDS else 'NOT met'} |",
               f"| first query of release {self.pinned_id}, its store opened | "
               f"{self.opening:.2f} s | | |"]
        for name, query in self.queries.items():
            ratio = self.ratio(query)
            out.append(f"| {name}: pinned / alone (median of {len(query.pinned)}) | "
                       f"{statistics.median(query.pinned) * 1000:,.1f} / "
                       f"{statistics.median(query.alone) * 1000:,.1f} ms ({ratio:.2f}) | "
                       f"≤ 1 (+{self.tolerance:.0%} noise) | "
                       f"{'met' if ratio <= 1 + self.tolerance else 'NOT met'} |")
        return out


def measure_serving(series: Path, stores: Path, ids: list[str], figures: dict,
                    keep: Callable[[dict], None], repeat: int = 15, starts: int = 3,
                    tolerance: float = 0.10, pin: str | None = None) -> Serving:
    """The serving figures of the series ``ids`` (stores made first where missing)."""
    latest, pinned_id = ids[-1], pin or ids[0]
    if pinned_id not in ids:
        raise SystemExit(f"--pin {pinned_id}: the series has no such release ({', '.join(ids)})")
    make_stores(series, stores, ids, figures, keep)
    print(f"starting servers ({starts} × 2) …", end=" ", flush=True)
    series_starts, single_starts = start_times(series, stores, latest, starts)
    print(f"querying release {pinned_id} ({repeat} rounds) …", flush=True)
    opening, queries = pinned_costs(series, stores, pinned_id, repeat)
    return Serving(latest, pinned_id, series_starts, single_starts, opening, queries, tolerance)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--releases", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--tolerance", type=float, default=0.10)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="as bench_series.py's: kept, and resumed from")
    args = parser.parse_args()
    import tempfile

    from bench_series import run

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senacs-bench-series-"))
    print(f"work folder: {workdir}", flush=True)
    run(args.records, args.releases, workdir, diff=False,
        serve_options={"repeat": args.repeat, "starts": args.starts,
                       "tolerance": args.tolerance})


if __name__ == "__main__":
    main()

"""A researcher query mix against our endpoint, rdflib-endpoint and Virtuoso, on the same dump.

For each size (default 10,000 and 100,000 generated records) a release is
built, then served by:

- senacs-kg under gunicorn, one worker per core as for production, with its caches off
  ("cold") and on ("cached": answers, and whole responses replayed in front of Flask);
- the cached configuration under granian, the other production server;
- rdflib-endpoint (PyPI; rdflib's in-memory store), up to --rdflib-max records
  (it needs minutes and GBs to load beyond that);
- Virtuoso (Debian's virtuoso-opensource) loaded with dataset.nt.

Each query of the mix is measured for median latency (5 sequential requests
after one warm-up; the "first" column is the very first request) and for
throughput with 8 concurrent clients for a few seconds (wrk's connections
when Debian's wrk is installed, else Python threads, --client). Targets (issue #5):
at least 10x rdflib-endpoint's throughput on every query; median latency no
worse than Virtuoso's on every query.

    pip install rdflib-endpoint uvicorn     # the baseline, not a project dependency
    python benchmarks/bench_queries.py
    python benchmarks/bench_queries.py --records 10000 --seconds 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
from common import free_port, release_of, run_wrk, serve_granian, serve_gunicorn, stop, wait_for

P = """PREFIX senacs: <https://w3id.org/senacs-kg/def#>
PREFIX schema: <https://schema.org/>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
B = "https://w3id.org/senacs-kg/"
MIX = {
    "action description": P + f"""SELECT ?p ?o WHERE {{
        <{B}action/centre-social-reynerie-31/ateliers-sociolinguistiques> ?p ?o }}""",
    "count per keyword": P + """SELECT ?k (COUNT(?a) AS ?n) WHERE { ?a senacs:keyword ?k }
        GROUP BY ?k ORDER BY DESC(?n)""",
    # all pairs at once is the network analysis' job (senacs-kg network); a researcher asks
    # which structures share partners with one structure
    "shared partners": P + f"""SELECT ?other (COUNT(DISTINCT ?o) AS ?shared) WHERE {{
        ?a1 schema:agent <{B}structure/centre-social-reynerie-31> ; senacs:resolvedPartner ?o .
        ?a2 senacs:resolvedPartner ?o ; schema:agent ?other .
        FILTER(?other != <{B}structure/centre-social-reynerie-31>) }}
        GROUP BY ?other ORDER BY DESC(?shared) ?other LIMIT 20""",
    "text search": P + """SELECT ?a ?t WHERE { ?a senacs:summary ?s ; dcterms:title ?t .
        FILTER(CONTAINS(LCASE(STR(?s)), "numérique")) } LIMIT 50""",
    "budget per dimension": P + """SELECT ?d (SUM(?v) AS ?total) (COUNT(?a) AS ?n) WHERE {
        ?a senacs:dimension ?d ; senacs:budgetTotal/schema:value ?v } GROUP BY ?d""",
    "paging": P + """SELECT ?a ?t WHERE { ?a a senacs:Action ; dcterms:title ?t }
        ORDER BY ?t LIMIT 20 OFFSET 200""",
    "construct structure": P + f"""CONSTRUCT {{ ?s ?p ?o . ?a schema:agent ?s }} WHERE {{
        BIND(<{B}structure/centre-social-reynerie-31> AS ?s) {{ ?s ?p ?o }} UNION
        {{ ?a schema:agent ?s }} }}""",
    "describe partner": f"DESCRIBE <{B}organisation/caf-31>",
}
GRAPH_QUERIES = {"construct structure", "describe partner"}
CLIENT = "wrk" if shutil.which("wrk") else "python"  # --client
WORKERS = os.cpu_count() or 1  # our gunicorn workers (--workers)


def ask(url: str, name: str, session: requests.Session) -> float:
    accept = "application/n-triples" if name in GRAPH_QUERIES else \
        "application/sparql-results+json"
    start = time.perf_counter()  # GET, as the throughput runs and SPARQLWrapper send it
    response = session.get(url, params={"query": MIX[name]}, headers={"Accept": accept},
                           timeout=600)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"{url}: {name}: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed


def _clients(url: str, name: str, seconds: float, clients: int = 8) -> int:
    """Requests completed by ``clients`` threads asking ``name`` for ``seconds``."""
    done = [0]
    stop = time.monotonic() + seconds
    lock = threading.Lock()

    def client() -> None:
        own = requests.Session()
        while time.monotonic() < stop:
            ask(url, name, own)
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0]


def _wrk(url: str, name: str, seconds: float, clients: int = 8) -> float:
    """Requests per second that wrk (C, one connection per client) gets for ``name``: the
    server's throughput without the Python client's own cost on the same 2 cores."""
    accept = "application/n-triples" if name in GRAPH_QUERIES else \
        "application/sparql-results+json"
    parts = urlsplit(url)
    path = (parts.path or "/") + ("&" if parts.query else "?") + "query=" + quote(MIX[name], safe="")
    with tempfile.TemporaryDirectory(prefix="senacs-wrk-") as work:
        requests_file = Path(work) / "requests.tsv"
        requests_file.write_text(f"{path}\t{accept}\n", encoding="utf-8")
        figures = run_wrk(f"{parts.scheme}://{parts.netloc}", requests_file, seconds, clients,
                          Path(work), timeout=60)
    if figures["errors"]:
        raise SystemExit(f"{url}: {name}: wrk saw {figures['errors']} errors: {figures}")
    return figures["requests"] / figures["seconds"]


def measure(url: str, seconds: float) -> dict[str, dict[str, float]]:
    figures = {}
    for name in MIX:
        session = requests.Session()
        first = ask(url, name, session)
        latencies = [ask(url, name, session) for _ in range(5)]
        if CLIENT == "wrk":
            throughput = _wrk(url, name, seconds)
        else:
            start, done = time.monotonic(), _clients(url, name, seconds)
            throughput = done / (time.monotonic() - start)
        figures[name] = {"first": first, "median": statistics.median(latencies),
                         "throughput": throughput}
    return figures


SETTINGS = {"WARM_CACHE": False, "QUERY_TIMEOUT": 120, "ROW_CAP": 100000, "QUERY_WORKERS": 2}


def serve_ours(release: Path, store: Path, cache: bool) -> tuple[str, subprocess.Popen]:
    # as the README advises for production: gunicorn, one worker process per core
    root, proc = serve_gunicorn(release, store, WORKERS, 16, CACHE_ENTRIES=512 if cache else 0,
                                CACHE_DISK_MB=512 if cache else 0, **SETTINGS)
    return root + "/sparql", proc


def serve_ours_granian(release: Path, store: Path) -> tuple[str, subprocess.Popen]:
    """The cached configuration under granian, the other production server."""
    root, proc = serve_granian(release, store, WORKERS, 16, **SETTINGS)
    return root + "/sparql", proc


def serve_rdflib(dump: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    exe = shutil.which("rdflib-endpoint") or str(Path(sys.executable).parent / "rdflib-endpoint")
    proc = subprocess.Popen([exe, "serve", str(dump), "--host", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"  # rdflib-endpoint's CLI serves SPARQL at the root
    wait_for(url + "?query=ASK%20%7B%7D", proc, 3600)
    return url, proc


def report(n: int, results: dict[str, dict]) -> None:
    names = list(results)
    print(f"\n  median latency in ms (first request in brackets) and throughput at 8 clients "
          f"(requests/s), {n:,} records")
    print("  " + f"{'query':<22}" + "".join(f"{s:>26}" for s in names))
    for query in MIX:
        cells = []
        for server in names:
            f = results[server].get(query)
            cells.append(f"{f['median'] * 1000:8.1f} ({f['first'] * 1000:7.0f}) {f['throughput']:7.1f}/s"
                         if f else f"{'not run':>26}")
        print("  " + f"{query:<22}" + "".join(f"{c:>26}" for c in cells))
    for label, server in (("senacs-kg cached", "gunicorn"), ("senacs-kg granian", "granian")):
        ours = results.get(label)
        for other, rule in (("rdflib-endpoint", "throughput >= 10x"), ("virtuoso", "median <=")):
            if ours is None or other not in results:
                continue
            misses = []
            for query in MIX:
                mine, theirs = ours[query], results[other][query]
                ok = (mine["throughput"] >= 10 * theirs["throughput"]) \
                    if other == "rdflib-endpoint" else (mine["median"] <= theirs["median"])
                if not ok:
                    misses.append(query)
            print(f"  target under {server} vs {other} ({rule}): "
                  + ("met on every query" if not misses else "NOT met on " + ", ".join(misses)))


def bench(n: int, workdir: Path, seconds: float, rdflib_max: int) -> None:
    from virtuoso import Virtuoso, available

    release = release_of(n, workdir)
    print(f"\n== {n:,} records")
    results: dict[str, dict] = {}
    servers = [("senacs-kg cold", lambda: serve_ours(release, workdir / f"store_{n}", False)),
               ("senacs-kg cached", lambda: serve_ours(release, workdir / f"store_{n}", True)),
               ("senacs-kg granian", lambda: serve_ours_granian(release, workdir / f"store_{n}"))]
    for label, serve in servers:
        start = time.monotonic()
        url, proc = serve()
        print(f"  {label}: ready in {time.monotonic() - start:.1f} s (store built once, "
              "then reopened)")
        try:
            results[label] = measure(url, seconds)
        finally:
            stop(proc)
    if n <= rdflib_max:
        start = time.monotonic()
        url, proc = serve_rdflib(release / "dataset.nt")
        print(f"  rdflib-endpoint: loaded in {time.monotonic() - start:.1f} s")
        try:
            results["rdflib-endpoint"] = measure(url, seconds)
        finally:
            stop(proc)
    else:
        print(f"  rdflib-endpoint: not run above {rdflib_max:,} records (--rdflib-max)")
    if available():
        start = time.monotonic()
        with Virtuoso(workdir / f"virtuoso_{n}", release) as virtuoso:
            print(f"  virtuoso: started and loaded in {time.monotonic() - start:.1f} s")
            results["virtuoso"] = measure(virtuoso.endpoint, seconds)
    else:
        print("  virtuoso: not installed (apt-get install virtuoso-opensource)")
    report(n, results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=lambda s: int(float(s)), nargs="+",
                        default=[10_000, 100_000])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="duration of each throughput run")
    parser.add_argument("--rdflib-max", type=lambda s: int(float(s)), default=10_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--client", choices=["wrk", "python"], default=CLIENT,
                        help="who sends the throughput runs' requests (default: wrk if found)")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help="our gunicorn worker processes (default: one per core)")
    args = parser.parse_args()
    globals()["CLIENT"], globals()["WORKERS"] = args.client, args.workers
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senacs-bench-q-"))
    workdir.mkdir(parents=True, exist_ok=True)
    for n in sorted(args.records):
        bench(n, workdir, args.seconds, args.rdflib_max)


if __name__ == "__main__":
    main()

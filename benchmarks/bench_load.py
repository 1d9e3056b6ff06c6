"""Load: the query mix and resource pages at 64 connections through a production server, with wrk.

A release of generated records (default 100,000) is served by gunicorn
(gthread workers) or, with --server granian, by granian, with the default
settings (answer caches on, 10 s query timeout). A request list is drawn from
the release itself: the researcher query mix of bench_queries.py for many
different actions, structures and words, and the HTML and RDF pages of actions,
structures, organisations and concepts. wrk (Debian's package) replays it for
--seconds at --connections and stops by itself; its Lua hooks count every non-2xx
answer.

Every distinct request is first sent once (the warm-up: cold aggregates take
seconds on Oxigraph and are then answered from the shared disk cache); then two
runs of the same length:
  1. the load alone;
  2. the same load while a runaway query (a three-way cartesian product) is sent
     again and again: each one holds a query worker until the timeout stops it.

Targets (issue #8): 0 errors in both runs (the runaway's own 503s are counted
apart, they are the expected answer); the others' p99 with the runaway at
most twice the p99 without.

    apt-get install wrk
    python benchmarks/bench_load.py
    python benchmarks/bench_load.py --records 10000 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import requests
from common import SERVERS, release_of, run_wrk, stop
from questions import MIX, P

RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
WORDS = ["numérique", "jardin", "parents", "jeunes", "santé", "sport", "cuisine", "emploi",
         "vacances", "culture", "langue", "accès aux droits"]
JSON_RESULTS = "application/sparql-results+json"


def _select(root: str, query: str) -> list[str]:
    answer = requests.get(root + "/sparql", params={"query": P + query}, timeout=300,
                          headers={"Accept": JSON_RESULTS}).json()
    return [row["x"]["value"] for row in answer["results"]["bindings"]]


def request_list(root: str, base: str, seed: int = 0) -> list[tuple[str, str]]:
    """(path, Accept) pairs: the query mix over many resources, and resource pages."""
    rng = random.Random(seed)
    actions = _select(root, "SELECT ?x WHERE { ?x a senacs:Action } LIMIT 2000")
    structures = _select(root, "SELECT DISTINCT ?x WHERE { ?a schema:agent ?x } LIMIT 500")
    organisations = _select(root, "SELECT DISTINCT ?x WHERE { ?a senacs:resolvedPartner ?x }")
    concepts = _select(root, "SELECT DISTINCT ?x WHERE { ?a senacs:keyword ?x }")

    def sparql(query: str, accept: str = JSON_RESULTS) -> tuple[str, str]:
        return "/sparql?query=" + quote(query, safe=""), accept

    def page(iri: str, suffix: str = "") -> tuple[str, str]:
        return "/" + iri[len(base):] + suffix, "text/html"

    a_sample = rng.sample(actions, min(300, len(actions)))
    s_sample = rng.sample(structures, min(100, len(structures)))
    out: list[tuple[str, str]] = []
    for action in a_sample:
        out.append(sparql(P + f"SELECT ?p ?o WHERE {{ <{action}> ?p ?o }}"))
        out.append(page(action))
        out.append(page(action, rng.choice([".ttl", ".jsonld", ".nt"])))
    for structure in s_sample:
        out.append(sparql(MIX["construct structure"].replace(
            base + "structure/centre-social-reynerie-31", structure), "text/turtle"))
        out.append(page(structure))
    for word in WORDS:
        out.append(sparql(MIX["text search"].replace("numérique", word)))
    # the mix's aggregates as they are (seconds each cold at 100k on Oxigraph: see
    # bench_queries.py); varied, each would be a cold aggregate again
    for name in ("count per keyword", "budget per dimension", "shared partners", "paging"):
        out.extend([sparql(MIX[name])] * 10)
    out.extend(page(iri) for iri in organisations + concepts)
    out.extend(sparql(f"DESCRIBE <{iri}>", "text/turtle") for iri in organisations)
    out.append(("/", "text/html"))
    rng.shuffle(out)
    return out


def warm_up(root: str, pairs: list[tuple[str, str]]) -> list[str]:
    """Each distinct request once, one at a time (the answer cache is then shared by the
    server's processes, on disk); the paths that did not get a 200."""
    failed = []
    for path, accept in sorted(set(pairs)):
        response = requests.get(root + path, headers={"Accept": accept}, timeout=120)
        if response.status_code != 200:
            failed.append(f"{response.status_code} {path[:120]}")
    return failed


class Runaway(threading.Thread):
    """Sends the runaway query again and again until stopped; counts the answers it gets."""

    def __init__(self, root: str) -> None:
        super().__init__(daemon=True)
        self.root, self.answers, self.halt = root, {}, threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                status = requests.get(self.root + "/sparql", params={"query": RUNAWAY},
                                      timeout=120).status_code
            except requests.RequestException as err:
                status = type(err).__name__
            self.answers[status] = self.answers.get(status, 0) + 1


def line(label: str, f: dict) -> str:
    return (f"  {label:<22} {f['requests'] / f['seconds']:8.1f} req/s  p50 {f['p50_ms']:7.1f} ms"
            f"  p90 {f['p90_ms']:7.1f} ms  p99 {f['p99_ms']:7.1f} ms  max {f['max_ms']:7.0f} ms"
            f"  errors {f['errors']} ({f['requests']:,} requests)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=lambda s: int(float(s)), default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--server", choices=sorted(SERVERS), default="gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--threads", type=int, default=32, help="threads per worker")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senacs-bench-load-"))
    workdir.mkdir(parents=True, exist_ok=True)
    release = release_of(args.records, workdir)
    base = json.loads((release / "manifest.json").read_text(encoding="utf-8"))["base"]
    start = time.monotonic()
    root, proc = SERVERS[args.server](release, workdir / f"store_{args.records}", args.workers,
                                      args.threads)
    try:
        print(f"== {args.records:,} records; {args.server} {args.workers} workers x {args.threads} "
              f"threads, ready in {time.monotonic() - start:.1f} s; wrk {args.connections} "
              f"connections, {args.seconds:g} s per run")
        pairs = request_list(root, base)
        requests_file = workdir / "requests.tsv"
        requests_file.write_text("".join(f"{p}\t{a}\n" for p, a in pairs), encoding="utf-8")
        print(f"  {len(pairs):,} distinct requests: the query mix over "
              "many resources and the resource pages (HTML and RDF)")
        start = time.monotonic()
        failed = warm_up(root, pairs)
        print(f"  warm-up: every distinct request once, in {time.monotonic() - start:.1f} s "
              f"({len(failed)} failed{': ' if failed else ''}{'; '.join(failed[:5])}); "
              "the runs below measure the steady state (cold figures: "
              "bench_queries.py, bench_scale.py)")
        alone = run_wrk(root, requests_file, args.seconds, args.connections, workdir)
        print(line("load alone", alone))
        runaway = Runaway(root)
        runaway.start()
        time.sleep(1)  # the first runaway is running before the load starts
        loaded = run_wrk(root, requests_file, args.seconds, args.connections, workdir)
        runaway.halt.set()
        print(line("load + runaway", loaded))
        runaway.join(60)
        print(f"  runaway queries answered: {runaway.answers} (503 = stopped at the timeout)")
    finally:
        stop(proc)
    errors_ok = alone["errors"] == 0 and loaded["errors"] == 0
    ratio = loaded["p99_ms"] / alone["p99_ms"]
    print(f"  target 0 errors: {'met' if errors_ok else 'NOT met'}")
    print(f"  target p99 with the runaway <= 2x without: {ratio:.2f}x, "
          f"{'met' if ratio <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()

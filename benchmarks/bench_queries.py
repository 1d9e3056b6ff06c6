"""A researcher query mix against our endpoint, rdflib-endpoint and Virtuoso, on the same dump.

For each size (default 10,000 and 100,000 generated records) a release is
built, then served by:

- senacs-kg under gunicorn, one worker per core as for production, with its caches off
  ("cold") and on ("cached": answers, and whole responses replayed in front of Flask);
- pyoxigraph in a process of its own on the very store folder the server used (no HTTP,
  no guard, no worker processes): the engine's own time, so that the HTTP layer's cost shows;
- the cached configuration under granian, the other production server;
- rdflib-endpoint (PyPI; rdflib's in-memory store), up to --rdflib-max records
  (it needs minutes and GBs to load beyond that), on the mix only;
- Virtuoso (Debian's virtuoso-opensource) loaded with dataset.nt.gz.

The questions are benchmarks/questions.py's: the mix (issue #5) and issue #18's new ones.
Each is measured for median latency (5 sequential requests after one warm-up; the "first"
column is the very first request) and, unless --no-throughput, for throughput with 8
concurrent clients for a few seconds (wrk's connections when Debian's wrk is installed, else
Python threads, --client). Before the queries, readiness: the time from a server start on a
fresh store folder (the release not yet loaded) to the first answered question, and from a
restart onto that store to the first answer.

Targets, issue #5: at least 10x rdflib-endpoint's throughput, median no worse than
Virtuoso's, on every query of the mix (cached). Issue #18: every question answered cold in
<= 1 s median up to 100,000 records, <= 5 s above; the HTTP overhead over in-process
pyoxigraph <= 10 % on every question whose in-process median is over 50 ms; the same answers
as Virtuoso's; ready <= 25 s after a new 100,000-record release, <= 2 s after a restart.

    pip install rdflib-endpoint uvicorn     # the baseline, not a project dependency
    python benchmarks/bench_queries.py
    python benchmarks/bench_queries.py --records 10000 --seconds 3
    python benchmarks/bench_queries.py --records 1e6 --no-throughput --workdir /big/bench
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit

import requests
from answers import compare
from common import free_port, release_of, run_wrk, serve_granian, serve_gunicorn, stop, wait_for
from questions import GRAPH_QUERIES, MIX, QUESTIONS

from endpoint.store import term_json  # the rows in the SPARQL JSON shape the server sends
from mapping.vocab import SHORTCUTS  # the senacs: direct shortcut properties

CLIENT = "wrk" if shutil.which("wrk") else "python"  # --client
WORKERS = os.cpu_count() or 1  # our gunicorn workers (--workers)
BASE = "https://w3id.org/senacs-kg/"  # the release's base (the store's query base IRI)
SENACS = BASE + "def#"
RUNS = 5  # timed runs after the warm-up
OVERHEAD_FLOOR = 0.050  # s: the HTTP overhead rule applies above this in-process median
OVERHEAD_MAX = 0.10
READY_TARGET, RESTART_TARGET = 25.0, 2.0  # s, at 100,000 records (issue #18)


def cold_target(n: int) -> float:
    """Issue #18's bound on a question's cold median at ``n`` records (seconds)."""
    return 1.0 if n <= 100_000 else 5.0


def accept_of(name: str) -> str:
    return "application/n-triples" if name in GRAPH_QUERIES else "application/sparql-results+json"


def request(url: str, name: str, session: requests.Session) -> tuple[float, requests.Response]:
    """One question asked by GET (as the throughput runs and SPARQLWrapper send it): its
    time and the response; SystemExit on anything but 200."""
    start = time.perf_counter()
    response = session.get(url, params={"query": QUESTIONS[name]},
                           headers={"Accept": accept_of(name)}, timeout=600)
    elapsed = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"{url}: {name}: HTTP {response.status_code}: {response.text[:300]}")
    return elapsed, response


def ask(url: str, name: str, session: requests.Session) -> float:
    return request(url, name, session)[0]


def answer_of(name: str, response: requests.Response) -> dict:
    """The answer a response carries (answers.py's shape); ``partial`` where the server says
    it stopped early (Virtuoso's anytime queries answer 200 with X-SQL-State set)."""
    if name in GRAPH_QUERIES:
        answer = {"triples": sum(1 for line in response.text.splitlines()
                                 if line.strip() and not line.startswith("#"))}
    else:
        body = response.json()
        answer = {"boolean": body["boolean"]} if "boolean" in body else \
            {"vars": body["head"]["vars"], "rows": body["results"]["bindings"]}
    state = response.headers.get("X-SQL-State")
    if state:
        answer["partial"] = f"{state}: {response.headers.get('X-SQL-Message', '')}"[:200]
    return answer


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
    parts = urlsplit(url)
    path = (parts.path or "/") + ("&" if parts.query else "?") + "query=" + \
        quote(QUESTIONS[name], safe="")
    with tempfile.TemporaryDirectory(prefix="senacs-wrk-") as work:
        requests_file = Path(work) / "requests.tsv"
        requests_file.write_text(f"{path}\t{accept_of(name)}\n", encoding="utf-8")
        figures = run_wrk(f"{parts.scheme}://{parts.netloc}", requests_file, seconds, clients,
                          Path(work), timeout=60)
    if figures["errors"]:
        raise SystemExit(f"{url}: {name}: wrk saw {figures['errors']} errors: {figures}")
    return figures["requests"] / figures["seconds"]


def throughput_of(url: str, name: str, seconds: float) -> float:
    if CLIENT == "wrk":
        return _wrk(url, name, seconds)
    start, done = time.monotonic(), _clients(url, name, seconds)
    return done / (time.monotonic() - start)


def measure(url: str, seconds: float | None, names=QUESTIONS) -> dict[str, dict]:
    """Per question: first request, median of RUNS after it, the last answer, and the
    throughput unless ``seconds`` is None."""
    figures = {}
    for name in names:
        session = requests.Session()
        first = ask(url, name, session)
        timed = [request(url, name, session) for _ in range(RUNS)]
        figures[name] = {"first": first, "median": statistics.median(t for t, _ in timed),
                         "answer": answer_of(name, timed[-1][1])}
        if seconds is not None:
            figures[name]["throughput"] = throughput_of(url, name, seconds)
    return figures


# -- in-process pyoxigraph on the server's store ----------------------------------------------


def _evaluate(store, text: str) -> tuple[float, object, list | None]:
    """One evaluation carried to its last row: its time, the result and its rows."""
    import pyoxigraph as ox

    start = time.perf_counter()
    result = store.query(text, base_iri=BASE + "sparql")
    rows = None if isinstance(result, ox.QueryBoolean) else list(result)
    return time.perf_counter() - start, result, rows


def _answer(result, rows: list | None) -> dict:
    import pyoxigraph as ox

    if rows is None:
        return {"boolean": bool(result)}
    if isinstance(result, ox.QueryTriples):
        return {"triples": len(rows)}
    names = [v.value for v in result.variables]
    return {"vars": names, "rows": [{n: term_json(row[n]) for n in names if row[n] is not None}
                                    for row in rows]}


def in_process(store_dir: str, names: list[str]) -> tuple[dict[str, dict], set[str]]:
    """Run in a process of its own: every question against the store opened read-only, timed
    as the HTTP runs are; and which senacs: shortcut properties the store holds."""
    import pyoxigraph as ox

    store = ox.Store.read_only(store_dir)
    figures = {}
    for name in names:
        first = _evaluate(store, QUESTIONS[name])[0]
        timed = [_evaluate(store, QUESTIONS[name]) for _ in range(RUNS)]
        figures[name] = {"first": first, "median": statistics.median(t[0] for t in timed),
                         "answer": _answer(*timed[-1][1:])}
    held = {p for p in SHORTCUTS
            if store.query(f"ASK {{ ?s <{SENACS}{p}> ?o }}")}
    return figures, held


def measure_in_process(store: Path) -> tuple[dict[str, dict], set[str]]:
    """in_process in a fresh process (so that its memory and caches are its own), once no
    server holds the store."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(in_process, str(store), list(QUESTIONS)).result()


# -- servers ------------------------------------------------------------------------------------


# CLIENT_QUERIES 0: the 8 throughput clients all come from 127.0.0.1, and the per-client fair
# share (endpoint/fairness.py) would answer most of their uncached queries 429; the runs
# measure the server's capacity, not one client's share of it
SETTINGS = {"WARM_CACHE": False, "QUERY_TIMEOUT": 120, "ROW_CAP": 100000, "QUERY_WORKERS": 2,
            "CLIENT_QUERIES": 0}


def serve_ours(release: Path, store: Path, cache: bool) -> tuple[str, subprocess.Popen]:
    # as the README advises for production: gunicorn, one worker process per core
    root, proc = serve_gunicorn(release, store, WORKERS, 16, CACHE_ENTRIES=512 if cache else 0,
                                CACHE_DISK_MB=512 if cache else 0, **SETTINGS)
    return root + "/sparql", proc


def serve_ours_granian(release: Path, store: Path) -> tuple[str, subprocess.Popen]:
    """The cached configuration under granian, the other production server."""
    root, proc = serve_granian(release, store, WORKERS, 16, **SETTINGS)
    return root + "/sparql", proc


def plain_dump(release: Path, workdir: Path) -> Path:
    """The release's canonical dump decompressed beside the benchmark's files (rdflib-endpoint
    reads a plain file)."""
    plain = workdir / f"dataset-{release.resolve().name}.nt"
    with gzip.open(release / "dataset.nt.gz", "rb") as packed, plain.open("wb") as out:
        shutil.copyfileobj(packed, out, 1 << 20)
    return plain


def serve_rdflib(dump: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    exe = shutil.which("rdflib-endpoint") or str(Path(sys.executable).parent / "rdflib-endpoint")
    proc = subprocess.Popen([exe, "serve", str(dump), "--host", "127.0.0.1", "--port",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"  # rdflib-endpoint's CLI serves SPARQL at the root
    wait_for(url + "?query=ASK%20%7B%7D", proc, 3600)
    return url, proc


def time_to_answer(release: Path, store: Path) -> float:
    """Seconds from starting the cold server on ``store`` to its first answered question
    (the store loaded first if the folder holds none)."""
    start = time.perf_counter()
    url, proc = serve_ours(release, store, False)
    try:
        ask(url, "action description", requests.Session())
        return time.perf_counter() - start
    finally:
        stop(proc)


def readiness(release: Path, workdir: Path, n: int) -> tuple[float, float]:
    """(new release -> first answer, restart -> first answer), on a fresh store folder that
    then becomes store_{n} if that is not there yet (so a store is built once)."""
    fresh = workdir / f"fresh_{n}"
    shutil.rmtree(fresh, ignore_errors=True)
    ready = time_to_answer(release, fresh)
    restart = time_to_answer(release, fresh)
    store = workdir / f"store_{n}"
    if store.exists():
        shutil.rmtree(fresh)
    else:
        fresh.rename(store)
    return ready, restart


# -- reports ------------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def report(n: int, results: dict[str, dict]) -> None:
    """Every server's median (first) and throughput, and issue #5's targets."""
    names = list(results)
    print(f"\n  median latency in ms (first request in brackets) and throughput at 8 clients "
          f"(requests/s), {n:,} records")
    print("  " + f"{'query':<34}" + "".join(f"{s:>26}" for s in names))
    for query in QUESTIONS:
        cells = []
        for server in names:
            f = results[server].get(query)
            rate = f"{f['throughput']:7.1f}/s" if f and "throughput" in f else f"{'-':>9}"
            cells.append(f"{f['median'] * 1000:8.1f} ({f['first'] * 1000:7.0f}) {rate}"
                         if f else f"{'not run':>26}")
        print("  " + f"{query:<34}" + "".join(f"{c:>26}" for c in cells))
    for label, server in (("senacs-kg cached", "gunicorn"), ("senacs-kg granian", "granian")):
        ours = results.get(label)
        for other, rule in (("rdflib-endpoint", "throughput >= 10x"), ("virtuoso", "median <=")):
            if ours is None or other not in results:
                continue
            if other == "rdflib-endpoint" and "throughput" not in ours[next(iter(MIX))]:
                continue
            misses = [q for q in MIX if not (
                ours[q]["throughput"] >= 10 * results[other][q]["throughput"]
                if other == "rdflib-endpoint" else ours[q]["median"] <= results[other][q]["median"])]
            print(f"  target under {server} vs {other} ({rule}, the mix): "
                  + ("met on every query" if not misses else "NOT met on " + ", ".join(misses)))


def report_cold(n: int, results: dict[str, dict], held: set[str]) -> None:
    """Issue #18's table: cold HTTP beside in-process pyoxigraph and Virtuoso, the targets,
    and our answers beside Virtuoso's."""
    cold, engine = results.get("senacs-kg cold", {}), results.get("in-process", {})
    virtuoso, bound = results.get("virtuoso", {}), cold_target(n)
    print(f"\n  issue #18, {n:,} records: cold median in ms (first in brackets); target "
          f"<= {bound:g} s cold")
    print("  " + f"{'question':<34}{'cold HTTP':>18}{'in-process':>18}{'overhead':>10}"
          f"{'Virtuoso':>18}{'target':>9}")
    slow, heavy = [], []
    for name in QUESTIONS:
        ours, own, theirs = cold.get(name), engine.get(name), virtuoso.get(name)
        overhead = ""
        if ours and own:
            share = ours["median"] / own["median"] - 1
            overhead = f"{share * 100:+.0f} %"
            if own["median"] > OVERHEAD_FLOOR and share > OVERHEAD_MAX:
                heavy.append(f"{name} ({overhead})")
        met = ours is not None and ours["median"] <= bound
        if not met:
            slow.append(name)
        print(f"  {name:<34}{_cell(ours):>18}{_cell(own):>18}{overhead:>10}"
              f"{_cell(theirs):>18}{'met' if met else 'NOT met':>9}")
    print(f"  cold target (<= {bound:g} s median): "
          + ("met on every question" if not slow else "NOT met on " + ", ".join(slow)))
    print(f"  HTTP overhead (<= {OVERHEAD_MAX:.0%} where in-process > "
          f"{OVERHEAD_FLOOR * 1000:.0f} ms): "
          + ("met on every question" if not heavy else "NOT met on " + ", ".join(heavy)))
    empty = [name for name in QUESTIONS if name in cold and _is_empty(cold[name].get("answer"))]
    if empty:  # a time for no answer measures a lookup of nothing: said, not hidden
        print("  answered empty on these records (what they name is not in this data): "
              + ", ".join(empty))
    report_answers(results)
    report_shortcuts(held)


def _is_empty(answer: dict | None) -> bool:
    """No rows (SELECT) or no triples (CONSTRUCT, DESCRIBE); an ASK answer is never empty."""
    return answer is not None and not answer.get("rows", answer.get("triples", 1))


def _cell(f: dict | None) -> str:
    return f"{_ms(f['median'])} ({f['first'] * 1000:.0f})" if f else "not run"


def report_answers(results: dict[str, dict]) -> None:
    """Our cold answers beside Virtuoso's and beside in-process pyoxigraph's, per question."""
    cold = results.get("senacs-kg cold", {})
    for other in ("virtuoso", "in-process"):
        theirs = results.get(other)
        if not theirs:
            print(f"  answers vs {other}: not compared ({other} not run)")
            continue
        print(f"  answers vs {other}:")
        for name in QUESTIONS:
            if name not in cold or name not in theirs:
                continue
            mine, their = cold[name]["answer"], theirs[name]["answer"]
            _, verdict = compare(QUESTIONS[name], mine, their)
            if name in GRAPH_QUERIES:  # DESCRIBE and CONSTRUCT: triple counts, not compared
                verdict = f"graph: {mine['triples']} vs {their['triples']} triples (not compared)"
            if "partial" in their:
                verdict += f" [{other} stopped early: {their['partial']}]"
            print(f"    {name:<34} {verdict}")


def report_shortcuts(held: set[str]) -> None:
    """Which questions read shortcut properties this store lacks (they answer empty, or
    differently, on such a release: expected, not a fault of the engine)."""
    lacking = [p for p in SHORTCUTS if p not in held]
    for prop in lacking:
        users = [n for n, text in QUESTIONS.items() if f"senacs:{prop}" in text
                 or f"{SENACS}{prop}" in text]
        if users:
            print(f"  this release has no senacs:{prop}: {', '.join(users)} "
                  "answer(s) without it (empty or different)")


def report_readiness(n: int, ready: float, restart: float) -> None:
    if n <= 100_000:
        goal = f"(target <= {READY_TARGET:g} s at 100,000: " \
               f"{'met' if ready <= READY_TARGET else 'NOT met'})"
    else:
        goal = f"(no target above 100,000; {READY_TARGET:g} s at 100,000)"
    print(f"  readiness: new release -> first answer {ready:.1f} s {goal}; restart onto the "
          f"store -> first answer {restart:.2f} s (target <= {RESTART_TARGET:g} s: "
          f"{'met' if restart <= RESTART_TARGET else 'NOT met'})")


# -- one size -----------------------------------------------------------------------------------


def bench(n: int, workdir: Path, seconds: float | None, rdflib_max: int,
          ready_check: bool) -> None:
    from virtuoso import Virtuoso, available

    release = release_of(n, workdir)
    store = workdir / f"store_{n}"
    print(f"\n== {n:,} records", flush=True)
    ready = readiness(release, workdir, n) if ready_check else None
    if ready:
        report_readiness(n, *ready)
    results: dict[str, dict] = {}
    run_ours(results, "senacs-kg cold", lambda: serve_ours(release, store, False), seconds)
    start = time.monotonic()
    results["in-process"], held = measure_in_process(store)
    print(f"  in-process pyoxigraph: {time.monotonic() - start:.1f} s", flush=True)
    run_ours(results, "senacs-kg cached", lambda: serve_ours(release, store, True), seconds)
    run_ours(results, "senacs-kg granian", lambda: serve_ours_granian(release, store), seconds)
    if n <= rdflib_max:
        start = time.monotonic()
        url, proc = serve_rdflib(plain_dump(release, workdir))
        print(f"  rdflib-endpoint: loaded in {time.monotonic() - start:.1f} s (the mix only)")
        try:
            results["rdflib-endpoint"] = measure(url, seconds, MIX)
        finally:
            stop(proc)
    else:
        print(f"  rdflib-endpoint: not run above {rdflib_max:,} records (--rdflib-max)")
    if available():
        start = time.monotonic()
        # one database per release (its id is its dump's digest): a reused workdir whose
        # release was rebuilt must not compare with the old data Virtuoso still holds
        release_id = json.loads((release / "manifest.json").read_text(encoding="utf-8"))["release"]
        with Virtuoso(workdir / f"virtuoso_{n}_{release_id}", release) as virtuoso:
            print(f"  virtuoso: started and loaded in {time.monotonic() - start:.1f} s",
                  flush=True)
            results["virtuoso"] = measure(virtuoso.endpoint, seconds)
    else:
        print("  virtuoso: not installed (apt-get install virtuoso-opensource)")
    report(n, results)
    report_cold(n, results, held)
    if ready:
        report_readiness(n, *ready)


def run_ours(results: dict, label: str, serve, seconds: float | None) -> None:
    start = time.monotonic()
    url, proc = serve()
    print(f"  {label}: ready in {time.monotonic() - start:.1f} s (store built once, "
          "then reopened)", flush=True)
    try:
        results[label] = measure(url, seconds)
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=lambda s: int(float(s)), nargs="+",
                        default=[10_000, 100_000])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="duration of each throughput run")
    parser.add_argument("--no-throughput", action="store_true",
                        help="latency only (no throughput runs): practical at 1,000,000 records")
    parser.add_argument("--no-readiness", action="store_true",
                        help="skip the timed load onto a fresh store folder")
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
    seconds = None if args.no_throughput else args.seconds
    for n in sorted(args.records):
        bench(n, workdir, seconds, args.rdflib_max, not args.no_readiness)


if __name__ == "__main__":
    main()

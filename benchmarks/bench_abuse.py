"""Abuse: how another address's uncached queries fare beside runaway and slow clients.

A release of generated records (default 10,000) is served as the README says
for production: granian, one worker per core, the default settings (fair share:
2 uncached queries per address, 4 more waiting 5 s at most, 429 beyond; 10 s
query timeout) but the background warm-up of the example catalogue. Optionally
(--servers granian,gunicorn) gunicorn bound directly, the set-up the README warns
against, for comparison.

The measured client leaves from 127.0.0.5: --clients threads sending cheap
queries (the description of an action, a different LIMIT each time, so that no
cache can answer) back to back for --seconds, each on a new connection. Its success rate (200 answers),
p50 and p99 are printed for each run beside the same load alone:

  1. alone (the baseline);
  2. 1, 4 and 16 runaway clients from 127.0.0.2, each keeping a cartesian-product
     query in flight (sent again as soon as it is answered, 429s included: an
     abuser does not honour Retry-After);
  3. 200 slow clients from 127.0.0.3 (slowloris): each sends a request line and
     then one header byte a second, never ending its headers; a socket the server
     closes is opened again at once.

Target (issue #14): with 16 runaway clients, and with 200 slow clients, >= 99 %
success and p99 <= 1 s. Every socket is on 127.0.0.x; every run stops by itself.

    python benchmarks/bench_abuse.py
    python benchmarks/bench_abuse.py --records 10000 --seconds 20 --servers granian,gunicorn
    python benchmarks/bench_abuse.py --unfair --runaways 4,16 --slow 0   # the fair share off
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path

import requests
from common import free_port, release_of, serve_app, stop
from requests.adapters import HTTPAdapter

GOOD, RUNAWAY_FROM, SLOW_FROM = "127.0.0.5", "127.0.0.2", "127.0.0.3"
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
JSON_RESULTS = {"Accept": "application/sparql-results+json"}
# the measured client opens a new connection for every query, as a new visitor does: a
# kept-alive connection can get through where a new one waits to be accepted
FRESH = {**JSON_RESULTS, "Connection": "close"}
TIMEOUT = 15.0  # seconds the measured client waits for one answer (then: a failure)


# -- the servers, as the README runs them -----------------------------------------------------


def granian_command(port: int, workers: int, threads: int) -> list[str]:
    """The README's production command (granian), on loopback."""
    return ["granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads),
            "--backlog", "4096", "--http1-header-read-timeout", "5000",
            "--workers-kill-timeout", "30", "--log-level", "warning",
            "--factory", "endpoint:create_app"]


def gunicorn_command(port: int, workers: int, threads: int) -> list[str]:
    """gunicorn bound directly (what the README says not to do), URL limit lifted."""
    return ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--threads", str(threads), "--limit-request-line", "0", "endpoint:create_app()"]


COMMANDS = {"granian": granian_command, "gunicorn": gunicorn_command}


def serve(server: str, release: Path, store: Path, workers: int, threads: int,
          fair: bool = True):
    """The endpoint under ``server`` with the default settings but the background warm-up
    (it would run the example catalogue's slowest queries during the runs), and without the
    fair share if not ``fair``: (root URL, process)."""
    port = free_port()
    settings = {"WARM_CACHE": False} | ({} if fair else {"CLIENT_QUERIES": 0})
    return serve_app(COMMANDS[server](port, workers, threads), port, release, store, **settings)


# -- the clients ------------------------------------------------------------------------------


class SourceAdapter(HTTPAdapter):
    """Connections that leave from a given loopback address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(pool_maxsize=64)

    def init_poolmanager(self, *args, **kwargs) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    session = requests.Session()
    session.mount("http://", SourceAdapter(address))
    return session


def actions_of(root: str, base: str) -> list[str]:
    query = f"SELECT ?a WHERE {{ ?a a <{base}def#Action> }} LIMIT 500"
    answer = requests.get(root + "/sparql", params={"query": query}, headers=JSON_RESULTS,
                          timeout=120).json()
    return [row["a"]["value"] for row in answer["results"]["bindings"]]


class Measured:
    """The measured client: cheap uncached queries back to back from ``threads`` threads."""

    def __init__(self, root: str, actions: list[str], threads: int, seed: int) -> None:
        self.root, self.actions, self.threads = root, actions, threads
        # a LIMIT never sent before, in this run or an earlier one on the same store
        self.rng, self.counter = random.Random(seed), random.SystemRandom().randrange(10**12)
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}

    def next_query(self) -> str:
        with self.lock:
            self.counter += 1
            action = self.rng.choice(self.actions)
            return f"SELECT ?p ?o WHERE {{ <{action}> ?p ?o }} LIMIT {self.counter}"

    def loop(self, until: float) -> None:
        session = session_from(GOOD)
        while time.monotonic() < until:
            query = self.next_query()
            start = time.monotonic()
            try:
                response = session.get(self.root + "/sparql", params={"query": query},
                                       headers=FRESH, timeout=TIMEOUT)
                status = str(response.status_code)
                if status == "200" and response.headers.get("X-Cache") != "miss":
                    status = "200 cached"  # would not measure the store: must not happen
            except requests.RequestException as err:
                status = type(err).__name__
            elapsed = time.monotonic() - start
            with self.lock:
                self.latencies.append(elapsed)
                self.statuses[status] = self.statuses.get(status, 0) + 1

    def run(self, seconds: float) -> dict:
        until = time.monotonic() + seconds
        workers = [threading.Thread(target=self.loop, args=(until,), daemon=True)
                   for _ in range(self.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(seconds + TIMEOUT + 30)
        return figures(self.latencies, self.statuses)


def figures(latencies: list[float], statuses: dict[str, int]) -> dict:
    ordered = sorted(latencies)
    count = len(ordered)

    def pct(p: float) -> float:
        return ordered[min(count - 1, int(p / 100 * count))] * 1000 if count else float("nan")

    return {"requests": count, "ok": statuses.get("200", 0) / count * 100 if count else 0.0,
            "p50_ms": statistics.median(ordered) * 1000 if count else float("nan"),
            "p99_ms": pct(99), "max_ms": ordered[-1] * 1000 if count else float("nan"),
            "statuses": dict(sorted(statuses.items()))}


class Runaways:
    """``count`` clients from one address, each keeping a cartesian product in flight."""

    def __init__(self, root: str, count: int) -> None:
        self.root, self.count = root, count
        self.halt = threading.Event()
        self.statuses: dict[str, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.loop, daemon=True) for _ in range(count)]

    def loop(self) -> None:
        session = session_from(RUNAWAY_FROM)
        while not self.halt.is_set():
            try:
                status = str(session.get(self.root + "/sparql", params={"query": RUNAWAY},
                                         headers=JSON_RESULTS, timeout=60).status_code)
            except requests.RequestException as err:
                status = type(err).__name__
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1

    def __enter__(self) -> Runaways:
        for thread in self.threads:
            thread.start()
        time.sleep(2)  # the first ones are running before the measure starts
        return self

    def __exit__(self, *exc) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(70)  # a running one ends at the query timeout


class Slowloris:
    """``count`` sockets from one address sending a request's headers one byte a second."""

    def __init__(self, root: str, count: int) -> None:
        host, port = root.removeprefix("http://").split(":")
        self.address, self.count = (host, int(port)), count
        self.halt = threading.Event()
        self.opened = 0
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def open(self) -> socket.socket | None:
        sock = socket.socket()
        sock.settimeout(2)
        try:
            sock.bind((SLOW_FROM, 0))
            sock.connect(self.address)
            sock.sendall(b"GET /sparql?query=ASK%20%7B%7D HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"X-Slow: ")
        except OSError:
            sock.close()
            return None
        self.opened += 1
        return sock

    def loop(self) -> None:
        sockets = [self.open() for _ in range(self.count)]
        while not self.halt.wait(1.0):
            for i, sock in enumerate(sockets):
                try:
                    if sock is None:
                        raise OSError
                    sock.send(b"a")
                except OSError:  # closed by the server (or never opened): open again
                    if sock is not None:
                        sock.close()
                    sockets[i] = self.open()
        for sock in sockets:
            if sock is not None:
                sock.close()

    def __enter__(self) -> Slowloris:
        self.thread.start()
        time.sleep(3)  # every socket is open and trickling before the measure starts
        return self

    def __exit__(self, *exc) -> None:
        self.halt.set()
        self.thread.join(30)


# -- the runs ---------------------------------------------------------------------------------


def line(label: str, f: dict, base: dict | None) -> str:
    text = (f"  {label:<22} success {f['ok']:6.2f} %  p50 {f['p50_ms']:7.1f} ms  "
            f"p99 {f['p99_ms']:7.1f} ms  max {f['max_ms']:7.0f} ms  ({f['requests']:,} queries)")
    if base is not None:
        text += (f"   baseline {base['ok']:.2f} %, p50 {base['p50_ms']:.1f} ms, "
                 f"p99 {base['p99_ms']:.1f} ms")
    if set(f["statuses"]) - {"200"}:
        text += f"   {f['statuses']}"
    return text


def run_server(server: str, args, release: Path, base: str, workdir: Path) -> list[tuple]:
    start = time.monotonic()
    root, proc = serve(server, release, workdir / f"store_{server}", args.workers, args.threads,
                       not args.unfair)
    results = []
    try:
        print(f"== {server}{' WITHOUT the fair share' if args.unfair else ''}: "
              f"{args.workers} workers x {args.threads} threads, ready in "
              f"{time.monotonic() - start:.0f} s; measured client: {args.clients} threads from "
              f"{GOOD}, {args.seconds:g} s per run")
        actions = actions_of(root, base)
        seed = 1
        baseline = Measured(root, actions, args.clients, seed).run(args.seconds)
        print(line("alone", baseline, None), flush=True)
        results.append(("alone", baseline))
        for count in args.runaways:
            seed += 1
            with Runaways(root, count) as runaways:
                loaded = Measured(root, actions, args.clients, seed).run(args.seconds)
            print(line(f"{count} runaway client{'s' if count > 1 else ''}", loaded, baseline)
                  + f"   runaways' answers: {runaways.statuses}", flush=True)
            results.append((f"{count} runaway", loaded))
        if args.slow:
            with Slowloris(root, args.slow) as slow:
                loaded = Measured(root, actions, args.clients, seed + 1).run(args.seconds)
            print(line(f"{args.slow} slow clients", loaded, baseline)
                  + f"   sockets opened: {slow.opened}", flush=True)
            results.append((f"{args.slow} slow", loaded))
    finally:
        stop(proc)
    return results


def verdict(server: str, results: list[tuple]) -> None:
    for label, f in results:
        if label.startswith("16 runaway") or label.endswith(" slow"):
            met = f["ok"] >= 99 and f["p99_ms"] <= 1000
            print(f"  {server}, {label}: target >= 99 % and p99 <= 1 s: "
                  f"{'met' if met else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=lambda s: int(float(s)), default=10_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--servers", default="granian",
                        help="comma-separated: granian (the production server), gunicorn")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--threads", type=int, default=32, help="threads per worker")
    parser.add_argument("--clients", type=int, default=2,
                        help="threads of the measured client (its own share is 2)")
    parser.add_argument("--runaways", type=lambda s: [int(n) for n in s.split(",") if n],
                        default=[1, 4, 16], help="comma-separated numbers of runaway clients")
    parser.add_argument("--slow", type=int, default=200, help="slow (slowloris) sockets")
    parser.add_argument("--unfair", action="store_true",
                        help="turn the fair share off (CLIENT_QUERIES=0), to see what it prevents")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    servers = [s for s in args.servers.split(",") if s]
    unknown = set(servers) - set(COMMANDS)
    if unknown:
        parser.error(f"unknown server(s): {', '.join(sorted(unknown))}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="senacs-bench-abuse-"))
    workdir.mkdir(parents=True, exist_ok=True)
    release = release_of(args.records, workdir)
    base = json.loads((release / "manifest.json").read_text(encoding="utf-8"))["base"]
    print(f"== {args.records:,} records, release in {release}")
    everything = {server: run_server(server, args, release, base, workdir) for server in servers}
    for server, results in everything.items():
        verdict(server, results)


if __name__ == "__main__":
    main()

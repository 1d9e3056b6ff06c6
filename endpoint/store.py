"""The store behind the endpoint: one small interface, an embedded and a remote implementation.

``Store`` (a Protocol) is that interface: ``query(text, default_graphs, named_graphs)`` returns
an :class:`Answer`:
the results in an interchange form (SPARQL JSON results for SELECT and ASK,
N-Triples for CONSTRUCT and DESCRIBE), capped at ``row_cap`` rows with the
truncation said, never silent. The SPARQL protocol layer turns them into what
the client asked for. No other module knows which store answers.

The embedded store is an on-disk Oxigraph store built from a release once and
reopened on later starts. Queries run in worker processes, so that a query
that exceeds its time is really stopped (its process is killed and replaced)
while the other workers keep answering. Every answer is bounded in rows and in
bytes while it is taken, and each worker's memory is capped: a query over it
stops its worker, which is replaced. A worker that died is noticed before it is
given a query.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import multiprocessing
import os
import queue
import resource
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from endpoint import loader
from mapping import lifetime, release

MARKER = "senacs-kg-store.json"
DEMOTE_AFTER = 1.0  # seconds a query runs at normal priority before it is demoted (nice 19)
DEFAULT_GRAPH_NAME = "dataset"  # {base}dataset names the default graph in dataset parameters
WORKER_STACK_MB = 64  # the query worker's stack: deep syntax trees that pass the guard fit in it
# what stops a server (gunicorn's master sends its workers SIGQUIT on Ctrl-C): held while a
# worker process is started
STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
# A series' release: its changeset summary, and the series file in the release's parent folder
CHANGES_SUMMARY = "changes/summary.ttl"
SERIES_FILE = "series.json"


class QueryError(Exception):
    """The query is malformed or refused: a 400 with this message."""


class QueryRefused(Exception):
    """The query tried something this endpoint never does (a network call): a 403."""


class QueryFailed(Exception):
    """The query failed while it ran, for a reason not told to the client: a 502."""


SERVICE_REFUSED = ("refused: the query tried to open a network connection (SERVICE); this "
                   "endpoint's query processes cannot reach any other service")
EVALUATION_FAILED = ("the query failed while it was evaluated (a SERVICE call that failed, or "
                     "a storage error); no further detail is given")


class QueryTimeout(Exception):
    """The query ran past its time and was stopped: a 503."""


class QueryTooLarge(QueryTimeout):
    """The query needed more memory, or its first row more bytes, than allowed and was
    stopped: a 503 (a subclass of QueryTimeout, so every caller already answers it so)."""


class Overloaded(Exception):
    """No worker could take the query in time: a 503."""


class WorkerLost(Overloaded):
    """The query's worker died (crashed or killed): a 503 "try again"; it was replaced."""


class ReleaseError(Exception):
    """The release cannot be served (missing, damaged): the server does not start."""


@dataclass(frozen=True)
class Answer:
    kind: str  # "select", "ask" or "graph"
    payload: bytes  # SPARQL JSON results, or N-Triples
    truncated: bool = False
    rows: int = 0
    cached: bool = False  # answered from the cache (endpoint.cache), not by the store


class Store(Protocol):
    """What the endpoint asks of a store. EmbeddedStore and RemoteStore answer; the layers in
    front of them (guard.GuardedStore, cache.CachedStore, fairness.FairStore) have the same
    shape, each adding one concern."""

    def query(self, text: str, default_graphs: Sequence[str] = (),
              named_graphs: Sequence[str] = (), timeout: float | None = None,
              base_iri: str | None = None, row_cap: int | None = None) -> Answer: ...

    def close(self) -> None: ...


# -- interchange ----------------------------------------------------------------------------------


def term_json(term) -> dict:
    import pyoxigraph as ox

    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    return {"type": "triple", "value": {"subject": term_json(term.subject),
                                        "predicate": term_json(term.predicate),
                                        "object": term_json(term.object)}}


_ROW = json.JSONEncoder(ensure_ascii=False).encode  # one result row, as json.dumps writes it


def answer_of(result, row_cap: int, byte_cap: int | None = None) -> Answer:
    """A pyoxigraph query result in the interchange form, capped at ``row_cap`` rows and at
    ``byte_cap`` bytes of payload (None or 0: no byte cap). Rows are serialised one by one as
    they are taken, so the payload never grows past the cap: the row that would cross it is
    left out with every later one, and the answer says truncated, as for the row cap."""
    import pyoxigraph as ox

    if isinstance(result, ox.QueryBoolean):
        return Answer("ask", json.dumps({"head": {}, "boolean": bool(result)}).encode())
    if isinstance(result, ox.QuerySolutions):
        names = [v.value for v in result.variables]
        # the bytes json.dumps writes for the whole document: its frame, rows joined by ", "
        frame = json.dumps({"head": {"vars": names}, "results": {"bindings": []}},
                           ensure_ascii=False).encode()
        rows = (_ROW({name: term_json(s[name]) for name in names if s[name] is not None}).encode()
                for s in result)
        taken, truncated = _take(rows, row_cap, byte_cap, len(frame), b", ")
        return Answer("select", frame[:-3] + b", ".join(taken) + frame[-3:], truncated,
                      len(taken))
    triples = (f"{t} .\n".encode() for t in result)
    taken, truncated = _take(triples, row_cap, byte_cap)
    return Answer("graph", b"".join(taken), truncated, len(taken))


def _take(items, cap: int, byte_cap: int | None = None, frame: int = 0,
          separator: bytes = b"") -> tuple[list[bytes], bool]:
    """At most ``cap`` items making at most ``byte_cap`` bytes with their ``frame`` and
    separators, and whether there were more. A first item alone over the byte cap cannot be
    answered in part: QueryTooLarge (a 503 that names the limit), not an empty answer that a
    client ignoring the truncation flag would take for "no results"."""
    budget = byte_cap - frame if byte_cap else None
    taken: list[bytes] = []
    used = 0
    for item in items:
        if len(taken) >= cap:
            return taken, True
        used += len(item) + (len(separator) if taken else 0)
        if budget is not None and used > budget:
            if not taken:
                raise QueryTooLarge(
                    f"the first result alone is {_mb(len(item))} MB, more than the server's "
                    f"response limit of {_mb(byte_cap)} MB: select less of it (e.g. SUBSTR)")
            return taken, True
        taken.append(item)
    return taken, False


def _mb(size: int) -> str:
    return f"{size / 1048576:.3g}"


# -- the embedded store ---------------------------------------------------------------------------


def prepare_store(release_dir: Path, store_dir: Path, base: str, verify: bool = True,
                  allocator: str = "jemalloc") -> str:
    """Make ``store_dir`` hold the release (loading it only if it does not already); its id.

    A damaged release (files not matching manifest.json) is refused with the list of
    damaged files. Concurrent starts (several gunicorn workers) wait on a lock. A release of a
    series also holds its series' changelog up to itself (``changelog``); the marker names the
    changesets loaded, so a store made before one was there is loaded again.
    """
    try:
        manifest = release.read_manifest(release_dir)
    except release.NotARelease as err:
        raise ReleaseError(str(err)) from None
    release_id = manifest["release"]
    changes = changelog(release_dir, manifest)
    try:
        store_dir.parent.mkdir(parents=True, exist_ok=True)
        lock = (store_dir.parent / f".{store_dir.name}.lock").open("w")
    except OSError as err:
        raise ReleaseError(f"{store_dir}: the store's folder cannot be made there "
                           f"({err.strerror})") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = store_dir / MARKER
        _refuse_foreign(store_dir, marker)
        if marker.is_file():
            held = _held(marker)
            if held.get("release") == release_id and held.get("base") == base \
                    and held.get("changes", []) == [c.id for c in changes] \
                    and held.get("compacted"):  # one loaded uncompacted is loaded again, once
                return release_id
        check = _Verification(release_dir, changes) if verify else None
        try:
            _load(release_dir, store_dir, base, manifest, changes,
                  check.wait if check else (lambda: None), allocator)
        except Exception:
            if check:
                check.wait()  # a damaged file is the reason a load fails: said as such
            raise
    return release_id


def _held(marker: Path) -> dict:
    """What a store's marker says it holds; nothing (so it is loaded again) if the marker
    cannot be read or is not a JSON object: the store is made from the release, never lost."""
    try:
        held = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return held if isinstance(held, dict) else {}


def _refuse_foreign(store_dir: Path, marker: Path) -> None:
    """A store takes the place of what ``store_dir`` holds: only ever of a store (its marker
    says so) or of an empty folder; anything else (a file, a folder of other things given by
    mistake) is refused untouched."""
    if not store_dir.exists():
        return
    if store_dir.is_dir() and (marker.is_file() or not any(store_dir.iterdir())):
        return
    raise ReleaseError(f"{store_dir}: not a store of this server (no {MARKER}) nor an empty "
                       "folder: refused, nothing in it was touched; name a new or empty folder")


class _Verification:
    """The release's checksums, computed in a thread while the store loads (hashing releases
    the GIL; the loaders leave part of a core free): a damaged release is refused before its
    store takes the place of the old one, and the load no longer waits for the hashing. A file
    whose size is not the manifest's is refused at once, before any load."""

    def __init__(self, release_dir: Path, changes: Sequence[Changeset]) -> None:
        self.release_dir, self.failed = release_dir, None
        self.damaged = release.verify(release_dir, sizes_only=True)  # a swapped file: at once
        if self.damaged:
            raise self._refusal()
        self.thread = threading.Thread(target=self._run, args=(changes,), daemon=True)
        self.thread.start()

    def _run(self, changes: Sequence[Changeset]) -> None:
        try:
            self.damaged = release.verify(self.release_dir) \
                + _damaged_changesets(self.release_dir, changes)
        except OSError as err:  # a file gone or unreadable while it was hashed
            where = f" ({err.filename})" if err.filename else ""
            self.failed = ReleaseError(f"{self.release_dir}: its files could not be checked: "
                                       f"{err.strerror or err}{where}")
        except Exception as err:  # noqa: BLE001 - raised in the loading thread by wait()
            self.failed = err

    def wait(self) -> None:
        self.thread.join()
        if self.failed is not None:
            raise self.failed
        if self.damaged:
            raise self._refusal()

    def _refusal(self) -> ReleaseError:
        return ReleaseError(f"{self.release_dir}: the release is damaged, its files do not "
                            "match manifest.json: " + "; ".join(self.damaged))


# -- the changelog graph ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Changeset:
    """One release's changeset summary, loaded into the named graph ``{base}release/{id}/changes``
    (its senacs:Changeset IRI, so that ``GRAPH ?changes`` finds each one by its own name)."""

    id: str
    summary: Path

    def graph(self, base: str) -> str:
        return changes_graph(base, self.id)


def changes_graph(base: str, release_id: str) -> str:
    """The named graph (and senacs:Changeset IRI) of release ``release_id``'s changes."""
    return f"{base}release/{release_id}/changes"


def _release_key(release_id: object) -> tuple[int, int] | None:
    """The order of release ids (``2025`` < ``2025-2`` < ``2025-10``); None for no id."""
    return release.release_key(release_id) if release.is_release_id(release_id) else None


def changelog(release_dir: Path, manifest: dict) -> list[Changeset]:
    """The changesets the store of a series' release holds: those of every release of its
    series up to and including it, oldest first, found through the series' folder (the
    release's parent, which has series.json). Deterministic for a release: a series grows at
    its end only, and a retired release keeps ``changes/summary.ttl``. A release of no series
    (built with --out) holds none; if series.json cannot be read, the release's own."""
    series = manifest.get("series")
    own = _release_key(series.get("id")) if isinstance(series, dict) else None
    if own is None:
        return []
    folder = release_dir.parent
    try:
        listed = json.loads((folder / SERIES_FILE).read_text(encoding="utf-8"))["releases"]
        ids = {e.get("id") for e in listed if isinstance(e, dict)}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        ids = set()
    keyed = {i: _release_key(i) for i in ids | {series["id"]}}
    earlier = sorted((k, i) for i, k in keyed.items() if k is not None and k <= own)
    found = ((i, (release_dir if k == own else folder / i) / CHANGES_SUMMARY)
             for k, i in earlier)
    return [Changeset(i, path) for i, path in found if path.is_file()]


def _damaged_changesets(release_dir: Path, changes: list[Changeset]) -> list[str]:
    """The other releases' summaries that do not match their own manifest (the release's own
    is checked with its other files); a retired release's manifest may be gone: not checked."""
    damaged = []
    for change in changes:
        folder = change.summary.parent.parent
        if folder == release_dir:
            continue
        try:
            listed = release.read_manifest(folder)["files"].get(CHANGES_SUMMARY)
        except (release.NotARelease, KeyError, AttributeError):
            continue
        if listed and release.file_digest(change.summary)[0] != listed.get("sha256"):
            damaged.append(f"{CHANGES_SUMMARY} of release {change.id}")
    return damaged


def _load(release_dir: Path, store_dir: Path, base: str, manifest: dict,
          changes: Sequence[Changeset] = (), verified: Callable[[], None] = lambda: None,
          allocator: str = "jemalloc") -> None:
    """Load the release into a staged store, compact it, then (once ``verified`` returns
    without raising) put it in the place of ``store_dir``; a failure leaves no staged files."""
    staged = store_dir.parent / f".{store_dir.name}.loading-{os.getpid()}"
    shutil.rmtree(staged, ignore_errors=True)
    try:
        loader.load(release_dir, staged, base, manifest,
                    [(c.id, c.summary, c.graph(base)) for c in changes], allocator)
        (staged / MARKER).write_text(json.dumps({"release": manifest["release"], "base": base,
                                                 "changes": [c.id for c in changes],
                                                 "compacted": True}) + "\n",
                                     encoding="utf-8")
        verified()
    except loader.LoadError as err:
        shutil.rmtree(staged, ignore_errors=True)
        raise ReleaseError(str(err)) from None
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    if store_dir.exists():
        old = store_dir.parent / f".{store_dir.name}.old-{os.getpid()}"
        store_dir.rename(old)
        staged.rename(store_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staged.rename(store_dir)


def _graph(name: str, base: str):
    import pyoxigraph as ox

    return ox.DefaultGraph() if name == base + DEFAULT_GRAPH_NAME else ox.NamedNode(name)


def _limit_resources(memory_mb: int) -> None:
    """Cap the worker's memory at ``memory_mb`` (0: no cap) and give its stack room.

    RLIMIT_DATA counts the heap and private writable mappings: the query's working memory,
    about 100 MB once the 100,000-record store is open. RLIMIT_AS would also count file
    mappings, libraries and the address space reserved for malloc's per-thread arenas, which
    made the same worker's virtual size vary from 0.4 to 1.2 GB at open. Over the cap an
    allocation fails: Oxigraph aborts the process (SIGABRT), Python raises MemoryError;
    either way the worker is replaced.
    The main thread's stack grows up to RLIMIT_STACK, read at each fault: raised to
    WORKER_STACK_MB, a syntax tree that passes the guard's nesting limit fits with room.
    """
    _, hard = resource.getrlimit(resource.RLIMIT_STACK)
    stack = WORKER_STACK_MB << 20
    resource.setrlimit(resource.RLIMIT_STACK,
                       (stack if hard == resource.RLIM_INFINITY else min(stack, hard), hard))
    if memory_mb > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_DATA)
        cap = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_DATA,
                           (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _worker(store_dir: str, base: str, conn, parent: int, federation_args=None,
            byte_cap: int | None = None, memory_mb: int = 0) -> None:
    """A query process (``_answer_queries``); it ends without a word when the server closes
    its pipe, as a server stopping while its workers start does."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server ends it (Ctrl-C reaches the group)
    try:
        _answer_queries(store_dir, base, conn, parent, federation_args, byte_cap, memory_mb)
    except (EOFError, BrokenPipeError, ConnectionResetError):
        pass


def _answer_queries(store_dir: str, base: str, conn, parent: int, federation_args=None,
                    byte_cap: int | None = None, memory_mb: int = 0) -> None:
    """Opens the store read-only and answers queries until told to stop.

    It confines itself first, whatever a query will say: with no allow-list it can open no
    network socket at all (endpoint/sandbox.py); with one, it moves into a network namespace
    where only the allow-list's host:port pairs answer, through the server's forwarder
    (endpoint/federation.py), and can no longer leave it. If that fails it says so and
    stops, and the store refuses to start."""
    from endpoint import federation, sandbox

    try:
        if federation_args is None:
            sandbox.confine()
        else:
            federation.enter(*federation_args)
            sandbox.confine(network=True)
    except (sandbox.SandboxError, federation.FederationError) as err:
        conn.send(("unsafe", str(err)))
        return
    # the server times queries out; if it dies (kill -9) a busy worker must not run on alone
    # (a thread polling the parent: the kernel's parent-death signal would follow the request
    # thread that replaced this worker, not the server)
    lifetime.watch_parent(parent)
    import pyoxigraph as ox

    store = ox.Store.read_only(store_dir)
    _limit_resources(memory_mb)
    conn.send(("ready",))
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        text, default_graphs, named_graphs, row_cap, base_iri = request
        try:
            options = {"base_iri": base_iri} if base_iri else {}
            if default_graphs or named_graphs:  # replaces the query's FROM (Protocol 2.1.4)
                options["default_graph"] = [_graph(g, base) for g in default_graphs]
                options["named_graphs"] = [ox.NamedNode(g) for g in named_graphs]
            answer = answer_of(store.query(text, **options), row_cap, byte_cap)
            conn.send(("ok", answer))
        except SyntaxError as err:
            conn.send(("syntax", str(err)))
        except QueryTooLarge as err:
            conn.send(("too large", str(err)))
        except MemoryError:
            conn.send(("memory",))
            return  # its heap may be left fragmented: a fresh worker takes its place
        except PermissionError:
            # the sandbox refused a socket: a SERVICE call, whatever the text looked like
            conn.send(("refused", SERVICE_REFUSED))
        except OSError:
            # never the remote reply nor the connection error: they tell about other hosts
            conn.send(("failed", EVALUATION_FAILED))
        except RuntimeError as err:  # an evaluation error; near a SERVICE it may quote a reply
            conn.send(("failed", EVALUATION_FAILED) if "SERVICE" in text.upper()
                      else ("error", str(err)))
        except (ValueError, TypeError) as err:
            conn.send(("error", str(err)))


class _Process:
    def __init__(self, ctx, store_dir: str, base: str, federation_args=None,
                 byte_cap: int | None = None, memory_mb: int = 0) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, daemon=True,
                                   args=(store_dir, base, child, os.getpid(), federation_args,
                                         byte_cap, memory_mb))
        self.process.start()
        child.close()
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        if not self.ready and self.conn.poll(timeout):
            status, *detail = self.conn.recv()
            if status == "unsafe":
                raise ReleaseError(f"a query worker could not confine itself: {detail[0]}; "
                                   "queries are not run unconfined")
            self.ready = status == "ready"
        return self.ready

    def alive(self) -> bool:
        """The process is still running (not killed, not crashed while it waited). A killed
        process is seen dead once its last thread has exited (it can then be reaped); a
        query sent in between gets the "try again" of a worker lost."""
        return self.process.is_alive()

    def exit_code(self, wait: float) -> int | None:
        """How it ended (-N: killed by signal N), waiting up to ``wait`` s; None: running."""
        self.process.join(wait)
        return self.process.exitcode

    def renice(self, niceness: int) -> bool:
        """Set the CPU priority: 19 (lowest) for a query running long, so it no longer slows
        the short ones down; 0 again afterwards, which needs privileges (False if refused)."""
        try:
            os.setpriority(os.PRIO_PROCESS, self.process.pid, niceness)
            return True
        except OSError:
            return False

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        try:
            self.conn.close()
        except OSError:  # closed already, by a request thread racing the server's exit
            pass


@contextlib.contextmanager
def _stops_deferred() -> Iterator[None]:
    """A stop (``STOPPING``) taken in the middle of a step that must be whole: while a new
    worker reads what it is to run (it would print multiprocessing's EOFError traceback), or
    before the socket's folder is known to ``close()``. In the main thread (the one Python
    signal handlers run in) it is held until the block ends, then handled as it would have
    been."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {number: signal.signal(number, lambda n, _: held.append(n)) for number in STOPPING
                if signal.getsignal(number) is not None}  # None: set outside Python, left as is
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        for number in held[:1]:
            signal.raise_signal(number)


class EmbeddedStore:
    """The release in an on-disk Oxigraph store, queried by a pool of worker processes.

    ``byte_cap`` bounds each answer's payload (None: only rows are capped); ``memory_mb``
    each worker's memory (0: no cap)."""

    def __init__(self, store_dir: Path, base: str, workers: int = 2, timeout: float = 10.0,
                 row_cap: int = 10_000, byte_cap: int | None = None,
                 memory_mb: int = 0, service_allowlist: Sequence[str] = ()) -> None:
        self.store_dir, self.base = str(store_dir), base
        self.timeout, self.row_cap = timeout, row_cap
        self.byte_cap, self.memory_mb = byte_cap, memory_mb
        self._ctx = multiprocessing.get_context("spawn")  # safe beside server threads
        self._idle: queue.Queue[_Process] = queue.Queue()
        self._all: list[_Process] = []
        self._lock = threading.Lock()
        self._closed = False  # then no worker is started again (request threads outlive it)
        self._forwarder, self._run_dir, self._federation = None, None, None
        try:
            if service_allowlist:
                self._start_forwarder(list(service_allowlist))
            for _ in range(max(1, workers)):
                self._spawn()
            for proc in list(self._all):
                if not proc.wait_ready(60):
                    raise ReleaseError(f"{store_dir}: a query worker could not open the store")
        except (EOFError, OSError):  # a worker ended before it said it was ready
            self.close()
            raise ReleaseError(f"{store_dir}: a query worker ended before it opened the "
                               "store") from None
        except BaseException:  # a ReleaseError, or Ctrl-C (SIGTERM) while the workers start
            self.close()
            raise

    def _start_forwarder(self, allowlist: list[str]) -> None:
        """The one path from the query workers to the allow-listed endpoints (federation.py);
        started in this server process, after any fork, since its threads do not survive one."""
        from endpoint import federation

        try:
            targets = federation.parse_allowlist(allowlist)
        except ValueError as err:
            raise ReleaseError(str(err)) from None
        try:
            with _stops_deferred():  # a stop is taken once close() knows the folder
                self._run_dir = tempfile.mkdtemp(prefix="senacs-kg-")  # 0700, a short path
                self._forwarder = federation.Forwarder(targets, Path(self._run_dir))
        except (federation.FederationError, OSError, RuntimeError) as err:
            # e.g. a TMPDIR too long for a socket's path, not writable, or no thread left;
            # the folder, if made, is removed by close() (__init__)
            raise ReleaseError(f"SERVICE_ALLOWLIST: {err}") from None
        self._federation = (targets, self._forwarder.path)

    def _spawn(self) -> None:
        with self._lock:
            if self._closed:
                return
            with _stops_deferred():  # (and taken once the process is listed, for close())
                proc = _Process(self._ctx, self.store_dir, self.base, self._federation,
                                self.byte_cap, self.memory_mb)
                self._all.append(proc)
        self._idle.put(proc)

    def _replace(self, proc: _Process) -> None:
        proc.kill()
        with self._lock:
            self._all.remove(proc)
        self._spawn()

    def _checkout(self, timeout: float, deadline: float) -> _Process:
        """An idle worker that is alive; a dead one (killed or crashed while idle) is replaced
        on the way, so that no query is sent to it."""
        while True:
            try:
                proc = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise Overloaded(f"every query worker stayed busy for {timeout:g} s") from None
            if proc.alive():
                return proc
            self._replace(proc)

    def _lost(self, proc: _Process) -> Exception:
        """Why a worker stopped answering, as the client's error; it is replaced."""
        code = proc.exit_code(1.0)
        self._replace(proc)
        if code == -signal.SIGABRT and self.memory_mb > 0:  # an allocation over RLIMIT_DATA
            return QueryTooLarge(self._memory_message())
        return WorkerLost("the query worker stopped unexpectedly and has been replaced: "
                          "try again")

    def _memory_message(self) -> str:
        return f"the query needed more than {self.memory_mb} MB of memory and was stopped"

    def query(self, text: str, default_graphs: Sequence[str] = (),
              named_graphs: Sequence[str] = (), timeout: float | None = None,
              base_iri: str | None = None, row_cap: int | None = None) -> Answer:
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        proc = self._checkout(timeout, deadline)
        try:
            if not proc.wait_ready(max(0.0, deadline - time.monotonic())):
                self._idle.put(proc)
                raise Overloaded("the query workers are starting")
            proc.conn.send((text, list(default_graphs), list(named_graphs),
                            self.row_cap if row_cap is None else row_cap, base_iri))
            demoted = False
            if not proc.conn.poll(max(0.0, min(DEMOTE_AFTER, deadline - time.monotonic()))):
                demoted = proc.renice(19)  # a long query yields the CPU to everyone else's
            if not proc.conn.poll(max(0.0, deadline - time.monotonic())):
                self._replace(proc)  # really stops the query
                proc = None
                raise QueryTimeout(f"the query ran longer than {timeout:g} s and was stopped")
            status, *rest = proc.conn.recv()
            if status == "memory":  # the worker ran out of memory in Python and exits
                self._replace(proc)
                raise QueryTooLarge(self._memory_message())
            if demoted and not proc.renice(0):
                self._replace(proc)  # could not be raised again: a fresh one takes its place
                proc = None
        except (EOFError, OSError):  # the pipe broke: the worker died (crash, kill, memory)
            raise self._lost(proc) from None
        if proc is not None:
            self._idle.put(proc)
        if status == "ok":
            return rest[0]
        if status == "refused":
            raise QueryRefused(rest[0])
        if status == "failed":
            raise QueryFailed(rest[0])
        if status == "too large":
            raise QueryTooLarge(rest[0])
        raise QueryError(rest[0])

    def close(self) -> None:
        """Stop the query workers, then the forwarder, and remove its socket's folder
        (whatever the workers did; also while request threads still query)."""
        with self._lock:
            self._closed = True
            procs = list(self._all)
        try:
            for proc in procs:
                try:
                    proc.conn.send(None)
                except (BrokenPipeError, OSError):
                    pass
                proc.process.join(2)
                if proc.process.is_alive():
                    proc.kill()
        finally:
            with _stops_deferred():  # not left half-removed by a stop that comes meanwhile
                try:
                    if self._forwarder is not None:
                        self._forwarder.close()
                        self._forwarder = None
                finally:
                    if self._run_dir is not None:
                        shutil.rmtree(self._run_dir, ignore_errors=True)


# -- a remote SPARQL endpoint ----------------------------------------------------------------------


class RemoteStore:
    """Any SPARQL 1.1 endpoint (Virtuoso, Fuseki, QLever, GraphDB) reached with SPARQLWrapper."""

    def __init__(self, endpoint: str, timeout: float = 30.0, row_cap: int = 10_000,
                 byte_cap: int | None = None) -> None:
        self.endpoint, self.timeout, self.row_cap = endpoint, timeout, row_cap
        self.byte_cap = byte_cap

    def query(self, text: str, default_graphs: Sequence[str] = (),
              named_graphs: Sequence[str] = (), timeout: float | None = None,
              base_iri: str | None = None, row_cap: int | None = None) -> Answer:
        import pyoxigraph as ox
        from SPARQLWrapper import POST, SPARQLWrapper
        from SPARQLWrapper.SPARQLExceptions import QueryBadFormed, SPARQLWrapperException

        client = SPARQLWrapper(self.endpoint)
        client.setMethod(POST)
        client.setQuery(f"BASE <{base_iri}>\n{text}" if base_iri else text)
        client.setTimeout(int(timeout or self.timeout))
        for graph in default_graphs:
            client.addDefaultGraph(graph)
        for graph in named_graphs:
            client.addNamedGraph(graph)
        graph_form = client.queryType in ("CONSTRUCT", "DESCRIBE")
        client.setOnlyConneg(True)
        client.addCustomHttpHeader("Accept", "application/n-triples, text/plain;q=0.9"
                                   if graph_form else "application/sparql-results+json")
        try:
            response = client.query().response
            body = response.read()
        except QueryBadFormed as err:
            detail = getattr(err, "response", b"") or b""
            if isinstance(detail, bytes):
                detail = detail.decode("utf-8", "replace")
            raise QueryError(" ".join(str(detail or err).split())) from None
        except (SPARQLWrapperException, OSError) as err:
            if "timed out" in str(err):
                raise QueryTimeout(f"the remote endpoint did not answer in {timeout} s") from None
            raise QueryError(f"the remote endpoint failed: {err}") from None
        cap = self.row_cap if row_cap is None else row_cap
        if graph_form:
            return answer_of(ox.parse(body, format=ox.RdfFormat.N_TRIPLES), cap, self.byte_cap)
        return answer_of(ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON), cap,
                         self.byte_cap)

    def close(self) -> None:
        pass

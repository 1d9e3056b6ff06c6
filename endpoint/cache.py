"""Answers kept for the release being served: in memory, and on disk for every server process.

A release is immutable while it is served, so an answer stays true until the
server loads another one. ``CachedStore`` wraps any store with the same
``query()`` interface, so SPARQL requests and the HTML pages' own queries both
use it. Two levels:

- a small LRU in each process (``CACHE_ENTRIES``);
- an SQLite file inside the on-disk store directory (``CACHE_DISK_MB``), shared
  by all gunicorn workers and kept across restarts; it goes away with the store
  when another release is loaded. Oldest answers are dropped beyond its size.

In front of Flask, ``ResponseCache`` keeps the whole responses of repeated GET
queries (``CACHE_RESPONSES_MB``), replayed without entering Flask at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from endpoint.store import Answer

MAX_CACHED_BYTES = 4 * 1024 * 1024  # a larger answer is not kept
DISK_FILE = "senacs-kg-answers.sqlite"
_TRIM_EVERY = 64  # puts between two checks of the disk cache's size


class MemoryCache:
    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._data: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Answer | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, answer: Answer) -> None:
        with self._lock:
            self._data[key] = answer
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)


class DiskCache:
    """Answers in one SQLite file (WAL: many readers, one writer at a time, any process)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path, self.max_bytes = path, max_bytes
        self._local = threading.local()
        self._puts = 0
        self._puts_lock = threading.Lock()  # threads of one process count together
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, kind TEXT, "
                       "payload BLOB, truncated INTEGER, rows INTEGER)")

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def get(self, key: str) -> Answer | None:
        try:
            row = self._connect().execute(
                "SELECT kind, payload, truncated, rows FROM answers WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.Error:
            return None  # a cache that cannot be read is a miss, never an error
        return Answer(row[0], bytes(row[1]), bool(row[2]), row[3]) if row else None

    def put(self, key: str, answer: Answer) -> None:
        try:
            db = self._connect()
            db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                       (key, answer.kind, answer.payload, int(answer.truncated), answer.rows))
            with self._puts_lock:
                self._puts += 1
                trim = self._puts % _TRIM_EVERY == 0
            if trim:
                self._trim(db)
        except sqlite3.Error:
            return  # e.g. busy or disk full: the answer is simply not kept

    def _trim(self, db: sqlite3.Connection) -> None:
        total = db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0) FROM answers").fetchone()[0]
        if total <= self.max_bytes:
            return
        excess = total - int(self.max_bytes * 0.8)
        db.execute("""DELETE FROM answers WHERE rowid IN (SELECT rowid FROM (
            SELECT rowid, SUM(LENGTH(payload)) OVER (ORDER BY rowid) AS upto FROM answers)
            WHERE upto <= ?)""", (excess,))


class CachedStore:
    """Any store, its answers kept: ``query()`` as the store's, ``Answer.cached`` says a hit."""

    def __init__(self, store, memory_entries: int, disk: Path | None = None,
                 disk_mb: float = 0) -> None:
        self.store = store
        self.memory = MemoryCache(memory_entries) if memory_entries > 0 else None
        self.disk = DiskCache(disk, int(disk_mb * 1024 * 1024)) if disk and disk_mb > 0 else None

    @property
    def enabled(self) -> bool:
        return self.memory is not None or self.disk is not None

    @staticmethod
    def key(text: str, default_graphs: Sequence[str], named_graphs: Sequence[str],
            base_iri: str | None, row_cap: int | None) -> str:
        parts = [text, "\x1f".join(default_graphs), "\x1f".join(named_graphs),
                 base_iri or "", str(row_cap)]
        return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()

    def lookup(self, key: str) -> Answer | None:
        answer = self.memory.get(key) if self.memory else None
        if answer is None and self.disk:
            answer = self.disk.get(key)
            if answer is not None and self.memory:
                self.memory.put(key, answer)
        return dataclasses.replace(answer, cached=True) if answer is not None else None

    def keep(self, key: str, answer: Answer) -> None:
        if len(answer.payload) > MAX_CACHED_BYTES:
            return
        if self.memory:
            self.memory.put(key, answer)
        if self.disk:
            self.disk.put(key, answer)

    def query(self, text: str, default_graphs: Sequence[str] = (),
              named_graphs: Sequence[str] = (), timeout: float | None = None,
              base_iri: str | None = None, row_cap: int | None = None) -> Answer:
        key = self.key(text, default_graphs, named_graphs, base_iri, row_cap)
        found = self.lookup(key)
        if found is not None:
            return found
        answer = self.store.query(text, default_graphs, named_graphs, timeout=timeout,
                                  base_iri=base_iri, row_cap=row_cap)
        self.keep(key, answer)
        return answer

    def close(self) -> None:
        self.store.close()


REPLAYABLE = "senacs.replayable"  # set in the WSGI environ by a view whose 200 may be replayed
# What a replayable response may depend on besides the path and query string. Not the Host
# nor the scheme: no response names them (the public base comes from configuration), and
# keying on them would let any client crowd the cache out with made-up host names.
_VARY = ("HTTP_ACCEPT", "HTTP_ACCEPT_LANGUAGE", "SCRIPT_NAME")
# Requests the application must see itself: conditional and partial ones.
_BYPASS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_RANGE")


class ResponseCache:
    """Whole GET responses, replayed without entering Flask: a WSGI middleware.

    An answer found in the answer cache still costs Flask's request handling, the
    query's checks, negotiation and rendering, about 200 µs of one core; the
    response depends only on the path, the query string and a few headers
    (``_VARY``), because the release is fixed for the process's life. Only
    responses a view marks replayable (``environ[REPLAYABLE]``: the 200s of GET
    queries, resource pages, the home page and the release's own descriptions) are
    kept, in each process's memory,
    least recently used dropped beyond ``max_bytes``. A replay says
    ``X-Cache: hit`` and, as an HTTP cache does, its ``Age`` in seconds.
    """

    def __init__(self, app: Callable, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes
        self._data: OrderedDict[tuple, tuple[str, list[tuple[str, str]], bytes, float]] = \
            OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or any(h in environ for h in _BYPASS):
            return self.app(environ, start_response)
        key = (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""),
               *(environ.get(h, "") for h in _VARY))
        with self._lock:
            kept = self._data.get(key)
            if kept is not None:
                self._data.move_to_end(key)
        if kept is not None:
            status, headers, body, stored = kept
            start_response(status, [*headers, ("Age", str(int(time.monotonic() - stored)))])
            return [body]
        seen: dict = {}

        def remember(status: str, headers: list, exc_info=None):
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info) if exc_info else \
                start_response(status, headers)

        result = self.app(environ, remember)
        if not environ.get(REPLAYABLE) or not seen.get("status", "").startswith("200 "):
            return result
        try:
            body = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        if len(body) <= min(MAX_CACHED_BYTES, self.max_bytes):
            headers = [(k, "hit" if k.lower() == "x-cache" else v) for k, v in seen["headers"]]
            self._keep(key, (seen["status"], headers, body, time.monotonic()))
        return [body]

    def _keep(self, key: tuple, entry: tuple[str, list[tuple[str, str]], bytes, float]) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            self._bytes += len(entry[2]) - (len(old[2]) if old else 0)
            self._data[key] = entry
            while self._bytes > self.max_bytes and self._data:
                _, dropped = self._data.popitem(last=False)
                self._bytes -= len(dropped[2])

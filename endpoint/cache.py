"""Answers kept for the release being served: in memory, and on disk for every server process.

A release is immutable while it is served, so an answer stays true until the
server loads another one. ``CachedStore`` wraps any store with the same
``query()`` interface, so SPARQL requests and the HTML pages' own queries both
use it. Two levels:

- a small LRU in each process (``CACHE_ENTRIES`` answers, ``CACHE_MEMORY_MB``);
- an SQLite file inside the on-disk store directory (``CACHE_DISK_MB``, the file
  and its write-ahead log together), shared by all gunicorn workers and kept
  across restarts; it goes away with the store when another release is loaded.
  Oldest answers are dropped beyond its size.

A query whose answer may change from one run to the next (NOW(), RAND(),
UUID(), STRUUID(), BNODE(), SERVICE: ``guard.is_deterministic``) is never kept.

In front of Flask, ``ResponseCache`` keeps the whole responses of repeated GET
queries (``CACHE_RESPONSES_MB``), replayed without entering Flask at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from endpoint import guard
from endpoint.store import Answer, Store

MAX_CACHED_BYTES = 4 * 1024 * 1024  # a larger answer is not kept
DISK_FILE = "senacs-kg-answers.sqlite"
ENTRY_OVERHEAD = 512  # bytes an entry costs besides its payload (key, objects), roughly
KEY_VERSION = "3"  # answers kept by earlier versions are never found (RAND() among them; 3: a
# series store now holds its changelog graphs, so a GRAPH ?g answer of version 2 is stale)

log = logging.getLogger(__name__)


class MemoryCache:
    """The most recently used answers, at most ``entries`` of them in ``max_bytes``."""

    def __init__(self, entries: int, max_bytes: int | None = None) -> None:
        self.entries, self.max_bytes = entries, max_bytes
        self._data: OrderedDict[str, Answer] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    @staticmethod
    def size(answer: Answer) -> int:
        return len(answer.payload) + ENTRY_OVERHEAD

    def get(self, key: str) -> Answer | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key: str, answer: Answer) -> None:
        if self.max_bytes is not None and self.size(answer) > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            self._bytes += self.size(answer) - (self.size(old) if old is not None else 0)
            self._data[key] = answer
            while len(self._data) > self.entries or (
                    self.max_bytes is not None and self._bytes > self.max_bytes):
                _, dropped = self._data.popitem(last=False)
                self._bytes -= self.size(dropped)


def _while_busy(step: Callable[[], object], patience: float = 10.0) -> None:
    """Run ``step``, again while another process holds the lock it needs.

    SQLite does not call its busy handler for every lock: switching a new file to WAL while
    another process opens it answers "database is locked" at once (seen when a server's
    workers all start together), so the wait is done here.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error) \
                    or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class DiskCache:
    """Answers in one SQLite file (WAL: many readers, one writer at a time, any process), the
    file, its write-ahead log and the log's index within ``max_bytes`` together.

    The log gets an eighth of the budget (``wal_autocheckpoint``, ``journal_size_limit``), the
    file the rest. The file's size is counted in pages (what it takes on disk), not as the sum
    of the payloads: the oldest answers are deleted until the live pages and the new answer fit,
    and the freed pages are reused by later answers, so the file never grows past its share. A
    log that readers keep from being checkpointed is not written further: the answer is simply
    not kept. The sizes are read and the answer written in one write transaction, so that
    processes writing at the same time cannot each take the same room.
    """

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path, self.max_bytes = path, max_bytes
        self.wal_path = Path(f"{path}-wal")
        self.wal_max = max(64 * 1024, max_bytes // 8)
        self._local = threading.local()
        _while_busy(self._open)

    def _open(self) -> None:
        db = self._connect()
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'answers'").fetchone():
            db.execute("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, kind TEXT, "
                       "payload BLOB, truncated INTEGER, rows INTEGER)")
        elif self._file_bytes(db) > self._file_max(db):
            self._start_afresh(db)

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            _while_busy(lambda: db.execute("PRAGMA journal_mode=WAL"))
            db.execute("PRAGMA synchronous=NORMAL")
            # Debian's SQLite zeroes deleted pages by default: a trim would write every freed
            # page to the log, as large as what it deletes (the answers are public anyway)
            db.execute("PRAGMA secure_delete=OFF")
            page = db.execute("PRAGMA page_size").fetchone()[0]
            db.execute(f"PRAGMA wal_autocheckpoint={max(16, self.wal_max // 2 // page)}")
            db.execute(f"PRAGMA journal_size_limit={self.wal_max // 2}")
            self._local.db = db
        return db

    def _file_max(self, db: sqlite3.Connection) -> int:
        """The file's share: the budget less the log's and the log index's (-shm)."""
        shm = Path(f"{self.path}-shm")
        return self.max_bytes - self.wal_max - (shm.stat().st_size if shm.exists() else 32768)

    @staticmethod
    def _file_bytes(db: sqlite3.Connection) -> int:
        return db.execute("PRAGMA page_count").fetchone()[0] * \
            db.execute("PRAGMA page_size").fetchone()[0]

    @staticmethod
    def _live_bytes(db: sqlite3.Connection) -> int:
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        return (db.execute("PRAGMA page_count").fetchone()[0] - free) * \
            db.execute("PRAGMA page_size").fetchone()[0]

    def _start_afresh(self, db: sqlite3.Connection) -> None:
        """A file already larger than its share (an earlier version, a lowered setting):
        its answers are dropped and the file shrunk; they are only a cache."""
        try:
            db.execute("DELETE FROM answers")
            db.execute("VACUUM")
            self._checkpoint(db)
        except sqlite3.Error:
            pass  # another process is doing it, or will

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
            need = len(answer.payload) + len(key) + 4 * db.execute(
                "PRAGMA page_size").fetchone()[0]  # its pages, with the b-tree's
            if self._wal_bytes() + need > self.wal_max:
                self._checkpoint(db)
            with db:  # one writer at a time, any process: the sizes seen are the sizes written
                db.execute("BEGIN IMMEDIATE")
                if self._wal_bytes() + need <= self.wal_max and self._room_in_file(db, need):
                    db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?)",
                               (key, answer.kind, answer.payload, int(answer.truncated),
                                answer.rows))
        except sqlite3.Error:
            return  # e.g. busy or disk full: the answer is simply not kept

    def _room_in_file(self, db: sqlite3.Connection, need: int) -> bool:
        """The live pages and ``need`` fit in the file's share, the oldest answers deleted
        first if they do not (down to 80 % of it, so that trims are not at every answer)."""
        limit = self._file_max(db)
        live = self._live_bytes(db)
        if live + need <= limit:
            return True
        excess = live + need - int(limit * 0.8)
        db.execute("""DELETE FROM answers WHERE rowid IN (SELECT rowid FROM (
            SELECT rowid, SUM(LENGTH(payload) + LENGTH(key)) OVER (ORDER BY rowid)
                          - LENGTH(payload) - LENGTH(key) AS before FROM answers)
            WHERE before < ?)""", (excess,))
        return self._live_bytes(db) + need <= limit

    def _wal_bytes(self) -> int:
        try:
            return self.wal_path.stat().st_size
        except FileNotFoundError:
            return 0

    @staticmethod
    def _checkpoint(db: sqlite3.Connection) -> None:
        """Copy the log into the file and empty it, waiting at most 0.2 s for readers."""
        db.execute("PRAGMA busy_timeout=200")
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            db.execute("PRAGMA busy_timeout=10000")


class CachedStore:
    """Any store, its answers kept: ``query()`` as the store's, ``Answer.cached`` says a hit."""

    def __init__(self, store: Store, memory_entries: int, disk: Path | None = None,
                 disk_mb: float = 0, memory_mb: float | None = None, scope: str = "",
                 shared: tuple[MemoryCache | None, DiskCache | None] | None = None) -> None:
        """``shared``: caches made by the caller instead (a series: one memory and one disk
        cache for all its releases, so that their bounds hold for the whole server); ``scope``
        then names what these answers are of (the release), and goes into every key."""
        self.store = store
        if shared is not None:
            self.memory, self.disk = shared
        else:
            self.memory = self.memory_cache(memory_entries, memory_mb)
            self.disk = self.open_disk(disk, disk_mb) if disk and disk_mb > 0 else None
        # what an answer also depends on: the store's own caps (settings may change between
        # two starts on the same disk cache), the version of the keys, and the release
        parts = (KEY_VERSION, str(getattr(store, "row_cap", "")),
                 str(getattr(store, "byte_cap", "")))
        self.salt = "\x1d".join((*parts, scope) if scope else parts)

    @staticmethod
    def memory_cache(entries: int, memory_mb: float | None) -> MemoryCache | None:
        """The in-process cache the settings ask for, or None (no entries, or no bytes)."""
        memory_bytes = None if memory_mb is None else int(memory_mb * 1024 * 1024)
        return MemoryCache(entries, memory_bytes) if entries > 0 and memory_bytes != 0 else None

    @staticmethod
    def open_disk(path: Path, disk_mb: float) -> DiskCache | None:
        """The disk cache, or none if its file cannot be opened: a cache never stops a start."""
        try:
            return DiskCache(path, int(disk_mb * 1024 * 1024))
        except sqlite3.Error as error:
            log.warning("answers are not kept on disk: %s cannot be opened (%s)", path, error)
            return None

    @property
    def enabled(self) -> bool:
        return self.memory is not None or self.disk is not None

    @staticmethod
    def key(text: str, default_graphs: Sequence[str], named_graphs: Sequence[str],
            base_iri: str | None, row_cap: int | None, salt: str = "") -> str:
        parts = [text, "\x1f".join(default_graphs), "\x1f".join(named_graphs),
                 base_iri or "", str(row_cap), salt]
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
        key = self.key(text, default_graphs, named_graphs, base_iri, row_cap, self.salt)
        found = self.lookup(key)  # a non-deterministic query is never kept: never found
        if found is not None:
            return found
        answer = self.store.query(text, default_graphs, named_graphs, timeout=timeout,
                                  base_iri=base_iri, row_cap=row_cap)
        if guard.is_deterministic(text):  # read on misses only: hits cost no lexing
            self.keep(key, answer)
        return answer

    def close(self) -> None:
        self.store.close()


REPLAYABLE = "senacs.replayable"  # set in the WSGI environ by a view whose 200 may be replayed
# What a replayable response may depend on besides the path and query string. Not the Host
# nor the scheme: no response names them (the public base comes from configuration), and
# keying on them would let any client crowd the cache out with made-up host names.
_VARY = ("HTTP_ACCEPT", "HTTP_ACCEPT_LANGUAGE", "SCRIPT_NAME")
# Requests the application must see itself: conditional and partial ones, and those asking
# for a past state (Memento's Accept-Datetime: a series' TimeGate answers them, endpoint/memento.py)
_BYPASS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_MATCH", "HTTP_RANGE",
           "HTTP_ACCEPT_DATETIME")


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

    def clear(self) -> None:
        """Forget every response: a series whose latest release changed serves other bytes at
        the same paths."""
        with self._lock:
            self._data.clear()
            self._bytes = 0

    @staticmethod
    def _size(key: tuple, entry: tuple[str, list[tuple[str, str]], bytes, float]) -> int:
        """What an entry holds in memory: its body, and its key and headers too (a 60 KB
        query string on a 29-byte answer must count as 60 KB, or padding fills memory)."""
        return (len(entry[2]) + sum(len(part) for part in key)
                + sum(len(k) + len(v) for k, v in entry[1]) + 64)

    def _keep(self, key: tuple, entry: tuple[str, list[tuple[str, str]], bytes, float]) -> None:
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= self._size(key, old)
            self._bytes += self._size(key, entry)
            self._data[key] = entry
            while self._bytes > self.max_bytes and self._data:
                dropped_key, dropped = self._data.popitem(last=False)
                self._bytes -= self._size(dropped_key, dropped)

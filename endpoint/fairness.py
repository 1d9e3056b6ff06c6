"""Fair share between clients: one address cannot hold the query workers the others need.

Only uncached work is limited. ``FairStore`` sits between the answer cache
(``endpoint.cache.CachedStore``) and the store, so an answer found in a cache
never waits and is never refused; every query that reaches the store does, the
SPARQL endpoint's and the pages' own alike, for the client whose request runs it.

A client is the peer address (``request.remote_addr``, which
``endpoint.proxies`` rewrites from ``X-Forwarded-For`` only for trusted proxies);
an IPv6 client is its /64, as one subscriber is given a whole /64.

Per client, three bounds:

- at most ``CLIENT_QUERIES`` uncached queries run at once, counted across every
  server process of the machine (granian and gunicorn run several, each with its own
  query workers, so a Python dict would not do): each running query holds one of
  the client's numbered lock files (``flock``, non-blocking) in a directory beside
  the store; the kernel drops the lock when its holder ends, even by ``kill -9``;
- in one server process, at most ``QUERY_WORKERS - 1`` of them, so that every
  process always keeps a query worker for the other addresses;
- at most ``QUEUE_LENGTH`` more wait, each for ``QUEUE_WAIT`` seconds at most (a
  waiting place is a lock file too); beyond either bound the answer is 429 Too Many
  Requests with ``Retry-After``.

Queries run without a request (the background warm-up) are not limited.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from flask import Flask, Response, g, has_app_context, request

from endpoint.store import Answer, Store

CLIENT = "senacs_client"  # the flask.g attribute naming the requesting client
SWEEP_EVERY = 600.0  # seconds between two removals of the unused lock files of one process
SWEEP_AT_MOST = 20_000  # files looked at by one removal
_POLL_FIRST, _POLL_MAX = 0.005, 0.05  # seconds between two tries of a waiting query
log = logging.getLogger(__name__)


class Busy(Exception):
    """The client already has as many queries running and waiting as it may: a 429."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


def client_key(address: str | None) -> str:
    """The client an address belongs to: the IPv4 address, or the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address((address or "").split("%", 1)[0])
    except ValueError:
        return "unknown"  # e.g. a Unix socket: every such peer is one client
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def current_client() -> str | None:
    """The client of the request being answered; None outside a request (the warm-up)."""
    return g.get(CLIENT) if has_app_context() else None


class SlotFiles:
    """Numbered lock files per client in one directory, shared by every process using it.

    A slot is held while its file is locked (``flock``); the kernel releases it when
    the file is closed or its process ends. File names are a hash of the client, never
    request text. Unused files are removed now and then; a holder checks after locking
    that its file was not removed meanwhile (else it tries again on a new one).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._last_sweep = time.monotonic()
        self._sweep_lock = threading.Lock()
        # fail at start, not at the first query; a probe of this process's own (server
        # processes start together: a shared probe name made the second one fail)
        held = self.take(f"probe-{os.getpid()}", "run", 1)
        if held is None:
            raise OSError(f"{directory}: cannot take a lock file here")
        os.close(held)

    @staticmethod
    def name(client: str, kind: str, number: int) -> str:
        digest = hashlib.sha256(client.encode("utf-8")).hexdigest()[:32]
        return f"{digest}.{kind}{number}"

    def take(self, client: str, kind: str, count: int) -> int | None:
        """One free slot of ``count`` (a locked file descriptor), or None if all are held."""
        self._maybe_sweep()
        for number in range(count):
            fd = self._lock(self.directory / self.name(client, kind, number))
            if fd is not None:
                return fd
        return None

    @staticmethod
    def _lock(path: Path) -> int | None:
        for _ in range(3):  # a removal between open and lock: take the new file
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return None
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return fd
            except FileNotFoundError:
                pass
            os.close(fd)
        return None

    @staticmethod
    def release(fd: int) -> None:
        os.close(fd)  # closing the descriptor drops its lock

    def _maybe_sweep(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_EVERY or not self._sweep_lock.acquire(blocking=False):
            return
        try:
            self._last_sweep = now
            self.sweep()
        finally:
            self._sweep_lock.release()

    def sweep(self) -> int:
        """Remove the files no query holds (one per client seen, else they pile up)."""
        removed = 0
        with os.scandir(self.directory) as entries:
            for seen, entry in enumerate(entries):
                if seen >= SWEEP_AT_MOST:
                    break
                try:
                    fd = os.open(entry.path, os.O_RDWR | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    os.unlink(entry.path)
                    removed += 1
                except OSError:
                    pass  # held by a running or waiting query: kept
                finally:
                    os.close(fd)
        return removed


class FairStore:
    """Any store, its uncached queries limited per client: ``query()`` as the store's."""

    def __init__(self, store: Store, slots: SlotFiles, client_queries: int, per_process: int,
                 queue_length: int, queue_wait: float, retry_after: int,
                 client: Callable[[], str | None] = current_client) -> None:
        self.store, self.slots, self.client = store, slots, client
        self.client_queries = client_queries
        self.per_process = max(1, min(per_process, client_queries))
        self.queue_length, self.queue_wait = max(0, queue_length), max(0.0, queue_wait)
        self.retry_after = retry_after
        self._running: dict[str, int] = {}  # this process's running queries per client
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self.store, name)  # whatever else the wrapped store offers

    def query(self, text: str, default_graphs: Sequence[str] = (),
              named_graphs: Sequence[str] = (), timeout: float | None = None,
              base_iri: str | None = None, row_cap: int | None = None) -> Answer:
        client = self.client()
        if client is None or self.client_queries <= 0:
            return self.store.query(text, default_graphs, named_graphs, timeout=timeout,
                                    base_iri=base_iri, row_cap=row_cap)
        held = self._admit(client)
        try:
            return self.store.query(text, default_graphs, named_graphs, timeout=timeout,
                                    base_iri=base_iri, row_cap=row_cap)
        finally:
            self._leave(client, held)

    def _admit(self, client: str) -> int | None:
        """Wait for one of the client's running places; its lock (None: no shared slot)."""
        taken, held = self._try_run(client)
        if taken:
            return held
        place = self._try_queue(client)
        try:
            deadline = time.monotonic() + self.queue_wait
            pause = _POLL_FIRST
            while time.monotonic() < deadline:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, _POLL_MAX)
                taken, held = self._try_run(client)
                if taken:
                    return held
        finally:
            if place is not None:
                self.slots.release(place)
        raise Busy(f"too many queries from your address at once: this one waited "
                   f"{self.queue_wait:g} s for its turn; try again in {self.retry_after} s "
                   "(cached answers are not limited)", self.retry_after)

    def _try_queue(self, client: str) -> int | None:
        """A waiting place (its lock; None if the lock files cannot be used), or Busy."""
        try:
            place = self.slots.take(client, "wait", self.queue_length) if self.queue_length \
                else None
        except OSError as err:  # e.g. no file descriptor left: wait without a place
            log.warning("client slots unavailable, queue unbounded: %s", err)
            return None
        if place is None:
            raise Busy(f"too many queries from your address at once (at most "
                       f"{self.client_queries} run and {self.queue_length} wait); try again in "
                       f"{self.retry_after} s (cached answers are not limited)",
                       self.retry_after)
        return place

    def _try_run(self, client: str) -> tuple[bool, int | None]:
        """Take a running place now if both bounds allow: (taken, its lock)."""
        with self._lock:
            if self._running.get(client, 0) >= self.per_process:
                return False, None
            try:
                held = self.slots.take(client, "run", self.client_queries)
            except OSError as err:  # e.g. no file descriptor left: this process's bound only
                log.warning("client slots unavailable, limiting per process only: %s", err)
                held = -1
            if held is None:
                return False, None
            self._running[client] = self._running.get(client, 0) + 1
        return True, None if held == -1 else held

    def _leave(self, client: str, held: int | None) -> None:
        with self._lock:
            left = self._running.get(client, 1) - 1
            if left > 0:
                self._running[client] = left
            else:
                self._running.pop(client, None)
        if held is not None:
            self.slots.release(held)

    def close(self) -> None:
        self.store.close()


def slots_dir(store_dir: Path) -> Path:
    """Where the lock files live: beside the store, shared by every process serving it."""
    return store_dir.parent / f".{store_dir.name}.clients"


def wrap(store, config, workers: int | None, slots_in: Path | None = None) -> FairStore:
    """``store`` limited per client as the configuration says; ``workers`` is the number of
    query workers of one process (None for a remote store, which has no such pool);
    ``slots_in`` the lock files' directory when it is not the store's (a series: one for all
    its releases, so that ``CLIENT_QUERIES`` bounds a client across them)."""
    client_queries = int(config["CLIENT_QUERIES"])
    per_process = client_queries if workers is None else max(1, workers - 1)
    slots = SlotFiles(slots_in or slots_dir(Path(str(config["STORE_DIR"]))))
    return FairStore(store, slots, client_queries, per_process, int(config["QUEUE_LENGTH"]),
                     float(config["QUEUE_WAIT"]),
                     max(1, math.ceil(float(config["QUERY_TIMEOUT"]))))


def register(app: Flask) -> None:
    """Name each request's client, and answer 429 when it is over its share."""

    @app.before_request
    def name_client() -> None:
        setattr(g, CLIENT, client_key(request.remote_addr))

    @app.errorhandler(Busy)
    def busy(err: Busy) -> Response:
        response = Response(err.message + "\n", status=429,
                            content_type="text/plain; charset=utf-8")
        response.headers["Retry-After"] = str(err.retry_after)
        return response

"""The release stores of a series open at once: a bounded pool, least recently used closed first.

Each open store is an ``EmbeddedStore`` with its own query worker processes, so the bound on
open stores is the bound on processes: at most ``limit`` × ``QUERY_WORKERS`` query workers per
server process. A store is opened on its release's first query (and built from the release's
dump first if it is not on disk yet, ``store.prepare_store``), and closed to make room for
another: never while it answers a query, never the pinned one (the latest release, whose
store is opened at start and stays open). The store to close is closed before the new one's
workers start, so the bound holds at every moment. When every open store is busy, a query
for another release waits for one to finish, up to its time, then gets a 503.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from endpoint.store import Answer, Overloaded, ReleaseError, Store

log = logging.getLogger(__name__)


class StoreUnavailable(Overloaded):
    """A release's store could not be opened (a 503; the reason is logged, not told)."""


@dataclass(eq=False)
class _Slot:
    users: int = 0  # queries using the store now (and the thread opening it)
    store: Store | None = None
    failed: BaseException | None = None  # why it could not be opened
    ready: threading.Event = field(default_factory=threading.Event)


class StorePool:
    """At most ``limit`` stores open, each made by ``opener(release_id)``."""

    def __init__(self, limit: int, opener: Callable[[str], Store]) -> None:
        self.limit, self._opener = limit, opener
        self._slots: OrderedDict[str, _Slot] = OrderedDict()  # least recently used first
        self._pinned: str | None = None
        self._cond = threading.Condition()

    def open_ids(self) -> list[str]:
        """The releases whose store is open (or opening), least recently used first."""
        with self._cond:
            return list(self._slots)

    @contextmanager
    def using(self, release_id: str, wait: float) -> Iterator[Store]:
        """The release's store, opened if need be, held open while the block runs."""
        slot = self._acquire(release_id, wait)
        try:
            yield slot.store
        finally:
            self._release(slot)

    def pin(self, release_id: str, wait: float) -> None:
        """Open the release's store and keep it open (the latest release); the store pinned
        before becomes one the pool may close."""
        with self.using(release_id, wait):
            with self._cond:
                self._pinned = release_id
                self._cond.notify_all()

    def _acquire(self, release_id: str, wait: float) -> _Slot:
        deadline = time.monotonic() + wait
        closing: list[_Slot] = []
        with self._cond:
            while True:
                slot = self._slots.get(release_id)
                if slot is not None:
                    slot.users += 1
                    self._slots.move_to_end(release_id)
                    opening = False
                    break
                if len(self._slots) < self.limit:
                    slot = self._slots[release_id] = _Slot(users=1)
                    opening = True
                    break
                victim = self._idle()
                if victim is not None:
                    closing.append(self._slots.pop(victim))
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Overloaded(f"every open release store stayed busy for {wait:g} s "
                                     "(the server keeps a bounded number open): try again")
                self._cond.wait(left)
        if opening:
            self._open(release_id, slot, closing)
        elif not slot.ready.wait(max(0.0, deadline - time.monotonic())):
            self._release(slot)
            raise Overloaded(f"the store of release {release_id} is being opened (built from "
                             "its dump on first use): try again")
        if slot.failed:
            self._release(slot)
            raise StoreUnavailable(f"release {release_id} cannot be queried at the moment") \
                from slot.failed
        return slot

    def _idle(self) -> str | None:
        """The least recently used open store that no query uses and that is not pinned."""
        return next((rid for rid, slot in self._slots.items()
                     if slot.users == 0 and slot.ready.is_set() and rid != self._pinned), None)

    def _open(self, release_id: str, slot: _Slot, closing: Sequence[_Slot]) -> None:
        """Close the stores making room first (the bound holds throughout), then open."""
        for old in closing:
            _close(old)
        try:
            slot.store = self._opener(release_id)
        except Exception as err:  # noqa: BLE001 (every reason is logged; the client gets a 503)
            if isinstance(err, ReleaseError):  # explained in its message: no traceback
                log.error("the store of release %s could not be opened: %s", release_id, err)
            else:
                log.exception("the store of release %s could not be opened", release_id)
            slot.failed = err
            with self._cond:
                if self._slots.get(release_id) is slot:
                    del self._slots[release_id]
                self._cond.notify_all()
        finally:
            slot.ready.set()

    def _release(self, slot: _Slot) -> None:
        with self._cond:
            slot.users -= 1
            self._cond.notify_all()

    def discard(self, release_id: str) -> bool:
        """Close the release's store now if it is open and no query uses it (its release was
        retired); False when a query still uses it (the pool closes it later, as any other)."""
        with self._cond:
            slot = self._slots.get(release_id)
            if slot is None:
                return True
            if slot.users or not slot.ready.is_set() or release_id == self._pinned:
                return False
            del self._slots[release_id]
            self._cond.notify_all()
        _close(slot)
        return True

    def close(self) -> None:
        """Close every store (the server stops)."""
        with self._cond:
            slots = list(self._slots.values())
            self._slots.clear()
        for slot in slots:
            _close(slot)


def _close(slot: _Slot) -> None:
    if slot.store is not None:
        slot.store.close()
        slot.store = None


class PooledStore:
    """One release's store as the store chain sees it (``Store``): every query borrows it from
    the pool, which opens it on first use."""

    def __init__(self, pool: StorePool, release_id: str, timeout: float, row_cap: int,
                 byte_cap: int | None) -> None:
        self.pool, self.release_id, self.timeout = pool, release_id, timeout
        self.row_cap, self.byte_cap = row_cap, byte_cap  # in the answer caches' keys

    def query(self, text: str, default_graphs: Sequence[str] = (),
              named_graphs: Sequence[str] = (), timeout: float | None = None,
              base_iri: str | None = None, row_cap: int | None = None) -> Answer:
        wait = self.timeout if timeout is None else timeout
        with self.pool.using(self.release_id, wait) as store:
            return store.query(text, default_graphs, named_graphs, timeout=timeout,
                               base_iri=base_iri, row_cap=row_cap)

    def close(self) -> None:
        pass  # the pool owns the stores

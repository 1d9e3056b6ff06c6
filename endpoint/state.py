"""What the application holds for the release it serves, typed: one object per app.

The request handlers read it; the background warm-up (sparql.warm) is the only writer after
start, and counts through methods that take a lock, not by changing a shared dict.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from flask import current_app

from endpoint.store import Store

KEY = "senacs"  # its place in Flask's app.extensions


@dataclass
class ServerState:
    store: Store  # the guarded, cached store every query goes through
    release: str  # the release's identifier (ETags, /healthz)
    manifest: dict  # the release's manifest.json
    examples: list[dict[str, str]]  # the example catalogue, for the query page and the warm-up
    triples: int = 0
    warmed: int = 0  # examples answered by the warm-up so far
    home_warmed: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def example_warmed(self) -> None:
        with self._lock:
            self.warmed += 1

    def home_is_warm(self) -> None:
        with self._lock:
            self.home_warmed = True


def server_state(app=None) -> ServerState:
    """The state of ``app``, by default the application handling the current request."""
    return (app or current_app).extensions[KEY]

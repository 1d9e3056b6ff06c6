"""A small LRU cache of query answers, keyed by query and dataset, for one release.

The release is immutable while it is served, so an answer stays true until the
server loads another release (which starts with an empty cache).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

MAX_CACHED_BYTES = 4 * 1024 * 1024  # a larger answer is not kept


class AnswerCache:
    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        if not self.entries:
            return None
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, answer) -> None:
        if not self.entries or len(answer.payload) > MAX_CACHED_BYTES:
            return
        with self._lock:
            self._data[key] = answer
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)

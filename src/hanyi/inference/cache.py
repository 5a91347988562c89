"""An in-memory LRU cache of translations: repeated sentences skip the model.

Documents, UI catalogues and web pages repeat themselves ("Cancel", "Next page", a footer on
every page); a server sees the same sentences from many clients. The key is everything that
decides the output: the model (the SHA-256 of its weights file, or its directory), the decode
settings, and the *normalised* source text (so "Hello." and "Ｈｅｌｌｏ." share an entry).
Results asked for with attention weights are neither cached nor served from the cache.
Thread-safe: the server's worker thread and the CLI share the same code.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class TranslationCache:
    """At most ``max_entries`` translations, the least recently used dropped first."""

    def __init__(self, max_entries: int, model_id: str):
        if max_entries < 1:
            raise ValueError("a cache needs room for at least one entry")
        self.max_entries, self.model_id = max_entries, model_id
        self._entries: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def key(self, decode, normalised: str) -> tuple:
        return (self.model_id, dataclasses.astuple(decode), normalised)

    def get(self, key: tuple):
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self.stats.misses += 1
                return None
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return found

    def put(self, key: tuple, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

"""A bounded uniform random sample of a stream: what `prepare` trains SentencePiece on.

Reservoir sampling keeps ``size`` items of a stream of unknown length so that every item
is in the sample with the same chance. Algorithm R (Knuth's) draws a random number for
every item; Li's Algorithm L (ACM TOMS 20(4), 1994) draws how many items to *skip* until
the next replacement, so a stream of N items costs O(size * (1 + log(N / size))) draws
and the items that are skipped are never touched. The streamed pass of `prepare` offers
its pairs chunk by chunk (:meth:`Reservoir.add_many`), so a chunk without a taken item
costs two comparisons.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence


class Reservoir:
    """At most ``size`` items of a stream, each item equally likely to be among them;
    ``items`` holds them as (position in the stream, item)."""

    def __init__(self, size: int, rng: random.Random):
        self.size, self.rng, self.seen = size, rng, 0
        self.items: list[tuple[int, object]] = []
        self._w = 1.0
        self._next = size if size > 0 else math.inf  # the index of the next item to take
        if size > 0:
            self._skip()

    def _skip(self) -> None:
        # 1 - random() lies in (0, 1]: no log(0); a w of 1.0 (a draw of exactly 1) takes
        # the next item
        self._w *= math.exp(math.log(1.0 - self.rng.random()) / self.size)
        if self._w < 1.0:
            gap = math.log(1.0 - self.rng.random()) / math.log1p(-self._w)
            self._next += int(gap)  # floor: gap >= 0

    def add(self, item) -> None:
        self.add_many((item,))

    def add_many(self, items: Sequence) -> None:
        """Offer ``items``, the next ones of the stream, in order."""
        end = self.seen + len(items)
        if len(self.items) < self.size:  # the first ``size`` items fill the reservoir
            self.items.extend(enumerate(items[: self.size - len(self.items)], self.seen))
        while self._next < end:
            self.items[self.rng.randrange(self.size)] = (self._next, items[self._next - self.seen])
            self._next += 1
            self._skip()
        self.seen = end

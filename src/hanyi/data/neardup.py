"""Near-duplicate English sentences, for honest held-out sets.

An exact-match leak check is not enough for short everyday sentences: "I like cats." in
the test set and "I like cats very much." in training let the model recite a memorised
translation, and the test score then measures memory, not translation. We call two
English sentences *near-duplicates* when their bags of words (lower-cased, punctuation
ignored) are within one word of each other: equal, or one word added, removed or
replaced:

    "Is Tom your friend?" ~ "Tom is your friend."      (same bag of words)
    "Tom is my friend."  ~  "Tom is my best friend."   (one word added)
    "I like cats."       ~  "I like dogs."             (one word replaced)
    "I like cats."       ≁  "We like dogs."            (two words replaced)

Templated phrasebook sentences ("I like X.") are exactly what a model can fill in from
memory, so a replaced word counts too; with it, about 30% of a randomly drawn Tatoeba
test set has a near-duplicate in training.

Lookup is by hashing: a held-out sentence of n words is indexed under its bag and under
each of its one-word-shorter bags. A corpus sentence matches when its bag is one of the
first (same) or second (a word removed), or one of *its* one-word-shorter bags is one of
the first (a word added) or second (a word replaced). The index holds only the (small)
held-out side, and the corpus is streamed once, so the cost is O(total words).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

_WORD = re.compile(r"\w+(?:'\w+)*")


def word_bag(en: str) -> tuple[str, ...]:
    """The sorted lower-cased words of a sentence: word order and punctuation ignored."""
    return tuple(sorted(_WORD.findall(en.lower())))


def _shorter(bag: tuple[str, ...]) -> set[tuple[str, ...]]:
    """Every bag with exactly one word removed (a set: repeated words give one bag)."""
    return {bag[:i] + bag[i + 1:] for i in range(len(bag))}


class NearDuplicateIndex:
    """The held-out sentences, indexed so that a corpus sentence finds its near-duplicates."""

    def __init__(self, sentences: Iterable[str]):
        self._same: dict[int, list[int]] = defaultdict(list)  # hash(bag) -> held ids
        self._minus: dict[int, list[int]] = defaultdict(list)  # hash(bag - 1 word) -> ids
        self._max_words = 0
        for i, en in enumerate(sentences):
            bag = word_bag(en)
            if not bag:
                continue  # no words (punctuation only): nothing to match on
            self._max_words = max(self._max_words, len(bag))
            self._same[hash(bag)].append(i)
            for short in _shorter(bag):
                self._minus[hash(short)].append(i)

    def matches(self, en: str) -> set[int]:
        """Ids of the held-out sentences that ``en`` is a near-duplicate of."""
        return self.matches_bag(word_bag(en))

    def matches_bag(self, bag: tuple[str, ...]) -> set[int]:
        """:meth:`matches` for a sentence's :func:`word_bag` (computed once by the caller)."""
        if not bag or len(bag) > self._max_words + 1:
            return set()
        key = hash(bag)
        hits = set(self._same.get(key, ()))  # same bag
        hits.update(self._minus.get(key, ()))  # `en` is a held-out sentence minus a word
        for short in _shorter(bag):
            hits.update(self._same.get(hash(short), ()))  # ... plus a word
            hits.update(self._minus.get(hash(short), ()))  # ... with a word replaced
        return hits

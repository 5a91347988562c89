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

A bag's key is the sum of its words' hashes: a multiset hash, so that word order needs no
sort and a one-word-shorter bag's key is one subtraction — O(n) for all n of them instead
of building n tuples of n - 1 words (the screening pass of `prepare` spent a third of its
time there). The sum is an exact Python integer (no modulus) and is built with ``map`` and
``sum``, so a probe costs a few C calls per sentence rather than a Python loop over its
words. Keys are Python's per-process string hashes: an index and the sentences it is asked
about must live in one process (data/spool.py builds one per worker). Two different bags
with the same key are possible in principle; the only effect would be a held-out sentence
moved out, or a training pair dropped, needlessly.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from typing import NamedTuple

_WORD = re.compile(r"\w+(?:'\w+)*")
# ASCII bytes that are not word characters (\w is [A-Za-z0-9_] there) -> a space
_NON_WORD_BYTES = bytes(c for c in range(128) if not (chr(c).isalnum() or chr(c) == "_"))
_ASCII_NON_WORD = bytes.maketrans(_NON_WORD_BYTES, b" " * len(_NON_WORD_BYTES))


def words(en: str) -> list[str]:
    """The lower-cased words of a sentence (punctuation dropped): its bag, in text order."""
    text = en.lower()
    if text.isascii() and "'" not in text:  # most sentences: a byte table and a split
        return text.encode("ascii").translate(_ASCII_NON_WORD).decode("ascii").split()
    return _WORD.findall(text)



class Probe(NamedTuple):  # a tuple: half the cost of a frozen dataclass to make
    """What an index needs of a sentence: its word count, its bag's key, and the keys of
    its one-word-shorter bags (one per distinct word). Computed once, asked of many indices."""

    words: int
    key: int
    shorter: frozenset[int]

    @classmethod
    def of(cls, en: str) -> Probe:
        hashes = list(map(hash, words(en)))  # the order does not matter to the sum
        key = sum(hashes)
        return cls(len(hashes), key, frozenset(map(key.__sub__, hashes)))  # a set: distinct


class NearDuplicateIndex:
    """The held-out sentences, indexed so that a corpus sentence finds its near-duplicates."""

    def __init__(self, sentences: Iterable[str]):
        self._same: dict[int, list[int]] = defaultdict(list)  # key(bag) -> held ids
        self._minus: dict[int, list[int]] = defaultdict(list)  # key(bag - 1 word) -> ids
        self._max_words = 0
        for i, en in enumerate(sentences):
            probe = Probe.of(en)
            if not probe.words:
                continue  # no words (punctuation only): nothing to match on
            self._max_words = max(self._max_words, probe.words)
            self._same[probe.key].append(i)
            for short in probe.shorter:
                self._minus[short].append(i)
        self._keys = frozenset(self._same) | frozenset(self._minus)  # for the quick "no"

    def matches(self, en: str) -> set[int]:
        """Ids of the held-out sentences that ``en`` is a near-duplicate of."""
        return self.matches_probe(Probe.of(en))

    def matches_probe(self, probe: Probe) -> set[int]:
        """:meth:`matches` for a sentence's :class:`Probe` (computed once by the caller)."""
        if not probe.words or probe.words > self._max_words + 1:
            return set()
        if probe.key not in self._keys and probe.shorter.isdisjoint(self._keys):
            return set()  # nearly every corpus sentence: one C-level set check
        same, minus = self._same, self._minus
        hits = set(same.get(probe.key, ()))  # same bag
        hits.update(minus.get(probe.key, ()))  # `en` is a held-out sentence minus a word
        for short in probe.shorter:
            if short in same:
                hits.update(same[short])  # ... plus a word
            if short in minus:
                hits.update(minus[short])  # ... with a word replaced
        return hits

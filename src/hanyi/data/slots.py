"""Slots: numbers that stand for a span the model must copy, and training pairs that teach it.

At translation time, a URL, a placeholder or a glossary term is replaced by a *slot* — a
number such as 7301 — and put back afterwards (documents/protect.py). That works only if the
model copies the slot to the right place. A model trained on ordinary text does not: it has
never seen "the 7301 said" (bench/glossary.py: 3 of 127 slots kept in place). So `prepare`
can add training pairs that have slots on both sides (``data.slot_pairs``, a fraction of the
training pairs): an English word whose CC-CEDICT translation appears exactly once in the
Chinese is replaced, in both, by the same slot number — the idea of Dinu et al. (2019),
"Training Neural Machine Translation to Apply Terminology Constraints", in its simplest
form. The model learns: a number in that range in the source is copied, where the word was.
"""

from __future__ import annotations

import random
import re

from hanyi.data.corpus import Pair
from hanyi.data.lexicon import cedict_pairs

FIRST_SLOT, LAST_SLOT = 7301, 7399  # slot numbers: rare in text, and the model learns them
SLOT_SOURCE = "slots"  # the source name of the added pairs (in SPLIT.src)
_WORD = re.compile(r"(?<![\w-])[A-Za-z]{3,}(?![\w-])")


def is_slot(number: str) -> bool:
    """Whether a digit string is a slot number (documents/protect.py and markup.py check
    and repair their own slots; inference/numbers.py leaves them to them)."""
    return number.isdigit() and FIRST_SLOT <= int(number) <= LAST_SLOT


def free_slot(texts: list[str], rng: random.Random | None = None) -> str:
    """A slot number that none of ``texts`` contains (the first free one, or a random one)."""
    taken = {int(n) for text in texts for n in re.findall(r"\d+", text)}
    free = [n for n in range(FIRST_SLOT, LAST_SLOT + 1) if n not in taken]
    if not free:
        raise ValueError("no free slot number")
    return str(rng.choice(free) if rng else free[0])


def lexicon_index(lines: list[str]) -> dict[str, list[str]]:
    """English word (lower case) -> Simplified headwords of 2+ characters glossed by it alone."""
    index: dict[str, set[str]] = {}
    for _, gloss, headword in cedict_pairs(lines):
        word = gloss.strip().lower()
        if word.isalpha() and len(word) >= 3 and len(headword) >= 2:
            index.setdefault(word, set()).add(headword)
    return {word: sorted(heads, key=len, reverse=True) for word, heads in index.items()}


def slotted(pair: Pair, index: dict[str, list[str]], rng: random.Random) -> Pair | None:
    """A copy of ``pair`` with one word and its translation replaced by a slot, or None when
    no English word has a dictionary translation that occurs exactly once in the Chinese."""
    choices = []
    for match in _WORD.finditer(pair.en):
        for headword in index.get(match.group().lower(), ()):
            if pair.zh.count(headword) == 1:
                choices.append((match, headword))
                break
    if not choices:
        return None
    match, headword = rng.choice(choices)
    slot = free_slot([pair.en, pair.zh], rng)
    en = pair.en[:match.start()] + slot + pair.en[match.end():]
    return Pair(en, pair.zh.replace(headword, slot), f"{pair.origin}#slot", SLOT_SOURCE)


def slot_pairs(train: list[Pair], fraction: float, index: dict[str, list[str]],
               seed: int) -> list[Pair]:
    """About ``fraction`` × len(train) new pairs with slots, from randomly drawn pairs."""
    rng = random.Random(seed)
    wanted = int(len(train) * fraction)
    out: list[Pair] = []
    for i in rng.sample(range(len(train)), len(train)):
        if len(out) >= wanted:
            break
        made = slotted(train[i], index, rng)
        if made is not None:
            out.append(made)
    return out

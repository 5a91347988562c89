"""Dev and test sets that measure translation, not memory: drawn or fixed, one pair per
English sentence, and without near-duplicates in training (see data/neardup.py).

`prepare` draws the candidates from the ``pool`` sources before it streams the training
sources; while streaming, every training pair is checked against the candidates
(:mod:`hanyi.data.spool`), and :func:`drop_near_duplicates` then moves out the candidates
that have a near-duplicate in training.
"""

from __future__ import annotations

import logging
import random

from hanyi.config import DataConfig
from hanyi.data.corpus import Pair, english_key
from hanyi.data.neardup import NearDuplicateIndex
from hanyi.errors import ConfigError

log = logging.getLogger(__name__)


def draw_held_out(pool: list[Pair], size: int, taken: set[str], rng: random.Random) -> list[Pair]:
    """``size`` pairs with distinct English, none in ``taken``, drawn at random from ``pool``."""
    by_key: dict[str, Pair] = {}
    for pair in pool:
        by_key.setdefault(english_key(pair.en), pair)
    keys = sorted(k for k in by_key if k not in taken)
    rng.shuffle(keys)
    return [by_key[k] for k in keys[:size]]


def unique_english(pairs: list[Pair]) -> tuple[list[Pair], int]:
    out, keys = [], set()
    for pair in pairs:
        key = english_key(pair.en)
        if key not in keys:
            keys.add(key)
            out.append(pair)
    return out, len(pairs) - len(out)


def draw_or_fix(fixed: list[Pair], pool: list[Pair], size: int, taken: set[str],
                rng: random.Random) -> tuple[list[Pair], int]:
    """A fixed held-out set (one pair per English, none in ``taken``) or one drawn from
    ``pool``; also how many fixed pairs repeated an English sentence."""
    if not fixed:
        return draw_held_out(pool, size, taken, rng), 0
    kept, dupes = unique_english([p for p in fixed if english_key(p.en) not in taken])
    return kept, dupes


def drop_near_duplicates(held: list[list[Pair]], hits: set[int],
                         leaks: list[str]) -> list[list[Pair]]:
    """Each held-out list without the pairs that have a near-duplicate in training.

    ``hits``: positions (in the held lists, one after the other) of the candidates that a
    training pair is a near-duplicate of — training pairs with the English of a candidate
    not counted: those are ``leaks`` (their English here), removed from training. A dropped
    candidate goes back to training together with its leaks, so the remaining candidates
    are checked again against those, until none changes.
    """
    kept = [list(h) for h in held]
    candidates = [p for h in kept for p in h]
    while hits:
        dropped = {id(candidates[i]) for i in hits}
        back = {english_key(candidates[i].en) for i in hits}
        kept = [[p for p in h if id(p) not in dropped] for h in kept]
        candidates = [p for h in kept for p in h]
        check = [en for en in leaks if english_key(en) in back]
        if not candidates or not check:
            break
        index = NearDuplicateIndex(p.en for p in candidates)
        hits = set().union(*(index.matches(en) for en in check))
    return kept


def mean_words(pairs: list[Pair]) -> float:
    return round(sum(len(p.en.split()) for p in pairs) / max(len(pairs), 1), 2)


def check_split_sizes(cfg: DataConfig, stats: dict) -> None:
    """An empty held-out set is a configuration error; a drawn one short of its size for
    another reason than near-duplicates is worth a warning. (An empty training set is
    reported later, with the files it came from.)"""
    held = stats["held_out"]
    for name in ("test", "dev"):
        wanted, size, moved = (getattr(cfg, f"{name}_size"), held[name],
                               held["near_duplicates_moved_out"][name])
        if size == 0 and moved:
            raise ConfigError(f"data: the {name} split is empty: every one of its {moved} "
                              f"drawn sentences is within one word of a training sentence "
                              f"(templated data?); set data.held_out_near_duplicates: keep "
                              f"to keep them, or give a fixed '{name}' source")
        if size == 0:
            raise ConfigError(f"data: the {name} split is empty: give a source with role "
                              f"'{name}' or 'pool' whose pairs survive cleaning "
                              f"(data.{name}_size: {wanted})")
        log.info("data: %s: %d pairs, mean %.1f English words (%d near-duplicates of "
                 "training sentences moved out)", name, size,
                 held["mean_english_words"][name], moved)
        if size + moved < wanted:
            log.warning("data: %s has %d pairs, fewer than data.%s_size = %d (the pool ran "
                        "out of distinct English sentences)", name, size, name, wanted)

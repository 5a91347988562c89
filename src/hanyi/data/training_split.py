"""The training split of `prepare`: which pairs train, their SentencePiece sample, and the
files ``train.en`` / ``train.zh`` / ``train.src``.

After the streamed pass (data/spool.py) every spooled pair has a fate, decided at once
for all of them with numpy (:data:`TRAIN`, :data:`DUPLICATE`, :data:`LEAK`,
:data:`EXCLUDED`); the pool pairs that were not drawn for dev/test come first. The
SentencePiece sample was drawn *during* the streamed pass (a reservoir over the spool,
data/sample.py), so the tokenizers can train while this module writes the split
(data/prepare.py runs the two side by side): here it is completed with the pool pairs
and cut down to the pairs that train.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hanyi.config import DataConfig
from hanyi.data.corpus import Pair, Rejects, english_key, read_bytes
from hanyi.data.lexicon import data_root, resolve
from hanyi.data.sample import Reservoir
from hanyi.data.slots import lexicon_index, slotted
from hanyi.data.spool import Spool, hash64
from hanyi.errors import ConfigError
from hanyi.files import atomic_open

# the fate of a spooled pair, by precedence: a duplicate is a duplicate first
TRAIN, EXCLUDED, LEAK, DUPLICATE = 0, 1, 2, 3
BLOCK = 65_536  # spooled pairs whose fates are turned into a Python list at a time
SLOT_SAMPLE = 2_000  # pairs on which the slot success rate is measured
OVERDRAW = 1.5  # the reservoir holds this many times the sample: some of it will not train


@dataclass
class Training:
    """Everything that decides which pairs are training pairs, after the streamed pass."""

    pool: list[Pair]  # every pool pair (those in ``held`` are skipped)
    pool_excluded: np.ndarray
    spool: Spool
    keep: np.ndarray  # spooled pairs that are first occurrences
    names: list[str]  # training source names, by spool source index
    held: list[Pair]  # the final dev + test pairs
    leaks: Counter = field(default_factory=Counter)  # per file
    general: Counter = field(default_factory=Counter)  # near an excluded sentence, per source

    def __post_init__(self):
        self.held_keys = {english_key(p.en) for p in self.held}
        held_hashes = np.array(sorted({hash64(k) for k in self.held_keys}), dtype=np.uint64)
        fate = np.full(len(self.keep), TRAIN, dtype=np.uint8)
        fate[self.spool.excluded] = EXCLUDED
        fate[np.isin(self.spool.key_hash, held_hashes)] = LEAK
        fate[~self.keep] = DUPLICATE
        self.fate = fate

    def pool_pairs(self, count: bool = False) -> Iterator[Pair]:
        """The pool pairs that train; with ``count``, leaks and excluded ones are counted."""
        chosen = {id(p) for p in self.held}
        for pair, excluded in zip(self.pool, self.pool_excluded, strict=True):
            if id(pair) in chosen:
                continue
            if english_key(pair.en) in self.held_keys:
                self.leaks[pair.origin.rsplit(":", 1)[0]] += count
            elif excluded:
                self.general[pair.source] += count
            else:
                yield pair

    def pairs(self, rejects: Rejects | None = None) -> Iterator[tuple[str, str, str]]:
        """(en, zh, source name) of every training pair, in order. With ``rejects``
        (the first pass), duplicates are logged and leaks / excluded pairs counted."""
        count = rejects is not None
        for pair in self.pool_pairs(count):
            yield pair.en, pair.zh, pair.source
        fates = (f for start in range(0, len(self.fate), BLOCK)
                 for f in self.fate[start:start + BLOCK].tolist())
        sources = (s for start in range(0, len(self.fate), BLOCK)
                   for s in self.spool.source[start:start + BLOCK].tolist())
        for (en, zh, origin), fate, source in zip(self.spool.lines(), fates, sources, strict=True):
            if fate == TRAIN:
                yield en, zh, self.names[source]
            elif not count:
                continue
            elif fate == DUPLICATE:
                rejects.add("duplicate", origin)
            elif fate == LEAK:
                self.leaks[origin.rsplit(":", 1)[0]] += 1
            else:
                self.general[self.names[source]] += 1

    def sample(self, reservoir: Reservoir, size: int, rng: random.Random) -> list[tuple[str, str]]:
        """The reservoir drawn over the spool, completed with the pool's training pairs and
        cut down to pairs that train, then to ``size`` of them: a uniform sample of the
        training split (each pair in it with the same chance). Exactly ``size`` pairs when
        the reservoir held ``size * OVERDRAW`` and at least 1 / OVERDRAW of the spooled
        pairs train (duplicates and leaks are usually a few percent)."""
        spooled = len(self.fate)
        reservoir.add_many([f"{p.en}\t{p.zh}" for p in self.pool_pairs()])
        lines = [line for position, line in reservoir.items
                 if position >= spooled or self.fate[position] == TRAIN]
        if len(lines) > size:
            lines = rng.sample(lines, size)
        return [tuple(line.split("\t", 2)[:2]) for line in lines]


def write_training(out: Path, training: Training, data: DataConfig, rejects: Rejects,
                   slot_sample: list[tuple[str, str]]) -> dict:
    """Write train.en/.zh/.src (plus slot pairs, their rate measured on ``slot_sample``);
    returns the counts for stats.json."""
    with ExitStack() as stack:
        files = [stack.enter_context(atomic_open(out / f"train.{s}")) for s in ("en", "zh", "src")]
        written = 0
        for en, zh, name in training.pairs(rejects):
            for f, text in zip(files, (en, zh, name), strict=True):
                f.write(text + "\n")
            written += 1
        if not written:
            raise ConfigError("no training pairs left after cleaning; see rejects.tsv")
        counts = {}
        if data.slot_pairs > 0:
            counts["slot_pairs"] = write_slot_pairs(files, training, data, slot_sample, written)
            written += counts["slot_pairs"]
    return {**counts, "splits": {"train": written}}


def write_slot_pairs(files, training: Training, data: DataConfig,
                     sample: list[tuple[str, str]], written: int) -> int:
    """About ``data.slot_pairs`` x ``written`` pairs with slots (data/slots.py), made from
    training pairs drawn at random in one more streamed pass: each pair is tried with the
    probability that, at the success rate measured on a random sample, gives that many."""
    lexicon = read_bytes(resolve(data.slot_lexicon, data_root(data))).decode("utf-8")
    index = lexicon_index(lexicon.splitlines())
    rng = random.Random(data.seed + 1)
    rate = sum(slotted(Pair(en, zh, ""), index, rng) is not None for en, zh in sample)
    rate = rate / max(len(sample), 1)
    chance = min(1.0, data.slot_pairs / rate) if rate else 0.0
    wanted, added = int(written * data.slot_pairs), 0
    for en, zh, _ in training.pairs():
        if added >= wanted:
            break
        if rng.random() < chance and (made := slotted(Pair(en, zh, ""), index, rng)):
            for f, text in zip(files, (made.en, made.zh, made.source), strict=True):
                f.write(text + "\n")
            added += 1
    return added

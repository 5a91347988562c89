"""Id-level parallel data and the token-budget, length-bucketed batch sampler."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hanyi.data.batch import Batch, collate
from hanyi.errors import DataError
from hanyi.tokenization import Vocab


@dataclass
class ParallelData:
    src: list[list[int]]
    tgt: list[list[int]]
    src_text: list[str]
    tgt_text: list[str]
    sources: list[str] | None = None  # the source name of each pair (``SPLIT.src``), if known

    def __len__(self) -> int:
        return len(self.src)


def read_split(prepared: Path, split: str) -> tuple[list[str], list[str]]:
    paths = [prepared / f"{split}.{side}" for side in ("en", "zh")]
    for path in paths:
        if not path.is_file():
            raise DataError(f"{path} not found — run `hanyi prepare CONFIG` first")
    en = paths[0].read_text(encoding="utf-8").splitlines()
    zh = paths[1].read_text(encoding="utf-8").splitlines()
    if len(en) != len(zh):
        raise DataError(f"{paths[0]} and {paths[1]} differ in line count")
    return en, zh


def load_split(prepared: Path, split: str, src_vocab: Vocab, tgt_vocab: Vocab,
               max_len: int, direction: str = "en-zh",
               synthetic: frozenset[str] = frozenset()) -> ParallelData:
    """Encode one prepared split, source side first (``direction``); token sequences are
    cut to ``max_len`` ids.

    Pairs from a ``synthetic`` source (back-translations) get the tag ``<s>`` in front of
    their source ids. The encoder never sees ``<s>`` otherwise, so it is a free marker:
    the model learns to tell machine-made input apart and is not pulled towards its
    style, and at inference (no tag) it translates as from real text.
    """
    en, zh = read_split(prepared, split)
    src_text, tgt_text = (en, zh) if direction == "en-zh" else (zh, en)
    src = [ids[:max_len] for ids in src_vocab.encode_batch(src_text)]
    tgt = [ids[:max_len - 1] for ids in tgt_vocab.encode_batch(tgt_text)]  # room for <s> </s>
    names = prepared / f"{split}.src"
    sources = names.read_text(encoding="utf-8").splitlines() if names.is_file() else None
    if sources is not None and len(sources) != len(en):
        raise DataError(f"{names} has {len(sources)} lines but {split}.en has {len(en)}")
    if synthetic and sources is not None:
        src = [[src_vocab.bos_id] + ids[:max_len - 1] if name in synthetic else ids
               for ids, name in zip(src, sources, strict=True)]
    return ParallelData(src, tgt, src_text, tgt_text, sources)


def weighted_epoch(sources: list[str], weights: dict[str, float], seed: int,
                   epoch: int) -> list[int]:
    """Indices of the examples one epoch trains on, each pair of a source with weight w
    appearing floor(w) times plus once more with probability w - floor(w): a weight of 2
    doubles a small source, 0.3 keeps a random 30% of a large one, a fresh 30% each epoch.
    Sources not in ``weights`` have weight 1. A pure function of (seed, epoch)."""
    names = sorted(set(sources))
    per_name = np.array([weights.get(n, 1.0) for n in names], dtype=np.float64)
    lookup = {n: i for i, n in enumerate(names)}
    w = per_name[np.fromiter((lookup[s] for s in sources), dtype=np.int64, count=len(sources))]
    rng = np.random.default_rng([seed, epoch, 0x5EED])
    copies = np.floor(w).astype(np.int64) + (rng.random(len(w)) < w - np.floor(w))
    return np.repeat(np.arange(len(w)), copies).tolist()


def token_batches(src_lens: list[int], tgt_lens: list[int], max_tokens: int, seed: int,
                  epoch: int, shuffle: bool = True,
                  indices: list[int] | None = None) -> list[list[int]]:
    """Group example indices into batches of at most ``max_tokens`` padded tokens.

    Examples are sorted by length (ties broken at random) so a batch holds sentences of
    similar length and little padding; the batches are then shuffled. Everything derives
    from (seed, epoch), so every process and every resumed run sees the same batches.
    ``indices`` (default: every example once) may repeat or leave out examples.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    indices = range(len(src_lens)) if indices is None else indices
    noise = [rng.random() for _ in indices]
    order = [i for _, _, _, i in sorted(
        (src_lens[i], tgt_lens[i] + 1, noise[k], i) for k, i in enumerate(indices))]
    batches, current, width = [], [], 0
    for i in order:
        new_width = max(width, src_lens[i], tgt_lens[i] + 1)
        if current and new_width * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, new_width = [], max(src_lens[i], tgt_lens[i] + 1)
        current.append(i)
        width = new_width
    if current:
        batches.append(current)
    if shuffle:
        rng.shuffle(batches)
    return batches


def make_batch(data: ParallelData, indices: list[int], src_vocab: Vocab,
               tgt_vocab: Vocab) -> Batch:
    return collate([data.src[i] for i in indices], [data.tgt[i] for i in indices],
                   src_vocab.pad_id, tgt_vocab.pad_id, tgt_vocab.bos_id, tgt_vocab.eos_id)


def epoch_batches(data: ParallelData, max_tokens: int, seed: int, epoch: int,
                  shuffle: bool = True,
                  weights: dict[str, float] | None = None) -> list[list[int]]:
    """One epoch's batches; with per-source ``weights``, over :func:`weighted_epoch`."""
    indices = None
    if weights and data.sources is not None and any(w != 1.0 for w in weights.values()):
        indices = weighted_epoch(data.sources, weights, seed, epoch)
    return token_batches([len(s) for s in data.src], [len(t) for t in data.tgt], max_tokens,
                         seed, epoch, shuffle, indices)

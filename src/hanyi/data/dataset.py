"""Id-level parallel data and the token-budget, length-bucketed batch sampler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hanyi.data.batch import Batch, collate
from hanyi.errors import DataError
from hanyi.tokenization import Vocab


@dataclass
class ParallelData:
    """A split held in memory as id lists (dev and test sets, small corpora, tests).

    Training reads the binarised form from disk (:class:`hanyi.data.shards.TokenShards`);
    both offer what batching needs — ``src_lens``, ``tgt_lens``, ``source_index``,
    ``source_names`` and :meth:`ids` — and give the same batches (tests/test_shards.py).
    """

    src: list[list[int]]
    tgt: list[list[int]]
    src_text: list[str]
    tgt_text: list[str]
    sources: list[str] | None = None  # the source name of each pair (``SPLIT.src``), if known

    def __post_init__(self) -> None:
        self.src_lens = np.fromiter(map(len, self.src), dtype=np.int32, count=len(self.src))
        self.tgt_lens = np.fromiter(map(len, self.tgt), dtype=np.int32, count=len(self.tgt))
        names = self.sources if self.sources is not None else [""] * len(self.src)
        self.source_names = sorted(set(names)) or [""]
        lookup = {n: i for i, n in enumerate(self.source_names)}
        self.source_index = np.fromiter((lookup[n] for n in names), dtype=np.uint16,
                                        count=len(names))

    def __len__(self) -> int:
        return len(self.src)

    def ids(self, indices) -> tuple[list[list[int]], list[list[int]]]:
        return [self.src[i] for i in indices], [self.tgt[i] for i in indices]


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


def index_dtype(n: int) -> np.dtype:
    """The smallest signed integer type for indices below ``n`` (int32 up to 2**31)."""
    return np.dtype(np.int32) if n < 2**31 else np.dtype(np.int64)


def weighted_epoch(source_index: np.ndarray, names: list[str], weights: dict[str, float],
                   seed: int, epoch: int) -> np.ndarray:
    """Indices of the examples one epoch trains on, each pair of a source with weight w
    appearing floor(w) times plus once more with probability w - floor(w): a weight of 2
    doubles a small source, 0.3 keeps a random 30% of a large one, a fresh 30% each epoch.
    ``source_index`` holds each pair's index into ``names`` (sorted); sources not in
    ``weights`` have weight 1. A pure function of (seed, epoch); O(N), vectorised, with
    4-byte numbers per pair (25M pairs: ~100 MB at the peak, not ~800 MB of float64)."""
    per_name = np.array([weights.get(n, 1.0) for n in names], dtype=np.float64)
    whole = np.floor(per_name).astype(np.int32)
    part = (per_name - whole).astype(np.float32)
    rng = np.random.default_rng([seed, epoch, 0x5EED])
    copies = whole[source_index]
    copies += rng.random(len(source_index), dtype=np.float32) < part[source_index]
    n = len(source_index)
    return np.repeat(np.arange(n, dtype=index_dtype(n)), copies)


def token_batches(src_lens, tgt_lens, max_tokens: int, seed: int, epoch: int,
                  shuffle: bool = True, indices=None) -> list[np.ndarray]:
    """Group example indices into batches of at most ``max_tokens`` padded tokens.

    Examples are sorted by length — source, then target, ties broken at random — so a
    batch holds sentences of similar length and little padding; the batches are then
    shuffled. Everything derives from (seed, epoch), so every process and every resumed
    run sees the same batches. ``indices`` (default: every example once) may repeat or
    leave out examples. Each batch takes as many sorted examples as fit: n examples fit
    when n times the widest of them (source, or target + ``</s>``) is within budget.
    Vectorised with numpy: one sort, then one small window per batch — 25 M pairs are
    batched in seconds, and nothing per example lives in Python objects; per pair, 4-byte
    indices and keys (and the sort's 8-byte permutation) at the peak, the 4-byte order after.
    """
    rng = np.random.default_rng([seed, epoch, 0xBA7C])
    n_all = len(src_lens)
    kind = index_dtype(n_all)
    idx = np.arange(n_all, dtype=kind) if indices is None else np.array(indices, dtype=kind)
    rng.shuffle(idx)  # in place: a stable sort of shuffled examples breaks ties at random
    src_lens, tgt_lens = np.asarray(src_lens), np.asarray(tgt_lens)
    # one sort key: source length, then target length (4 bytes while both are below 2**15)
    longest = max(int(src_lens.max(initial=0)), int(tgt_lens.max(initial=0)))
    key_type, shift = (np.int32, 15) if longest < 2**15 else (np.int64, 32)
    key = src_lens[idx].astype(key_type) << shift
    key |= tgt_lens[idx].astype(key_type)
    order = idx[np.argsort(key, kind="stable")]
    del key, idx
    width = np.maximum(src_lens[order], tgt_lens[order] + 1).astype(np.int32)  # + </s>
    batches, start, n = [], 0, len(order)
    while start < n:
        window = width[start:start + max(1, max_tokens // int(width[start]))]
        fits = np.arange(1, len(window) + 1) * np.maximum.accumulate(window) <= max_tokens
        size = max(1, int(np.argmin(fits)) if not fits.all() else len(window))
        batches.append(order[start:start + size])
        start += size
    if shuffle:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def make_batch(data, indices, src_vocab: Vocab, tgt_vocab: Vocab) -> Batch:
    """The padded batch of the pairs ``indices`` of ``data`` (ParallelData or TokenShards)."""
    src, tgt = data.ids(indices)
    return collate(src, tgt, src_vocab.pad_id, tgt_vocab.pad_id, tgt_vocab.bos_id,
                   tgt_vocab.eos_id)


def epoch_batches(data, max_tokens: int, seed: int, epoch: int, shuffle: bool = True,
                  weights: dict[str, float] | None = None) -> list[np.ndarray]:
    """One epoch's batches of ``data`` (ParallelData or TokenShards); with per-source
    ``weights``, over :func:`weighted_epoch`."""
    indices = None
    if weights and any(weights.get(n, 1.0) != 1.0 for n in data.source_names):
        indices = weighted_epoch(data.source_index, data.source_names, weights, seed, epoch)
    return token_batches(data.src_lens, data.tgt_lens, max_tokens, seed, epoch, shuffle,
                         indices)

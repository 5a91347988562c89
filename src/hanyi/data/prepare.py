"""`hanyi prepare`: sources -> cleaned, de-duplicated, leak-free splits + SentencePiece.

Output directory (``data.dir``)::

    train.en train.zh dev.en dev.zh test.en test.zh   one sentence per line, aligned
    train.src                                         the source name of each training pair
    src.model tgt.model                               SentencePiece (English, Chinese)
    stats.json                                        counts per source and per filter
    rejects.tsv                                       file:line, reason for every dropped line
    shards/                                           the splits as token ids (data/shards.py)

The guarantees, so that a test score measures translation and not memory:

* No dev or test English sentence (case and spacing ignored) appears in training. Dev and
  test keep one pair per English sentence; every other pair with that English is removed
  from training and counted as a leak.
* No dev or test sentence has a *near-duplicate* in training (same bag of words, or one
  word more or less: see ``data/neardup.py``). A drawn candidate that has one is moved
  out of the held-out set and back into training — we keep the training data and give
  up the easy test sentence, as a held-out release of unseen text would. (So a drawn
  split is smaller than ``dev_size`` / ``test_size``, and its sentences are longer on
  average: stats.json records both.) A fixed dev/test sentence with a near-duplicate is
  dropped from the held-out set.
* Sources with ``role: exclude`` (the general-domain dev sets) keep their sentences out
  of training the other way round: every training pair that is the same English or a
  near-duplicate of one is removed.

It scales to corpora far larger than memory: the small roles (test, dev, exclude, pool)
are read first and held in memory, dev/test are drawn, and then the training sources are
*streamed* once, cleaned and checked on every core (data/spool.py) into a spool file;
duplicates and leaks are found with 64-bit hashes in numpy arrays, SentencePiece trains
on a bounded reservoir sample, and a last pass writes the splits and their token shards.
Memory: the small roles, ~20 bytes per training pair, the SentencePiece sample.
The training split keeps the sources' order (training shuffles its batches); pool pairs
not drawn come first. The output is a pure function of the config (and its seed).
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hanyi.config import DataConfig, TokenizerConfig, to_dict
from hanyi.data.corpus import Pair, Rejects, english_key, read_bytes, source_pairs
from hanyi.data.heldout import check_split_sizes, draw_or_fix, drop_near_duplicates, mean_words
from hanyi.data.lexicon import resolve
from hanyi.data.neardup import NearDuplicateIndex
from hanyi.data.shards import binarize
from hanyi.data.slots import FIRST_SLOT, LAST_SLOT, lexicon_index, slotted
from hanyi.data.spool import Spool, hash64, pair_hash, stream_training
from hanyi.errors import ConfigError
from hanyi.files import TMP_MARK, atomic_open, atomic_write_bytes, remove_stale_temporaries
from hanyi.tokenization.normalize import split_en_punctuation
from hanyi.tokenization.sentencepiece import train_sentencepiece, with_symbols

log = logging.getLogger(__name__)
HELD_ROLES = ("test", "dev", "exclude", "pool")  # read first, in this order, into memory


@dataclass
class Splits:
    test: list[Pair] = field(default_factory=list)
    dev: list[Pair] = field(default_factory=list)
    exclude: list[Pair] = field(default_factory=list)
    pool: list[Pair] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)  # pair hashes, for exact duplicates


def data_root(cfg: DataConfig) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(cfg.root)))


def source_stats(source, tally: Counter, dropped: Counter, kept: int) -> dict:
    return {"role": source.role, "read": tally["read"], "sentence_pairs_added": tally["split"],
            "kept": kept, "dropped": dict(dropped), "weight": source.weight,
            "license": source.license, "redistribute": source.redistribute}


def read_held_roles(cfg: DataConfig, rejects: Rejects, stats: dict) -> Splits:
    """Read, clean and de-duplicate the sources of the small roles into memory (fixed
    held-out sets first, so a duplicate of one of their pairs elsewhere is what goes)."""
    splits = Splits()
    for role in HELD_ROLES:
        for source in (s for s in cfg.sources if s.role == role):
            before, tally, kept = Counter(rejects.counts), Counter(), 0
            for pair in source_pairs(source, cfg, data_root(cfg), rejects, tally):
                key = pair_hash(pair.en, pair.zh)
                if key in splits.seen:
                    rejects.add("duplicate", pair.origin)
                    continue
                splits.seen.add(key)
                pair.source = source.name
                getattr(splits, role).append(pair)
                kept += 1
            stats["sources"][source.name] = source_stats(source, tally,
                                                         rejects.counts - before, kept)
            if not source.redistribute and role == "pool":
                log.warning("data: source '%s' may not be redistributed: a model trained on "
                            "this data must not ship", source.name)
    return splits


def draw_candidates(cfg: DataConfig, splits: Splits, stats: dict) -> tuple[list, list]:
    """Fixed or drawn dev/test candidates (before the near-duplicate check)."""
    rng = random.Random(cfg.seed)
    test, test_dupes = draw_or_fix(splits.test, splits.pool, cfg.test_size, set(), rng)
    test_keys = {english_key(p.en) for p in test}
    dev, dev_dupes = draw_or_fix(splits.dev, splits.pool, cfg.dev_size, test_keys, rng)
    stats["held_out"] = {
        "dev_dropped_in_test": sum(english_key(p.en) in test_keys for p in splits.dev),
        "repeated_english_dropped": {"dev": dev_dupes, "test": test_dupes},
        "candidates": {"test": len(test), "dev": len(dev)}}
    return test, dev


def screen_pool(pool: list[Pair], candidates: list[Pair], exclude: list[Pair],
                spool: Spool) -> np.ndarray:
    """Screen the pool pairs (training pairs too, unless drawn) like the streamed ones: their
    near-duplicate hits and leaks are added to ``spool``'s; returns which are excluded."""
    held_keys = {english_key(p.en) for p in candidates}
    index = NearDuplicateIndex(p.en for p in candidates)
    excluded_keys = {english_key(p.en) for p in exclude}
    near_excluded = NearDuplicateIndex(p.en for p in exclude)
    excluded = np.zeros(len(pool), dtype=bool)
    for i, pair in enumerate(pool):
        key = english_key(pair.en)
        if key in held_keys:  # a candidate itself, or a pair with its English
            spool.leaks.append(pair.en)
        else:
            spool.hits |= index.matches(pair.en)
        excluded[i] = key in excluded_keys or bool(near_excluded.matches(pair.en))
    return excluded


def first_occurrences(spool: Spool, seen: set[int]) -> np.ndarray:
    """Which spooled pairs to keep: the first of each exact duplicate, none already seen."""
    keep = np.zeros(len(spool.pair_hash), dtype=bool)
    keep[np.unique(spool.pair_hash, return_index=True)[1]] = True
    return keep & ~np.isin(spool.pair_hash, np.fromiter(seen, np.uint64, len(seen)))


class Reservoir:
    """A uniform random sample of at most ``size`` items of a stream (Algorithm R)."""

    def __init__(self, size: int, rng: random.Random):
        self.size, self.rng, self.items, self.seen = size, rng, [], 0

    def add(self, item) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
        elif (j := self.rng.randrange(self.seen)) < self.size:
            self.items[j] = item


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

    def pairs(self, rejects: Rejects | None = None) -> Iterator[tuple[str, str, str]]:
        """(en, zh, source name) of every training pair, in order. With ``rejects``
        (the first pass), duplicates are logged and leaks / excluded pairs counted."""
        held_keys = {english_key(p.en) for p in self.held}
        chosen = {id(p) for p in self.held}
        for pair, excluded in zip(self.pool, self.pool_excluded, strict=True):
            if id(pair) in chosen:
                continue
            if english_key(pair.en) in held_keys:
                self.leaks[pair.origin.rsplit(":", 1)[0]] += rejects is not None
            elif excluded:
                self.general[pair.source] += rejects is not None
            else:
                yield pair.en, pair.zh, pair.source
        held_hashes = np.array(sorted({hash64(k) for k in held_keys}), dtype=np.uint64)
        leak = np.isin(self.spool.key_hash, held_hashes)
        for i, (en, zh, origin) in enumerate(self.spool.lines()):
            if not self.keep[i]:
                if rejects is not None:
                    rejects.add("duplicate", origin)
            elif leak[i]:
                self.leaks[origin.rsplit(":", 1)[0]] += rejects is not None
            elif self.spool.excluded[i]:
                self.general[self.names[self.spool.source[i]]] += rejects is not None
            else:
                yield en, zh, self.names[self.spool.source[i]]


def write_training(out: Path, training: Training, data: DataConfig, tokenizer: TokenizerConfig,
                   rejects: Rejects, stats: dict) -> tuple[list[str], list[str]]:
    """Write train.en/.zh/.src (plus slot pairs); returns the SentencePiece samples."""
    rng = random.Random(data.seed)
    sample_size = 0 if tokenizer.from_model else tokenizer.max_sentences
    en_sample, zh_sample = Reservoir(sample_size, rng), Reservoir(sample_size, rng)
    slot_sample = Reservoir(2_000 if data.slot_pairs > 0 else 0, rng)
    with ExitStack() as stack:
        files = [stack.enter_context(atomic_open(out / f"train.{s}")) for s in ("en", "zh", "src")]
        written = 0
        for en, zh, name in training.pairs(rejects):
            for f, text in zip(files, (en, zh, name), strict=True):
                f.write(text + "\n")
            written += 1
            en_sample.add(en)
            zh_sample.add(zh)
            slot_sample.add((en, zh))
        if not written:
            raise ConfigError("no training pairs left after cleaning; see rejects.tsv")
        if data.slot_pairs > 0:
            added = write_slot_pairs(files, training, data, slot_sample.items, written)
            stats["slot_pairs"] = added
            written += added
    stats["splits"] = {"train": written}
    return en_sample.items, zh_sample.items


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


def write_split(out: Path, name: str, pairs: list[Pair]) -> None:
    for side in ("en", "zh", "source"):
        text = "".join(getattr(p, side) + "\n" for p in pairs)
        suffix = "src" if side == "source" else side
        with atomic_open(out / f"{name}.{suffix}") as f:
            f.write(text)


def train_tokenizers(out: Path, en: list[str], zh: list[str], cfg: TokenizerConfig) -> None:
    symbols = tuple(str(n) for n in range(FIRST_SLOT, LAST_SLOT + 1)) if cfg.slot_symbols else ()
    if cfg.from_model:  # continued training keeps the model's own vocabularies
        folder = Path(cfg.from_model)
        for name in ("src.model", "tgt.model"):
            if not (folder / name).is_file():
                raise ConfigError(f"tokenizer.from_model: {folder / name} not found")
            proto = (folder / name).read_bytes()
            atomic_write_bytes(out / name, with_symbols(proto, symbols) if symbols else proto)
        log.info("SentencePiece models copied from %s%s", folder,
                 f", {len(symbols)} slot pieces added" if symbols else "")
        return
    if cfg.split_punctuation:
        en = [split_en_punctuation(s) for s in en]
    train_sentencepiece(en, out / "src.model", cfg.src_vocab_size, cfg.src_model_type,
                        cfg.src_character_coverage, cfg.max_sentences, symbols=symbols)
    train_sentencepiece(zh, out / "tgt.model", cfg.tgt_vocab_size, cfg.tgt_model_type,
                        cfg.tgt_character_coverage, cfg.max_sentences,
                        normalization="identity", symbols=symbols)  # keep full-width punctuation


def prepare(data: DataConfig, tokenizer: TokenizerConfig) -> dict:
    """Run the whole preparation; returns the statistics also written to stats.json."""
    if not data.sources:
        raise ConfigError("data.sources is empty: name at least one corpus to prepare")
    out = Path(data.dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(out):  # left by a killed run (its spool, a shard)
        log.info("removed %s, left by an interrupted prepare", stale)
    stats: dict = {"sources": {}}
    spool_path = out / f"spool{TMP_MARK}{os.getpid()}.tsv"
    try:
        with atomic_open(out / "rejects.tsv") as rejects_file:
            rejects = Rejects(sink=rejects_file)
            en, zh = make_splits(data, tokenizer, out, rejects, stats, spool_path)
    finally:
        spool_path.unlink(missing_ok=True)
    train_tokenizers(out, en, zh, tokenizer)
    del en, zh
    binarize(out, tokenizer.split_punctuation)  # token-id shards that training reads
    stats["filters"] = dict(rejects.counts)
    stats["config"] = {"data": to_dict(data), "tokenizer": to_dict(tokenizer)}
    with atomic_open(out / "stats.json") as f:
        f.write(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    log.info("prepared %s: %s", out, stats["splits"])
    return stats


def make_splits(data: DataConfig, tokenizer: TokenizerConfig, out: Path, rejects: Rejects,
                stats: dict, spool_path: Path) -> tuple[list[str], list[str]]:
    """Read, draw, stream, check and write every split; returns the SentencePiece samples."""
    splits = read_held_roles(data, rejects, stats)
    test, dev = draw_candidates(data, splits, stats)
    drop = data.held_out_near_duplicates == "drop"
    candidates = test + dev if drop else []
    train_sources = [s for s in data.sources if s.role == "train"]

    def on_source(source, tally: Counter, dropped: Counter) -> None:
        stats["sources"][source.name] = source_stats(source, tally, dropped, 0)
        if not source.redistribute:
            log.warning("data: source '%s' may not be redistributed: a model trained on "
                        "this data must not ship", source.name)

    spool = stream_training(data, data_root(data), train_sources, [p.en for p in candidates],
                            [p.en for p in splits.exclude], spool_path, rejects, on_source)
    pool_excluded = screen_pool(splits.pool, candidates, splits.exclude, spool)
    if drop:
        test, dev = drop_near_duplicates([test, dev], spool.hits, spool.leaks)
    keep = first_occurrences(spool, splits.seen)
    if not keep.any() and len(splits.pool) <= len(test) + len(dev):
        raise ConfigError("no training pairs left after cleaning; see rejects.tsv")
    names = [s.name for s in train_sources]
    for number, name in enumerate(names):  # duplicates found by hash, after the stream
        mine = spool.source == number
        dupes = int((mine & ~keep).sum())
        stats["sources"][name]["kept"] = int((mine & keep).sum())
        if dupes:
            stats["sources"][name]["dropped"]["duplicate"] = dupes
    for name, entry in stats["sources"].items():
        log.info("data: %s (%s): %d records read, %d pairs kept, dropped %s", name,
                 entry["role"], entry["read"], entry["kept"], entry["dropped"] or "none")
    record_held_out(stats, test, dev)
    check_split_sizes(data, stats)
    training = Training(splits.pool, pool_excluded, spool, keep, names, test + dev)
    write_split(out, "test", test)
    write_split(out, "dev", dev)
    samples = write_training(out, training, data, tokenizer, rejects, stats)
    stats["splits"].update(dev=len(dev), test=len(test))
    stats["held_out"].update(train_pairs_removed_as_leaks=sum(training.leaks.values()),
                             leaks_per_file=dict(training.leaks),
                             train_pairs_removed_near_excluded=dict(training.general))
    return samples


def record_held_out(stats: dict, test: list[Pair], dev: list[Pair]) -> None:
    held = stats["held_out"]
    candidates = held.pop("candidates")
    held.update({"dev": len(dev), "test": len(test),
                 "near_duplicates_moved_out": {"dev": candidates["dev"] - len(dev),
                                               "test": candidates["test"] - len(test)},
                 "mean_english_words": {"dev": mean_words(dev), "test": mean_words(test)}})

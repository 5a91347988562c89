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
duplicates and leaks are found with 64-bit hashes in numpy arrays; SentencePiece trains
on a bounded reservoir sample drawn in that same pass, in another process while a second
pass writes the training split (data/training_split.py); a last pass writes the token
shards. Memory: the small roles, ~20 bytes per training pair, the SentencePiece sample.
The training split keeps the sources' order (training shuffles its batches); pool pairs
not drawn come first. The output is a pure function of the config (and its seed).
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hanyi.config import DataConfig, TokenizerConfig, to_dict
from hanyi.data.corpus import (
    Pair,
    Rejects,
    check_source_files,
    english_key,
    find_file,
    source_pairs,
)
from hanyi.data.heldout import check_split_sizes, draw_or_fix, drop_near_duplicates, mean_words
from hanyi.data.lexicon import data_root, resolve
from hanyi.data.neardup import NearDuplicateIndex
from hanyi.data.sample import Reservoir
from hanyi.data.shards import binarize
from hanyi.data.slots import FIRST_SLOT, LAST_SLOT
from hanyi.data.spool import Spool, pair_hash, stream_training
from hanyi.data.training_split import OVERDRAW, SLOT_SAMPLE, Training, write_training
from hanyi.data.workers import in_background
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


def write_split(out: Path, name: str, pairs: list[Pair]) -> None:
    for side in ("en", "zh", "source"):
        text = "".join(getattr(p, side) + "\n" for p in pairs)
        suffix = "src" if side == "source" else side
        with atomic_open(out / f"{name}.{suffix}") as f:
            f.write(text)


def train_tokenizers(out: Path, en: list[str], zh: list[str], cfg: TokenizerConfig
                     ) -> float | None:
    """Train (or copy) the two SentencePiece models; returns the seconds training took."""
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
        return None
    clock = time.perf_counter()
    if cfg.split_punctuation:
        en = [split_en_punctuation(s) for s in en]
    train_sentencepiece(en, out / "src.model", cfg.src_vocab_size, cfg.src_model_type,
                        cfg.src_character_coverage, cfg.sample_sentences, symbols=symbols,
                        seed_pieces=cfg.seed_pieces)
    train_sentencepiece(zh, out / "tgt.model", cfg.tgt_vocab_size, cfg.tgt_model_type,
                        cfg.tgt_character_coverage, cfg.sample_sentences,
                        normalization="identity", symbols=symbols,  # keep full-width punctuation
                        seed_pieces=cfg.seed_pieces)
    return time.perf_counter() - clock  # logged by the caller (this may be another process)


def prepare(data: DataConfig, tokenizer: TokenizerConfig) -> dict:
    """Run the whole preparation; returns the statistics also written to stats.json."""
    if not data.sources:
        raise ConfigError("data.sources is empty: name at least one corpus to prepare")
    check_source_files(data.sources, data_root(data))  # all of them, before any is read
    if data.slot_pairs > 0:
        find_file(resolve(data.slot_lexicon, data_root(data)))
    out = Path(data.dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in remove_stale_temporaries(out):  # left by a killed run (its spool, a shard)
        log.info("removed %s, left by an interrupted prepare", stale)
    stats: dict = {"sources": {}}
    spool_path = out / f"spool{TMP_MARK}{os.getpid()}.tsv"
    clock = time.perf_counter()
    try:
        with atomic_open(out / "rejects.tsv") as rejects_file:
            rejects = Rejects(sink=rejects_file)
            training, reservoir = make_splits(data, tokenizer, out, rejects, stats, spool_path)
            clock = _phase("read, cleaned and checked every source", clock)
            write_and_tokenize(out, training, reservoir, data, tokenizer, rejects, stats)
            clock = _phase("wrote the training split and the tokenizers", clock)
    finally:
        spool_path.unlink(missing_ok=True)
    binarize(out, tokenizer.split_punctuation)  # token-id shards that training reads
    _phase("binarised the splits", clock)
    stats["filters"] = dict(rejects.counts)
    stats["config"] = {"data": to_dict(data), "tokenizer": to_dict(tokenizer)}
    with atomic_open(out / "stats.json") as f:
        f.write(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    log.info("prepared %s: %s", out, stats["splits"])
    return stats


def _phase(what: str, since: float) -> float:
    """Log how long a phase of ``prepare`` took (where the time goes at millions of pairs)."""
    now = time.perf_counter()
    log.info("%s in %.1f s", what, now - since)
    return now


def sample_size(data: DataConfig, tokenizer: TokenizerConfig) -> int:
    """Training pairs to sample: for the tokenizers (unless copied) and the slot pairs."""
    return max(0 if tokenizer.from_model else tokenizer.sample_sentences,
               SLOT_SAMPLE if data.slot_pairs > 0 else 0)


def write_and_tokenize(out: Path, training: Training, reservoir: Reservoir, data: DataConfig,
                       tokenizer: TokenizerConfig, rejects: Rejects, stats: dict) -> None:
    """Write the training split while the tokenizers train on its sample: in another
    process when the corpus was streamed on several (at millions of pairs each job takes
    minutes, one core's worth of writing beside SentencePiece's two threads)."""
    rng = random.Random(data.seed)
    sample = training.sample(reservoir, sample_size(data, tokenizer), rng)
    slot_sample = rng.sample(sample, min(SLOT_SAMPLE, len(sample)))
    en, zh = [e for e, _ in sample], [z for _, z in sample]
    sampled = min(len(sample), tokenizer.sample_sentences)  # what SentencePiece reads
    del sample
    aside = training.spool.parallel and not tokenizer.from_model
    with in_background(aside, train_tokenizers, out, en, zh, tokenizer) as tokenizers:
        del en, zh
        counts = write_training(out, training, data, rejects, slot_sample)
        seconds = tokenizers()  # waits for them (or trains them now); errors are raised here
    if seconds is not None:
        log.info("trained the tokenizers on %d sentence pairs in %.1f s", sampled, seconds)
    stats.update(counts)
    held = stats["held_out"]
    stats["splits"].update(dev=held["dev"], test=held["test"])
    held.update(train_pairs_removed_as_leaks=sum(training.leaks.values()),
                leaks_per_file=dict(training.leaks),
                train_pairs_removed_near_excluded=dict(training.general))


def make_splits(data: DataConfig, tokenizer: TokenizerConfig, out: Path, rejects: Rejects,
                stats: dict, spool_path: Path) -> tuple[Training, Reservoir]:
    """Read, draw, stream and check every split, and write dev and test; returns what
    decides the training split, and the reservoir drawn over it for the tokenizers."""
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

    reservoir = Reservoir(math.ceil(sample_size(data, tokenizer) * OVERDRAW),
                          random.Random(data.seed))
    spool = stream_training(data, data_root(data), train_sources, [p.en for p in candidates],
                            [p.en for p in splits.exclude], spool_path, rejects, on_source,
                            reservoir)
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
    write_split(out, "test", test)
    write_split(out, "dev", dev)
    return Training(splits.pool, pool_excluded, spool, keep, names, test + dev), reservoir


def record_held_out(stats: dict, test: list[Pair], dev: list[Pair]) -> None:
    held = stats["held_out"]
    candidates = held.pop("candidates")
    held.update({"dev": len(dev), "test": len(test),
                 "near_duplicates_moved_out": {"dev": candidates["dev"] - len(dev),
                                               "test": candidates["test"] - len(test)},
                 "mean_english_words": {"dev": mean_words(dev), "test": mean_words(test)}})

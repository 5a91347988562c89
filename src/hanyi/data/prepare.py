"""`hanyi prepare`: sources -> cleaned, de-duplicated, leak-free splits + SentencePiece.

Output directory (``data.dir``)::

    train.en train.zh dev.en dev.zh test.en test.zh   one sentence per line, aligned
    src.model tgt.model                               SentencePiece (English, Chinese)
    stats.json                                        counts per source and per filter
    rejects.tsv                                       file:line, reason for every dropped line

The guarantee: no dev or test English sentence (case and spacing ignored) appears in
training. Dev and test keep one pair per English sentence; every other pair with that
English is removed from training and counted as ``leak``.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hanyi.config import DataConfig, TokenizerConfig, to_dict
from hanyi.data.corpus import Pair, Rejects, clean, english_key, read_raw
from hanyi.errors import ConfigError
from hanyi.tokenization.normalize import split_en_punctuation
from hanyi.tokenization.sentencepiece import train_sentencepiece

log = logging.getLogger(__name__)


@dataclass
class Splits:
    train: list[Pair] = field(default_factory=list)
    dev: list[Pair] = field(default_factory=list)
    test: list[Pair] = field(default_factory=list)
    pool: list[Pair] = field(default_factory=list)


def data_root(cfg: DataConfig) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(cfg.root)))


def read_sources(cfg: DataConfig, rejects: Rejects, stats: dict) -> Splits:
    """Read, clean and de-duplicate every source, grouping pairs by role."""
    if not cfg.sources:
        raise ConfigError("data.sources is empty: name at least one corpus to prepare")
    splits, seen = Splits(), set()
    # Fixed test and dev sets are read first, so that an exact duplicate of one of their
    # pairs in a training source is what gets dropped, never the held-out pair itself.
    rank = {"test": 0, "dev": 1}
    for source in sorted(cfg.sources, key=lambda s: rank.get(s.role, 2)):
        before = Counter(rejects.counts)
        read = kept = dupes = 0
        for raw in read_raw(source, data_root(cfg), rejects):
            read += 1
            pair = clean(raw, cfg, rejects)
            if pair is None:
                continue
            if (pair.en, pair.zh) in seen:
                dupes += 1
                rejects.add("duplicate", pair.origin)
                continue
            seen.add((pair.en, pair.zh))
            getattr(splits, source.role).append(pair)
            kept += 1
        dropped = {k: v - before.get(k, 0) for k, v in rejects.counts.items()
                   if v - before.get(k, 0)}
        stats["sources"][source.name] = {"role": source.role, "read": read, "kept": kept,
                                         "dropped": dropped}
    return splits


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


def make_splits(cfg: DataConfig, splits: Splits, stats: dict) -> Splits:
    """Fixed or drawn dev/test sets, then every training pair sharing their English removed."""
    rng = random.Random(cfg.seed)
    test, test_dupes = unique_english(splits.test)
    if not test:
        test = draw_held_out(splits.pool, cfg.test_size, set(), rng)
    test_keys = {english_key(p.en) for p in test}
    kept_dev = [p for p in splits.dev if english_key(p.en) not in test_keys]
    dev_overlap = len(splits.dev) - len(kept_dev)
    dev, dev_dupes = unique_english(kept_dev)
    if not splits.dev:
        dev = draw_held_out(splits.pool, cfg.dev_size, test_keys, rng)
    held = test_keys | {english_key(p.en) for p in dev}
    chosen = {id(p) for p in dev} | {id(p) for p in test}
    train, leaks = [], Counter()
    for pair in splits.train + splits.pool:
        if id(pair) in chosen:
            continue
        if english_key(pair.en) in held:
            leaks[pair.origin.rsplit(":", 1)[0]] += 1
            continue
        train.append(pair)
    rng.shuffle(train)
    stats["held_out"] = {"dev": len(dev), "test": len(test),
                         "dev_dropped_in_test": dev_overlap,
                         "repeated_english_dropped": {"dev": dev_dupes, "test": test_dupes},
                         "train_pairs_removed_as_leaks": sum(leaks.values()),
                         "leaks_per_file": dict(leaks)}
    return Splits(train=train, dev=dev, test=test)


def check_split_sizes(cfg: DataConfig, dev: int, test: int) -> None:
    """An empty held-out set is a configuration error; a short drawn one is worth a warning.
    (An empty training set is reported later, with the files it came from.)"""
    for name, size in (("test", test), ("dev", dev)):
        wanted = getattr(cfg, f"{name}_size")
        if size == 0:
            raise ConfigError(f"data: the {name} split is empty: give a source with role "
                              f"'{name}' or 'pool' whose pairs survive cleaning "
                              f"(data.{name}_size: {wanted})")
        if size < wanted:
            log.warning("data: %s has %d pairs, fewer than data.%s_size = %d (the pool ran "
                        "out of distinct English sentences)", name, size, name, wanted)


def write_split(out: Path, name: str, pairs: list[Pair]) -> None:
    for side in ("en", "zh"):
        text = "".join(getattr(p, side) + "\n" for p in pairs)
        (out / f"{name}.{side}").write_text(text, encoding="utf-8")


def train_tokenizers(out: Path, train: list[Pair], cfg: TokenizerConfig) -> None:
    en = [p.en for p in train]
    if cfg.split_punctuation:
        en = [split_en_punctuation(s) for s in en]
    train_sentencepiece(en, out / "src.model", cfg.src_vocab_size, cfg.src_type,
                        cfg.src_character_coverage, cfg.max_sentences)
    train_sentencepiece([p.zh for p in train], out / "tgt.model", cfg.tgt_vocab_size,
                        cfg.tgt_type, cfg.tgt_character_coverage, cfg.max_sentences,
                        normalization="identity")  # keep full-width punctuation


def prepare(data: DataConfig, tokenizer: TokenizerConfig) -> dict:
    """Run the whole preparation; returns the statistics also written to stats.json."""
    out = Path(data.dir)
    out.mkdir(parents=True, exist_ok=True)
    rejects, stats = Rejects(), {"sources": {}}
    splits = make_splits(data, read_sources(data, rejects, stats), stats)
    if not splits.train:
        raise ConfigError("no training pairs left after cleaning; see rejects.tsv")
    check_split_sizes(data, len(splits.dev), len(splits.test))
    for name in ("train", "dev", "test"):
        write_split(out, name, getattr(splits, name))
    (out / "rejects.tsv").write_text("".join(line + "\n" for line in rejects.log),
                                     encoding="utf-8")
    train_tokenizers(out, splits.train, tokenizer)
    stats["filters"] = dict(rejects.counts)
    stats["splits"] = {n: len(getattr(splits, n)) for n in ("train", "dev", "test")}
    stats["config"] = {"data": to_dict(data), "tokenizer": to_dict(tokenizer)}
    (out / "stats.json").write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    log.info("prepared %s: %s", out, stats["splits"])
    return stats

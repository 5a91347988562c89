"""`hanyi prepare`: sources -> cleaned, de-duplicated, leak-free splits + SentencePiece.

Output directory (``data.dir``)::

    train.en train.zh dev.en dev.zh test.en test.zh   one sentence per line, aligned
    train.src                                         the source name of each training pair
    src.model tgt.model                               SentencePiece (English, Chinese)
    stats.json                                        counts per source and per filter
    rejects.tsv                                       file:line, reason for every dropped line

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
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from hanyi.config import DataConfig, TokenizerConfig, to_dict
from hanyi.data.corpus import Pair, Rejects, english_key, read_bytes, source_pairs
from hanyi.data.lexicon import resolve
from hanyi.data.neardup import NearDuplicateIndex
from hanyi.data.slots import lexicon_index, slot_pairs
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
    exclude: list[Pair] = field(default_factory=list)


def data_root(cfg: DataConfig) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(cfg.root)))


def read_sources(cfg: DataConfig, rejects: Rejects, stats: dict) -> Splits:
    """Read, clean and de-duplicate every source, grouping pairs by role."""
    if not cfg.sources:
        raise ConfigError("data.sources is empty: name at least one corpus to prepare")
    splits, seen = Splits(), set()
    # Fixed held-out sets are read first, so that an exact duplicate of one of their
    # pairs in a training source is what gets dropped, never the held-out pair itself.
    rank = {"test": 0, "dev": 1, "exclude": 2}
    for source in sorted(cfg.sources, key=lambda s: rank.get(s.role, 3)):
        before, tally = Counter(rejects.counts), Counter()
        kept = 0
        for pair in source_pairs(source, cfg, data_root(cfg), rejects, tally):
            if (pair.en, pair.zh) in seen:
                rejects.add("duplicate", pair.origin)
                continue
            seen.add((pair.en, pair.zh))
            pair.source = source.name
            getattr(splits, source.role).append(pair)
            kept += 1
        dropped = {k: v - before.get(k, 0) for k, v in rejects.counts.items()
                   if v - before.get(k, 0)}
        stats["sources"][source.name] = {
            "role": source.role, "read": tally["read"], "sentence_pairs_added": tally["split"],
            "kept": kept, "dropped": dropped, "weight": source.weight, "license": source.license,
            "redistribute": source.redistribute}
        if not source.redistribute and source.role in ("train", "pool"):
            log.warning("data: source '%s' may not be redistributed: a model trained on "
                        "this data must not ship", source.name)
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


def drop_near_duplicates(held: list[list[Pair]], corpus: list[Pair]) -> list[list[Pair]]:
    """Each held-out list without the pairs that have a near-duplicate in ``corpus``.

    Corpus pairs with the English of a held-out pair do not count (they are removed from
    training as leaks). A dropped pair goes back to training together with those pairs,
    so the remaining held-out pairs are checked again against them, until none changes.
    """
    kept = [list(h) for h in held]
    candidates = [p for h in kept for p in h]
    held_keys = {english_key(c.en) for c in candidates}
    check = [p for p in corpus if english_key(p.en) not in held_keys]
    while candidates and check:
        index = NearDuplicateIndex(p.en for p in candidates)
        hit: set[int] = set()
        for pair in check:
            hit |= index.matches(pair.en)
        if not hit:
            break
        dropped = {id(candidates[i]) for i in hit}
        back = {english_key(candidates[i].en) for i in hit}
        kept = [[p for p in h if id(p) not in dropped] for h in kept]
        candidates = [p for h in kept for p in h]
        check = [p for p in corpus if english_key(p.en) in back]
    return kept


def draw_or_fix(fixed: list[Pair], pool: list[Pair], size: int, taken: set[str],
                rng: random.Random) -> tuple[list[Pair], int]:
    """A fixed held-out set (one pair per English, none in ``taken``) or one drawn from
    ``pool``; also how many fixed pairs repeated an English sentence."""
    if not fixed:
        return draw_held_out(pool, size, taken, rng), 0
    kept, dupes = unique_english([p for p in fixed if english_key(p.en) not in taken])
    return kept, dupes


def make_splits(cfg: DataConfig, splits: Splits, stats: dict) -> Splits:
    """Fixed or drawn dev/test sets without near-duplicates in training, then every
    training pair sharing their English, or near an excluded sentence, removed."""
    rng = random.Random(cfg.seed)
    test, test_dupes = draw_or_fix(splits.test, splits.pool, cfg.test_size, set(), rng)
    test_keys = {english_key(p.en) for p in test}
    dev_overlap = sum(english_key(p.en) in test_keys for p in splits.dev)
    dev, dev_dupes = draw_or_fix(splits.dev, splits.pool, cfg.dev_size, test_keys, rng)
    candidates = {"test": len(test), "dev": len(dev)}
    if cfg.held_out_near_duplicates == "drop":
        test, dev = drop_near_duplicates([test, dev], splits.train + splits.pool)
    held = {english_key(p.en) for p in test + dev}
    chosen = {id(p) for p in dev} | {id(p) for p in test}
    excluded = {english_key(p.en) for p in splits.exclude}
    near_excluded = NearDuplicateIndex(p.en for p in splits.exclude)
    train, leaks, general = [], Counter(), Counter()
    for pair in splits.train + splits.pool:
        if id(pair) in chosen:
            continue
        if english_key(pair.en) in held:
            leaks[pair.origin.rsplit(":", 1)[0]] += 1
            continue
        if english_key(pair.en) in excluded or near_excluded.matches(pair.en):
            general[pair.source] += 1
            continue
        train.append(pair)
    rng.shuffle(train)
    stats["held_out"] = {
        "dev": len(dev), "test": len(test), "dev_dropped_in_test": dev_overlap,
        "repeated_english_dropped": {"dev": dev_dupes, "test": test_dupes},
        "near_duplicates_moved_out": {"dev": candidates["dev"] - len(dev),
                                      "test": candidates["test"] - len(test)},
        "mean_english_words": {"dev": _mean_words(dev), "test": _mean_words(test)},
        "train_pairs_removed_as_leaks": sum(leaks.values()), "leaks_per_file": dict(leaks),
        "train_pairs_removed_near_excluded": dict(general)}
    return Splits(train=train, dev=dev, test=test)


def _mean_words(pairs: list[Pair]) -> float:
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


def write_split(out: Path, name: str, pairs: list[Pair]) -> None:
    for side in ("en", "zh", "source"):
        text = "".join(getattr(p, side) + "\n" for p in pairs)
        suffix = "src" if side == "source" else side
        (out / f"{name}.{suffix}").write_text(text, encoding="utf-8")


def train_tokenizers(out: Path, train: list[Pair], cfg: TokenizerConfig) -> None:
    if cfg.from_model:  # continued training keeps the model's own vocabularies
        folder = Path(cfg.from_model)
        for name in ("src.model", "tgt.model"):
            if not (folder / name).is_file():
                raise ConfigError(f"tokenizer.from_model: {folder / name} not found")
            shutil.copyfile(folder / name, out / name)
        log.info("SentencePiece models copied from %s", folder)
        return
    en = [p.en for p in train]
    if cfg.split_punctuation:
        en = [split_en_punctuation(s) for s in en]
    train_sentencepiece(en, out / "src.model", cfg.src_vocab_size, cfg.src_model_type,
                        cfg.src_character_coverage, cfg.max_sentences)
    train_sentencepiece([p.zh for p in train], out / "tgt.model", cfg.tgt_vocab_size,
                        cfg.tgt_model_type, cfg.tgt_character_coverage, cfg.max_sentences,
                        normalization="identity")  # keep full-width punctuation


def prepare(data: DataConfig, tokenizer: TokenizerConfig) -> dict:
    """Run the whole preparation; returns the statistics also written to stats.json."""
    out = Path(data.dir)
    out.mkdir(parents=True, exist_ok=True)
    rejects, stats = Rejects(), {"sources": {}}
    splits = make_splits(data, read_sources(data, rejects, stats), stats)
    if not splits.train:
        raise ConfigError("no training pairs left after cleaning; see rejects.tsv")
    check_split_sizes(data, stats)
    if data.slot_pairs > 0:
        lexicon = read_bytes(resolve(data.slot_lexicon, data_root(data))).decode("utf-8")
        added = slot_pairs(splits.train, data.slot_pairs, lexicon_index(lexicon.splitlines()),
                           data.seed)
        splits.train.extend(added)
        stats["slot_pairs"] = len(added)
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

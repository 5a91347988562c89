"""`prepare` at scale: training sources streamed (plain, .gz, .xz), cleaned and screened
by worker processes in chunks, duplicates and leaks found by hash. The invariant: the
output does not depend on how the work is cut up or spread over processes."""

from __future__ import annotations

import gzip
import json
import lzma
import random
import time
from collections import Counter
from pathlib import Path

import pytest
from helpers import synthetic_corpus

import hanyi.data.prepare as prepare_module
from hanyi.config import DataConfig, SourceConfig, TokenizerConfig
from hanyi.data import spool
from hanyi.data.corpus import Rejects, line_chunks, read_raw
from hanyi.data.prepare import prepare
from hanyi.data.sample import Reservoir
from hanyi.data.workers import in_background
from hanyi.errors import DataError

OUTPUTS = ("train.en", "train.zh", "train.src", "dev.en", "dev.zh", "test.en", "test.zh",
           "rejects.tsv", "src.model", "tgt.model")  # the tokenizers train aside when pooled


def write_corpus(root: Path) -> DataConfig:
    en, zh = synthetic_corpus(3000, seed=11)
    pool = [f"{e}\t{z}" for e, z in zip(en[:800], zh[:800], strict=True)]
    (root / "pool.tsv").write_text("\n".join(pool) + "\n", encoding="utf-8")
    # training: plain, gzip and xz; with duplicates of each other and of the pool, and a
    # near-duplicate of an excluded sentence
    text_en, text_zh = "\n".join(en[700:2000]) + "\n", "\n".join(zh[700:2000]) + "\n"
    (root / "a.en").write_text(text_en, encoding="utf-8")
    (root / "a.zh").write_text(text_zh, encoding="utf-8")
    (root / "b.en.gz").write_bytes(gzip.compress("\n".join(en[1900:]).encode() + b"\n"))
    (root / "b.zh.gz").write_bytes(gzip.compress("\n".join(zh[1900:]).encode() + b"\n"))
    (root / "c.en.xz").write_bytes(lzma.compress(b"Where is the blue teacher?\nBad line\n"))
    (root / "c.zh.xz").write_bytes(lzma.compress("蓝色的老师在哪里？\n没有英文\n".encode()))
    (root / "ex.en").write_text("Where is the teacher?\n", encoding="utf-8")
    (root / "ex.zh").write_text("老师在哪里？\n", encoding="utf-8")
    return DataConfig(root=str(root), dev_size=40, test_size=40, seed=3, sources=[
        SourceConfig(name="ex", path="ex", format="parallel", role="exclude"),
        SourceConfig(name="a", path="a", format="parallel"),
        SourceConfig(name="pool", path="pool.tsv", role="pool"),
        SourceConfig(name="b", path="b", format="parallel", weight=0.5),
        SourceConfig(name="c", path="c", format="parallel")])


def run(cfg: DataConfig, out: Path) -> dict:
    cfg.dir = str(out)
    return prepare(cfg, TokenizerConfig(src_vocab_size=200, tgt_vocab_size=200))


def test_workers_and_chunking_do_not_change_the_output(tmp_path, monkeypatch):
    cfg = write_corpus(tmp_path)
    alone = run(cfg, tmp_path / "alone")
    monkeypatch.setattr(spool, "POOL_BYTES", 0)  # the process pool, even for a small corpus
    monkeypatch.setattr(spool, "CHUNK", 37)
    pooled = run(cfg, tmp_path / "pooled")
    for name in OUTPUTS:
        assert (tmp_path / "alone" / name).read_bytes() == (tmp_path / "pooled" / name
                                                            ).read_bytes(), name
    assert alone["sources"] == pooled["sources"] and alone["held_out"] == pooled["held_out"]
    assert not [p for p in (tmp_path / "pooled").iterdir() if ".tmp-" in p.name]


def test_streamed_sources_are_deduplicated_screened_and_counted(tmp_path):
    stats = run(write_corpus(tmp_path), tmp_path / "out")
    out = tmp_path / "out"
    en = (out / "train.en").read_text(encoding="utf-8").splitlines()
    zh = (out / "train.zh").read_text(encoding="utf-8").splitlines()
    pairs = list(zip(en, zh, strict=True))
    assert len(pairs) == len(set(pairs))  # exact duplicates (a/b overlap, pool/a) removed
    en_all, zh_all = synthetic_corpus(3000, seed=11)  # read order: pool, then a, b
    seen = set(zip(en_all[:800], zh_all[:800], strict=True))
    expected = Counter()
    for name, part in (("a", slice(700, 2000)), ("b", slice(1900, None))):
        for pair in zip(en_all[part], zh_all[part], strict=True):
            expected[name] += pair in seen
            seen.add(pair)
    assert expected["b"] >= 100  # b repeats a's last 100 pairs
    for name in ("a", "b"):
        assert stats["sources"][name]["dropped"]["duplicate"] == expected[name]
    held = set((out / "test.en").read_text().splitlines() + (out / "dev.en").read_text(
        ).splitlines())
    assert not held & set(en)
    assert "Where is the blue teacher?" not in en  # near the excluded sentence
    assert stats["held_out"]["train_pairs_removed_near_excluded"]["c"] == 1
    assert stats["sources"]["c"]["dropped"] == {}
    assert Counter((out / "train.src").read_text().splitlines())["c"] == 1  # "Bad line"
    rejects = (out / "rejects.tsv").read_text(encoding="utf-8")
    assert rejects.count("\tduplicate\t") == stats["filters"]["duplicate"]
    assert stats["splits"]["train"] == len(en)
    assert json.loads((out / "stats.json").read_text())["splits"] == stats["splits"]


def test_a_killed_runs_spool_is_removed(tmp_path):
    cfg = write_corpus(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "spool.tmp-999.tsv"
    stale.write_text("left behind\n")
    run(cfg, out)
    assert not stale.exists()


@pytest.mark.parametrize("longer", ["en", "zh"])
def test_parallel_files_of_different_length_are_refused_even_by_one_line(tmp_path, longer):
    (tmp_path / "p.en").write_text("a\nb\n" + ("c\n" if longer == "en" else ""))
    (tmp_path / "p.zh.xz").write_bytes(lzma.compress(
        "甲\n乙\n".encode() + ("丙\n".encode() if longer == "zh" else b"")))
    source = SourceConfig(name="p", path="p", format="parallel")
    with pytest.raises(DataError, match=rf"line count \(.*p\.{longer}\S* has 1 more\)"):
        list(read_raw(source, tmp_path, Rejects()))


@pytest.mark.parametrize("size", [1, 2, 3, 7])
def test_line_chunks_number_lines_across_chunks_and_stop_at_max_pairs(tmp_path, size):
    (tmp_path / "p.en").write_text("".join(f"e{i}\n" for i in range(1, 8)))
    (tmp_path / "p.zh").write_text("".join(f"中{i}\n" for i in range(1, 8)))
    source = SourceConfig(name="p", path="p", format="parallel", max_pairs=5)
    pairs = [p for c in line_chunks(source, tmp_path, size) for p in c.pairs(Rejects())]
    assert [(p.en, p.zh, p.origin) for p in pairs] == [
        (f"e{i}", f"中{i}", f"{tmp_path / 'p.en'}:{i}") for i in range(1, 6)]
    assert pairs == list(read_raw(source, tmp_path, Rejects()))


def test_a_side_that_runs_out_at_a_chunk_end_is_still_found(tmp_path):
    (tmp_path / "p.en").write_text("a\nb\nc\nd\n")
    (tmp_path / "p.zh").write_text("甲\n乙\n丙\n丁\n戊\n己\n")
    source = SourceConfig(name="p", path="p", format="parallel")
    with pytest.raises(DataError, match=r"line count \(.*p\.zh has 2 more\)"):
        list(line_chunks(source, tmp_path, 2))


def test_a_corrupt_compressed_file_is_one_clear_error(tmp_path):
    (tmp_path / "p.en.xz").write_bytes(lzma.compress(b"a\n" * 1000)[:50])
    (tmp_path / "p.zh").write_text("甲\n" * 1000)
    with pytest.raises(DataError, match="cannot decompress"):
        list(read_raw(SourceConfig(name="p", path="p", format="parallel"), tmp_path,
                      Rejects()))


def test_the_reservoir_is_a_bounded_uniform_sample():
    counts = Counter()
    for seed in range(300):
        sample = Reservoir(10, random.Random(seed))
        for i in range(100):
            sample.add(i)
        assert len(sample.items) == 10 and len(set(sample.items)) == 10
        counts.update(sample.items)
    assert min(counts.values()) > 10 and max(counts.values()) < 60  # each item ~30 times


def test_the_tokenizers_sample_exactly_the_training_pairs(tmp_path, monkeypatch):
    """Drawn during the streamed pass, then cut to what trains: with room for every pair it
    is the training split itself (pool pairs included; duplicates, leaks and pairs near an
    excluded sentence not), with less room that many of its pairs (the reservoir holds
    more than asked for: here about a quarter of the streamed pairs do not train)."""
    cfg = write_corpus(tmp_path)
    seen, train_tokenizers = {}, prepare_module.train_tokenizers

    def capture(out, en, zh, tokenizer):
        seen[tokenizer.max_sentences] = sorted(zip(en, zh, strict=True))
        train_tokenizers(out, en, zh, tokenizer)

    monkeypatch.setattr(prepare_module, "train_tokenizers", capture)
    for size in (100_000, 500):
        cfg.dir = str(tmp_path / f"out{size}")
        prepare(cfg, TokenizerConfig(src_vocab_size=200, tgt_vocab_size=200, max_sentences=size))
        train = sorted(zip((tmp_path / f"out{size}" / "train.en").read_text().splitlines(),
                           (tmp_path / f"out{size}" / "train.zh").read_text().splitlines(),
                           strict=True))
        if size == 100_000:
            assert seen[size] == train and len(train) > 1000
        else:
            assert len(seen[size]) == 500 and set(seen[size]) <= set(train)


def test_a_job_aside_raises_its_error_when_waited_for_and_is_stopped_when_left():
    with pytest.raises(ValueError, match="invalid literal"):
        with in_background(True, int, "x") as wait:
            wait()
    start = time.monotonic()
    with pytest.raises(KeyError):
        with in_background(True, time.sleep, 60):
            raise KeyError("an error while it runs")
    assert time.monotonic() - start < 30  # terminated, not waited for

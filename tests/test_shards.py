"""Binarised, memory-mapped splits (data/shards.py) and the numpy batcher.

The invariant: training from shards sees exactly what training from the in-memory split
saw — the same ids (cut and tagged the same way), the same lengths, the same batches for
every (seed, epoch, weights) — while keeping only the length arrays in memory.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from helpers import synthetic_corpus

from hanyi.config import DataConfig, SourceConfig, TokenizerConfig
from hanyi.data import shards
from hanyi.data.dataset import epoch_batches, load_split, make_batch, token_batches
from hanyi.data.prepare import prepare
from hanyi.data.shards import TokenShards, binarize, load_shards, shards_current
from hanyi.tokenization import Vocab


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared folder with two training sources, one of them synthetic (tagged)."""
    root = tmp_path_factory.mktemp("shards")
    en, zh = synthetic_corpus(1200, seed=5)
    for name, (e, z) in (("real", (en[:800], zh[:800])), ("bt", (en[800:], zh[800:]))):
        (root / f"{name}.en").write_text("\n".join(e) + "\n", encoding="utf-8")
        (root / f"{name}.zh").write_text("\n".join(z) + "\n", encoding="utf-8")
    out = root / "out"
    prepare(DataConfig(root=str(root), dir=str(out), dev_size=10, test_size=10,
                       held_out_near_duplicates="keep",
                       sources=[SourceConfig(name="real", path="real", format="parallel",
                                             role="pool"),
                                SourceConfig(name="bt", path="bt", format="parallel",
                                             synthetic=True)]),
            TokenizerConfig(src_vocab_size=200, tgt_vocab_size=200))
    return out


def vocabs(out):
    return Vocab.from_file(out / "src.model"), Vocab.from_file(out / "tgt.model")


def test_prepare_writes_current_shards_of_every_split(prepared):
    assert shards_current(prepared, split_punctuation=False)
    assert not shards_current(prepared, split_punctuation=True)  # a setting that differs
    meta = json.loads((prepared / "shards" / "meta.json").read_text())
    for split in ("train", "dev", "test"):
        lines = (prepared / f"{split}.en").read_text(encoding="utf-8").count("\n")
        assert meta["splits"][split]["pairs"] == lines
    ids = np.load(prepared / "shards" / "train.zh.ids.npy", mmap_mode="r")
    assert ids.dtype == np.uint16 and isinstance(ids, np.memmap)


@pytest.mark.parametrize("direction", ["en-zh", "zh-en"])
@pytest.mark.parametrize("max_len", [64, 6])  # 6 cuts many sentences
@pytest.mark.parametrize("in_memory_bytes", [0, 2**30])  # read from disk, read into memory
def test_shards_give_the_in_memory_split_exactly(prepared, direction, max_len, in_memory_bytes):
    en_vocab, zh_vocab = vocabs(prepared)
    src_vocab, tgt_vocab = (en_vocab, zh_vocab) if direction == "en-zh" else (zh_vocab, en_vocab)
    synthetic = frozenset({"bt"})
    memory = load_split(prepared, "train", src_vocab, tgt_vocab, max_len, direction, synthetic)
    mapped = TokenShards(prepared, "train", direction, max_len, src_vocab.bos_id, synthetic,
                         in_memory_bytes)
    assert mapped.in_memory == (in_memory_bytes > 0)
    assert len(mapped) == len(memory) > 500
    assert (mapped.src_lens == memory.src_lens).all()
    assert (mapped.tgt_lens == memory.tgt_lens).all()
    assert mapped.source_names == memory.source_names
    assert (mapped.source_index == memory.source_index).all()
    everything = list(range(len(memory)))
    assert mapped.ids(everything) == memory.ids(everything)
    assert any(s[0] == src_vocab.bos_id for s in mapped.ids(everything)[0])  # tags are there
    for epoch in range(3):
        for weights in (None, {"real": 2.0, "bt": 0.5}):
            old = epoch_batches(memory, 300, 7, epoch, weights=weights)
            new = epoch_batches(mapped, 300, 7, epoch, weights=weights)
            assert [b.tolist() for b in old] == [b.tolist() for b in new]
    batch_old = make_batch(memory, old[0], src_vocab, tgt_vocab)
    batch_new = make_batch(mapped, new[0], src_vocab, tgt_vocab)
    assert batch_old.src.equal(batch_new.src) and batch_old.tgt_out.equal(batch_new.tgt_out)


def test_the_process_pool_writes_the_same_shards(prepared, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("train.en", "train.zh", "train.src", "src.model", "tgt.model"):
        (copy / name).write_bytes((prepared / name).read_bytes())
    monkeypatch.setattr(shards, "CHUNK", 37)  # many chunks, so the pool is used
    binarize(copy, split_punctuation=False, workers=2)
    for name in ("train.en.ids.npy", "train.zh.offsets.npy", "train.source.npy"):
        assert (np.load(copy / "shards" / name) == np.load(prepared / "shards" / name)).all()


def test_stale_or_missing_shards_are_rebuilt_when_loading(prepared, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("train.en", "train.zh", "train.src", "src.model", "tgt.model"):
        (copy / name).write_bytes((prepared / name).read_bytes())
    assert not shards_current(copy, False)
    data = load_shards(copy, "train", "en-zh", 64, 2, split_punctuation=False)
    assert shards_current(copy, False) and len(data) > 0
    meta = copy / "shards" / "meta.json"
    meta.write_text(meta.read_text().replace('"format": 1', '"format": 0'))
    assert not shards_current(copy, False)  # an older format is rebuilt too


def test_a_split_with_uneven_sides_is_refused(tmp_path, prepared):
    for name in ("src.model", "tgt.model"):
        (tmp_path / name).write_bytes((prepared / name).read_bytes())
    (tmp_path / "train.en").write_text("a\nb\n", encoding="utf-8")
    (tmp_path / "train.zh").write_text("甲\n", encoding="utf-8")
    with pytest.raises(Exception, match="line count"):
        binarize(tmp_path, False)
    assert not (tmp_path / "shards").exists()  # nothing half-written left behind


def reference_batches(order, src, tgt, max_tokens):
    """The greedy packer written plainly: take sorted examples while n * widest fits."""
    batches, current, width = [], [], 0
    for i in order:
        new_width = max(width, src[i], tgt[i] + 1)
        if current and new_width * (len(current) + 1) > max_tokens:
            batches.append(current)
            current, new_width = [], max(src[i], tgt[i] + 1)
        current.append(i)
        width = new_width
    return batches + ([current] if current else [])


@pytest.mark.parametrize("max_tokens", [40, 256, 4096])
def test_numpy_packing_equals_the_plain_greedy_packer(max_tokens):
    rng = random.Random(3)
    src = [rng.randint(1, 60) for _ in range(3000)]
    tgt = [rng.randint(1, 80) for _ in range(3000)]
    batches = token_batches(src, tgt, max_tokens, seed=1, epoch=0, shuffle=False)
    order = [i for b in batches for i in b.tolist()]
    keys = [(src[i], tgt[i]) for i in order]
    assert keys == sorted(keys) and sorted(order) == list(range(3000))
    assert [b.tolist() for b in batches] == reference_batches(order, src, tgt, max_tokens)

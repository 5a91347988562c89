"""Shared fixtures.

* ``shared_data``: ../shared/data (the project's corpora; never copied into the repo).
* ``toy_vocab``: a small SentencePiece model trained on a synthetic fixture, in seconds.
* ``tiny_run``: `hanyi prepare` + `hanyi train` of configs/tiny.yaml on a synthetic corpus
  written by the tests, once per session (about 1.5 minutes on 2 cores), for tests that
  need a real trained model.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from helpers import (
    REPO,
    SHARED_DATA,
    synthetic_sentences,
    train_through_cli,
    write_synthetic_tsv,
)

from hanyi.config import ModelConfig
from hanyi.model import build_model
from hanyi.tokenization import Vocab
from hanyi.tokenization.sentencepiece import train_sentencepiece

torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "tatoeba-cmn").is_dir():
        pytest.skip(f"shared corpora not found at {SHARED_DATA} (set HANYI_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def toy_vocabs(tmp_path_factory) -> tuple[Vocab, Vocab]:
    folder = tmp_path_factory.mktemp("spm")
    en, zh = synthetic_sentences(400)
    src = train_sentencepiece(en, folder / "src.model", 60, "unigram", 1.0, 10_000)
    tgt = train_sentencepiece(zh, folder / "tgt.model", 60, "unigram", 1.0, 10_000,
                              normalization="identity")
    return Vocab.from_file(src), Vocab.from_file(tgt)


@pytest.fixture
def small_model_config() -> ModelConfig:
    return ModelConfig(d_model=32, n_heads=4, d_ff=64, encoder_layers=2, decoder_layers=2,
                       dropout=0.0, max_positions=128)


@pytest.fixture
def random_model(toy_vocabs, small_model_config):
    torch.manual_seed(0)
    return build_model(small_model_config, *toy_vocabs).eval()


TINY_CORPUS_PAIRS = 6000


def tiny_overrides(corpus_root: Path, prepared: Path) -> list[str]:
    """``--set`` arguments that point configs/tiny.yaml at the synthetic corpus."""
    source = "[{name: synthetic, path: synthetic.tsv, format: tsv, role: pool}]"
    return ["--set", f"data.root={corpus_root}", "--set", f"data.dir={prepared}",
            "--set", f"data.sources={source}"]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """Prepare + train configs/tiny.yaml through the CLI on a synthetic corpus the tests write
    themselves (helpers.synthetic_corpus), so it never needs ../shared/data; returns the run
    directory (DIR/data prepared, DIR/run the run). The same recipe on the real corpus is
    tests/test_cli.py::test_tiny_recipe_on_the_shared_corpus.

    HANYI_TINY_RUN=DIR reuses a finished one (DIR/data, DIR/run/best), e.g. while iterating
    on CLI tests; tests only read it.
    """
    from hanyi.cli.__main__ import main

    reuse = os.environ.get("HANYI_TINY_RUN")
    if reuse and (Path(reuse) / "run" / "best" / "model.safetensors").is_file():
        return Path(reuse)

    root = tmp_path_factory.mktemp("tiny")
    write_synthetic_tsv(root / "corpus" / "synthetic.tsv", TINY_CORPUS_PAIRS, seed=1)
    common = tiny_overrides(root / "corpus", root / "data")
    assert main(["prepare", str(REPO / "configs" / "tiny.yaml"), *common]) == 0
    train_through_cli(main, ["train", str(REPO / "configs" / "tiny.yaml"), "--out",
                             str(root / "run"), "--device", "cpu", *common])
    return root

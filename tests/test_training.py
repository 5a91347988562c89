"""Training: a tiny model learns to copy; loss and schedule; checkpoints round-trip;
resuming gives exactly the parameters of an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from hanyi.checkpoint import load_model_dir
from hanyi.config import (DataConfig, DecodeConfig, ExperimentConfig, ModelConfig, SourceConfig,
                          TokenizerConfig, TrainConfig)
from hanyi.data.batch import collate
from hanyi.data.prepare import prepare
from hanyi.decoding import greedy_search
from hanyi.model.transformer import SpecialIds, Transformer
from hanyi.training.distributed import Distributed
from hanyi.training.loss import label_smoothed_nll
from hanyi.training.optim import build_optimizer, learning_rate
from hanyi.training.trainer import Trainer, train_step

from conftest import synthetic_sentences

IDS = SpecialIds(pad=0, bos=1, eos=2)


def test_label_smoothing_zero_is_cross_entropy_and_pad_is_ignored():
    logits = torch.randn(2, 3, 7)
    target = torch.tensor([[3, 4, 0], [5, 0, 0]])
    loss, nll = label_smoothed_nll(logits, target, pad_id=0, smoothing=0.0)
    manual = -logits.log_softmax(-1)[[0, 0, 1], [0, 1, 0], [3, 4, 5]].sum()
    torch.testing.assert_close(loss, manual)
    torch.testing.assert_close(nll, manual)
    smoothed, _ = label_smoothed_nll(logits, target, pad_id=0, smoothing=0.1)
    assert not torch.isclose(smoothed, manual)


def test_learning_rate_warms_up_then_decays_as_inverse_sqrt():
    cfg = TrainConfig(lr=1e-3, warmup_steps=100, max_steps=1)
    assert learning_rate(1, cfg) == pytest.approx(1e-5)
    assert learning_rate(100, cfg) == pytest.approx(1e-3)  # the peak
    assert learning_rate(400, cfg) == pytest.approx(5e-4)  # sqrt(100 / 400)
    assert max(learning_rate(s, cfg) for s in range(1, 1000)) == pytest.approx(1e-3)


def copy_batch(generator, n=64, vocab=12):
    lengths = torch.randint(3, 8, (n,), generator=generator).tolist()
    seqs = [torch.randint(3, vocab, (k,), generator=generator).tolist() for k in lengths]
    return collate(seqs, seqs, IDS.pad, IDS.pad, IDS.bos, IDS.eos)


def test_tiny_model_learns_to_copy():
    torch.manual_seed(0)
    cfg = ModelConfig(d_model=64, n_heads=4, d_ff=128, encoder_layers=2, decoder_layers=2,
                      dropout=0.0)
    model = Transformer(cfg, 12, 12, IDS, IDS)
    train_cfg = TrainConfig(lr=3e-3, warmup_steps=50, max_steps=300, label_smoothing=0.0)
    optimizer = build_optimizer(model, train_cfg)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for step in range(1, 301):
        metrics = train_step(model, [copy_batch(generator)], optimizer,
                             learning_rate(step, train_cfg), train_cfg, IDS.pad,
                             torch.device("cpu"), Distributed())
        losses.append(metrics["loss"])
    assert sum(losses[-20:]) / 20 < 0.1 * sum(losses[:20]) / 20
    test = copy_batch(torch.Generator().manual_seed(99), n=50)
    hyps = greedy_search(model.eval(), test.src, DecodeConfig(beam_size=1, max_len_a=1.0,
                                                              max_len_b=2))
    wanted = [[t for t in row if t != IDS.pad] for row in test.src.tolist()]
    exact = sum(h[0].tokens == w for h, w in zip(hyps, wanted)) / len(wanted)
    assert exact >= 0.9


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

"""A tiny Transformer learns the copy task (loss drops, exact match >= 90 %), on the CPU and,
where there is one, on a CUDA GPU (the `gpu` marker)."""

from __future__ import annotations

import pytest
import torch
from helpers import DEVICES

from hanyi.config import DecodeConfig, ModelConfig, TrainConfig
from hanyi.data.batch import collate
from hanyi.decoding import greedy_search
from hanyi.model.transformer import SpecialIds, Transformer
from hanyi.training.distributed import Distributed
from hanyi.training.optim import build_optimizer, learning_rate
from hanyi.training.trainer import train_step

IDS = SpecialIds(pad=0, bos=1, eos=2)


def copy_batch(generator, n=64, vocab=12):
    lengths = torch.randint(3, 8, (n,), generator=generator).tolist()
    seqs = [torch.randint(3, vocab, (k,), generator=generator).tolist() for k in lengths]
    return collate(seqs, seqs, IDS.pad, IDS.pad, IDS.bos, IDS.eos)


@pytest.mark.parametrize("device", DEVICES)
def test_tiny_model_learns_to_copy(device):
    device = torch.device(device)
    torch.manual_seed(0)
    cfg = ModelConfig(d_model=64, n_heads=4, d_ff=128, encoder_layers=2, decoder_layers=2,
                      dropout=0.0)
    model = Transformer(cfg, 12, 12, IDS, IDS).to(device)
    train_cfg = TrainConfig(lr=3e-3, warmup_steps=50, max_steps=300, label_smoothing=0.0)
    optimizer = build_optimizer(model, train_cfg)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for step in range(1, 301):
        metrics = train_step(model, [copy_batch(generator)], optimizer,
                             learning_rate(step, train_cfg), train_cfg, IDS.pad,
                             device, Distributed())
        losses.append(metrics["loss"])
    assert sum(losses[-20:]) / 20 < 0.1 * sum(losses[:20]) / 20
    test = copy_batch(torch.Generator().manual_seed(99), n=50)
    hyps = greedy_search(model.eval(), test.src.to(device), DecodeConfig(beam_size=1, max_len_a=1.0,
                                                              max_len_b=2))
    wanted = [[t for t in row if t != IDS.pad] for row in test.src.tolist()]
    exact = sum(h[0].tokens == w for h, w in zip(hyps, wanted, strict=True)) / len(wanted)
    assert exact >= 0.9

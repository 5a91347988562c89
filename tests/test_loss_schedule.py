"""Label-smoothed cross-entropy and the warm-up / inverse-√ learning-rate schedule."""

from __future__ import annotations

import pytest
import torch

from hanyi.config import TrainConfig
from hanyi.training.loss import label_smoothed_nll
from hanyi.training.optim import learning_rate


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


def test_label_smoothing_is_the_mixture_with_the_uniform_distribution():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 9)
    target = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    eps = 0.1
    loss, nll = label_smoothed_nll(logits, target, pad_id=0, smoothing=eps)
    log_p = logits.log_softmax(-1)[target != 0]  # (N, V) real positions only
    gold = -log_p.gather(1, target[target != 0].unsqueeze(1)).sum()
    uniform = -log_p.mean(dim=1).sum()  # ε spread evenly over all V classes
    torch.testing.assert_close(loss, (1 - eps) * gold + eps * uniform)
    torch.testing.assert_close(nll, gold)


def test_padding_positions_never_change_the_loss():
    torch.manual_seed(1)
    logits = torch.randn(2, 3, 7)
    target = torch.tensor([[3, 4, 0], [5, 0, 0]])
    changed = logits.clone()
    changed[0, 2] += 100 * torch.randn(7)  # garbage at padded positions
    changed[1, 1:] = 0
    for eps in (0.0, 0.1):
        torch.testing.assert_close(label_smoothed_nll(changed, target, 0, eps),
                                   label_smoothed_nll(logits, target, 0, eps))


def test_constant_schedule_warms_up_then_stays():
    cfg = TrainConfig(lr=1e-3, warmup_steps=10, schedule="constant", max_steps=1)
    assert learning_rate(5, cfg) == pytest.approx(5e-4)
    assert learning_rate(10, cfg) == learning_rate(10_000, cfg) == pytest.approx(1e-3)
    assert learning_rate(0, cfg) == learning_rate(1, cfg)  # steps are 1-based


def test_inverse_sqrt_matches_the_papers_formula_up_to_the_peak():
    """§5.3: lrate = d^-0.5 · min(step^-0.5, step · warmup^-1.5); ours = the same curve
    rescaled so that its maximum (at step = warmup) is train.lr."""
    cfg = TrainConfig(lr=7e-4, warmup_steps=4000, max_steps=1)
    paper = [min(s ** -0.5, s * 4000 ** -1.5) for s in (1, 100, 4000, 9000, 100_000)]
    ours = [learning_rate(s, cfg) for s in (1, 100, 4000, 9000, 100_000)]
    ratios = [o / p for o, p in zip(ours, paper, strict=True)]
    assert ratios == pytest.approx([7e-4 * 4000 ** 0.5] * 5)

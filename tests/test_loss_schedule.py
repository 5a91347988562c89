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

"""Attention kernels against `reference` (the paper's softmax(QKᵀ/√d)V): the contract every
kernel in ATTENTION_KERNELS must meet, with padding and causal masks."""

from __future__ import annotations

import pytest
import torch

from hanyi.errors import ConfigError
from hanyi.model.attention import ATTENTION_KERNELS, get_kernel
from hanyi.model.attention.reference import ReferenceAttention
from hanyi.model.attention.sdpa import SDPAAttention
from hanyi.model.masks import AttentionMask


def random_qkv(b=2, h=4, tq=5, tk=7, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(b, h, t, d, generator=g) for t in (tq, tk, tk))


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_matches_reference_with_padding_and_causal_masks(causal):
    tq = 7 if causal else 5
    q, k, v = random_qkv(tq=tq, tk=7)
    kp = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    mask = AttentionMask(key_padding=kp, causal=causal)
    ref, weights = ReferenceAttention()(q, k, v, mask, need_weights=True)
    fast, _ = SDPAAttention()(q, k, v, mask)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, tq))
    assert (weights[1, :, :, 4:] == 0).all()  # padded keys get no weight


def test_unknown_kernel_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="reference"):
        get_kernel("nope")
    assert {"reference", "sdpa"} <= set(ATTENTION_KERNELS)

"""Attention kernels against `reference` (the paper's softmax(QKᵀ/√d)V): the contract every
kernel in ATTENTION_KERNELS must meet, with padding and causal masks."""

from __future__ import annotations

import pytest
import torch
from helpers import DEVICES

from hanyi.config import ModelConfig
from hanyi.errors import ConfigError
from hanyi.model.attention import ATTENTION_KERNELS, PAPER_KERNELS, build_kernel, get_kernel
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


def explicit_attention(q, k, v, allowed):
    """softmax(QKᵀ/√d)V written out with loops over batch and heads, in float64."""
    out = torch.zeros(q.shape, dtype=torch.float64)
    weights = torch.zeros(*q.shape[:3], k.size(2), dtype=torch.float64)
    for b in range(q.size(0)):
        for h in range(q.size(1)):
            scores = q[b, h].double() @ k[b, h].double().T / q.size(-1) ** 0.5  # (Tq, Tk)
            scores[~allowed[b]] = float("-inf")
            weights[b, h] = scores.softmax(-1)
            out[b, h] = weights[b, h] @ v[b, h].double()
    return out, weights


def test_reference_is_the_papers_equation():
    q, k, v = random_qkv(b=2, h=3, tq=4, tk=6, d=5)
    kp = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    out, weights = ReferenceAttention()(q, k, v, AttentionMask(key_padding=kp), need_weights=True)
    allowed = kp[:, None, :].expand(2, 4, 6)  # (B, Tq, Tk)
    expected_out, expected_weights = explicit_attention(q, k, v, allowed)
    torch.testing.assert_close(out.double(), expected_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights.double(), expected_weights, atol=1e-6, rtol=1e-5)
    assert (weights[1, :, :, 3:] == 0).all()


# `reference` itself is checked against the explicit loops above; every *other* exact kernel
# (the paper's; the efficient ones are checked in test_attention_kernels.py) is checked
# against `reference`.
EXACT = sorted(name for name in PAPER_KERNELS if name != "reference")


def make_kernel(name: str, site: str):
    return build_kernel(ModelConfig(attention=name, attention_dropout=0.0), site)


# (B, H, Tq, Tk, Dh, causal, offset): encoder, decoder, one cached step, a cached chunk,
# cross-attention (Tq != Tk)
SHAPES = [(2, 4, 7, 7, 8, False, 0), (3, 2, 6, 6, 16, True, 0), (2, 4, 1, 9, 8, True, 8),
          (2, 2, 3, 8, 4, True, 5), (3, 4, 5, 11, 8, False, 0), (1, 1, 1, 1, 8, False, 0)]


def shaped_case(b, h, tq, tk, d, causal, offset):
    """Random q, k, v, the mask of the case, and which query may see which key (B, Tq, Tk)."""
    q, k, v = random_qkv(b=b, h=h, tq=tq, tk=tk, d=d, seed=tq * tk)
    lengths = torch.tensor([tk] + [max(1, tk - 2 * i - 1) for i in range(1, b)])
    kp = torch.arange(tk).unsqueeze(0) < lengths.unsqueeze(1)  # (B, Tk): padded rows too
    mask = AttentionMask(key_padding=None if causal else kp, causal=causal, offset=offset)
    if causal:  # query i sits at position offset + i and sees keys 0 .. offset + i
        allowed = torch.arange(tk)[None, :] <= (offset + torch.arange(tq))[:, None]
        allowed = allowed.expand(b, tq, tk)
    else:
        allowed = kp[:, None, :].expand(b, tq, tk)
    return q, k, v, mask, allowed


def test_there_is_an_exact_kernel_besides_reference():
    assert EXACT, "no exact kernel to check against reference"


@pytest.mark.parametrize("b, h, tq, tk, d, causal, offset", SHAPES)
def test_reference_is_the_explicit_equation_on_every_shape(b, h, tq, tk, d, causal, offset):
    q, k, v, mask, allowed = shaped_case(b, h, tq, tk, d, causal, offset)
    out, _ = ReferenceAttention()(q, k, v, mask)
    expected, _ = explicit_attention(q, k, v, allowed)
    torch.testing.assert_close(out.double(), expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", EXACT)
@pytest.mark.parametrize("b, h, tq, tk, d, causal, offset", SHAPES)
def test_every_exact_kernel_matches_reference(name, b, h, tq, tk, d, causal, offset, device):
    q, k, v, mask, _ = shaped_case(b, h, tq, tk, d, causal, offset)
    site = "decoder" if causal else ("encoder" if tq == tk else "cross")
    expected, _ = ReferenceAttention()(q, k, v, mask)
    if mask.key_padding is not None:
        mask = AttentionMask(mask.key_padding.to(device), mask.causal, mask.offset)
    out, _ = make_kernel(name, site)(q.to(device), k.to(device), v.to(device), mask)
    assert out.shape == (b, h, tq, d)
    torch.testing.assert_close(out.cpu(), expected, atol=1e-5, rtol=1e-5)


def test_no_row_is_nan_even_for_padded_queries():
    q, k, v = random_qkv(b=2, tq=4, tk=4)
    kp = torch.tensor([[True] * 4, [True, False, False, False]])
    for kernel in (ReferenceAttention(), SDPAAttention()):
        out, _ = kernel(q, k, v, AttentionMask(key_padding=kp, causal=True))
        assert torch.isfinite(out).all()


def test_sdpa_hands_back_the_reference_weights_when_asked():
    """The fused function has no weights; asked for them, `sdpa` computes Eq. 1 explicitly."""
    q, k, v = random_qkv()
    mask = AttentionMask(key_padding=torch.tensor([[True] * 7, [True] * 4 + [False] * 3]))
    out, weights = SDPAAttention()(q, k, v, mask, need_weights=True)
    ref_out, ref_weights = ReferenceAttention()(q, k, v, mask, need_weights=True)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(weights, ref_weights)

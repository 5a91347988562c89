"""Contract tests for every kernel in ATTENTION_KERNELS, checked against `reference`.

Invariants, not snapshots: exact kernels equal `reference`; sparse kernels equal it when
their pattern covers the sentence; causal kernels never look ahead and agree with the
KV-cache step form; padding never changes real positions; approximate kernels improve
with their budget; nothing builds a dense (Tq, Tk) mask behind the scenes.
"""

from __future__ import annotations

import pytest
import torch

from hanyi.config import ModelConfig
from hanyi.errors import ConfigError
from hanyi.model import build_model
from hanyi.model.attention import ATTENTION_KERNELS, PAPER_KERNELS, AttentionKernel, build_kernel
from hanyi.model.attention.efficient import EFFICIENT_KERNELS
from hanyi.model.attention.efficient.performer import PerformerAttention
from hanyi.model.masks import AttentionMask

NAMES = sorted(ATTENTION_KERNELS)
CAUSAL = sorted([*PAPER_KERNELS, *(n for n, k in EFFICIENT_KERNELS.items() if k.supports_causal)])
SPARSE = sorted(EFFICIENT_KERNELS)  # must never call .dense()
B, H, T, DH = 2, 2, 21, 4


def make_kernel(name: str, **overrides) -> AttentionKernel:
    fields = {"d_model": H * DH, "n_heads": H, "attention_window": 4, "attention_block": 4,
              "attention_features": 16, "attention_rank": 8, "max_positions": 64}
    torch.manual_seed(0)
    return build_kernel(ModelConfig(**{**fields, **overrides}, attention=name), "encoder")


def qkv(t: int = T, dtype=torch.float32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(B, H, t, DH, generator=g, dtype=dtype) for _ in range(3))


def padded() -> torch.Tensor:
    kp = torch.ones(B, T, dtype=torch.bool)
    kp[1, 15:] = False  # second sentence is 15 tokens long
    return kp


def reference(q, k, v, mask):
    return ATTENTION_KERNELS["reference"]()(q, k, v, mask)[0]


def test_registry_has_the_family():
    assert {"reference", "sdpa", "local", "bigbird", "linformer", "performer",
            "linear"} <= set(ATTENTION_KERNELS)
    assert set(SPARSE) == {"local", "bigbird", "linformer", "performer", "linear"}
    for name, kernel in ATTENTION_KERNELS.items():
        doc = __import__(kernel.__module__, fromlist=["_"]).__doc__
        assert doc and "O(" in doc, f"{name}: module docstring must state its cost"


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_equals_reference(causal):
    q, k, v = qkv()
    mask = AttentionMask(None if causal else padded(), causal)
    out, _ = make_kernel("sdpa")(q, k, v, mask)
    torch.testing.assert_close(out, reference(q, k, v, mask))


def test_sdpa_leaves_cudnn_out_of_pytorch_s_choice_and_restores_the_flags():
    from hanyi.model.attention.sdpa import _without_cudnn

    before = torch.backends.cuda.cudnn_sdp_enabled()
    with _without_cudnn():  # the switches are process flags: checkable without a GPU
        assert not torch.backends.cuda.cudnn_sdp_enabled()
        assert torch.backends.cuda.flash_sdp_enabled()
        assert torch.backends.cuda.mem_efficient_sdp_enabled()
    assert torch.backends.cuda.cudnn_sdp_enabled() == before


@pytest.mark.gpu
@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_equals_reference_on_cuda_under_bf16(causal):
    q, k, v = (t.cuda() for t in qkv())
    mask = AttentionMask(None if causal else padded().cuda(), causal)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out, _ = make_kernel("sdpa").cuda()(q, k, v, mask)
    torch.testing.assert_close(out.float(), reference(q, k, v, mask), atol=3e-2, rtol=3e-2)


@pytest.mark.parametrize("causal", [False, True])
def test_local_with_window_covering_the_sentence_equals_reference(causal):
    q, k, v = qkv()
    mask = AttentionMask(None if causal else padded(), causal)
    out, _ = make_kernel("local", attention_window=T)(q, k, v, mask)
    torch.testing.assert_close(out, reference(q, k, v, mask))


def test_local_equals_reference_restricted_to_the_band():
    q, k, v = qkv()
    w = 3
    pos = torch.arange(T)
    band = (pos[None, :] - pos[:, None]).abs() <= w  # (T, T)
    scores = (q @ k.transpose(-2, -1)) / DH ** 0.5
    keep = band & padded()[:, None, None, :]  # (B, 1, T, T)
    expected = scores.masked_fill(~keep, torch.finfo(scores.dtype).min).softmax(-1) @ v
    out, _ = make_kernel("local", attention_window=w)(q, k, v, AttentionMask(padded()))
    torch.testing.assert_close(out[0], expected[0])
    # Padded queries more than w past the last real token see no real key at all (their
    # row is fully masked; their output is never used): compare real positions only.
    torch.testing.assert_close(out[1, :, :15], expected[1, :, :15])


@pytest.mark.parametrize("block", [4, 5, 32])
def test_bigbird_with_all_blocks_attended_equals_reference(block):
    q, k, v = qkv()
    mask = AttentionMask(padded())
    kernel = make_kernel("bigbird", attention_block=block, attention_window=T,
                         attention_global_blocks=1, attention_random_blocks=2)
    torch.testing.assert_close(kernel(q, k, v, mask)[0], reference(q, k, v, mask))


def test_bigbird_sparse_pattern_is_sparse_and_complete():
    kernel = make_kernel("bigbird", attention_block=4, attention_window=4,
                         attention_global_blocks=1, attention_random_blocks=1)
    idx, valid = kernel.pattern(12)
    for row in range(12):
        chosen = idx[row][valid[row]].tolist()
        assert len(chosen) == len(set(chosen)) <= 5  # no block counted twice; sparse
        assert {0, row} <= set(chosen) and (row == 11 or row + 1 in chosen)


@pytest.mark.parametrize("name", CAUSAL)
def test_causal_kernels_never_look_ahead(name):
    q, k, v = qkv()
    kernel = make_kernel(name)
    mask = AttentionMask(causal=True)
    out, _ = kernel(q, k, v, mask)
    t = 9
    q2, k2, v2 = (x.clone() for x in (q, k, v))
    for x in (q2, k2, v2):
        x[:, :, t + 1:] = torch.randn_like(x[:, :, t + 1:]) * 5
    out2, _ = kernel(q2, k2, v2, mask)
    torch.testing.assert_close(out2[:, :, :t + 1], out[:, :, :t + 1])
    assert not torch.allclose(out2[:, :, t + 1:], out[:, :, t + 1:])


@pytest.mark.parametrize("name", CAUSAL)
def test_cache_steps_equal_the_full_causal_pass(name):
    """Decoding with a KV cache: Tq = 1, offset = cached positions, as decode_step does."""
    q, k, v = qkv()
    kernel = make_kernel(name)
    full, _ = kernel(q, k, v, AttentionMask(causal=True))
    steps = [kernel(q[:, :, i:i + 1], k[:, :, :i + 1], v[:, :, :i + 1],
                    AttentionMask(causal=True, offset=i))[0] for i in range(T)]
    torch.testing.assert_close(torch.cat(steps, dim=2), full)


@pytest.mark.parametrize("name", NAMES)
def test_padding_does_not_change_real_positions(name):
    q, k, v = qkv()
    kernel = make_kernel(name, attention_random_blocks=0)  # bigbird: pattern fixed by length
    out, _ = kernel(q, k, v, AttentionMask(padded()))
    short, _ = kernel(q[1:, :, :15], k[1:, :, :15], v[1:, :, :15], AttentionMask())
    torch.testing.assert_close(out[1:, :, :15], short)


@pytest.mark.parametrize("name", SPARSE)
def test_efficient_kernels_never_build_a_dense_mask(name, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError(f"{name} built a dense (Tq, Tk) mask")

    monkeypatch.setattr(AttentionMask, "dense", forbidden)
    q, k, v = qkv()
    kernel = make_kernel(name)
    kernel(q, k, v, AttentionMask(padded()))
    if name in CAUSAL:
        kernel(q, k, v, AttentionMask(causal=True))


def test_performer_error_shrinks_with_more_features():
    q, k, v = (x * 0.7 for x in qkv(t=16))
    mask = AttentionMask(padded()[:, :16])
    exact = reference(q, k, v, mask)
    errors = []
    for n_features in (8, 64, 512):
        runs = []
        for seed in range(4):
            torch.manual_seed(seed)
            out, _ = PerformerAttention(n_features, DH)(q, k, v, mask)
            runs.append((out - exact).pow(2).mean())
        errors.append(torch.stack(runs).mean().item())
    assert errors[0] > errors[1] > errors[2], errors
    assert errors[2] < 0.25 * errors[0], errors


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("causal", [False, True])
def test_gradients_flow(name, causal):
    kernel = make_kernel(name).double()
    if causal and name not in CAUSAL:
        pytest.skip(f"{name} has no causal form")
    q, k, v = (x.requires_grad_() for x in qkv(t=7, dtype=torch.float64))
    kp = torch.ones(B, 7, dtype=torch.bool)
    kp[1, 5:] = False
    mask = AttentionMask(causal=True) if causal else AttentionMask(kp)
    assert torch.autograd.gradcheck(lambda *x: kernel(*x, mask)[0], (q, k, v))


@pytest.mark.parametrize("name", ["performer", "linear"])
def test_weights_for_visualisation_are_the_ones_used(name):
    q, k, v = qkv()
    mask = AttentionMask(padded())
    out, weights = make_kernel(name)(q, k, v, mask, need_weights=True)
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, H, T))
    torch.testing.assert_close(weights @ v, out)


def test_sites_are_validated_at_build_time(toy_vocabs, small_model_config):
    small_model_config.decoder_attention = "linformer"
    with pytest.raises(ConfigError, match="linformer.*choose one of .*linear.*local"):
        build_model(small_model_config, *toy_vocabs)
    small_model_config.decoder_attention = None
    small_model_config.cross_attention = "local"
    with pytest.raises(ConfigError, match="cross"):
        build_model(small_model_config, *toy_vocabs)
    small_model_config.attention = "nope"
    with pytest.raises(ConfigError, match="unknown attention kernel 'nope'"):
        build_model(small_model_config, *toy_vocabs)


@pytest.mark.parametrize("name", ["bigbird", "performer", "linformer"])
def test_random_parts_are_saved_with_the_model(name, toy_vocabs, small_model_config):
    small_model_config.encoder_attention = name
    small_model_config.attention_block = 2
    torch.manual_seed(1)
    model = build_model(small_model_config, *toy_vocabs).eval()
    torch.manual_seed(2)
    clone = build_model(small_model_config, *toy_vocabs).eval()
    clone.load_state_dict(model.state_dict())
    src = torch.randint(4, 30, (2, 11))
    torch.testing.assert_close(clone.encode(src)[0], model.encode(src)[0])


@pytest.mark.parametrize("name", [n for n in SPARSE if not EFFICIENT_KERNELS[n].returns_weights])
def test_kernels_without_weights_refuse_to_invent_them(name):
    q, k, v = qkv()
    with pytest.raises(ValueError, match="cannot return attention weights"):
        make_kernel(name)(q, k, v, AttentionMask(padded()), need_weights=True)

"""Model invariants: masks, kernels, cache, padding, tying, positions."""

from __future__ import annotations

import pytest
import torch

from hanyi.config import ModelConfig
from hanyi.errors import ConfigError
from hanyi.model import build_model
from hanyi.model.attention import ATTENTION_KERNELS, get_kernel
from hanyi.model.attention.reference import ReferenceAttention
from hanyi.model.attention.sdpa import SDPAAttention
from hanyi.model.embeddings import sinusoidal_table
from hanyi.model.masks import AttentionMask, causal_mask, padding_mask


def test_causal_mask_lets_each_position_see_itself_and_the_past():
    mask = causal_mask(4)
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[True, False, False, False], [True, True, False, False],
                             [True, True, True, False], [True, True, True, True]]
    # with 2 cached positions, the single new query (position 2) sees keys 0..2
    assert causal_mask(1, 3, offset=2).tolist() == [[True, True, True]]


def test_padding_mask_marks_real_tokens():
    tokens = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert padding_mask(tokens, pad_id=0).tolist() == [[True, True, False], [True, False, False]]


def test_dense_mask_combines_padding_and_causality_without_empty_rows():
    kp = torch.tensor([[True, True, False]])
    dense = AttentionMask(key_padding=kp, causal=True).dense(3, 3, torch.device("cpu"))
    assert dense.shape == (1, 1, 3, 3)
    assert dense.any(dim=-1).all()  # no query row is fully masked
    assert not dense[0, 0, 2, 2]  # padded key hidden even from itself


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


def test_model_config_validates_heads():
    with pytest.raises(ConfigError, match="divisible"):
        ModelConfig(d_model=30, n_heads=4)


def test_sinusoidal_positions_are_bounded_and_distinct():
    table = sinusoidal_table(64, 32)
    assert table.abs().max() <= 1.0
    assert torch.cdist(table, table).add(torch.eye(64) * 10).min() > 0.1
    assert table[0, 0::2].abs().max() == 0 and (table[0, 1::2] == 1).all()


def test_cached_decoding_matches_full_recompute(random_model):
    torch.manual_seed(1)
    src = torch.randint(4, 30, (3, 9))
    src[1, 6:] = random_model.src_ids.pad
    tgt = torch.randint(4, 30, (3, 8))
    tgt[:, 0] = random_model.tgt_ids.bos
    full = random_model(src, tgt).float().log_softmax(-1)  # (B, T, V)
    memory, src_padding = random_model.encode(src)
    cache, steps = None, []
    for t in range(tgt.size(1)):
        out = random_model.decode_step(tgt[:, t:t + 1], memory, src_padding, cache)
        cache = out.cache
        steps.append(out.log_probs)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)
    # and decode_step without a cache over the whole prefix gives the last position
    uncached = random_model.decode_step(tgt, memory, src_padding, None).log_probs
    torch.testing.assert_close(uncached, full[:, -1], atol=1e-5, rtol=1e-5)


def test_padding_does_not_change_real_outputs(random_model):
    torch.manual_seed(2)
    src = torch.randint(4, 30, (1, 6))
    tgt = torch.randint(4, 30, (1, 5))
    tgt[:, 0] = random_model.tgt_ids.bos
    alone = random_model(src, tgt)
    pad = random_model.src_ids.pad
    padded_src = torch.cat([src, torch.full((1, 4), pad)], 1)
    padded_tgt = torch.cat([tgt, torch.full((1, 3), random_model.tgt_ids.pad)], 1)
    together = random_model(padded_src, padded_tgt)[:, :5]
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_position", ["pre", "post"])
def test_pre_and_post_norm_models_run_and_differ_in_final_norm(toy_vocabs, norm_position):
    cfg = ModelConfig(d_model=32, n_heads=4, d_ff=64, encoder_layers=1, decoder_layers=1,
                      norm_position=norm_position)
    model = build_model(cfg, *toy_vocabs)
    has_final = isinstance(model.encoder_norm, torch.nn.LayerNorm)
    assert has_final == (norm_position == "pre")
    logits = model(torch.randint(4, 30, (2, 5)), torch.randint(4, 30, (2, 4)))
    assert logits.shape == (2, 4, len(toy_vocabs[1]))


def test_tied_embeddings_share_storage(toy_vocabs, small_model_config):
    tied = build_model(small_model_config, *toy_vocabs)
    assert tied.output_proj.weight.data_ptr() == tied.tgt_embed.weight.data_ptr()
    small_model_config.tie_target_embeddings = False
    untied = build_model(small_model_config, *toy_vocabs)
    assert untied.output_proj.weight.data_ptr() != untied.tgt_embed.weight.data_ptr()


def test_feedforward_has_its_relu(random_model):
    ffn = random_model.encoder_layers[0].ffn
    x = torch.randn(2, 3, 32)
    hidden = ffn.linear1(x)
    expected = ffn.linear2(torch.relu(hidden))
    torch.testing.assert_close(ffn.eval()(x), expected)
    assert not torch.allclose(ffn(x), ffn.linear2(hidden))  # without ReLU it would differ


def test_attention_weights_come_back_for_visualisation(random_model):
    src = torch.randint(4, 30, (2, 5))
    memory, src_padding = random_model.encode(src)
    start = torch.full((2, 1), random_model.tgt_ids.bos)
    out = random_model.decode_step(start, memory, src_padding, None, need_weights=True)
    assert out.attention.shape == (2, 2, 4, 5)  # (L, B, H, S)
    torch.testing.assert_close(out.attention.sum(-1), torch.ones(2, 2, 4))

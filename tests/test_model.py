"""Model invariants: positions, padding, pre/post norm, tying, the FFN's ReLU, weights."""

from __future__ import annotations

import pytest
import torch

from hanyi.config import ModelConfig
from hanyi.model import build_model
from hanyi.model.embeddings import sinusoidal_table


def test_sinusoidal_positions_are_bounded_and_distinct():
    table = sinusoidal_table(64, 32)
    assert table.abs().max() <= 1.0
    assert torch.cdist(table, table).add(torch.eye(64) * 10).min() > 0.1
    assert table[0, 0::2].abs().max() == 0 and (table[0, 1::2] == 1).all()


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


def test_embeddings_are_scaled_by_sqrt_d_model_and_pad_starts_at_zero(random_model):
    embed = random_model.src_embed
    tokens = torch.tensor([[5, 7, random_model.src_ids.pad]])
    out = embed(tokens)
    torch.testing.assert_close(out[0, :2], embed.weight[[5, 7]] * 32 ** 0.5)
    assert (out[0, 2] == 0).all()


def test_decode_step_returns_normalised_log_probabilities(random_model):
    src = torch.randint(4, 30, (3, 5))
    memory, src_padding = random_model.encode(src)
    out = random_model.decode_step(random_model.start_tokens(3, src.device), memory,
                                   src_padding, None)
    assert out.log_probs.shape == (3, random_model.output_proj.out_features)
    assert out.log_probs.dtype == torch.float32
    torch.testing.assert_close(out.log_probs.logsumexp(-1), torch.zeros(3), atol=1e-5, rtol=0)


def test_dropout_is_active_in_training_and_off_in_eval(toy_vocabs, small_model_config):
    small_model_config.dropout = 0.3
    model = build_model(small_model_config, *toy_vocabs)
    src, tgt = torch.randint(4, 30, (2, 6)), torch.randint(4, 30, (2, 5))
    model.train()
    assert not torch.equal(model(src, tgt), model(src, tgt))
    model.eval()
    assert torch.equal(model(src, tgt), model(src, tgt))


def test_source_padding_never_leaks_into_the_decoder(random_model):
    """Cross-attention masks padded source keys: the decoder gives the same output whatever
    the encoder produced at padded positions."""
    src = torch.randint(4, 30, (1, 7))
    src[0, 4:] = random_model.src_ids.pad
    tgt = torch.randint(4, 30, (1, 4))
    memory, src_padding = random_model.encode(src)
    noisy = memory.clone()
    noisy[0, 4:] = torch.randn(3, memory.size(-1)) * 100
    a, _, _ = random_model.decode(tgt, memory, src_padding)
    b, _, _ = random_model.decode(tgt, noisy, src_padding)
    torch.testing.assert_close(a, b)

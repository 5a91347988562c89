"""The KV cache: step-by-step cached decoding equals a full recompute."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import DEVICES

from hanyi.model import build_model


@pytest.mark.parametrize("device", DEVICES)
def test_cached_decoding_matches_full_recompute(random_model, device):
    torch.manual_seed(1)
    random_model = random_model.to(device)
    src = torch.randint(4, 30, (3, 9))
    src[1, 6:] = random_model.src_ids.pad
    tgt = torch.randint(4, 30, (3, 8))
    tgt[:, 0] = random_model.tgt_ids.bos
    src, tgt = src.to(device), tgt.to(device)
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


def full_log_probs(model, src, tgt):
    return model(src, tgt).float().log_softmax(-1)  # (B, T, V)


@pytest.mark.parametrize("changes", [{"attention": "reference"}, {"norm_position": "post"},
                                     {"tie_target_embeddings": False}])
def test_cache_matches_recompute_for_every_variant(toy_vocabs, small_model_config, changes):
    cfg = dataclasses.replace(small_model_config, **changes)
    torch.manual_seed(5)
    model = build_model(cfg, *toy_vocabs).eval()
    src = torch.randint(4, 30, (2, 6))
    src[0, 4:] = model.src_ids.pad
    tgt = torch.randint(4, 30, (2, 5))
    tgt[:, 0] = model.tgt_ids.bos
    memory, src_padding = model.encode(src)
    cache, steps = None, []
    for t in range(tgt.size(1)):
        out = model.decode_step(tgt[:, t:t + 1], memory, src_padding, cache)
        assert out.cache.length == t + 1
        cache = out.cache
        steps.append(out.log_probs)
    torch.testing.assert_close(torch.stack(steps, 1), full_log_probs(model, src, tgt),
                               atol=1e-5, rtol=1e-5)


def test_cache_grows_by_one_and_cross_keys_are_computed_once(random_model):
    src = torch.randint(4, 30, (2, 6))
    memory, src_padding = random_model.encode(src)
    tgt = torch.full((2, 1), random_model.tgt_ids.bos)
    first = random_model.decode_step(tgt, memory, src_padding, None).cache
    second = random_model.decode_step(tgt, memory, src_padding, first).cache
    for layer in range(len(random_model.decoder_layers)):
        assert second.self_attn[layer][0].shape[2] == 2  # (B, H, T, Dh): one more key
        assert second.cross_attn[layer][0] is first.cross_attn[layer][0]  # reused, not redone
        assert second.cross_attn[layer][0].shape[2] == 6  # (B, H, S, Dh)


def test_reordered_cache_matches_recompute_of_reordered_prefixes(random_model):
    """Beam search reorders the cache after every step; the reordered cache must describe
    the reordered prefixes exactly."""
    torch.manual_seed(6)
    src = torch.randint(4, 30, (3, 5))
    tgt = torch.randint(4, 30, (3, 4))
    tgt[:, 0] = random_model.tgt_ids.bos
    memory, src_padding = random_model.encode(src)
    cache = random_model.decode_step(tgt[:, :3], memory, src_padding, None).cache
    order = torch.tensor([2, 0, 0])
    step = random_model.decode_step(tgt[order, 3:4], memory[order], src_padding[order],
                                    cache.select(order))
    expected = full_log_probs(random_model, src[order], tgt[order])[:, -1]
    torch.testing.assert_close(step.log_probs, expected, atol=1e-5, rtol=1e-5)

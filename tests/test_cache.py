"""The KV cache: step-by-step cached decoding equals a full recompute."""

from __future__ import annotations

import torch


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

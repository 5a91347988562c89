"""Greedy search: take the most probable next token until EOS (batched, KV-cached) — or,
with ``decode.sampling_topk``, a random draw (decoding/sampling.py)."""

from __future__ import annotations

import torch

from hanyi.config import DecodeConfig
from hanyi.decoding.constraints import (
    Cancel,
    Hypothesis,
    apply_constraints,
    check_cancel,
    length_normalize,
    max_lengths,
)
from hanyi.decoding.sampling import generator, next_tokens


@torch.inference_mode()
def greedy_search(model, src: torch.Tensor, cfg: DecodeConfig, need_attention: bool = False,
                  cancel: Cancel | None = None) -> list[list[Hypothesis]]:
    """src: (B, S) ids -> for each sentence a one-element list of Hypothesis.

    Uses only ``model.encode``, ``model.decode_step`` and ``model.tgt_ids``. Sentences
    that have finished are dropped from the batch, so the rest decode faster.
    ``cancel()`` is asked before every step; True stops the search (raises Cancelled).
    """
    ids = model.tgt_ids
    memory, src_padding = model.encode(src)
    batch = src.size(0)
    limit = max_lengths(src_padding, cfg)  # (B,)
    alive = torch.arange(batch, device=src.device)  # original index of each active row
    tokens = torch.full((batch, 1), ids.bos, dtype=torch.long, device=src.device)  # (B, 1)
    log_prob = torch.zeros(batch, device=src.device)
    results: list[list[Hypothesis]] = [[] for _ in range(batch)]
    history = [[] for _ in range(batch)]  # per-sentence attention rows
    cache, step = None, 0
    rng = generator(cfg, src.device)  # None: the most probable token
    while alive.numel() > 0:
        check_cancel(cancel)
        step_in = tokens[:, -1:] if cache is not None else tokens
        out = model.decode_step(step_in, memory, src_padding,
                                cache, need_weights=need_attention)
        lp = apply_constraints(out.log_probs, tokens, step, limit, ids, cfg)
        next_lp, next_tok = next_tokens(lp, cfg, rng)  # (N,) each
        log_prob = log_prob + next_lp
        tokens = torch.cat([tokens, next_tok.unsqueeze(1)], dim=1)  # (N, step + 2)
        if need_attention:
            for row, orig in enumerate(alive.tolist()):
                history[orig].append(out.attention[:, row])  # (L, H, S)
        done = next_tok == ids.eos
        rows = done.nonzero(as_tuple=True)[0]  # finished this step; read together, once
        for orig, kept, lp in zip(alive[rows].tolist(), tokens[rows, 1:-1].tolist(),
                                 log_prob[rows].tolist(), strict=True):
            attention = torch.stack(history[orig]) if need_attention else None
            results[orig] = [Hypothesis(kept, length_normalize(lp, step + 1, cfg.length_penalty),
                                        lp, attention)]
        keep = (~done).nonzero(as_tuple=True)[0]
        if keep.numel() < done.numel():  # shrink every batch-shaped tensor to the survivors
            alive, tokens, log_prob, limit = alive[keep], tokens[keep], log_prob[keep], limit[keep]
            memory, src_padding = memory[keep], src_padding[keep]
            out = out._replace(cache=out.cache.select(keep))
        cache, step = out.cache, step + 1
    return results

"""Choosing greedy search's next token: the most probable one, or a random draw.

Greedy search (decoding/greedy.py) takes ``argmax P(y_t | y_<t, x)`` at every step. With
``decode.sampling_topk`` other than 1 it draws the token at random instead — from the whole
distribution (0) or from the k most probable tokens (k > 1; Fan et al. 2018, "Hierarchical
Neural Story Generation", top-k sampling), each probability raised to 1 / temperature and
renormalised. Not in the Transformer paper, which uses beam search (§6.1). Its use here is
back-translation: Edunov et al. 2018 ("Understanding Back-Translation at Scale", §5.1) find
that sampled synthetic sources, less regular than beam search's, can teach the forward model
more. CTranslate2 offers the same options (``sampling_topk``, ``sampling_temperature``),
which inference/ct2_engine.py passes on; the two engines draw from the same distribution
but not the same random numbers.

The score kept for a drawn token is the model's log-probability, untempered: a
hypothesis's score stays log P of its tokens, whatever drew them.
"""

from __future__ import annotations

import torch

from hanyi.config import DecodeConfig


def generator(cfg: DecodeConfig, device: torch.device) -> torch.Generator | None:
    """A random generator seeded with ``decode.sampling_seed`` (None when not sampling):
    the same batch with the same settings draws the same tokens."""
    if not cfg.samples:
        return None
    return torch.Generator(device=device).manual_seed(cfg.sampling_seed)


def next_tokens(log_probs: torch.Tensor, cfg: DecodeConfig,
                rng: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """log_probs: (N, V), banned tokens at -inf -> (log-probability, token), each (N,)."""
    if rng is None:
        return log_probs.max(dim=-1)
    scaled = log_probs / cfg.sampling_temperature  # log P ** (1 / T), before renormalising
    if cfg.sampling_topk > 1:
        k = min(cfg.sampling_topk, scaled.size(-1))
        kth = scaled.topk(k, dim=-1).values[:, -1:]  # (N, 1): the k-th largest
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)  # (N, V); banned and cut tokens get 0
    token = torch.multinomial(probs, 1, generator=rng)  # (N, 1)
    return log_probs.gather(-1, token).squeeze(-1), token.squeeze(-1)

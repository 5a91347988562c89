"""`linformer`: low-rank attention — project the T keys and values down to k rows.

Idea (Wang et al. 2020, *Linformer: Self-Attention with Linear Complexity*, §4; Tay et
al. 2020 §3.2 "Low-rank methods"): the softmax attention matrix is approximately low
rank (the paper's Theorem 1), so project keys and values along the *length* axis with
learned (k × n) matrices E and F before attending:

    Attention = softmax(Q (E K)ᵀ / √d_k) · (F V)        # (T × k) scores, not (T × T)

Cost per head: time O(T · k · Dh), memory O(T · k) — linear in T for a fixed rank k
(``model.attention_rank``). Approximate: the output mixes positions
through E and F, so it never equals `reference`.

Restrictions, by design of the method: **encoder self-attention only.** E mixes all
positions, so a query would see future tokens (no causal form); the projection is tied
to the *key* positions 0..n−1 of one sequence, which makes no sense across the changing
prefix of a decoder cache. n is bounded by ``model.max_positions`` (E, F are n wide).
Padding: padded keys and values are zeroed before the projection, so a padded sentence
gives exactly the output of the same sentence unpadded. E and F are shared by all heads
(the paper's "headwise sharing", §4) and initialised N(0, 1/k).
Deviation, flagged: with sentences of varying length each uses only the first n columns
of E and F, a case the paper (fixed-length pre-training) does not study.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hanyi.errors import InputError
from hanyi.model.attention.efficient.base import EfficientKernel
from hanyi.model.masks import AttentionMask


class LinformerAttention(EfficientKernel):
    supports_causal = False
    supports_cross = False

    def __init__(self, rank: int, max_length: int, dropout: float = 0.0):
        super().__init__(dropout)
        self.proj_k = nn.Parameter(torch.randn(rank, max_length) / math.sqrt(rank))  # E
        self.proj_v = nn.Parameter(torch.randn(rank, max_length) / math.sqrt(rank))  # F

    @classmethod
    def from_config(cls, cfg, site: str) -> LinformerAttention:
        return cls(cfg.attention_rank, cfg.max_positions, cfg.attention_dropout)

    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        self.check(mask, need_weights)
        t_k = k.size(2)
        if t_k > self.proj_k.size(1):
            raise InputError(f"linformer attention was built for at most {self.proj_k.size(1)} "
                             f"positions (model.max_positions), got {t_k}")
        if mask.key_padding is not None:  # zero padded keys/values: they add nothing to E·K
            keep = mask.key_padding[:, None, :, None].to(k.dtype)  # (B, 1, Tk, 1)
            k, v = k * keep, v * keep
        k_low = self.proj_k[:, :t_k] @ k  # (k, Tk) @ (B, H, Tk, Dh) -> (B, H, k, Dh)
        v_low = self.proj_v[:, :t_k] @ v  # (B, H, k, Dh)
        scores = q @ k_low.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, Tq, k)
        weights = F.dropout(scores.softmax(dim=-1), p=self.dropout_p)
        return weights @ v_low, None  # (B, H, Tq, Dh)

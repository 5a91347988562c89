"""`reference`: scaled dot-product attention exactly as the paper writes it (§3.2.1, Eq. 1)

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

Each query is compared with every key (a dot product: large when they point the same
way); softmax turns a query's row of scores into weights that sum to 1; the output is the
weighted sum of the values. Time O(Tq·Tk·Dh) and memory O(Tq·Tk) per head: the full score
matrix is built. This is the kernel ``docs/walkthrough.py`` runs on a toy example, and every
other kernel is tested against it. It can also return the attention weights, which the web
page draws as a heat-map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hanyi.model.attention.base import AttentionKernel
from hanyi.model.masks import AttentionMask


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: AttentionMask,
              dropout_p: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1. q (B, H, Tq, Dh), k and v (B, H, Tk, Dh) -> out (B, H, Tq, Dh) and the
    weights (B, H, Tq, Tk)."""
    d_k = q.size(-1)
    # Dot products grow with √d_k; dividing keeps softmax out of its flat, tiny-gradient
    # regions (the paper's footnote 4).
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (B, H, Tq, Tk)
    allowed = mask.dense(q.size(-2), k.size(-2), q.device)  # (B|1, 1, Tq, Tk) or None
    if allowed is not None:
        # "masking out (setting to −∞)" (§3.2.3) — we use the dtype's most negative finite
        # number so a row never becomes NaN; our masks never mask a whole row anyway.
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    weights = scores.softmax(dim=-1)  # (B, H, Tq, Tk); each row sums to 1
    out = F.dropout(weights, p=dropout_p) @ v  # (B, H, Tq, Dh)
    return out, weights


class ReferenceAttention(AttentionKernel):
    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        out, weights = attention(q, k, v, mask, self.dropout_p)
        return out, (weights if need_weights else None)

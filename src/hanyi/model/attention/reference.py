"""`reference`: scaled dot-product attention exactly as the paper writes it (§3.2.1, Eq. 1)

    Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V

Time O(Tq·Tk·Dh) and memory O(Tq·Tk) per head: the full score matrix is built. Exact.
This is the kernel the walkthrough annotates and every other kernel is tested against.
It can also return the attention weights, which the web page draws as a heat-map.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hanyi.model.attention.base import AttentionKernel
from hanyi.model.masks import AttentionMask


class ReferenceAttention(AttentionKernel):
    returns_weights = True

    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        d_head = q.size(-1)
        # Dot products grow with √d_k; dividing keeps softmax out of its flat, tiny-gradient
        # regions (the paper's footnote 4).
        scores = q @ k.transpose(-2, -1) / math.sqrt(d_head)  # (B, H, Tq, Tk)
        dense = mask.dense(q.size(-2), k.size(-2), q.device)  # (B|1, 1, Tq, Tk) or None
        if dense is not None:
            # "Setting to −∞" (§3.2.3) — we use the dtype's most negative finite number so
            # a row never becomes NaN; our masks never mask a whole row anyway.
            scores = scores.masked_fill(~dense, torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)  # (B, H, Tq, Tk); each row sums to 1
        out = F.dropout(weights, p=self.dropout_p) @ v  # (B, H, Tq, Dh)
        return out, (weights if need_weights else None)

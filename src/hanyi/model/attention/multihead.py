"""Multi-head attention: the projections around a kernel (§3.2.2).

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O
    head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

Why several heads? One attention head averages what it sees into a single weighted sum
per query. §3.2.2: "Multi-head attention allows the model to jointly attend to information
from different representation subspaces at different positions. With a single attention
head, averaging inhibits this." So each head gets its own small projections of the
d_model-wide vectors and attends on its own; their outputs are concatenated and mixed by W^O.

Head size: the paper calls it d_k (queries and keys) and d_v (values) and sets both equal:
"For each of these we use d_k = d_v = d_model/h = 64." Our shape legend writes it Dh.

Instead of h small matrices per role we use one d_model x d_model matrix and split its
output into h heads of Dh = d_model / h columns (the same arithmetic, faster).
Deviation for speed, not maths: in self-attention the Q, K and V projections are fused into
one (3·D x D) Linear, and in cross-attention K and V into one (2·D x D) Linear. This also
matches CTranslate2's layout, so export is a 1:1 copy.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from hanyi.model.attention.base import AttentionKernel
from hanyi.model.cache import KV
from hanyi.model.masks import AttentionMask


class Attended(NamedTuple):
    """What one multi-head attention call gives back."""

    out: torch.Tensor  # (B, Tq, D)
    weights: torch.Tensor | None  # (B, H, Tq, Tk) when asked for (the heat-map), else None
    kv: KV  # the keys and values attended to, each (B, H, Tk, Dh): the decoder's KV cache


class MultiHeadAttention(nn.Module):
    """Self-attention (``cross=False``) or encoder-decoder attention (``cross=True``)."""

    def __init__(self, d_model: int, n_heads: int, kernel: AttentionKernel, cross: bool = False):
        super().__init__()
        self.n_heads = n_heads
        self.d_head = d_model // n_heads  # Dh = d_k = d_v
        self.cross = cross
        if cross:
            self.q_proj = nn.Linear(d_model, d_model)  # queries from the decoder
            self.kv_proj = nn.Linear(d_model, 2 * d_model)  # keys and values from the memory
        else:
            self.qkv_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)  # W^O
        self.kernel = kernel

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape  # (B, T, D)
        return x.view(b, t, self.n_heads, self.d_head).transpose(1, 2)  # (B, H, T, Dh)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, _ = x.shape  # (B, H, T, Dh)
        return x.transpose(1, 2).reshape(b, t, self.n_heads * self.d_head)  # (B, T, D)

    def project(self, x: torch.Tensor, memory: torch.Tensor | None,
                cache: KV | None) -> tuple[torch.Tensor, KV]:
        """Queries for ``x``; keys/values for ``memory`` (cross) or ``x`` (self), with cache."""
        if self.cross:
            q = self.split_heads(self.q_proj(x))  # (B, H, Tq, Dh)
            if cache is not None:  # the memory never changes while decoding: project once
                return q, cache
            k, v = self.kv_proj(memory).chunk(2, dim=-1)  # 2 x (B, S, D)
            return q, (self.split_heads(k), self.split_heads(v))  # 2 x (B, H, S, Dh)
        q, k, v = self.qkv_proj(x).chunk(3, dim=-1)  # 3 x (B, T, D)
        q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)  # (B, H, T, Dh)
        if cache is not None:  # append this step's keys/values to the earlier ones
            k = torch.cat([cache[0], k], dim=2)  # (B, H, t_past + T, Dh)
            v = torch.cat([cache[1], v], dim=2)
        return q, (k, v)

    def forward(self, x: torch.Tensor, mask: AttentionMask, memory: torch.Tensor | None = None,
                cache: KV | None = None, need_weights: bool = False) -> Attended:
        """x: (B, Tq, D), the sequence whose positions ask (the queries).

        ``memory`` (B, S, D), for cross-attention only, is the encoder's output: one vector
        per source token, which every decoder layer reads. §3.2.3: "the queries come from
        the previous decoder layer, and the memory keys and values come from the output of
        the encoder." ``cache`` holds keys and values of earlier decoding steps (cache.py).
        """
        q, (k, v) = self.project(x, memory, cache)
        out, weights = self.kernel(q, k, v, mask, need_weights=need_weights)  # (B, H, Tq, Dh)
        return Attended(self.out_proj(self.merge_heads(out)), weights, (k, v))  # out (B, Tq, D)

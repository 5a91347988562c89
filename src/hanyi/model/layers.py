"""Encoder and decoder layers (§3.1, Figure 1).

Each sub-layer (attention or feed-forward) is wrapped in a residual connection and layer
normalisation. The paper normalises *after* adding the residual ("post-LN"):

    x = LayerNorm(x + Dropout(Sublayer(x)))                       # §3.1, norm_position="post"

Deviation (our default): we normalise *before* each sub-layer ("pre-LN", Xiong et al. 2020,
"On Layer Normalization in the Transformer Architecture"), which trains stably without a
long warm-up, and add a final LayerNorm after the last layer (see transformer.py):

    x = x + Dropout(Sublayer(LayerNorm(x)))                       # norm_position="pre"
"""

from __future__ import annotations

import torch
from torch import nn

from hanyi.model.attention import AttentionKernel, MultiHeadAttention
from hanyi.model.feedforward import FeedForward
from hanyi.model.masks import AttentionMask


class Residual(nn.Module):
    """Residual connection + LayerNorm around one sub-layer, pre- or post-norm."""

    def __init__(self, d_model: int, dropout: float, norm_position: str):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)  # "residual dropout" (§5.4)
        self.pre = norm_position == "pre"

    def forward(self, x: torch.Tensor, sublayer) -> tuple[torch.Tensor, object]:
        """``sublayer(h) -> (out, extra)``; returns (new x, extra)."""
        if self.pre:
            out, extra = sublayer(self.norm(x))
            return x + self.dropout(out), extra
        out, extra = sublayer(x)
        return self.norm(x + self.dropout(out)), extra


class EncoderLayer(nn.Module):
    """Self-attention over the source, then the position-wise FFN."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float,
                 norm_position: str, kernel: AttentionKernel):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, kernel)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.attn_block = Residual(d_model, dropout, norm_position)
        self.ffn_block = Residual(d_model, dropout, norm_position)

    def forward(self, x: torch.Tensor, mask: AttentionMask) -> torch.Tensor:
        x, _ = self.attn_block(x, lambda h: self.self_attn(h, mask)[:2])  # (B, S, D)
        x, _ = self.ffn_block(x, lambda h: (self.ffn(h), None))  # (B, S, D)
        return x


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder ("cross") attention, then the FFN (§3.1)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float,
                 norm_position: str, self_kernel: AttentionKernel, cross_kernel: AttentionKernel):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, self_kernel)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, cross_kernel, cross=True)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.self_block = Residual(d_model, dropout, norm_position)
        self.cross_block = Residual(d_model, dropout, norm_position)
        self.ffn_block = Residual(d_model, dropout, norm_position)

    def forward(self, x, memory, self_mask: AttentionMask, cross_mask: AttentionMask,
                self_cache=None, cross_cache=None, need_weights: bool = False):
        """x: (B, T, D) new target positions; memory: (B, S, D).

        Returns (x, cross-attention weights or None, (self K/V, cross K/V)).
        """
        def self_attention(h):
            out, _, kv = self.self_attn(h, self_mask, cache=self_cache)
            return out, kv

        def cross_attention(h):
            out, weights, kv = self.cross_attn(h, cross_mask, memory=memory, cache=cross_cache,
                                               need_weights=need_weights)
            return out, (weights, kv)

        x, self_kv = self.self_block(x, self_attention)  # (B, T, D)
        x, (weights, cross_kv) = self.cross_block(x, cross_attention)  # (B, T, D)
        x, _ = self.ffn_block(x, lambda h: (self.ffn(h), None))  # (B, T, D)
        return x, weights, (self_kv, cross_kv)

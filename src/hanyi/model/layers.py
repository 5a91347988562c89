"""Encoder and decoder layers (§3.1, Figure 1).

Each sub-layer (attention or feed-forward) is wrapped in a residual connection and layer
normalisation, Figure 1's "Add & Norm". The paper normalises *after* adding the residual
("post-LN"):

    x = LayerNorm(x + Dropout(Sublayer(x)))                       # §3.1, norm_position="post"

Deviation (our default): we normalise *before* each sub-layer ("pre-LN", Xiong et al. 2020,
"On Layer Normalization in the Transformer Architecture"), which trains stably without a
long warm-up, and add a final LayerNorm after the last layer (see transformer.py):

    x = x + Dropout(Sublayer(LayerNorm(x)))                       # norm_position="pre"
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from hanyi.model.attention import AttentionKernel, MultiHeadAttention
from hanyi.model.cache import KV
from hanyi.model.feedforward import FeedForward
from hanyi.model.masks import AttentionMask


class AddNorm(nn.Module):
    """Residual connection + LayerNorm around one sub-layer, in two halves:

        h = block.sublayer_input(x)   # LayerNorm(x) (pre-LN), or x itself (post-LN)
        x = block(x, sublayer(h))     # x + Dropout(out), then LayerNorm (post-LN only)
    """

    def __init__(self, d_model: int, dropout: float, norm_position: str):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)  # "residual dropout" (§5.4)
        self.pre = norm_position == "pre"

    def sublayer_input(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) if self.pre else x

    def forward(self, x: torch.Tensor, sublayer_out: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(sublayer_out)
        return x if self.pre else self.norm(x)


class EncoderLayer(nn.Module):
    """Self-attention over the source, then the position-wise FFN."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float,
                 norm_position: str, kernel: AttentionKernel):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, kernel)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.attn_block = AddNorm(d_model, dropout, norm_position)
        self.ffn_block = AddNorm(d_model, dropout, norm_position)

    def forward(self, x: torch.Tensor, mask: AttentionMask) -> torch.Tensor:
        """x: (B, S, D) -> (B, S, D). ``mask``: the source's padding."""
        h = self.attn_block.sublayer_input(x)
        x = self.attn_block(x, self.self_attn(h, mask).out)  # (B, S, D)
        h = self.ffn_block.sublayer_input(x)
        x = self.ffn_block(x, self.ffn(h))  # (B, S, D)
        return x


class DecoderLayerOutput(NamedTuple):
    x: torch.Tensor  # (B, T, D)
    cross_weights: torch.Tensor | None  # (B, H, T, S) when asked for, else None
    self_kv: KV  # self-attention keys/values so far, each (B, H, t_past + T, Dh)
    cross_kv: KV  # cross-attention keys/values of the memory, each (B, H, S, Dh)


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder ("cross") attention, then the FFN (§3.1)."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float,
                 norm_position: str, self_kernel: AttentionKernel, cross_kernel: AttentionKernel):
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads, self_kernel)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, cross_kernel, cross=True)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.self_block = AddNorm(d_model, dropout, norm_position)
        self.cross_block = AddNorm(d_model, dropout, norm_position)
        self.ffn_block = AddNorm(d_model, dropout, norm_position)

    def forward(self, x: torch.Tensor, memory: torch.Tensor, self_mask: AttentionMask,
                cross_mask: AttentionMask, self_cache: KV | None = None,
                cross_cache: KV | None = None, need_weights: bool = False) -> DecoderLayerOutput:
        """x: (B, T, D) new target positions; memory: (B, S, D), the encoder's output.

        ``self_cache``/``cross_cache``: keys and values of earlier decoding steps (None when
        the whole target is processed at once, as in training)."""
        h = self.self_block.sublayer_input(x)
        own = self.self_attn(h, self_mask, cache=self_cache)  # target attends to target
        x = self.self_block(x, own.out)  # (B, T, D)
        h = self.cross_block.sublayer_input(x)
        cross = self.cross_attn(h, cross_mask, memory=memory, cache=cross_cache,
                                need_weights=need_weights)  # target attends to source
        x = self.cross_block(x, cross.out)  # (B, T, D)
        h = self.ffn_block.sublayer_input(x)
        x = self.ffn_block(x, self.ffn(h))  # (B, T, D)
        return DecoderLayerOutput(x, cross.weights, own.kv, cross.kv)

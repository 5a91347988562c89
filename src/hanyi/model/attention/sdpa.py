"""`sdpa`: the same equation as `reference`, computed by
``torch.nn.functional.scaled_dot_product_attention``.

PyTorch picks a fused implementation (FlashAttention / memory-efficient attention on CUDA,
a fused C++ kernel on CPU) that never materialises more of the score matrix than it must.
Time O(Tq·Tk·Dh) like `reference`; memory O(Tq·Tk) only in its unfused fallback, about
O((Tq + Tk)·Dh) in the fused (flash-style) kernels. Exact (up to floating-point rounding).
It does not return the attention weights; when a caller asks for them,
``MultiHeadAttention`` falls back to `reference` for that call.
"""

from __future__ import annotations

import torch.nn.functional as F

from hanyi.model.attention.base import AttentionKernel
from hanyi.model.masks import AttentionMask


class SDPAAttention(AttentionKernel):
    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        dense = mask.dense(q.size(-2), k.size(-2), q.device)  # SDPA: True = may attend, too
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=dense, dropout_p=self.dropout_p)
        return out, None  # (B, H, Tq, Dh)

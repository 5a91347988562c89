"""`sdpa`: the same equation as `reference`, computed by
``torch.nn.functional.scaled_dot_product_attention``.

PyTorch picks a fused implementation (FlashAttention / memory-efficient attention on CUDA,
a fused C++ kernel on CPU) that never materialises more of the score matrix than it must.
Time O(Tq·Tk·Dh) like `reference`; memory O(Tq·Tk) only in its unfused fallback, about
O((Tq + Tk)·Dh) in the fused (flash-style) kernels. Exact (up to floating-point rounding).
The default kernel of ``ModelConfig``.

On CUDA, PyTorch's cuDNN backend is left out of its choice (below): cuDNN builds a graph
for every new shape of (batch, query length, key length) — hundreds of milliseconds each,
as others report (~400 ms in sglang PR 4650) — and a token-budget batch has a new shape
almost every update.
"""

from __future__ import annotations

import contextlib

import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from hanyi.model.attention.base import AttentionKernel
from hanyi.model.attention.reference import attention
from hanyi.model.masks import AttentionMask


class SDPAAttention(AttentionKernel):
    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        if need_weights:
            # The fused function never hands back the weights. A caller that wants them
            # (the heat-map) gets this call computed the explicit way: the same equation.
            return attention(q, k, v, mask, self.dropout_p)
        t_query, t_key = q.size(-2), k.size(-2)
        if mask.causal and t_query == 1 and mask.offset + 1 >= t_key:
            # One decoding step: the single new query is the newest position, so the causal
            # part allows every key. Dropping it (keeping any padding) lets PyTorch use its
            # fastest path, which it may skip when given a mask.
            mask = AttentionMask(key_padding=mask.key_padding)
        allowed = mask.dense(t_query, t_key, q.device)  # SDPA: True = may attend, too
        with _without_cudnn() if q.is_cuda else contextlib.nullcontext():
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed,
                                                 dropout_p=self.dropout_p)
        return out, None  # (B, H, Tq, Dh)


def _without_cudnn():
    """Every SDPA backend but cuDNN's. On an H100 under bf16 autocast (cuDNN's backend takes
    bf16 and fp16 only) an update of the configs/large.yaml model took 317-410 ms against 51 ms
    in fp32, its forward and backward alike, on batches of new shapes (docs/RESULTS.md,
    "7th session"): per-shape graph building is the likely cause, not yet confirmed there."""
    return sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                        SDPBackend.MATH])

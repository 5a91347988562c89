"""`local`: sliding-window attention — every token attends only to its neighbours.

Idea: most of what a word needs is nearby, so let position i attend only to keys j with
|i − j| ≤ w (non-causal) or i − w ≤ j ≤ i (causal). This is the simplest "fixed pattern"
of Tay et al. 2020, *Efficient Transformers: A Survey* §3.2 ("Fixed patterns", blockwise
and local attention: Image Transformer, Parmar et al. 2018; the sliding window of
Longformer, Beltagy et al. 2020). Stacking L layers gives each token an L·w receptive field.

Cost per head: time O(T · w · Dh) and memory O(T · w) — linear in the length T for a
fixed window, against O(T²) for `reference`. Exact *for its sparsity pattern* (an exact
softmax over the window, no approximation inside it), but a different model from full
attention: it equals `reference` only when the window covers the whole sentence.

How it avoids the T × T matrix (blocked computation):
    queries are cut into blocks of c = min(w, Tq) consecutive positions; block b needs
    the keys from (its first position − w) to (its last position + w) — a span of at most
    c + 2w keys (c + w when causal). We gather that span, score it densely, a
    (c × (c + 2w)) matrix per block, and mask the pairs that fall outside the window.
So the score tensor is (B, H, Tq/c, c, c + 2w) ≈ 3·T·w numbers instead of T².

Decoder KV cache: a step has Tq = 1 and ``offset`` = cached positions; the span is then
the last w + 1 keys, so each step costs O(w). (The cache itself still keeps every key;
a ring buffer of w keys would also cap its memory — not done here.)
Padding: a *padded* query more than w positions past the end of its sentence sees no
real key (a fully masked row, where softmax is uniform over its window); its output is
never used, as everywhere in hanyi, but it differs from `reference`'s for that row.
Not for cross-attention: source and target positions are not aligned, so "nearby" has
no meaning there.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hanyi.model.attention.efficient.base import EfficientKernel
from hanyi.model.masks import AttentionMask


class LocalAttention(EfficientKernel):
    supports_cross = False

    def __init__(self, window: int, dropout: float = 0.0):
        super().__init__(dropout)
        if window < 1:
            raise ValueError("the attention window must be >= 1")
        self.window = window

    @classmethod
    def from_config(cls, cfg, site: str) -> LocalAttention:
        return cls(cfg.attention_window, cfg.attention_dropout)

    def spans(self, t_q: int, t_k: int, mask: AttentionMask, device: torch.device):
        """Which keys each query block looks at.

        Returns block length c, key indices (nb, span) and the window test (nb, c, span),
        True where query and key are within the window (and causal order, if asked).
        """
        left, right = self.window, (0 if mask.causal else self.window)
        c = min(self.window, t_q)  # queries per block
        n_blocks = -(-t_q // c)
        span = min(c + left + right, t_k)  # keys per block
        first = mask.offset + torch.arange(n_blocks, device=device) * c  # (nb,) abs. position
        starts = (first - left).clamp(0, t_k - span)  # (nb,) first key of each span
        key_idx = starts[:, None] + torch.arange(span, device=device)  # (nb, span)
        q_pos = first[:, None] + torch.arange(c, device=device)  # (nb, c)
        rel = key_idx[:, None, :] - q_pos[:, :, None]  # (nb, c, span): key − query position
        return c, key_idx, (rel >= -left) & (rel <= right)

    def forward(self, q, k, v, mask: AttentionMask, need_weights: bool = False):
        self.check(mask, need_weights)
        b, h, t_q, d_head = q.shape  # (B, H, Tq, Dh)
        c, key_idx, allowed = self.spans(t_q, k.size(2), mask, q.device)
        n_blocks = key_idx.size(0)
        q_blocks = F.pad(q, (0, 0, 0, n_blocks * c - t_q))  # (B, H, nb·c, Dh), zero tail
        q_blocks = q_blocks.view(b, h, n_blocks, c, d_head)  # (B, H, nb, c, Dh)
        k_spans, v_spans = k[:, :, key_idx], v[:, :, key_idx]  # (B, H, nb, span, Dh)
        scores = q_blocks @ k_spans.transpose(-2, -1) / math.sqrt(d_head)  # (B, H, nb, c, span)
        allowed = allowed[None]  # (1, nb, c, span)
        if mask.key_padding is not None:
            allowed = allowed & mask.key_padding[:, key_idx][:, :, None, :]  # (B, nb, c, span)
        scores = scores.masked_fill(~allowed[:, None], torch.finfo(scores.dtype).min)
        weights = scores.softmax(dim=-1)  # (B, H, nb, c, span)
        out = F.dropout(weights, p=self.dropout_p) @ v_spans  # (B, H, nb, c, Dh)
        return out.reshape(b, h, n_blocks * c, d_head)[:, :, :t_q], None  # (B, H, Tq, Dh)

"""Attention masks — the only place in hanyi that builds them.

Convention (the same as ``torch.nn.functional.scaled_dot_product_attention``):
a mask is **boolean** and ``True`` means "this query may attend to this key". Masks are
broadcastable to ``(B, H, Tq, Tk)``.

Padding masks cover **keys** only. A padded *query* position still attends to the real
keys of its sentence, so no row of the attention matrix is ever fully masked (a fully
masked row would make softmax return NaN). Outputs at padded positions are simply ignored
by the loss.

Efficient kernels must not build a dense ``(Tq, Tk)`` matrix, so a mask travels as an
:class:`AttentionMask` that keeps its two parts apart — the key-padding vector and the
"causal" flag — and builds the dense form only when a kernel asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def padding_mask(tokens: torch.Tensor, pad_id: int) -> torch.Tensor:
    """(B, T) token ids -> (B, T) bool, True at real tokens."""
    return tokens != pad_id


def causal_mask(t_query: int, t_key: int | None = None, offset: int = 0,
                device: torch.device | None = None) -> torch.Tensor:
    """(Tq, Tk) bool, True where key position <= query position.

    ``offset`` is the absolute position of the first query: with a KV cache holding
    ``offset`` earlier tokens, query ``i`` sits at position ``offset + i`` and may see keys
    ``0 .. offset + i``. This is the decoder's "no peeking ahead" rule (§3.2.3).
    """
    t_key = t_query + offset if t_key is None else t_key
    q_pos = torch.arange(t_query, device=device).unsqueeze(1) + offset  # (Tq, 1)
    k_pos = torch.arange(t_key, device=device).unsqueeze(0)  # (1, Tk)
    return k_pos <= q_pos  # (Tq, Tk)


@dataclass
class AttentionMask:
    """What a query may attend to, in factored form.

    key_padding: (B, Tk) bool, True at real keys; None = no padding.
    causal: queries may not attend to later keys.
    offset: absolute position of the first query (for causal masks with a KV cache).
    """

    key_padding: torch.Tensor | None = None
    causal: bool = False
    offset: int = 0

    def dense(self, t_query: int, t_key: int, device: torch.device) -> torch.Tensor | None:
        """(B or 1, 1, Tq, Tk) bool mask for dense kernels, or None if nothing is masked."""
        mask = None
        if self.key_padding is not None:
            mask = self.key_padding[:, None, None, :]  # (B, 1, 1, Tk)
        if self.causal and not (t_query == 1 and self.offset + 1 >= t_key):
            # A single new query at the end of the sequence may see every key: skip the mask.
            causal = causal_mask(t_query, t_key, self.offset, device)[None, None]  # (1,1,Tq,Tk)
            mask = causal if mask is None else mask & causal
        return mask

    def select(self, index: torch.Tensor) -> AttentionMask:
        """Reorder / repeat the batch dimension (beam search)."""
        kp = None if self.key_padding is None else self.key_padding.index_select(0, index)
        return AttentionMask(kp, self.causal, self.offset)

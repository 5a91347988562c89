"""Attention masks (§3.2.3) — the only place in hanyi that builds them.

Convention (the same as ``torch.nn.functional.scaled_dot_product_attention``):
a mask is **boolean** and ``True`` means "this query may attend to this key". Masks are
broadcastable to ``(B, H, Tq, Tk)``.

Two kinds, combined with ``&``:

* padding: sentences in a batch have different lengths, so the short ones are filled with
  <pad> tokens. No query may attend to a padded *key*. Padded *queries* still attend to
  the real keys of their sentence, so no row of the attention matrix is ever fully masked
  (a fully masked row would make softmax return NaN); their outputs are ignored by the loss.
* causal: the decoder predicts token i from tokens < i only, so target position i may
  not see later positions. §3.2.3: "We need to prevent leftward information flow in the
  decoder to preserve the auto-regressive property."

A mask travels between the layers as an :class:`AttentionMask` that keeps the two parts
apart (a (B, Tk) padding vector and a causal flag); :meth:`AttentionMask.dense` combines
them into the ``(B, 1, Tq, Tk)`` matrix the attention kernels apply.
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
    """What a query may attend to, in two parts.

    key_padding: (B, Tk) bool, True at real keys; None = no padding.
    causal: queries may not attend to later keys.
    offset: absolute position of the first query (for causal masks with a KV cache).
    """

    key_padding: torch.Tensor | None = None
    causal: bool = False
    offset: int = 0

    def dense(self, t_query: int, t_key: int, device: torch.device) -> torch.Tensor | None:
        """(B or 1, 1, Tq, Tk) bool mask, or None if nothing is masked."""
        mask = None
        if self.key_padding is not None:
            mask = self.key_padding[:, None, None, :]  # (B, 1, 1, Tk)
        if self.causal:
            causal = causal_mask(t_query, t_key, self.offset, device)[None, None]  # (1,1,Tq,Tk)
            mask = causal if mask is None else mask & causal
        return mask

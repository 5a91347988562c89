"""`Translation` (tensors) -> `TranslationItem` (JSON-ready lists), for the API.

Attention weights are rounded to 4 decimals: the page draws them as colours, and the
rounding roughly halves the JSON size of a long sentence's maps.
"""

from __future__ import annotations

import math

import torch

from hanyi.inference import Translation
from hanyi.serving.schemas import Alternative, Attention, TranslationItem

DECIMALS = 4


def attention_of(t: Translation, per_head: bool) -> Attention:
    weights = t.attention.double()  # (L, H, T, S); float64 so rounding prints short
    layers, heads = weights.shape[0], weights.shape[1]
    if not per_head:
        weights = weights.mean(dim=1)  # (L, T, S): the average over heads
    return Attention(src_tokens=t.src_tokens, tgt_tokens=t.tgt_tokens, layers=layers,
                     heads=heads, per_head=per_head,
                     weights=torch.round(weights, decimals=DECIMALS).tolist())


def finite(x: float) -> float | None:
    """JSON has no inf or NaN; a score that is not finite is sent as null."""
    return round(x, 6) if math.isfinite(x) else None


def to_item(t: Translation, per_head: bool = False) -> TranslationItem:
    return TranslationItem(
        translation=t.text,
        score=finite(t.score),
        confidence=round(t.confidence, 4),
        passed_through=t.passed_through,
        alternatives=[Alternative(text=text, score=finite(score), confidence=round(sure, 4))
                      for text, score, sure in t.alternatives],
        attention=None if t.attention is None else attention_of(t, per_head),
    )

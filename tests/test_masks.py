"""Masks (model/masks.py): bool, True = may attend; keys-only padding; causal with offset."""

from __future__ import annotations

import torch

from hanyi.model.masks import AttentionMask, causal_mask, padding_mask


def test_causal_mask_lets_each_position_see_itself_and_the_past():
    mask = causal_mask(4)
    assert mask.dtype == torch.bool
    assert mask.tolist() == [[True, False, False, False], [True, True, False, False],
                             [True, True, True, False], [True, True, True, True]]
    # with 2 cached positions, the single new query (position 2) sees keys 0..2
    assert causal_mask(1, 3, offset=2).tolist() == [[True, True, True]]


def test_padding_mask_marks_real_tokens():
    tokens = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert padding_mask(tokens, pad_id=0).tolist() == [[True, True, False], [True, False, False]]


def test_dense_mask_combines_padding_and_causality_without_empty_rows():
    kp = torch.tensor([[True, True, False]])
    dense = AttentionMask(key_padding=kp, causal=True).dense(3, 3, torch.device("cpu"))
    assert dense.shape == (1, 1, 3, 3)
    assert dense.any(dim=-1).all()  # no query row is fully masked
    assert not dense[0, 0, 2, 2]  # padded key hidden even from itself

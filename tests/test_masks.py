"""Masks (model/masks.py): bool, True = may attend; keys-only padding; causal with offset."""

from __future__ import annotations

import pytest
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


def test_causal_mask_with_a_cache_offset_sees_the_cached_keys():
    # 2 positions already cached, 2 new queries (positions 2 and 3) over 4 keys
    assert causal_mask(2, 4, offset=2).tolist() == [[True, True, True, False],
                                                    [True, True, True, True]]


@pytest.mark.parametrize("b, tq, tk, offset", [(1, 3, 3, 0), (3, 4, 4, 0), (2, 1, 5, 4),
                                               (2, 2, 6, 4), (4, 5, 5, 0)])
def test_dense_mask_is_padding_and_causality_combined(b, tq, tk, offset):
    g = torch.Generator().manual_seed(tq * 10 + tk)
    lengths = torch.randint(1, tk + 1, (b,), generator=g)
    key_padding = torch.arange(tk).unsqueeze(0) < lengths.unsqueeze(1)  # (B, Tk)
    mask = AttentionMask(key_padding, causal=True, offset=offset)
    dense = mask.dense(tq, tk, torch.device("cpu"))
    expected = key_padding[:, None, None, :] & causal_mask(tq, tk, offset)[None, None]
    assert dense.dtype == torch.bool
    assert torch.equal(dense.expand(b, 1, tq, tk), expected.expand(b, 1, tq, tk))


def test_dense_mask_is_none_when_nothing_is_masked():
    cpu = torch.device("cpu")
    assert AttentionMask().dense(3, 3, cpu) is None
    # one new query at the end of a cached sequence may see every key (no special case:
    # the mask is all True; `sdpa` drops it for speed, see its test)
    assert AttentionMask(causal=True, offset=4).dense(1, 5, cpu).all()
    assert AttentionMask(causal=True).dense(3, 3, cpu).shape == (1, 1, 3, 3)


def test_padding_only_mask_covers_keys_not_queries():
    kp = torch.tensor([[True, True, False], [True, False, False]])
    dense = AttentionMask(key_padding=kp).dense(3, 3, torch.device("cpu"))
    assert dense.shape == (2, 1, 1, 3)  # broadcast over every query, padded ones too
    assert dense.any(dim=-1).all()


"""Batches: the teacher-forcing shift of `collate` and the token-budget, length-bucketed
sampler (deterministic from the seed and epoch, so a resumed run sees the same batches)."""

from __future__ import annotations

import random

import pytest
import torch

from hanyi.data.batch import collate, pad_sequences
from hanyi.data.dataset import token_batches

PAD, BOS, EOS = 0, 2, 3


def test_collate_shifts_the_target_and_pads_with_the_vocab_pad_id():
    batch = collate([[5, 6, 7], [8]], [[10, 11], [12, 13, 14]], src_pad_id=1, tgt_pad_id=PAD,
                    bos_id=BOS, eos_id=EOS)
    assert batch.src.tolist() == [[5, 6, 7], [8, 1, 1]]
    assert batch.tgt_in.tolist() == [[BOS, 10, 11, PAD], [BOS, 12, 13, 14]]
    assert batch.tgt_out.tolist() == [[10, 11, EOS, PAD], [12, 13, 14, EOS]]
    assert batch.n_tokens == 3 + 4  # real target tokens, EOS included
    # tgt_out is tgt_in shifted left by one wherever both are real tokens
    assert (batch.tgt_in[:, 1:][batch.tgt_out[:, :-1] != EOS]
            == batch.tgt_out[:, :-1][batch.tgt_out[:, :-1] != EOS]).all()


def test_pad_sequences_keeps_every_row_in_order_whatever_the_lengths():
    rng = random.Random(3)
    rows = [[rng.randint(4, 9000) for _ in range(rng.choice([0, 1, 2, 7, 30]))] for _ in range(200)]
    rows.append([1] * 31)  # at least one non-empty row sets the width
    padded = pad_sequences(rows, pad_id=PAD)
    assert padded.dtype == torch.long and padded.shape == (len(rows), 31)
    for row, out in zip(rows, padded.tolist(), strict=True):
        assert out == row + [PAD] * (31 - len(row))


def lengths(n: int, seed: int = 0) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    return [rng.randint(1, 40) for _ in range(n)], [rng.randint(1, 50) for _ in range(n)]


@pytest.mark.parametrize("max_tokens", [64, 256, 1000])
def test_every_example_once_and_every_batch_within_the_token_budget(max_tokens):
    src, tgt = lengths(500)
    batches = token_batches(src, tgt, max_tokens, seed=1, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(500))
    for b in batches:
        width = max(max(src[i], tgt[i] + 1) for i in b)  # padded source or target (+EOS)
        assert width * len(b) <= max_tokens or len(b) == 1


def test_batches_group_similar_lengths():
    src, tgt = lengths(500)
    batches = token_batches(src, tgt, 256, seed=1, epoch=0)
    spread = sum(max(src[i] for i in b) - min(src[i] for i in b) for b in batches) / len(batches)
    assert spread <= 2  # sorted by length: little padding


def test_batches_are_a_function_of_seed_and_epoch():
    src, tgt = lengths(300)
    def lists(seed, epoch):
        return [b.tolist() for b in token_batches(src, tgt, 200, seed=seed, epoch=epoch)]

    first = lists(4, 2)
    assert lists(4, 2) == first
    assert lists(4, 3) != first
    assert lists(5, 2) != first


@pytest.mark.parametrize("scale", [1, 2**15])  # lengths past 2**15 take the wide sort key
def test_unshuffled_batches_are_sorted_by_source_then_target_length(scale):
    src, tgt = lengths(400, seed=3)
    src, tgt = [n * scale for n in src], [n * scale for n in tgt]
    batches = token_batches(src, tgt, 10**9, seed=1, epoch=0, shuffle=False)
    order = [i for b in batches for i in b]
    assert sorted(order) == list(range(400))
    assert [(src[i], tgt[i]) for i in order] == sorted(zip(src, tgt, strict=True))

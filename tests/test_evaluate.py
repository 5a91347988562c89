"""Per-length scoring (evaluation/evaluate.py): buckets by English words, each scored alone."""

from __future__ import annotations

import math

import pytest

from hanyi.evaluation.evaluate import by_length
from hanyi.metrics import bleu


def test_each_bucket_is_scored_on_its_own_sentences():
    sources = ["Hi.", "One two three four five six seven.", "a " * 25, ""]
    refs = ["我们今天去公园散步。", "一二三四五六七。", "这是一个很长的句子。", "这里什么都没有。"]
    hyps = ["我们今天去公园散步。", "完全不同的东西。", "这是一个很长的句子。", "这里什么都没有。"]
    rows = {r["words"]: r for r in by_length(sources, hyps, refs)}
    assert set(rows) == {"1-5", "6-8", "21+"}  # empty buckets left out
    assert rows["1-5"]["sentences"] == 2  # the empty source counts as the shortest bucket
    assert rows["21+"]["bleu"] == round(bleu([hyps[2]], [refs[2]]).score, 2) == 100
    assert rows["6-8"]["bleu"] < rows["1-5"]["bleu"]


def test_platt_scaling_recovers_a_rising_probability():
    import random

    from hanyi.evaluation.calibration import fit_platt, reliability

    rng = random.Random(0)
    xs = [rng.uniform(-3, 0) for _ in range(2000)]
    truth = [1 / (1 + math.exp(-(3 * x + 4))) for x in xs]  # P(good | x)
    good = [rng.random() < p for p in truth]
    a, b = fit_platt(xs, good)
    assert a == pytest.approx(3, abs=0.5) and b == pytest.approx(4, abs=0.6)
    assert fit_platt([-1.0, -0.5], [True, True])[0] < 50  # all good: still finite
    rows = reliability([0.1, 0.15, 0.9, 0.95], [False, False, True, True])
    assert [r["good"] for r in rows] == [0.0, 1.0]

"""Per-length scoring (evaluation/evaluate.py): buckets by English words, each scored alone."""

from __future__ import annotations

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

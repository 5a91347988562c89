"""Text normalisation: English NFKC/whitespace; Chinese t2s, full-width punctuation, no
spaces between Chinese characters."""

from __future__ import annotations

import pytest

from hanyi.tokenization.normalize import detokenize_zh, normalize_en, normalize_zh


@pytest.mark.parametrize("raw, expected", [
    ("他掌握會議可真有一套.", "他掌握会议可真有一套。"),
    ("别说这种荒唐话了!", "别说这种荒唐话了！"),
    ("你 好 , 汤姆 ?", "你好，汤姆？"),
    ("价格是3.5元.", "价格是3.5元。"),
    ("ＡＢＣ１２３。", "ABC123。"),
    ("我叫(汤姆)。", "我叫（汤姆）。"),
])
def test_normalize_zh(raw, expected):
    assert normalize_zh(raw) == expected


def test_normalize_en_and_detokenize():
    assert normalize_en("  I’m   ﬁne,\tthanks! ") == "I'm fine, thanks!"
    assert detokenize_zh("我 是 New York 人 。") == "我是 New York 人。"  # Latin keeps spaces
    assert detokenize_zh("你好 ， 世界") == "你好，世界"

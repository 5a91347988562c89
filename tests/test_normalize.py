"""Text normalisation: English NFKC/whitespace; Chinese t2s, full-width punctuation, no
spaces between Chinese characters."""

from __future__ import annotations

import pytest

from hanyi.tokenization.normalize import detokenize_zh, fold_char, normalize_en, normalize_zh


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


@pytest.mark.parametrize("raw, expected", [
    ("ＨＥＬＬＯ　ｗｏｒｌｄ！", "HELLO world!"),  # full-width -> ASCII (NFKC)
    ("“Quoted” ‘text’", "\"Quoted\" 'text'"),
    ("a\u00a0b\u2003c\n", "a b c"),  # every Unicode space collapses
    ("", ""),
])
def test_normalize_en_cases(raw, expected):
    assert normalize_en(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("我們喜歡學習漢語。", "我们喜欢学习汉语。"),  # t2s
    ("“你好”，他說。", "“你好”，他说。"),  # full-width punctuation and quotes kept
    ("我住在 New York 。", "我住在 New York。"),
    ("他有 3 本书 .", "他有 3 本书。"),
    ("真的吗 ?!", "真的吗？！"),
    ("   ", ""),
])
def test_normalize_zh_cases(raw, expected):
    assert normalize_zh(raw) == expected


def test_normalisation_is_idempotent():
    for text in ["他掌握會議可真有一套.", "你 好 , 汤姆 ?", "价格是3.5元.", "我叫(汤姆)。"]:
        once = normalize_zh(text)
        assert normalize_zh(once) == once
    for text in ["  I’m   ﬁne,\tthanks! ", "ＨＥＬＬＯ"]:
        assert normalize_en(normalize_en(text)) == normalize_en(text)


def test_detokenized_chinese_has_no_space_between_chinese_characters():
    import re

    out = detokenize_zh("我 们 是 学 生 ， 你 呢 ？ 他 说 “ 好 ” 。")
    assert not re.search(r"[\u4e00-\u9fff，。？！]\s+[\u4e00-\u9fff，。？！]", out)
    assert out.startswith("我们是学生，你呢？")


def test_simplified_text_is_left_alone_and_traditional_converted():
    """t2s runs only on text holding a character it changes on its own: OpenCC's phrase
    table would otherwise rewrite correct simplified text (打坏 -> 打坯, 覆盖 -> 复盖)."""
    from hanyi.tokenization.normalize import _t2s, _traditional, to_simplified

    assert to_simplified("他们用锤子打坏了覆盖层。") == "他们用锤子打坏了覆盖层。"
    assert _t2s().convert("打坏") != "打坏"  # the phrase table this guards against
    assert to_simplified("漢語很難，他們打壞了。") == "汉语很难，他们打坏了。"
    # a text with a character t2s changes is converted exactly as OpenCC converts it
    for text in ["我們喜歡學習漢語。", "這是覆蓋層", "乾隆皇帝"]:
        assert to_simplified(text) == _t2s().convert(text)
    # every character t2s changes alone is in the set, and no other (a sample of each)
    traditional = _traditional()
    assert {"漢", "們", "說", "壞"} <= traditional
    assert not {"汉", "们", "说", "坏", "覆", "A", "。"} & traditional


@pytest.mark.parametrize("char, folded", [
    ("ã", "a"), ("Ö", "O"), ("ü", "u"), ("\u2013", "-"), ("\u2014", "-"), ("\u2212", "-"),
    ("ï", "i"),
    ("€", "€"), ("α", "α"),  # no plain form the pieces hold: left as it is (<unk>)
    ("ǅ", "Dz"),  # NFKD: "D", "z", a combining caron (dropped)
])
def test_a_character_the_pieces_lack_is_folded_to_one_they_hold(char, folded):
    assert fold_char(char, frozenset("abcdefghijklmnopqrstuvwxyzDOSPMG0123456789-")) == folded


def test_a_vocab_reads_a_folded_character_as_its_plain_form(toy_vocabs):
    src, _ = toy_vocabs
    assert "ã" not in src.chars and "a" in src.chars
    assert src.encode("the cãt") == src.encode("the cat") != src.encode("the c€t")
    assert src.encode_batch(["the cãt"]) == [src.encode("the cat")]

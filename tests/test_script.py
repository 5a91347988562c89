"""Text that is not in the model's source language is passed through, flagged."""

from __future__ import annotations

import dataclasses

import pytest

from hanyi.config import ExperimentConfig
from hanyi.inference import Translator
from hanyi.tokenization.script import is_in_language, main_script


@pytest.mark.parametrize("text, script", [
    ("How are you?", "latin"), ("你好吗？", "han"), ("こんにちは、元気ですか", "kana"),
    ("東京に行きます", "kana"), ("안녕하세요", "hangul"), ("Привет, как дела?", "cyrillic"),
    ("I met 李明 in Beijing yesterday.", "latin"), ("我昨天在 Starbucks 见了他。", "han"),
    ("3 + 4 = 7 !!", None), ("", None), ("Ｈｅｌｌｏ", "latin"),
])
def test_the_script_of_most_letters(text, script):
    assert main_script(text) == script


def test_only_letters_decide():
    assert is_in_language("2024-05-01 12:00", "en") and is_in_language("2024-05-01", "zh")
    binary = "\ufffd\ufffd\x01 q\ufffd\x7f 9\ufffd\ufffdZ\ufffd%\ufffd@\ufffd" * 2
    assert not is_in_language(binary, "en")
    assert not is_in_language("12.5 13.7 14.2 15.9 16.1 17.3", "en")  # a row of numbers
    assert is_in_language("It rose 12.5% in 2023, to 13.7 million.", "en")
    assert not is_in_language("你好", "en") and not is_in_language("Hello", "zh")


def test_chinese_given_to_the_english_model_comes_back_unchanged(random_model, toy_vocabs):
    # a random model's outputs loop: the loop retry would search them again (and count)
    no_retry = dataclasses.replace(ExperimentConfig().decode, loop_retry_ngram=0)
    translator = Translator.from_model(random_model, ExperimentConfig(), *toy_vocabs,
                                       decode=no_retry)
    calls = []
    search = translator.engine.search
    translator.engine.search = lambda batch, *a, **k: calls.append(len(batch)) or search(
        batch, *a, **k)
    out = translator.translate(["你好，世界。", "Tom likes tea.", "Привет"])
    assert out[0].text == "你好，世界。" and out[0].passed_through
    assert out[2].text == "Привет" and out[2].passed_through
    assert not out[1].passed_through and calls == [1]
    off = dataclasses.replace(translator.decode_cfg, pass_through=False)
    assert not translator.translate(["你好"], off)[0].passed_through

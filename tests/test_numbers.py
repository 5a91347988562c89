"""Numbers written in digits survive translation (inference/numbers.py + Translator)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hanyi.config import DecodeConfig, ModelConfig
from hanyi.decoding import Hypothesis
from hanyi.errors import ConfigError
from hanyi.inference.numbers import digit_strings, first_keeping_numbers, keeps_numbers
from hanyi.inference.translator import Translator


def test_digit_strings_drop_thousands_separators_and_count_repeats():
    assert digit_strings("1,000 and 3.5, then 3 and 3") == {"1000": 1, "3.5": 1, "3": 2}
    assert digit_strings("no numbers here") == {}


@pytest.mark.parametrize("text, numbers", [
    ("It is -5 degrees.", {"-5": 1}),
    ("It is \u22123.5 degrees, 3-5 days, COVID-19.", {"-3.5": 1, "3": 1, "5": 1, "19": 1}),
    ("零下5度", {"-5": 1}), ("负5加3", {"-5": 1, "3": 1}), ("－7", {"-7": 1}),
    ("我有3个", {"3": 1}),
])
def test_a_minus_sign_is_part_of_its_number(text, numbers):
    assert digit_strings(text) == numbers


@pytest.mark.parametrize("source, translation, kept", [
    ("I have 3 brothers and 2 sisters.", "我有3个兄弟和2姐妹。", True),
    ("I have 3 brothers and 2 sisters.", "我3个兄弟姐妹。", False),
    ("She was born in 1990.", "她生于19世纪90年代。", False),
    ("She was born in 1990.", "她生于1990年。", True),
    ("It costs 1,000 yuan.", "它要1000元。", True),
    ("3 and 3", "3", False),  # as often as in the source
    ("Hello.", "你好。", True),
    ("It is -5 degrees.", "现在是5度。", False),  # the sign was lost
    ("It is -5 degrees.", "现在是零下5度。", True),
    ("It is -5 degrees.", "现在是-5度。", True),
])
def test_keeps_numbers(source, translation, kept):
    assert keeps_numbers(source, translation) is kept


def test_slot_numbers_are_left_to_the_layer_that_put_them_in():
    # 7301-7399 stand for markup or a kept term (data/slots.py): markup.py and protect.py
    # check them and have their own fallback; a number next to them still counts
    assert keeps_numbers("Click 7301 here 7302.", "点击这里。")
    assert not keeps_numbers("Click 7301 here 7302 in 1990.", "点击7301这里7302。")
    assert keeps_numbers("Room 7300 and 7400.", "7300和7400号房间。")
    assert not keeps_numbers("Room 7300 and 7400.", "7300号房间。")


def test_a_sentence_that_lost_only_slots_is_not_decoded_again():
    translator, engine = fake_translator(beam_size=4)
    translator.translate(["Click 7301 here 7302."])
    assert engine.calls == [(1, 4, 1)]


def test_first_keeping_numbers_is_the_best_ranked_one_or_none():
    assert first_keeping_numbers("in 1990", ["19世纪90年代", "1990年", "1990年代"]) == 1
    assert first_keeping_numbers("in 1990", ["九十年代"]) is None


class FakeEngine:
    """Hypotheses as texts: a narrow beam loses the number, a wide one has it 2nd."""

    name = "fake"

    def __init__(self):
        self.calls = []

    def search(self, batch, cfg, need_attention=False, cancel=None):
        self.calls.append((len(batch), cfg.beam_size, cfg.nbest))
        texts = ["19世纪90年代。", "1990年。", "1990年代。"] if cfg.beam_size >= 8 \
            else ["19世纪90年代。"]
        return [[Hypothesis([ord(c) for c in t], -float(k), -float(k)) for k, t in
                 enumerate(texts[:cfg.nbest] if cfg.beam_size < 8 else texts)]
                for _ in batch]


class TextTranslator(Translator):
    def encode(self, text):
        return [1, 2, 3]

    def detokenize(self, tokens):
        return "".join(chr(t) for t in tokens)


def fake_translator(**decode) -> tuple[Translator, FakeEngine]:
    vocab = SimpleNamespace(pieces=lambda ids: [str(i) for i in ids])
    loaded = SimpleNamespace(model=None, src_vocab=vocab, tgt_vocab=vocab, path=None, meta={},
                             config=SimpleNamespace(decode=DecodeConfig(**decode),
                                                    model=ModelConfig(), direction="en-zh"))
    engine = FakeEngine()
    return TextTranslator(loaded, engine=engine), engine


@pytest.mark.parametrize("beam", [2, 4])
def test_a_lost_number_is_rescued_from_a_wider_beam(beam):
    translator, engine = fake_translator(beam_size=beam)
    out = translator.translate(["She was born in 1990.", "Hello."])
    assert out[0].text == "1990年。"
    assert len(out[0].alternatives) == 1  # still the nbest that was asked for
    # The first pass decodes both; only the sentence that lost its number is decoded again.
    assert engine.calls == [(2, beam, 1), (1, 8, beam)]  # the wide beam's best `beam`


def test_the_rescue_batches_its_sentences_by_length():
    translator, engine = fake_translator(beam_size=4, batch_size=2)
    translator.encode = lambda text: [1] * len(text.split())
    seen = []
    search = engine.search
    engine.search = lambda batch, cfg, **kw: (seen.append([len(x) for x in batch]),
                                              search(batch, cfg, **kw))[1]
    texts = ["Born in 1990 one two three four.", "In 1990.", "Born in 1990 one two.",
             "In 1990 a b c d e f g."]
    out = translator.translate(texts)
    assert [t.text for t in out] == ["1990年。"] * 4
    assert seen == [[2, 5], [7, 9]] * 2  # the first pass, then the rescue, alike


def test_greedy_is_greedy_no_rescue_with_beam_1():
    translator, engine = fake_translator(beam_size=1)
    assert translator.translate(["She was born in 1990."])[0].text == "19世纪90年代。"
    assert engine.calls == [(1, 1, 1)]


def test_rescue_off_and_validation():
    translator, engine = fake_translator(beam_size=4, keep_numbers_beam=0)
    assert translator.translate(["She was born in 1990."])[0].text == "19世纪90年代。"
    assert len(engine.calls) == 1
    with pytest.raises(ConfigError, match="keep_numbers_beam"):
        DecodeConfig(keep_numbers_beam=-1)


class AttentionEngine(FakeEngine):
    """FakeEngine that records whether attention was asked for, and gives it (a tensor
    standing for the weights) when asked; ``attend`` gives the attention of given outputs
    (a tensor of 2s, so the test sees which way a translation got its weights)."""

    def search(self, batch, cfg, need_attention=False, cancel=None):
        import dataclasses

        import torch

        out = super().search(batch, cfg)
        self.calls[-1] = (len(batch), cfg.beam_size, need_attention)
        return [[dataclasses.replace(h, attention=torch.ones(1, 1, 1, 3)) if need_attention else h
                 for h in hyps] for hyps in out]

    def attend(self, batch, outputs):
        import torch

        self.calls.append(("attend", len(batch), ["".join(map(chr, o)) for o in outputs]))
        return [torch.full((len(o) + 1, 1, 1, 3), 2.0) for o in outputs]


def test_the_wide_beam_runs_without_attention_and_a_rescue_that_wants_it_is_attended():
    translator, _ = fake_translator(beam_size=4)
    engine = translator.engine = AttentionEngine()
    out = translator.translate(["She was born in 1990.", "In 1990.", "Hello."],
                               need_attention=[True, False, False])
    assert [t.text for t in out] == ["1990年。", "1990年。", "19世纪90年代。"]
    assert out[1].attention is None
    # (L, H, T, S): the rescued translation's own weights, from attend, not the first pass's
    assert out[0].attention.shape == (1, 1, 7, 3) and (out[0].attention == 2).all()
    # the first pass (with attention: one of its texts asks), the wide beam over both lost
    # sentences without it, then one forced pass through the new translation that asks
    assert engine.calls == [(3, 4, True), (2, 8, False), ("attend", 1, ["1990年。"])]


def test_texts_that_ask_for_attention_are_batched_apart_from_the_rest():
    translator, _ = fake_translator(beam_size=1, batch_size=2)
    engine = translator.engine = AttentionEngine()
    translator.encode = lambda text: [1] * len(text.split())
    texts = ["a", "a b", "a b c", "a b c d"]  # by length alone: (a, a b), (a b c, a b c d)
    out = translator.translate(texts, need_attention=[True, False, True, False])
    assert engine.calls == [(2, 1, False), (2, 1, True)]  # one batch with attention, not two
    assert [t.attention is not None for t in out] == [True, False, True, False]

"""The loop retry (Translator): after beam search, a translation that the loop rule ended
(decoding/constraints.py) is searched again with repeated n-grams banned."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from hanyi.config import DecodeConfig, ModelConfig
from hanyi.decoding import Hypothesis
from hanyi.errors import ConfigError
from hanyi.inference.translator import Translator

LOOP = "好" * 8  # one token eight times in a row: what the loop rule ends


class LoopEngine:
    """"Loop ..." sources loop unless n-grams are banned (``stubborn``: loop otherwise)."""

    name = "fake"

    def __init__(self, stubborn: bool = False):
        self.calls, self.stubborn = [], stubborn

    def search(self, batch, cfg, need_attention=False, cancel=None):
        self.calls.append((len(batch), cfg.beam_size, cfg.no_repeat_ngram_size))
        out = []
        for ids in batch:
            if ids[0] != 1:
                text = "你好。"
            elif cfg.no_repeat_ngram_size == 0:
                text = LOOP
            else:  # the retry
                text = "坏" * 8 if self.stubborn else "不再重复。"
            out.append([Hypothesis([ord(c) for c in text], -1.0, -2.0)])
        return out


class TextTranslator(Translator):
    def encode(self, text):
        return [1 if text.startswith("Loop") else 2, 5]

    def detokenize(self, tokens):
        return "".join(chr(t) for t in tokens)


def translator(engine=None, **decode) -> tuple[Translator, LoopEngine]:
    vocab = SimpleNamespace(pieces=lambda ids: [str(i) for i in ids])
    loaded = SimpleNamespace(model=None, src_vocab=vocab, tgt_vocab=vocab, path=None, meta={},
                             config=SimpleNamespace(decode=DecodeConfig(**decode),
                                                    model=ModelConfig(), direction="en-zh"))
    engine = engine or LoopEngine()
    return TextTranslator(loaded, engine=engine), engine


def test_a_translation_ended_by_the_loop_rule_is_searched_again_without_repeats():
    tr, engine = translator(beam_size=4)
    out = tr.translate(["Hello.", "Loop here.", "Hi."])
    assert [t.text for t in out] == ["你好。", "不再重复。", "你好。"]
    assert engine.calls == [(3, 4, 0), (1, 4, 4)]  # only the looping sentence, same beam


@pytest.mark.parametrize("decode", [dict(beam_size=1), dict(beam_size=4, loop_retry_ngram=0),
                                    dict(beam_size=4, stop_loops=False)])
def test_no_retry_with_greedy_search_when_off_or_without_the_loop_rule(decode):
    tr, engine = translator(**decode)
    assert tr.translate(["Loop here."])[0].text == LOOP
    assert len(engine.calls) == 1


def test_a_retry_that_loops_again_keeps_the_first_translation():
    tr, engine = translator(LoopEngine(stubborn=True), beam_size=4, loop_retry_ngram=3)
    assert tr.translate(["Loop here."])[0].text == LOOP
    assert engine.calls == [(1, 4, 0), (1, 4, 3)]


def test_loop_retry_ngram_is_validated():
    with pytest.raises(ConfigError, match="loop_retry_ngram"):
        DecodeConfig(loop_retry_ngram=-1)

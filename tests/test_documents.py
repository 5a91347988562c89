"""Plain text of any length and layout (hanyi.documents.text): lines and blank lines kept,
sentences translated in one batch and joined the Chinese way, nothing truncated."""

from __future__ import annotations

import logging

from hanyi.config import ExperimentConfig
from hanyi.documents import translate_texts
from hanyi.documents.text import chunks, segment
from hanyi.inference import Translation, Translator


class Recording:
    """A Translator stand-in: the units it was given, each 'translated' to <unit>."""

    source_language, target_language = "en", "zh"

    def __init__(self):
        self.calls = []

    def translate(self, units, decode=None, need_attention=False, cancel=None):
        self.calls.append(list(units))
        return [Translation(f"<{u}>", score=-1.0, confidence=0.5 + 0.1 * (u == "Hi."))
                for u in units]


def test_layout_is_kept_and_sentences_join_without_spaces():
    units, plans = segment(["  Hello there. How are you?\n\nBye.  ", "", "One line."], "en",
                           lambda s: False)
    assert units == ["Hello there.", "How are you?", "Bye.", "One line."]
    assert [[line.units for line in plan] for plan in plans] == [[[0, 1], [], [2]], [[]], [[3]]]
    from hanyi.documents.text import JOINERS, assemble

    results = [Translation(f"<{u}>") for u in units]
    assert assemble(plans[0], results, JOINERS["zh"]).text == \
        "  <Hello there.><How are you?>\n\n<Bye.>  "
    assert assemble(plans[1], results, "").text == ""


def test_every_sentence_of_every_text_goes_in_one_call():
    fake = Recording()
    fake.decode_cfg = ExperimentConfig().decode
    fake.src_vocab = type("V", (), {"encode": staticmethod(lambda s: s.split())})()
    fake.normalize = staticmethod(lambda s: s)
    out = translate_texts(fake, ["Hi. Bye.", "Hi."])
    assert fake.calls == [["Hi.", "Bye.", "Hi."]]
    assert out[0].text == "<Hi.><Bye.>" and out[1].text == "<Hi.>"
    assert out[0].confidence == 0.5 and out[1].confidence == 0.6  # the weakest sentence


def test_long_sentences_are_cut_at_clauses_then_words_never_truncated():
    words = lambda s: len(s.split()) > 4  # noqa: E731 - "too long" = more than 4 words
    assert chunks("one two, three four, five six", words) == ["one two, three four,",
                                                              "five six"]
    assert chunks("a b c d e f g h i", words) == ["a b c d", "e f g h", "i"]
    assert chunks("short one", words) == ["short one"]
    assert chunks("x" * 50, lambda s: len(s) > 10) == ["x" * 50]  # one word: stays whole


def test_a_long_paragraph_is_translated_whole_without_a_truncation_warning(
        random_model, toy_vocabs, caplog):
    config = ExperimentConfig()
    config.decode = config.decode.__class__(max_input_tokens=12, beam_size=1, batch_size=8)
    translator = Translator.from_model(random_model, config, *toy_vocabs)
    paragraph = " ".join(["Tom likes tea and Mary reads books in the park."] * 6)
    with caplog.at_level(logging.WARNING):
        (out,) = translate_texts(translator, [paragraph])
    assert "cut to" not in caplog.text
    sentences = translator.translate(["Tom likes tea and Mary reads books in the park."])
    assert out.text.count(sentences[0].text[:3]) >= 1 and len(out.text) > len(sentences[0].text)

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

    def fallback_terms(self, cfg):  # no lexicon fallback (inference/lexicon.py)
        return None

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


def test_protected_spans_become_slots_and_come_back():
    from hanyi.documents.protect import protect, restore

    text = ("Mail bob@example.org or see https://example.com/a.b?x=1, run `pip install x`, "
            "%(count)d files and {name} in 7301 days.")
    p = protect(text)
    assert "example" not in p.text and "pip" not in p.text and "%(count)d" not in p.text
    assert "7301" in p.text and "7301" not in p.slots  # a number of the text is never a slot
    assert sorted(p.slots.values()) == sorted(["bob@example.org", "https://example.com/a.b?x=1",
                                               "`pip install x`", "%(count)d", "{name}"])
    fake = p.text  # a "translation" that kept every slot
    back, missing = restore(fake, p.slots)
    assert missing == [] and "https://example.com/a.b?x=1," in back and "bob@example.org" in back
    assert "50% off" == protect("50% off").text  # a percent sign is not a placeholder


def test_a_dropped_slot_is_appended_never_lost():
    from hanyi.documents.protect import protect, restore

    p = protect("Visit https://example.com today.")
    (slot,) = p.slots
    back, missing = restore("今天访问。", p.slots)
    assert missing == [slot] and back == "今天访问。 https://example.com"


def test_glossary_terms_match_case_and_simple_plurals():
    from hanyi.documents.protect import protect, restore

    glossary = {"tax return": "纳税申报表", "policy": "保单"}
    p = protect("Tax returns and the policies, and one policy.", glossary=glossary)
    assert "Tax" not in p.text and "polic" not in p.text
    back, _ = restore(p.text, p.slots)
    assert back.count("保单") == 2 and "纳税申报表" in back
    kept = protect("I read the New York Times.", keep=("New York Times",))
    assert restore(kept.text, kept.slots)[0] == "I read the New York Times."


def test_documents_restore_slots_through_the_pipeline():
    fake = Recording()
    fake.decode_cfg = ExperimentConfig().decode
    fake.src_vocab = type("V", (), {"encode": staticmethod(lambda s: s.split())})()
    fake.normalize = staticmethod(lambda s: s)
    (out,) = translate_texts(fake, ["See https://example.com now."], keep=())
    assert "https://example.com" in out.text and "7301" not in out.text

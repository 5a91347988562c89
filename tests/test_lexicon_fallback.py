"""The lexicon fallback (inference/lexicon.py): which words get CC-CEDICT's Chinese, how
they travel through the slots, and where the word counts come from."""

from __future__ import annotations

import dataclasses
import lzma

import pytest

from hanyi.checkpoint import load_model_dir, save_checkpoint
from hanyi.config import DecodeConfig, ExperimentConfig
from hanyi.documents import translate_texts
from hanyi.documents.protect import protect, restore
from hanyi.errors import ConfigError
from hanyi.inference import Translation, Translator
from hanyi.inference.lexicon import (
    WORDS_FILE,
    LexiconFallback,
    read_word_counts,
    reverse_cedict,
    write_word_counts,
)

# the installed CC-CEDICT (a dependency): one entry glosses each of these two
NEUROTOXIN, TAXPAYER = "神经毒素", "纳税人"


def test_the_reverse_dictionary_keeps_only_words_one_entry_glosses():
    lexicon = reverse_cedict()
    assert lexicon["neurotoxin"] == NEUROTOXIN and lexicon["taxpayer"] == TAXPAYER
    assert "bank" not in lexicon and "run" not in lexicon  # many entries: ambiguous


def test_names_are_looked_up_as_written_and_taiwan_forms_left_out():
    lexicon = reverse_cedict()
    assert lexicon["Nairobi"] == "内罗毕"  # "Nairobi, capital of Kenya" (and not 奈洛比, Tw)
    assert lexicon["Kenya"] == "肯尼亚" and lexicon["Paris"] == "巴黎"
    assert "Jordan" not in lexicon  # the country 约旦 or the name 乔丹
    fallback = LexiconFallback({"kenya": 30, "nairobi": 3, "extremists": 30, "embassy": 30,
                                "warned": 30})
    text = "The embassy in Nairobi, Kenya warned of extremists."
    assert fallback.terms(text, 2, 10) == {"Nairobi": "内罗毕"}  # Kenya: seen 30 times
    assert fallback.terms(text, 2, 30) == {"Nairobi": "内罗毕", "Kenya": "肯尼亚"}
    assert fallback.terms(text, 2, 2) == {} and fallback.terms(text, 29, -1) == {}  # no names


def test_only_rare_lower_case_long_words_get_the_fallback():
    fallback = LexiconFallback({"taxpayer": 2, "neurotoxin": 3, "algae": 40})
    text = "The Neurotoxin of a taxpayer: a neurotoxin, algae and zzzqx."
    assert fallback.terms(text, 2) == {"taxpayer": TAXPAYER}  # neurotoxin: seen 3 times
    assert fallback.terms(text, 3) == {"neurotoxin": NEUROTOXIN, "taxpayer": TAXPAYER}
    assert fallback.terms(text, 1) == {}
    assert fallback.terms("Taxpayer.", 5, 5) == {}  # capitalised: not a name in the dictionary
    assert LexiconFallback({}).terms("an unseen neurotoxin", 0) == {"neurotoxin": NEUROTOXIN}


def test_a_plural_takes_its_singulars_entry_when_both_are_rare():
    fallback = LexiconFallback({"neurotoxin": 1, "taxpayers": 1, "taxpayer": 2})
    text = "neurotoxins, taxpayers and nitrates"
    assert fallback.terms(text, 2) == {"neurotoxins": NEUROTOXIN, "nitrates": "硝酸盐"}
    assert fallback.terms(text, 3)["taxpayers"] == TAXPAYER  # 1 + 2 times
    assert fallback.terms("the extremists", 2) == {"extremists": "激进分子"}  # its own entry


def test_fallback_words_become_slots_exactly_as_written():
    p = protect("A neurotoxin, Neurotoxin and neurotoxins.", fallback={"neurotoxin": NEUROTOXIN})
    assert p.text.startswith("A 7301,") and "Neurotoxin" in p.text and "neurotoxins" in p.text
    assert restore(p.text, p.slots)[0] == f"A {NEUROTOXIN}, Neurotoxin and neurotoxins."
    # the user's glossary comes first: the word it took is no longer there to fall back on
    mine = protect("a neurotoxin", glossary={"neurotoxin": "毒"},
                   fallback={"neurotoxin": NEUROTOXIN})
    assert list(mine.slots.values()) == ["毒"]


def test_a_slot_written_twice_gives_its_span_once_and_no_stray_number():
    p = protect("It makes a neurotoxin.", fallback={"neurotoxin": NEUROTOXIN})
    (slot,) = p.slots
    back, missing = restore(f"它产生{slot}，{slot}。", p.slots)
    assert missing == [] and back == f"它产生{NEUROTOXIN}，。" and slot not in back


class Echo:
    """A Translator stand-in that echoes each unit, with a fallback of its own."""

    source_language, target_language = "en", "zh"
    decode_cfg = DecodeConfig()
    src_vocab = type("V", (), {"encode": staticmethod(str.split)})()
    normalize = staticmethod(str)

    def __init__(self, fallback: LexiconFallback | None):
        self.fallback, self.units = fallback, []

    def fallback_terms(self, cfg):
        if self.fallback is None or cfg.lexicon_fallback < 0:
            return None
        return lambda text: self.fallback.terms(text, cfg.lexicon_fallback)

    def translate(self, units, decode=None, need_attention=False, cancel=None):
        self.units += units
        return [Translation(u) for u in units]


def test_translate_texts_sends_the_slot_and_returns_the_chinese():
    echo = Echo(LexiconFallback(dict.fromkeys(["algae", "make", "rare", "word", "here"], 9)))
    (out,) = translate_texts(echo, ["Algae make a neurotoxin.\nNo rare word here."])
    assert echo.units == ["Algae make a 7301.", "No rare word here."]
    assert out.text == f"Algae make a {NEUROTOXIN}.\nNo rare word here."
    off = dataclasses.replace(DecodeConfig(), lexicon_fallback=-1)
    assert translate_texts(echo, ["a neurotoxin"], off)[0].text == "a neurotoxin"


def test_the_model_directory_holds_the_counts_and_the_setting_turns_it_off(
        random_model, toy_vocabs, small_model_config, tmp_path):
    folder = save_checkpoint(tmp_path / "model", random_model,
                             ExperimentConfig(model=small_model_config), *toy_vocabs, {"step": 0})
    assert Translator.load(folder, engine="torch").fallback_terms(DecodeConfig()) is None
    (tmp_path / "train.en").write_text("The algae grow.\nalgae, ALGAE!\n", encoding="utf-8")
    assert write_word_counts(tmp_path / "train.en", folder / WORDS_FILE) == 3
    assert read_word_counts(folder / WORDS_FILE) == {"algae": 3, "grow": 1, "the": 1}
    translator = Translator.load(folder, engine="torch")
    terms = translator.fallback_terms(DecodeConfig())
    assert terms("the algae and a taxpayer in Nairobi") == {"taxpayer": TAXPAYER,
                                                           "Nairobi": "内罗毕"}
    no_names = translator.fallback_terms(DecodeConfig(lexicon_names=-1))
    assert no_names("the algae and a taxpayer in Nairobi") == {"taxpayer": TAXPAYER}
    assert translator.fallback_terms(DecodeConfig(lexicon_fallback=-1)) is None
    reverse = ExperimentConfig(direction="zh-en", model=small_model_config)
    zh_en = Translator.from_model(random_model, reverse, *toy_vocabs[::-1])
    assert zh_en.fallback_terms(DecodeConfig()) is None  # English is not its source
    with pytest.raises(ConfigError, match="lexicon_fallback"):
        DecodeConfig(lexicon_fallback=-2)
    with pytest.raises(ConfigError, match="lexicon_names"):
        DecodeConfig(lexicon_names=-5)


def test_a_release_counts_its_training_words_or_keeps_its_own(random_model, toy_vocabs,
                                                                small_model_config, tmp_path,
                                                                caplog):
    pytest.importorskip("ctranslate2")
    from hanyi.export import export_release

    prepared = tmp_path / "prepared"
    prepared.mkdir()
    (prepared / "train.en").write_text("a neurotoxin\nthe taxpayer pays\n", encoding="utf-8")
    config = ExperimentConfig(model=small_model_config)
    config.data = dataclasses.replace(config.data, dir=str(prepared))
    run = save_checkpoint(tmp_path / "run", random_model, config, *toy_vocabs, {"step": 1})
    export_release(load_model_dir(run), tmp_path / "release", "float32")
    counts = read_word_counts(tmp_path / "release" / WORDS_FILE)
    assert counts == {"a": 1, "neurotoxin": 1, "the": 1, "taxpayer": 1, "pays": 1}
    (prepared / "train.en").unlink()  # released again: the release's own counts travel
    export_release(load_model_dir(tmp_path / "release"), tmp_path / "again", "float32")
    assert lzma.decompress((tmp_path / "again" / WORDS_FILE).read_bytes()) == lzma.decompress(
        (tmp_path / "release" / WORDS_FILE).read_bytes())
    export_release(load_model_dir(run), tmp_path / "bare", "float32")  # nothing to count
    assert not (tmp_path / "bare" / WORDS_FILE).exists() and "no lexicon fallback" in caplog.text


def test_a_server_reads_the_dictionary_at_start_up_not_on_the_first_rare_word(
        random_model, toy_vocabs, small_model_config, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from hanyi.config import ServeConfig
    from hanyi.serving import create_app

    folder = save_checkpoint(tmp_path / "model", random_model,
                             ExperimentConfig(model=small_model_config), *toy_vocabs, {"step": 0})
    (tmp_path / "train.en").write_text("the algae\n", encoding="utf-8")
    write_word_counts(tmp_path / "train.en", folder / WORDS_FILE)
    reverse_cedict.cache_clear()
    with TestClient(create_app(Translator.load(folder, engine="torch"),
                               ServeConfig(max_batch=2))):
        assert reverse_cedict.cache_info().currsize == 1

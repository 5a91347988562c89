"""Every kind of source `prepare` reads: compressed files, gettext catalogues, inline markup,
UI strings, paragraph pairs split into sentences, and per-source sampling weights."""

from __future__ import annotations

import gzip
import lzma
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from hanyi.config import DataConfig, SourceConfig
from hanyi.data.corpus import Rejects, source_pairs
from hanyi.data.dataset import ParallelData, epoch_batches, weighted_epoch
from hanyi.data.markup import clean_markup, has_placeholder, strip_accelerators
from hanyi.errors import DataError
from hanyi.tokenization.sentences import split_en, split_zh

PO = '''# a catalogue
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\\n"

#: a.rst:1
msgid "Use ``len(x)`` to count the :class:`list` items."
msgstr "使用 ``len(x)`` 来计算 :class:`list` 的项数。"

#, fuzzy
msgid "A fuzzy entry."
msgstr "模糊的条目。"

msgid "Not translated yet."
msgstr ""

msgid "One file"
msgid_plural "%d files"
msgstr[0] "%d 个文件"

#~ msgid "An obsolete entry."
#~ msgstr "过时的条目。"

msgid ""
"The first sentence is here. The second one follows."
msgstr "第一句在这里。第二句紧随其后。"
'''


def pairs_of(source: SourceConfig, root: Path) -> tuple[list, Rejects]:
    rejects = Rejects()
    cfg = DataConfig(root=str(root))
    return list(source_pairs(source, cfg, root, rejects, Counter())), rejects


def test_po_catalogue_keeps_reviewed_singular_translations(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.po.xz").write_bytes(lzma.compress(PO.encode("utf-8")))
    source = SourceConfig(name="po", path="docs", format="po", clean_markup=True,
                          split_sentences=True)
    pairs, rejects = pairs_of(source, tmp_path)
    assert [(p.en, p.zh) for p in pairs] == [
        ("Use len(x) to count the list items.", "使用 len(x) 来计算 list 的项数。"),
        ("The first sentence is here.", "第一句在这里。"),
        ("The second one follows.", "第二句紧随其后。")]
    assert pairs[0].origin.endswith("a.po.xz:6")  # where the entry starts
    assert pairs[2].origin.endswith("#s2")
    for reason in ("fuzzy", "untranslated", "plural", "obsolete"):
        assert rejects.counts[reason] == 1, reason


def test_a_directory_without_catalogues_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no \\*.po"):
        pairs_of(SourceConfig(name="po", path="empty", format="po"), tmp_path)


@pytest.mark.parametrize("suffix, pack", [(".xz", lzma.compress), (".gz", gzip.compress)])
def test_compressed_parallel_files_are_read_transparently(tmp_path, suffix, pack):
    (tmp_path / f"c.en{suffix}").write_bytes(pack(b"I like tea.\nGood night.\n"))
    (tmp_path / f"c.zh{suffix}").write_bytes(pack("我喜欢茶。\n晚安。\n".encode()))
    pairs, _ = pairs_of(SourceConfig(name="c", path="c", format="parallel"), tmp_path)
    assert [p.zh for p in pairs] == ["我喜欢茶。", "晚安。"]


def test_a_corrupt_compressed_file_is_a_clear_error(tmp_path):
    (tmp_path / "c.tsv.xz").write_bytes(b"not xz at all")
    with pytest.raises(DataError, match="cannot decompress"):
        pairs_of(SourceConfig(name="c", path="c.tsv.xz"), tmp_path)


def test_paragraphs_whose_sentence_counts_differ_stay_whole(tmp_path):
    (tmp_path / "p.tsv").write_text("One. Two. Three.\t一。二三。\n", encoding="utf-8")
    pairs, _ = pairs_of(SourceConfig(name="p", path="p.tsv", split_sentences=True), tmp_path)
    assert [(p.en, p.zh) for p in pairs] == [("One. Two. Three.", "一。二三。")]


def test_ui_strings_lose_accelerators_and_placeholder_pairs(tmp_path):
    (tmp_path / "ui.tsv").write_text(
        "_Open the file now\t打开文件(_O)\n%s files were deleted\t已删除 %s 个文件\n"
        "Hi\t嗨\n", encoding="utf-8")
    source = SourceConfig(name="ui", path="ui.tsv", ui_strings=True, min_words=2)
    pairs, rejects = pairs_of(source, tmp_path)
    assert [(p.en, p.zh) for p in pairs] == [("Open the file now", "打开文件")]
    assert rejects.counts["placeholder"] == 1 and rejects.counts["few_words"] == 1


@pytest.mark.parametrize("text, plain", [
    ("See :ref:`history-and-license` for *complete* terms.",
     "See history-and-license for complete terms."),
    (":func:`~os.path.join` and :meth:`split <str.split>`", "join and split"),
    ("Read `the guide <https://x.org>`_ now::", "Read the guide now:"),
    ("**Note:** see [the book](https://a.b) and `code`", "Note: see the book and code"),
    ("<b>Bold</b> &amp; <a href='x'>link</a>", "Bold & link"),
    ("snake_case_name and 2*3*4 stay", "snake_case_name and 2*3*4 stay"),
])
def test_inline_markup_is_removed_and_its_text_kept(text, plain):
    assert clean_markup(text) == plain


def test_accelerators_and_placeholders():
    assert strip_accelerators("_File") == "File"
    assert strip_accelerators("Tom & Jerry") == "Tom & Jerry"
    assert strip_accelerators("race+female^Dwarf") == "Dwarf"
    assert [has_placeholder(t) for t in ("%s", "%1", "{name}", "$HOME", "%(n)d")] == [True] * 5
    assert not any(has_placeholder(t) for t in ("100%% done", "5% of users", "plain"))


def test_sentence_splitters():
    assert split_en("Dr. Smith paid $3.50 in the U.S. yesterday. Then he left!") == [
        "Dr. Smith paid $3.50 in the U.S. yesterday.", "Then he left!"]
    assert split_en("No boundary here") == ["No boundary here"]
    assert split_zh("他说：“走吧。”然后离开了。好吗？") == [
        "他说：“走吧。”", "然后离开了。", "好吗？"]
    assert split_en("  ") == [] and split_zh("") == []


def test_an_unbalanced_quote_does_not_hold_sentences_together():
    # news text writes '"' for an apostrophe; sentencex alone returned the middle three
    # sentences as one, the last one's opening quote cut off onto it
    sentences = ['He was the bookmakers" favourite.', "The landscape has altered.",
                 "Pulis was reassured.", '"I have no wish to change," he said.']
    assert split_en(" ".join(sentences)) == sentences
    quoted = ['"Are you coming?" she asked.', "He nodded."]  # balanced: the quotation whole
    assert split_en(" ".join(quoted)) == quoted


def test_weighted_epoch_copies_and_subsamples_by_source():
    names = ["a", "b", "c"]
    index = np.array([0] * 1000 + [1] * 1000 + [2] * 10, dtype=np.uint16)
    picked = Counter(names[index[i]] for i in weighted_epoch(index, names, {"a": 2.0, "b": 0.3},
                                                             1, 0))
    assert picked["a"] == 2000 and picked["c"] == 10
    assert 230 < picked["b"] < 370
    first = weighted_epoch(index, names, {"b": 0.3}, 1, 0)
    assert (weighted_epoch(index, names, {"b": 0.3}, 1, 0) == first).all()
    assert not np.array_equal(weighted_epoch(index, names, {"b": 0.3}, 1, 1), first)


def test_epoch_batches_follow_the_weights_and_ignore_them_when_all_one():
    data = ParallelData([[5] * 3] * 6, [[6] * 2] * 6, [""] * 6, [""] * 6,
                        ["a", "a", "a", "b", "b", "b"])

    def lists(batches):
        return [b.tolist() for b in batches]

    plain = sorted(i for b in epoch_batches(data, 64, 1, 0) for i in b)
    assert plain == list(range(6))
    assert lists(epoch_batches(data, 64, 1, 0, weights={"a": 1.0})) == lists(
        epoch_batches(data, 64, 1, 0))
    doubled = sorted(i for b in epoch_batches(data, 64, 1, 0, weights={"a": 2, "b": 0})
                     for i in b)
    assert doubled == [0, 0, 1, 1, 2, 2]


def test_synthetic_sources_get_a_tag_in_front_of_their_source(tmp_path):
    from helpers import synthetic_sentences

    from hanyi.config import TokenizerConfig
    from hanyi.data.dataset import load_split
    from hanyi.data.prepare import prepare
    from hanyi.tokenization import Vocab

    en, zh = synthetic_sentences(200, seed=2)
    for name, (e, z) in (("real", (en[:100], zh[:100])), ("bt", (en[100:], zh[100:]))):
        (tmp_path / f"{name}.en").write_text("\n".join(e) + "\n", encoding="utf-8")
        (tmp_path / f"{name}.zh").write_text("\n".join(z) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    prepare(DataConfig(root=str(tmp_path), dir=str(out), dev_size=5, test_size=5,
                       held_out_near_duplicates="keep",
                       sources=[SourceConfig(name="real", path="real", format="parallel",
                                             role="pool"),
                                SourceConfig(name="bt", path="bt", format="parallel",
                                             synthetic=True)]),
            TokenizerConfig(src_vocab_size=40, tgt_vocab_size=40))
    src_vocab, tgt_vocab = Vocab.from_file(out / "src.model"), Vocab.from_file(out / "tgt.model")
    plain = load_split(out, "train", src_vocab, tgt_vocab, 64)
    tagged = load_split(out, "train", src_vocab, tgt_vocab, 64, synthetic=frozenset({"bt"}))
    for ids, tagged_ids, name in zip(plain.src, tagged.src, plain.sources, strict=True):
        assert tagged_ids == ([src_vocab.bos_id] + ids if name == "bt" else ids)
    assert {"bt", "real"} == set(plain.sources)


CEDICT = """# CC-CEDICT-like fixture (made up for this test)
七大姑八大姨 七大姑八大姨 [qi1 da4 gu1 ba1 da4 yi2] /distant relatives/
旗子 旗子 [qi2 zi5] /flag/banner/CL:面[mian4]/
呤 呤 [ling2] /purine (chemistry)/to whisper/third sense/
亞歐 亚欧 [Ya4 Ou1] /see 歐亞|欧亚[Ou1 Ya4]/
not a dictionary line
"""


def test_cedict_glosses_become_short_pairs(tmp_path):
    (tmp_path / "cedict.txt").write_text(CEDICT, encoding="utf-8")
    pairs, _ = pairs_of(SourceConfig(name="d", path="cedict.txt", format="cedict"), tmp_path)
    assert [(p.en, p.zh) for p in pairs] == [
        ("distant relatives", "七大姑八大姨"), ("flag", "旗子"), ("banner", "旗子"),
        ("purine", "呤"), ("to whisper", "呤")]  # at most two glosses; no CL:, no see …
    assert pairs[1].origin.endswith("cedict.txt:3")


def test_pkg_paths_point_into_installed_packages(tmp_path):
    with pytest.raises(DataError, match="not installed"):
        pairs_of(SourceConfig(name="d", path="pkg:no_such_package_here/x.txt",
                              format="cedict"), tmp_path)


def test_generated_data_is_found_through_environment_variables(tmp_path, monkeypatch):
    folder = tmp_path / "bt"
    folder.mkdir()
    (folder / "wiki.en").write_text("The river is long.\n", encoding="utf-8")
    (folder / "wiki.zh").write_text("这条河很长。\n", encoding="utf-8")
    source = SourceConfig(name="bt", path="$HANYI_BT/wiki", format="parallel", synthetic=True)
    monkeypatch.delenv("HANYI_BT", raising=False)
    with pytest.raises(DataError, match="environment variable HANYI_BT is not set"):
        pairs_of(source, tmp_path / "elsewhere")
    monkeypatch.setenv("HANYI_BT", str(folder))
    pairs, _ = pairs_of(source, tmp_path / "elsewhere")  # an absolute path ignores the root
    assert [p.zh for p in pairs] == ["这条河很长。"]
    monkeypatch.chdir(tmp_path)  # a relative value: from the working directory, not the root
    monkeypatch.setenv("HANYI_BT", "bt")
    pairs, _ = pairs_of(source, tmp_path / "elsewhere")
    assert [p.zh for p in pairs] == ["这条河很长。"]


def test_pairs_whose_english_side_is_not_english_are_dropped(tmp_path):
    """A back-translation the reverse model passed through (Chinese on the English side)."""
    (tmp_path / "c.en").write_text("I like tea.\n我喜欢咖啡。\n", encoding="utf-8")
    (tmp_path / "c.zh").write_text("我喜欢茶。\n我喜欢咖啡。\n", encoding="utf-8")
    pairs, rejects = pairs_of(SourceConfig(name="c", path="c", format="parallel"), tmp_path)
    assert [p.en for p in pairs] == ["I like tea."] and rejects.counts["not_english"] == 1


def test_slot_pairs_replace_a_word_and_its_translation_by_one_number():
    import random

    from hanyi.data.corpus import Pair
    from hanyi.data.slots import FIRST_SLOT, LAST_SLOT, lexicon_index, slot_pairs, slotted

    lexicon = ["政府 政府 [zheng4 fu3] /government/",
               "經濟 经济 [jing1 ji4] /economy/economic/",
               "貓 猫 [mao1] /cat/"]  # one character: never used
    index = lexicon_index(lexicon)
    assert index == {"government": ["政府"], "economy": ["经济"], "economic": ["经济"]}
    pair = Pair("The government helps the economy in 2024.", "政府在2024年帮助经济。", "f:1")
    for seed in range(6):
        made = slotted(pair, index, random.Random(seed))
        slots = [n for n in re.findall(r"\d+", made.en) if FIRST_SLOT <= int(n) <= LAST_SLOT]
        assert len(slots) == 1 and made.zh.count(slots[0]) == 1 and made.source == "slots"
        replaced = {"government": "政府", "economy": "经济"}
        assert [w for w in replaced if w not in made.en] == [
            w for w, zh in replaced.items() if zh not in made.zh]  # the word with its translation
        assert "2024" in made.en and "2024" in made.zh
    assert slotted(Pair("A cat.", "一只猫。", "f:2"), index, random.Random(0)) is None
    assert len(slot_pairs([pair] * 10, 0.5, index, seed=1)) == 5

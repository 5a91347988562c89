"""Inline markup placed by cross-attention (documents/align.py): marks out before the model,
back in where the attention says their words went. Hand-built attention, no model."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from hanyi.config import DecodeConfig, ModelConfig
from hanyi.decoding import Hypothesis
from hanyi.documents.align import (
    around,
    best_run,
    char_spans,
    end_mark,
    marked,
    place,
    start_mark,
    unmark,
    unmarked,
)
from hanyi.documents.formats import translate_document
from hanyi.inference.translator import Translator

S0, E0, S1, E1 = start_mark(0), end_mark(0), start_mark(1), end_mark(1)


def test_unmark_counts_characters_before_each_mark():
    m = unmark(f"Click {S0}here{E0} to con{S1}tin{E1}ue.")
    assert m.text == "Click here to continue."
    # where each stood: how many characters other than spaces come before it
    assert m.marks == [(S0, 5), (E0, 9), (S1, 14), (E1, 17)] and m.length == 20
    assert unmark("no marks").marks == []


def test_marks_and_slots_round_trip():
    elements = [("7301", "7302")]
    text = marked("Read 7301 this 7302 now 7303.", elements)
    assert text == f"Read {S0} this {E0} now 7303."
    back = unmarked(f"读{S0}这个{E0}现在7303。", elements, tight=True)
    assert back == "读 7301 这个 7302 现在7303。"
    back = unmarked(f"READ {S0}  THIS {E0} NOW", elements, tight=False)
    assert back == "READ 7301 THIS 7302 NOW"
    own = "keeps \ue123 a mark of its own"  # a private-use character of the user's
    assert unmarked(own, elements, True) == own


def test_best_run_is_the_largest_contiguous_sum():
    assert best_run([-0.4, 0.3, 0.2, -0.1, 0.4, -0.5]) == (1, 5)
    assert best_run([-0.5, -0.1, -0.3]) == (1, 2)  # all negative: the best single item


def test_char_spans_skip_the_spaces_detokenising_removed():
    assert char_spans(["▁点击", "这里", "▁", "继续", "。"], "点击这里继续。") == [
        range(0, 2), range(2, 4), range(4, 4), range(4, 6), range(6, 7)]
    assert char_spans(["▁New", "▁York"], "New York") == [range(0, 3), range(4, 8)]
    assert char_spans(["<unk>"], "⁇") is None  # cannot be matched: the caller widens


def attention_of(links: list[int], sources: int) -> torch.Tensor:
    """(1, 1, T, S): output piece t attends to source piece links[t] (90%) and evenly to
    the rest."""
    weights = torch.full((len(links), sources), 0.1 / (sources - 1))
    for t, s in enumerate(links):
        weights[t, s] = 0.9
    return weights[None, None]


SRC = ["▁Click", "▁here", "▁to", "▁continue", "."]  # 4 words
TGT = ["▁点击", "这里", "以", "继续", "。"]
TEXT = "点击这里以继续。"


def test_an_element_wraps_what_its_words_became():
    att = attention_of([0, 1, 2, 3, 4], len(SRC))
    m = unmark(f"Click {S0}here{E0} to continue.")
    assert place(TEXT, m, SRC, TGT, att) == f"点击{S0}这里{E0}以继续。"
    m = unmark(f"{S0}Click here{E0} to {S1}continue{E1}.")
    assert place(TEXT, m, SRC, TGT, att) == f"{S0}点击这里{E0}以{S1}继续{E1}。"


def test_punctuation_at_the_edges_stays_outside():
    tgt, text = ["▁点击", "，", "这里", "以", "继续", "。"], "点击，这里以继续。"
    att = attention_of([0, 1, 1, 2, 3, 4], len(SRC))  # the comma attends to "here" too
    m = unmark(f"Click {S0}here{E0} to continue.")
    assert place(text, m, SRC, tgt, att) == f"点击，{S0}这里{E0}以继续。"
    m = unmark(f"Click here to {S0}continue.{E0}")  # punctuation inside the element
    assert place(text, m, SRC, tgt, attention_of([0, 1, 1, 2, 3, 4], len(SRC))) == \
        f"点击，这里以{S0}继续。{E0}"


def test_placement_follows_attention_not_position():
    att = attention_of([3, 2, 1, 0, 4], len(SRC))  # "continue" became the first piece
    m = unmark(f"Click here to {S0}continue{E0}.")
    assert place(TEXT, m, SRC, TGT, att) == f"{S0}点击{E0}这里以继续。"


def test_nested_empty_and_unpaired_elements():
    att = attention_of([0, 1, 2, 3, 4], len(SRC))
    nested = unmark(f"{S0}Click {S1}here{E1}{E0} to continue.")  # both end at one place
    assert place(TEXT, nested, SRC, TGT, att) == f"{S0}点击{S1}这里{E1}{E0}以继续。"
    empty = unmark(f"Click here{S0}{E0} to continue.")  # after what "here" became
    assert place(TEXT, empty, SRC, TGT, att) == f"点击这里{S0}{E0}以继续。"
    opened = unmark(f"Click here to {S0}continue.")  # its end is in the next sentence
    assert place(TEXT, opened, SRC, TGT, att) == f"点击这里以{S0}继续。"


def test_nothing_to_align_with_widens_never_drops():
    m = unmark(f"Click {S0}here{E0} to continue.")
    assert place(TEXT, m, SRC, TGT, None) == f"{S0}{TEXT}{E0}"
    assert place("别的文字", m, SRC, TGT, attention_of([0] * 5, 5)) == f"{S0}别的文字{E0}"
    # source pieces that are not the text's characters (normalising changed them)
    assert place(TEXT, m, SRC[:3], TGT, attention_of([0] * 5, 3)) == f"{S0}{TEXT}{E0}"
    assert around("", m) == S0 + E0


class WordVocab:
    """Word-level pieces ("▁Word"), made up as they come; the output side upper-cased."""

    def __init__(self):
        self.words: list[str] = []

    def encode(self, text: str) -> list[int]:
        return [self._id("▁" + w) for w in text.split()]

    def _id(self, piece: str) -> int:
        if piece not in self.words:
            self.words.append(piece)
        return self.words.index(piece)

    def pieces(self, ids: list[int]) -> list[str]:
        return [self.words[i] for i in ids]


class ReversingEngine:
    """Translates by writing the source words upper-cased in reverse order; each output
    word attends to the source word it came from (every layer and head alike)."""

    name, returns_attention, aligns = "reversing", True, True

    def __init__(self, vocab: WordVocab):
        self.vocab, self.seen, self.asked = vocab, [], []

    def search(self, batch, cfg, need_attention=False, cancel=None):
        self.asked.append((len(batch), need_attention))
        out = []
        for ids in batch:
            self.seen.append(" ".join(p[1:] for p in self.vocab.pieces(ids)))
            words = [self.vocab._id(self.vocab.words[i].upper()) for i in reversed(ids)]
            links = list(range(len(ids) - 1, -1, -1)) + [len(ids) - 1]  # EOS: anywhere
            att = attention_of(links, len(ids)).permute(2, 0, 1, 3).expand(-1, 2, 3, -1)
            out.append([Hypothesis(words, -1.0, -1.0, att if need_attention else None)])
        return out


def reversing_translator() -> tuple[Translator, ReversingEngine]:
    vocab = WordVocab()
    loaded = SimpleNamespace(model=None, src_vocab=vocab, tgt_vocab=vocab, path=None, meta={},
                             config=SimpleNamespace(decode=DecodeConfig(beam_size=1),
                                                    model=ModelConfig(), direction="en-zh"))
    engine = ReversingEngine(vocab)
    translator = Translator(loaded, engine=engine)
    translator.detokenize = lambda ids: " ".join(p[1:] for p in vocab.pieces(ids))
    return translator, engine


@pytest.mark.parametrize("fmt, doc, expected", [
    ("markdown", "Read **the manual** now\n", "NOW **MANUAL THE** READ\n"),
    ("markdown", "See [the docs](https://x.org/a) please\n",
     "PLEASE [DOCS THE](https://x.org/a) SEE\n"),
    ("html", "<p>Read <b>the manual</b> now</p>", "<p>NOW <b>MANUAL THE</b> READ</p>"),
])
def test_documents_place_inline_markup_by_attention(fmt, doc, expected):
    """Through the whole chain (document, blocks, sentences, Translator, engine): the model
    sees no markup, and the markup goes where its words went."""
    translator, engine = reversing_translator()
    translator.target_language = "en"  # the fake writes spaced words
    out, _ = translate_document(translator, doc, fmt)
    assert out == expected
    assert not any(ch.isdigit() or "\ue000" <= ch <= "\uf8ff" for s in engine.seen for ch in s)
    slots, _ = translate_document(translator, doc, fmt, inline="slots")
    assert any("7301" in s for s in engine.seen)  # the other way sends slot numbers


def test_marked_sentences_share_the_batches_of_the_others():
    """One Translator call for a document: the sentence whose markup is placed asks for
    attention, the others ride in the same batch and get none (nor does a document
    without inline markup ask for any)."""
    translator, engine = reversing_translator()
    translator.target_language = "en"
    out, _ = translate_document(translator, "Read **the manual** now. Then rest.\n\nGood night.\n",
                                "markdown")
    assert out == "NOW. **MANUAL THE** READ REST. THEN\n\nNIGHT. GOOD\n"
    assert engine.asked == [(3, True)]
    engine.asked.clear()
    translate_document(translator, "Then rest.\n\nGood night.\n", "markdown")
    assert engine.asked == [(2, False)]


def test_attention_flags_per_text():
    """``need_attention`` as one flag per text: only the texts that ask get weights and
    bypass the cache; the others are cached as usual."""
    translator, engine = reversing_translator()
    translator.enable_cache(10)
    first = translator.translate(["a b", "c d"], need_attention=[True, False])
    assert first[0].attention is not None and first[1].attention is None
    assert engine.asked == [(2, True)]
    again = translator.translate(["a b", "c d"], need_attention=[True, False])
    assert engine.asked[-1] == (1, True) and again[1].text == first[1].text  # "c d": cached
    assert torch.equal(again[0].attention, first[0].attention)
    with pytest.raises(ValueError, match="1 flags for 2 texts"):
        translator.translate(["a b", "c d"], need_attention=[True])

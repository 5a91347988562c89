"""Sentence splitting for English (sentencex) and Chinese (end punctuation).

English uses sentencex (Wikimedia's rule-based splitter), which knows abbreviations ("Dr.",
"e.g.", "U.S."), decimals, quotations and URLs. bench/sentence_split.py compared it with
pysbd and blingfire on 300 paragraphs of consecutive news and FLORES sentences and on 20
hand-written hard cases (docs/RESULTS.md): the three split about equally well (70-71% of
paragraphs exactly right, boundary F1 0.91-0.92; 19 of 20 hard cases), sentencex ~100x
faster than pysbd and without blingfire's mid-quotation split ('"Are you coming?" | she
asked.'), at 1 MB instead of blingfire's 42 MB. A text without a possible boundary — a
'.', '!' or '?' followed by a space — is returned whole without calling it.

A text with an odd number of '"' is split with them hidden from sentencex: it takes a
'"' as the start of a quotation and holds everything up to the next one as one sentence,
and news text writes '"' for an apostrophe ('the bookmakers" favourite'): three sentences
of a newsdev2017 paragraph came back as one of 109 words, which the model translates badly
and slowly. (With an even number it keeps a quotation whole: '"Are you coming?" she asked.')

Chinese ends a sentence with 。！？ (or …… / ！？ runs), possibly followed by closing
quotes or brackets, which stay with the sentence they close.
"""

from __future__ import annotations

import re

_MAYBE_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s")
_HIDDEN_QUOTE = "\u02ba"  # ʺ, a letter to sentencex, one character as the '"' it hides
_ZH_SENTENCE = re.compile(r".*?(?:[。！？]+|…{2,}|$)[”’」』）》]*", re.S)


def split_en(text: str) -> list[str]:
    """English sentences of ``text``, each stripped; ``[]`` for blank text."""
    import sentencex  # imported here: the CLI's --help stays fast

    text = text.strip()
    if not text:
        return []
    if not _MAYBE_BOUNDARY.search(text):
        return [text]
    hide = text.count('"') % 2 == 1 and _HIDDEN_QUOTE not in text  # see the docstring
    if hide:
        text = text.replace('"', _HIDDEN_QUOTE)
    sentences = [s.strip() for s in sentencex.segment("en", text) if s.strip()]
    return [s.replace(_HIDDEN_QUOTE, '"') for s in sentences] if hide else sentences


def split_zh(text: str) -> list[str]:
    """Chinese sentences of ``text``, each stripped; ``[]`` for blank text."""
    return [s.strip() for s in _ZH_SENTENCE.findall(text.strip()) if s.strip()]

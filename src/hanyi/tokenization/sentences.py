"""Sentence splitting for English (pysbd) and Chinese (end punctuation).

English uses pysbd, a rule-based splitter that knows abbreviations ("Dr.", "e.g.",
"U.S."), decimals and quotations. It is slow (about a millisecond a paragraph), so a
text without a possible boundary — a '.', '!' or '?' followed by a space — is returned
whole without calling it.

Chinese ends a sentence with 。！？ (or …… / ！？ runs), possibly followed by closing
quotes or brackets, which stay with the sentence they close.
"""

from __future__ import annotations

import functools
import re

_MAYBE_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s")
_ZH_SENTENCE = re.compile(r".*?(?:[。！？]+|…{2,}|$)[”’」』）》]*", re.S)


@functools.lru_cache(maxsize=1)
def _segmenter():
    import pysbd  # imported lazily: loading its rules takes a moment

    return pysbd.Segmenter(language="en", clean=False)


def split_en(text: str) -> list[str]:
    """English sentences of ``text``, each stripped; ``[]`` for blank text."""
    text = text.strip()
    if not text:
        return []
    if not _MAYBE_BOUNDARY.search(text):
        return [text]
    return [s.strip() for s in _segmenter().segment(text) if s.strip()]


def split_zh(text: str) -> list[str]:
    """Chinese sentences of ``text``, each stripped; ``[]`` for blank text."""
    return [s.strip() for s in _ZH_SENTENCE.findall(text.strip()) if s.strip()]

"""Which writing system a text is in: a cheap, dependency-free guard against translating
text that is not in the model's source language.

A model trained on English input "translates" Chinese, Russian or Korean input into fluent
garbage. Telling English from French needs a language model; telling Latin letters from Han
characters, Cyrillic or Hangul needs only Unicode: ``unicodedata.name`` starts with the
script ("CJK UNIFIED IDEOGRAPH-4F60", "CYRILLIC SMALL LETTER A"). We count the *letters*
(digits, punctuation and spaces say nothing), weighted, and call the script that has most.
Measured on 200 lines of English, Chinese and mixed text in bench/script_detect.py
(docs/RESULTS.md).
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter

# script of a letter, from the first word of its Unicode name
SCRIPT_OF_NAME = {"LATIN": "latin", "CJK": "han", "HIRAGANA": "kana", "KATAKANA": "kana",
                  "HANGUL": "hangul", "CYRILLIC": "cyrillic", "GREEK": "greek",
                  "ARABIC": "arabic", "HEBREW": "hebrew", "THAI": "thai",
                  "DEVANAGARI": "devanagari", "FULLWIDTH": "latin"}
# A Chinese character carries about a word, an English word has ~5 letters: count the
# characters of the scripts without spaces between words 3 times, so that "我昨天在
# Starbucks 见了他。" is Chinese and "I met 李明 in Beijing." English.
WEIGHT = {"han": 3, "kana": 3, "hangul": 2, "thai": 2}
# the script each model language is written in
LANGUAGE_SCRIPT = {"en": "latin", "zh": "han"}


@functools.lru_cache(maxsize=1 << 16)
def _script(ch: str) -> str:
    return SCRIPT_OF_NAME.get(unicodedata.name(ch, "").split(" ", 1)[0], "other")


def letter_scripts(text: str) -> Counter:
    if text.isascii():  # the common case, and every ASCII letter is Latin
        letters = sum(map(str.isalpha, text))
        return Counter({"latin": letters}) if letters else Counter()
    counts: Counter = Counter()
    for ch in text:
        if ch.isalpha():
            script = _script(ch)
            counts[script] += WEIGHT.get(script, 1)
    return counts


def main_script(text: str) -> str | None:
    """The script of most of the letters ("latin", "han", "kana", "hangul", "cyrillic",
    ...), or None for a text without letters (numbers, punctuation, emoji)."""
    if text.isascii():  # the common case, without counting: every ASCII letter is Latin
        return "latin" if any(map(str.isalpha, text)) else None
    counts = letter_scripts(text)
    if not counts:
        return None
    if counts["kana"]:  # Japanese mixes kana with kanji (Han); any kana means Japanese
        return "kana"
    return counts.most_common(1)[0][0]


# Text that is mostly not letters — binary data decoded with replacement characters, a
# base64 blob, a row of numbers — is not language either: a model "translates" it into
# noise, slowly. Measured: lines of random bytes decoded with errors=replace have 25% letters
# (at most 44%); the least wordy line of newsdev2017 has 44%, the next 75%.
MIN_LETTERS = 0.4
MIN_LENGTH = 16  # shorter texts ("3 + 4 = 7", "Q3 2024") are let through whatever they hold
_ASCII_LETTERS = bytes(c for c in range(128) if chr(c).isalpha())


def is_in_language(text: str, language: str) -> bool:
    """False when ``text`` has letters and most of them are not in ``language``'s script (a
    Chinese name in an English sentence is fine), or when a text of 16 or more visible
    characters is less than 40% letters (binary data, number tables)."""
    visible = "".join(text.split())
    if visible.isascii():  # the common case: count the letters in C, and they are Latin
        letters = len(visible) - len(visible.encode("ascii").translate(None, _ASCII_LETTERS))
        script = "latin" if letters else None
    else:
        letters = sum(map(str.isalpha, visible))
        script = main_script(text)
    if len(visible) >= MIN_LENGTH and letters < MIN_LETTERS * len(visible):
        return False
    return script is None or script == LANGUAGE_SCRIPT[language]

"""Numbers written in digits must survive translation.

A small model trained on short sentences sometimes drops or rewrites a number: "I have
3 brothers and 2 sisters." -> 我3个兄弟姐妹。 or "born in 1990" -> 19世纪90年代 ("the
1890s"), although a hypothesis a little further down its beam keeps the digits
(我有3个兄弟和2姐妹。, 她生于1990年。). So when the best translation loses a digit string
of the source, the translator decodes that sentence again with a wider beam and keeps the
best-scoring hypothesis that has every one of them, among that beam's best few (as many as
the first pass's beam; ``decode.keep_numbers_beam``; after beam search only: greedy
search, ``--beam 1``, is never widened behind the user's back). (The first pass's own
other hypotheses are no use: on 1,000 news sentences none of the 143 that lost a number
had it in another of its beam of 4.) If none does, the original translation stands: this
only ever chooses among the model's own hypotheses, it never writes digits into the output
itself.

Slot numbers (7301-7399, data/slots.py) are not numbers of the text: they stand for
markup, a URL or a glossary term, and the layer that put them in checks them and has its
own fallback (documents/markup.py, documents/protect.py). A wide beam spent on them would
decode such a sentence a third time, so they are left out here.
"""

from __future__ import annotations

import re
from collections import Counter

from hanyi.data.slots import is_slot

# A number: digits with decimal or thousands separators, and a minus sign that belongs to
# it ("-5 degrees", "−3.5"), not the dash of a range or a name ("3-5", "COVID-19").
DIGITS = re.compile(r"((?<![A-Za-z0-9])-)?(\d+(?:[.,]\d+)*)")
# Chinese writes a negative number with a word: 零下5度 ("below zero"), 负5 ("negative").
MINUS_WORDS = re.compile(r"(?:零下|负)(?=\d)")
MINUS_SIGNS = str.maketrans({"\u2212": "-", "\uff0d": "-", "\u2013": "-"})


def digit_strings(text: str) -> Counter:
    """The numbers written in digits, signs kept, thousands separators dropped:
    "-5 and 1,000 and 3.5" -> {"-5": 1, "1000": 1, "3.5": 1}; 零下5度 -> {"-5": 1}."""
    text = MINUS_WORDS.sub("-", text.translate(MINUS_SIGNS))
    found = Counter()
    for match in DIGITS.finditer(text):
        number = re.sub(r",(?=\d{3}\b)", "", match.group(2))
        found[(match.group(1) or "") + number] += 1
    return found


def keeps_numbers(source: str, translation: str) -> bool:
    """Every digit string of ``source`` occurs (as often) in ``translation`` (slot numbers
    aside: see the module docstring)."""
    needed = Counter({n: k for n, k in digit_strings(source).items() if not is_slot(n)})
    if not needed:
        return True
    return not needed - digit_strings(translation)


def first_keeping_numbers(source: str, candidates: list[str]) -> int | None:
    """Index of the first (best-ranked) candidate that keeps the source's numbers."""
    for index, text in enumerate(candidates):
        if keeps_numbers(source, text):
            return index
    return None

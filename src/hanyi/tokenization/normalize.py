"""Text normalisation for both sides, applied identically in `prepare` and at inference.

English: Unicode NFKC (full-width letters -> ASCII, ligatures split), typographic quotes
to ASCII, whitespace collapsed.

Chinese: Traditional -> Simplified with OpenCC ``t2s``; full-width letters and digits to
ASCII; ASCII punctuation that touches Chinese text to its full-width form (``好.`` ->
``好。``, ``吗?`` -> ``吗？``) so the model learns one convention and emits ，。？！; no
spaces between Chinese characters. We do *not* apply NFKC to Chinese, because NFKC would
turn the full-width punctuation we want to keep into ASCII.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'"})

# CJK ideographs, full-width punctuation and CJK symbols: characters between which a space
# carries no meaning in Chinese text.
_CJK = (
    "\u3000-\u303f"  # CJK symbols and punctuation (。、「」…)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # ideographs
    "\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"  # full-width punctuation
    "\u2014\u2026\u201c\u201d\u2018\u2019"  # — … “ ” ‘ ’
)
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")
_SPACE_AROUND_CJK_PUNCT = re.compile(r"\s*([，。？！；：、）])\s*|\s*(（)\s*")

_FULLWIDTH_PUNCT = {",": "，", "!": "！", "?": "？", ";": "；", ":": "：", "(": "（", ")": "）"}
_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
# ASCII punctuation right after a Chinese character (or full-width punctuation) ...
_PUNCT_AFTER_HAN = re.compile(rf"(?<=[{_HAN}）」』”])\s*([,!?;:]+)")  # a run: "?!" too
# ... or an ASCII "(" before one, a ")" after one.
_PAREN_BEFORE_HAN = re.compile(rf"\(\s*(?=[{_HAN}])")
_PAREN_AFTER_HAN = re.compile(rf"(?<=[{_HAN}])\s*\)")
# A full stop after a Chinese character, not part of a number or an ellipsis.
_PERIOD_AFTER_HAN = re.compile(rf"(?<=[{_HAN}）」』”])\s*\.(?![.\d])")
_FULLWIDTH_ALNUM = {c: c - 0xFEE0 for c in range(0xFF10, 0xFF5B) if chr(c).isalnum()}
_ANY_FULLWIDTH_ALNUM = re.compile("[" + "".join(map(chr, _FULLWIDTH_ALNUM)) + "]")
_ANY_ASCII_PUNCT = re.compile(r"[,!?;:.()]")  # what the four rules above can change


@functools.lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported lazily: building the converter reads its dictionaries

    return opencc.OpenCC("t2s")


def collapse_spaces(text: str) -> str:
    """Runs of whitespace to one space, none at either end. (``str.split`` and ``\\s``
    know the same whitespace; splitting is ~5x faster than ``re.sub`` + ``strip``.)"""
    return " ".join(text.split())


def normalize_en(text: str) -> str:
    """NFKC, ASCII quotes, single spaces, stripped."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():  # the typographic quotes are not ASCII: most text has none
        text = text.translate(_QUOTES)
    return collapse_spaces(text)


# Dashes and minus signs that Unicode does not decompose: "7–2", "1418–1450", "−5".
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212")


@functools.lru_cache(maxsize=4096)
def _folded(ch: str) -> str:
    """One character's plain form: a dash -> "-", a letter without its accents (NFKD, the
    combining marks dropped: "ã" -> "a", "Ö" -> "O"); "" if nothing is left."""
    if ch in _DASHES:
        return "-"
    return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))


def fold_char(ch: str, known: frozenset[str]) -> str:
    """A character that is not in ``known`` -> its plain form (:func:`_folded`) if every
    character of that is known, else the character itself. Vocab.encode uses it so that
    "São Paulo" reaches a model whose pieces lack "ã" as "Sao Paulo", not "S<unk>o Paulo"."""
    folded = _folded(ch)
    return folded if folded and known.issuperset(folded) else ch


def split_en_punctuation(text: str) -> str:
    """``"Hi, Tom!"`` -> ``"Hi , Tom !"``: for word-level English vocabularies (seed recipe)."""
    return collapse_spaces(re.sub(r"([^\w\s'])", r" \1 ", text))


# Where t2s can change a character: CJK radicals up to the unified ideographs,
# compatibility ideographs and forms, full-width forms, extensions B to G.
_CJK_RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
               (0x20000, 0x3134F))


@functools.lru_cache(maxsize=1)
def _traditional() -> frozenset[str]:
    """The characters t2s changes on their own (~5,100): one conversion of every candidate,
    one per line, so that no phrase of OpenCC's table spans two."""
    chars = [chr(c) for first, last in _CJK_RANGES for c in range(first, last + 1)]
    converted = _t2s().convert("\n".join(chars)).split("\n")
    return frozenset(c for c, s in zip(chars, converted, strict=True) if c != s)


def to_simplified(text: str) -> str:
    """OpenCC t2s, applied to a text that holds a character t2s changes on its own. A text
    without one is simplified already; converting it would only apply OpenCC's phrase
    table, which rewrites correct simplified text too (打坏 -> 打坯, 覆盖 -> 复盖: 39 of the
    shared data's 1.68M Chinese lines). The check costs a fraction of the conversion, and
    most text needs none."""
    if _traditional().isdisjoint(text):
        return text
    return _t2s().convert(text)


def normalize_zh(text: str) -> str:
    """Simplified script, full-width Chinese punctuation, no spaces between Chinese chars."""
    if _ANY_FULLWIDTH_ALNUM.search(text):  # a search is ~3x cheaper than the translate
        text = text.translate(_FULLWIDTH_ALNUM)
    text = to_simplified(collapse_spaces(text))  # U+3000 is whitespace to str.split
    if _ANY_ASCII_PUNCT.search(text):  # most Chinese text has none to convert
        text = _PUNCT_AFTER_HAN.sub(
            lambda m: "".join(_FULLWIDTH_PUNCT[c] for c in m.group(1)), text)
        text = _PERIOD_AFTER_HAN.sub("。", text)
        text = _PAREN_BEFORE_HAN.sub("（", text)
        text = _PAREN_AFTER_HAN.sub("）", text)
    # spaces are single by now, and the steps above add none: a text without any (most
    # Chinese) has nothing to detokenize
    return detokenize_zh(text) if " " in text else text


def detokenize_zh(text: str) -> str:
    """Remove spaces that mean nothing in Chinese: between Chinese characters and around
    full-width punctuation. Spaces between Latin words ("New York") are kept."""
    text = _SPACE_BETWEEN_CJK.sub("", text)
    text = _SPACE_AROUND_CJK_PUNCT.sub(lambda m: m.group(1) or m.group(2), text)
    return collapse_spaces(text)

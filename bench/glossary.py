"""Glossary and protected spans on real sentences (issue 15): does the required Chinese
come out, and where?

    python bench/glossary.py --model models/hanyi-en-zh [--data ../shared/data]

Takes the first 100 sentences of WMT newsdev2017 (English side) that contain one of 20
common news terms, translates them with a 20-term glossary (below, ours), and reports how
often the output holds the required Chinese for every term occurrence, and how often the
model kept the slot in place (the rest were appended at the end: documents/protect.py).
Also translates the same sentences without the glossary: how often the model's own
choice already was the glossary's. And how many outputs hold a number their source does
not (a garbled slot number, `那些30从来没来`, or a number made up): with the glossary and
without it (digits for a number the source spells out count too: compare models, do not
expect zero).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hanyi.documents import translate_texts  # noqa: E402
from hanyi.documents.protect import protect, restore  # noqa: E402
from hanyi.inference import Translator  # noqa: E402

GLOSSARY = {
    "government": "政府", "president": "总统", "company": "公司", "economy": "经济",
    "police": "警方", "market": "市场", "university": "大学", "hospital": "医院",
    "minister": "部长", "court": "法院", "report": "报告", "price": "价格",
    "school": "学校", "student": "学生", "village": "村庄", "team": "球队",
    "investment": "投资", "election": "选举", "museum": "博物馆", "airport": "机场",
}


def sentences_with_terms(data: Path, n: int) -> list[tuple[str, list[str]]]:
    picked = []
    for line in (data / "dev-general/newsdev2017/dev.en").read_text("utf-8").splitlines():
        terms = [t for t in GLOSSARY if re.search(rf"\b{t}(s|es)?\b", line, re.IGNORECASE)]
        if terms and len(line.split()) <= 40:
            picked.append((line, terms))
        if len(picked) == n:
            break
    return picked


def new_numbers(source: str, output: str) -> set[str]:
    """Digit runs of ``output`` that are not digit runs of ``source``."""
    return set(re.findall(r"\d+", output)) - set(re.findall(r"\d+", source))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "models" / "hanyi-en-zh"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--sentences", type=int, default=100)
    args = parser.parse_args()
    translator = Translator.load(args.model)
    cases = sentences_with_terms(Path(args.data), args.sentences)
    texts = [s for s, _ in cases]
    protected = [protect(s, glossary=GLOSSARY) for s in texts]  # what translate_texts does
    raw = translate_texts(translator, [p.text for p in protected])
    without = translate_texts(translator, texts)
    occurrences = correct = natural = slots = dropped = stray = stray_plain = 0
    for (source, terms), p, out, plain in zip(cases, protected, raw, without, strict=True):
        text, missing = restore(out.text, p.slots)
        slots, dropped = slots + len(p.slots), dropped + len(missing)
        stray += bool(new_numbers(source, text))
        stray_plain += bool(new_numbers(source, plain.text))
        for term in terms:
            occurrences += 1
            correct += GLOSSARY[term] in text
            natural += GLOSSARY[term] in plain.text
    print(f"{len(cases)} sentences, {occurrences} term occurrences ({slots} slots)")
    print(f"required Chinese present, with the glossary:    {correct}/{occurrences} "
          f"({100 * correct / occurrences:.0f}%)")
    print(f"required Chinese present, without the glossary: {natural}/{occurrences} "
          f"({100 * natural / occurrences:.0f}%)")
    print(f"slots the model kept in place: {slots - dropped}/{slots} "
          f"(the other {dropped} were appended at the end of their sentence)")
    print(f"outputs with a number their source does not have: {stray}/{len(cases)} with "
          f"the glossary, {stray_plain}/{len(cases)} without")


if __name__ == "__main__":
    main()

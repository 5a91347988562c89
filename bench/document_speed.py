"""Document mode vs one sentence per line (issue 15): is a document as fast as its sentences?

    python bench/document_speed.py --model models/hanyi-en-zh [--sentences 1000]

Takes N consecutive sentences of newsdev2017 and FLORES dev (English), and translates them
three times with the same Translator and decode settings: as a file of one sentence per
line; as a plain-text document of paragraphs (up to 5 sentences per line, a blank line
between paragraphs, a headline on a line of its own), which hanyi.documents splits into
sentences, batches and joins again; and as a Markdown document of the same sentences
(headlines as headings, paragraphs, bullet lists, bold words and links:
documents/markdown_doc.py; bold words and links are placed back by the model's attention,
documents/align.py — with ``--slots`` also a fourth time with them sent as slot numbers,
``--inline slots``, whose sentences are translated again without markup where the model
garbles a slot).
Reports sentences/s of each and the ratio to per-line speed (the target: document mode
>= 90%), best of ``--repeats`` rounds, the three interleaved in each round. Run it on a
quiet machine: it is a timing.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hanyi.documents import translate_texts  # noqa: E402
from hanyi.documents.formats import translate_document  # noqa: E402
from hanyi.inference import Translator  # noqa: E402

END = re.compile(r"[.!?…][\"'”’)\]]*$")  # a line that ends a sentence


def sentences(data: Path, n: int) -> list[str]:
    out = []
    for name in ("newsdev2017", "flores-dev"):
        text = (data / "dev-general" / name / "dev.en").read_text(encoding="utf-8")
        out += [line.strip() for line in text.splitlines() if line.strip()]
    return out[:n]


def groups(lines: list[str]) -> list[list[str]]:
    """The sentences in paragraphs of up to 5; a line without end punctuation (a news
    headline) is a block of its own, as in a real document — run into the next sentence it
    would make a sentence the per-line run never sees."""
    out: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if not END.search(line):
            out += [current, [line]] if current else [[line]]
            current = []
            continue
        current.append(line)
        if len(current) == 5:
            out.append(current)
            current = []
    return out + [current] if current else out


def markdown(lines: list[str]) -> str:
    """The sentences as a Markdown document: a headline is a heading; of the paragraphs of
    :func:`groups`, every 4th (offset 2) is a bullet list; the first two words of every 3rd
    sentence are bold, the last word of every 7th a link."""
    def inline(i: int, s: str) -> str:
        words = s.split()
        if i % 3 == 0 and len(words) > 3:
            words[:2] = ["**" + words[0], words[1] + "**"]
        if i % 7 == 0 and len(words) > 3:
            core = words[-1].rstrip(".,;:!?\"'")
            words[-1] = f"[{core}](https://example.com/{i}){words[-1][len(core):]}"
        return " ".join(words)

    blocks, i, paragraphs = [], 0, 0
    for group in groups(lines):
        marked = [inline(i + j, s) for j, s in enumerate(group)]
        i += len(group)
        if len(group) == 1 and not END.search(group[0]):  # a headline
            blocks.append("## " + marked[0])
            continue
        blocks.append("\n".join("- " + s for s in marked) if paragraphs % 4 == 2
                      else " ".join(marked))
        paragraphs += 1
    return "\n\n".join(blocks) + "\n"


def best_times(repeats: int, runs: dict) -> dict[str, float]:
    """The best time of each run, the runs interleaved (a, b, c, a, b, c, ...) so that a
    machine that speeds up or slows down during the benchmark touches them all alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "models" / "hanyi-en-zh"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--slots", action="store_true",
                        help="also time the Markdown document with --inline slots")
    args = parser.parse_args()
    translator = Translator.load(args.model, threads=args.threads)
    lines = sentences(Path(args.data), args.sentences)
    document = "\n\n".join(" ".join(group) for group in groups(lines))
    page = markdown(lines)
    runs = {"per_line": lambda: translate_texts(translator, lines),
            "document": lambda: translate_texts(translator, [document]),
            "markdown": lambda: translate_document(translator, page, "markdown")}
    if args.slots:
        runs["slots"] = lambda: translate_document(translator, page, "markdown", inline="slots")
    best = best_times(args.repeats, runs)
    per_line, as_document, as_markdown = best["per_line"], best["document"], best["markdown"]
    n = len(lines)
    print(f"{n} sentences, engine {translator.engine_name}, beam {translator.decode_cfg.beam_size}")
    print(f"one per line:      {n / per_line:7.1f} sentences/s ({per_line:.1f} s)")
    print(f"as one document:   {n / as_document:7.1f} sentences/s ({as_document:.1f} s), "
          f"{per_line / as_document:.1%} of per-line speed")
    print(f"as Markdown:       {n / as_markdown:7.1f} sentences/s ({as_markdown:.1f} s), "
          f"{per_line / as_markdown:.1%} of per-line speed")
    if "slots" in best:
        print(f"Markdown, slots:   {n / best['slots']:7.1f} sentences/s ({best['slots']:.1f} s), "
              f"{per_line / best['slots']:.1%} of per-line speed")


if __name__ == "__main__":
    main()

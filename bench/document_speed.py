"""Document mode vs one sentence per line (issue 15): is a document as fast as its sentences?

    python bench/document_speed.py --model models/hanyi-en-zh [--sentences 1000]

Takes N consecutive sentences of newsdev2017 and FLORES dev (English), and translates them
three times with the same Translator and decode settings: as a file of one sentence per
line; as a plain-text document of paragraphs (5 sentences per line, a blank line between
paragraphs), which hanyi.documents splits into sentences, batches and joins again; and as
a Markdown document of the same sentences (a heading, paragraphs, bullet lists, bold words
and links: documents/markdown_doc.py, whose inline markup travels as slots, sentence by
sentence, and whose sentences are translated again without markup where the model garbles
a slot). Reports sentences/s of each and the ratio to per-line speed (the target: document
mode >= 90%), best of ``--repeats`` rounds, the three interleaved in each round. Run it on a
quiet machine: it is a timing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hanyi.documents import translate_texts  # noqa: E402
from hanyi.documents.formats import translate_document  # noqa: E402
from hanyi.inference import Translator  # noqa: E402


def sentences(data: Path, n: int) -> list[str]:
    out = []
    for name in ("newsdev2017", "flores-dev"):
        text = (data / "dev-general" / name / "dev.en").read_text(encoding="utf-8")
        out += [line.strip() for line in text.splitlines() if line.strip()]
    return out[:n]


def markdown(lines: list[str]) -> str:
    """The sentences as a Markdown document: in each group of 5, the first is a heading
    (every 4th group), the sentences a bullet list (every 4th, offset 2), else a paragraph;
    the first two words of every 3rd sentence are bold, the last word of every 7th a link."""
    def inline(i: int, s: str) -> str:
        words = s.split()
        if i % 3 == 0 and len(words) > 3:
            words[:2] = ["**" + words[0], words[1] + "**"]
        if i % 7 == 0 and len(words) > 3:
            core = words[-1].rstrip(".,;:!?\"'")
            words[-1] = f"[{core}](https://example.com/{i}){words[-1][len(core):]}"
        return " ".join(words)

    blocks = []
    for k in range(0, len(lines), 5):
        group = [inline(k + j, s) for j, s in enumerate(lines[k:k + 5])]
        if (k // 5) % 4 == 0:
            blocks += ["## " + group[0], " ".join(group[1:])]
        elif (k // 5) % 4 == 2:
            blocks.append("\n".join("- " + s for s in group))
        else:
            blocks.append(" ".join(group))
    return "\n\n".join(b for b in blocks if b) + "\n"


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
    args = parser.parse_args()
    translator = Translator.load(args.model, threads=args.threads)
    lines = sentences(Path(args.data), args.sentences)
    paragraphs = [" ".join(lines[i:i + 5]) for i in range(0, len(lines), 5)]
    document = "\n\n".join(paragraphs)
    page = markdown(lines)
    best = best_times(args.repeats, {
        "per_line": lambda: translate_texts(translator, lines),
        "document": lambda: translate_texts(translator, [document]),
        "markdown": lambda: translate_document(translator, page, "markdown")})
    per_line, as_document, as_markdown = best["per_line"], best["document"], best["markdown"]
    n = len(lines)
    print(f"{n} sentences, engine {translator.engine_name}, beam {translator.decode_cfg.beam_size}")
    print(f"one per line:      {n / per_line:7.1f} sentences/s ({per_line:.1f} s)")
    print(f"as one document:   {n / as_document:7.1f} sentences/s ({as_document:.1f} s), "
          f"{per_line / as_document:.1%} of per-line speed")
    print(f"as Markdown:       {n / as_markdown:7.1f} sentences/s ({as_markdown:.1f} s), "
          f"{per_line / as_markdown:.1%} of per-line speed")


if __name__ == "__main__":
    main()

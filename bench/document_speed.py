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
>= 90%), best of ``--repeats`` rounds, the three interleaved in each round; also the same
ratio in CPU time (the process's, all threads), which a busy neighbour on a shared machine
disturbs less than wall time, and the median and range of the ratio within each round
(runs a minute apart). Run it on a quiet machine: it is a timing.
"""

from __future__ import annotations

import argparse
import re
import statistics
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


def timed_rounds(repeats: int, runs: dict) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Wall and CPU times (this process, all its threads) of every run in every round, the
    runs interleaved (a, b, c, a, b, c, ...) so that a machine that speeds up or slows down
    during the benchmark touches them all alike. CPU time is the steadier measure of the
    work on a shared machine: time the machine gives to others is not in it."""
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return wall, cpu


def round_ratios(times: dict[str, list[float]], name: str) -> list[float]:
    """Per-line time / ``name``'s time in each round: runs a minute apart see the same
    machine, where the best times of the whole benchmark may come from different moments
    (this shared 2-core machine's speed drifts by 20% within minutes)."""
    return sorted(a / b for a, b in zip(times["per_line"], times[name], strict=True))


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
    wall, cpu = timed_rounds(args.repeats, runs)
    best = {name: min(times) for name, times in wall.items()}
    n = len(lines)
    print(f"{n} sentences, engine {translator.engine_name}, beam {translator.decode_cfg.beam_size}")
    labels = {"per_line": "one per line", "document": "as one document",
              "markdown": "as Markdown", "slots": "Markdown, slots"}
    for name, seconds in best.items():
        line = f"{labels[name] + ':':18} {n / seconds:7.1f} sentences/s ({seconds:.1f} s"
        line += f", CPU {min(cpu[name]):.1f} s)"
        if name != "per_line":
            ratios = round_ratios(wall, name)
            line += (f", {best['per_line'] / seconds:.1%} of per-line speed"
                     f" (CPU time: {min(cpu['per_line']) / min(cpu[name]):.1%};"
                     f" per round: median {statistics.median(ratios):.1%},"
                     f" {ratios[0]:.1%}-{ratios[-1]:.1%})")
        print(line)


if __name__ == "__main__":
    main()

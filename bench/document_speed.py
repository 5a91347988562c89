"""Document mode vs one sentence per line (issue 15): is a document as fast as its sentences?

    python bench/document_speed.py --model models/hanyi-en-zh [--sentences 1000]

Takes N consecutive sentences of newsdev2017 and FLORES dev (English), and translates them
twice with the same Translator and decode settings: as a file of one sentence per line, and
as a document of paragraphs (5 sentences per line, a blank line between paragraphs), which
hanyi.documents splits into sentences, batches and joins again. Reports sentences/s of each
and their ratio (the target: document mode >= 90% of per-line speed), best of ``--repeats``.
Run it on a quiet machine: it is a timing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hanyi.documents import translate_texts  # noqa: E402
from hanyi.inference import Translator  # noqa: E402


def sentences(data: Path, n: int) -> list[str]:
    out = []
    for name in ("newsdev2017", "flores-dev"):
        text = (data / "dev-general" / name / "dev.en").read_text(encoding="utf-8")
        out += [line.strip() for line in text.splitlines() if line.strip()]
    return out[:n]


def best_of(repeats: int, fn) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
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
    per_line = best_of(args.repeats, lambda: translate_texts(translator, lines))
    as_document = best_of(args.repeats, lambda: translate_texts(translator, [document]))
    n = len(lines)
    print(f"{n} sentences, engine {translator.engine_name}, beam {translator.decode_cfg.beam_size}")
    print(f"one per line:    {n / per_line:7.1f} sentences/s ({per_line:.1f} s)")
    print(f"as one document: {n / as_document:7.1f} sentences/s ({as_document:.1f} s)")
    print(f"document / per-line speed: {per_line / as_document:.1%}")


if __name__ == "__main__":
    main()

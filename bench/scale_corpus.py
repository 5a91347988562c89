"""Synthetic parallel corpora of any size, with realistic lengths and unique pairs.

    python bench/scale_corpus.py 200k /tmp/corpus/synthetic [--xz]   # writes .en/.zh

Used by bench/data_scale.py. The base is every real pair (at most 270 English / 180
Chinese characters, so prepare's length filters keep nearly all of them) of 14 folders
of the shared data: captions, dialogue, HSK sentences, LibreOffice and GNOME help,
manuals, Markdown and Sphinx docs, Wesnoth, the Bible (half weight), Wikipedia, Firefox
UI strings. Tatoeba and en-cn are left out: dev and test are drawn from Tatoeba, and a
variant of a dev sentence in training would move that sentence out of dev.

Pair k draws a base pair (by weight) and takes the next unused variant of it: variant 0
is the pair itself; later ones put a numbered frame around both sides the same way
("In 1873, ..." / "1873年，…", "Step 12: ..." / "第12步：…", "... (page 88)" /
"…（第88页）", ...) or, for a short base, join it with another short pair. Each (base,
variant) pair gives a different text, so the pairs are unique by construction (counted
with 64-bit hashes to be sure). English length: mean ~14 words, median ~11, a tail past 60.
"""

from __future__ import annotations

import argparse
import lzma
import math
import time
from array import array
from pathlib import Path

import numpy as np

# (folder/prefix, format, sampling weight)
BASE_SOURCES = [
    ("3am-captions/train", "parallel", 1.0), ("3am-captions/val", "parallel", 1.0),
    ("3am-captions/test", "parallel", 1.0), ("aichallenger2017-valid/valid", "parallel", 1.0),
    ("en-cn/hsk.txt", "tsv", 1.0), ("hsk-graded/train", "parallel", 1.0),
    ("libreoffice-help/train", "parallel", 1.0), ("gnome-help/train", "parallel", 1.0),
    ("docs-html-debian/train", "parallel", 1.0), ("docs-md-rust-vue-react/train", "parallel", 1.0),
    ("docs-sphinx-po/train", "parallel", 1.0), ("wesnoth/train", "parallel", 1.0),
    ("bible-web-cuv/train", "parallel", 0.5), ("xquad/train", "parallel", 1.0),
    ("ui-mozilla/train", "parallel", 1.0),
]
MAX_EN_CHARS, MAX_ZH_CHARS = 270, 180  # prepare's defaults are 300 / 200; frames add a few
SHORT_WORDS = 8  # bases this short may be joined with another short pair
# Numbered frames: (English, Chinese, first number, how many numbers)
FRAMES = [
    ("In {n}, {s}", "{n}年，{z}", 1000, 1100),
    ("Step {n}: {s}", "第{n}步：{z}", 1, 999),
    ("{s} (page {n})", "{z}（第{n}页）", 1, 9999),
    ("Chapter {n}. {s}", "第{n}章。{z}", 1, 999),
    ("{n}. {s}", "{n}. {z}", 1, 9999),
    ("Note {n}: {s}", "注{n}：{z}", 1, 9999),
]
# the datasets prepare reads beside the synthetic corpus (data_scale.py's config)
OTHER_RECORDS = ["tatoeba-cmn/cmn.simplified.txt", "dev-general/flores-dev/dev.en",
                 "dev-general/newsdev2017/dev.en"]


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        path = Path(f"{path}.xz")
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def _read(root: Path, name: str, fmt: str) -> list[tuple[str, str]]:
    if fmt == "tsv":
        rows = [line.split("\t") for line in _lines(root / name)]
        return [(r[0], r[1]) for r in rows if len(r) >= 2]
    return list(zip(_lines(root / f"{name}.en"), _lines(root / f"{name}.zh"), strict=True))


def load_base(root: Path) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Distinct real pairs that fit the length limits, and their sampling weights."""
    pairs: dict[tuple[str, str], float] = {}
    for name, fmt, weight in BASE_SOURCES:
        for en, zh in _read(root, name, fmt):
            en, zh = " ".join(en.split()), zh.strip()
            if en and zh and len(en) <= MAX_EN_CHARS and len(zh) <= MAX_ZH_CHARS:
                pairs.setdefault((en, zh), weight)
    base = list(pairs)
    weights = np.array([pairs[p] for p in base])
    return base, weights / weights.sum()


def count_records(root: Path) -> int:
    """Records of the other datasets the benchmark's config makes prepare read."""
    return sum(len(_lines(root / name)) for name in OTHER_RECORDS)


def _lower_first(s: str) -> str:
    """"The cat ..." -> "the cat ..." inside a frame; "I", acronyms and names kept."""
    first = s.split(" ", 1)[0]
    if first[:1].isupper() and (first[1:].islower() or len(first) == 1) and first != "I":
        return s[0].lower() + s[1:]
    return s


class Variants:
    """Variant ``v`` of base pair ``i``: a different text for every (i, v)."""

    def __init__(self, base: list[tuple[str, str]], seed: int):
        self.base = base
        self.short = np.array([i for i, (en, _) in enumerate(base)
                               if len(en.split()) <= SHORT_WORDS], dtype=np.int64)
        rng = np.random.default_rng(seed)
        self.offset = rng.integers(0, 1 << 30, size=len(base))  # where numbering starts
        stride = 7919  # a prime: (offset + j * stride) % M is one-to-one for j < M
        self.stride = stride if len(self.short) % stride else stride + 2

    def make(self, i: int, v: int) -> tuple[str, str]:
        en, zh = self.base[i]
        if v == 0:
            return en, zh
        short = len(en.split()) <= SHORT_WORDS and len(self.short) > 1
        if short and v % 2 == 0:  # join with the j-th partner of this base
            j = v // 2 - 1
            other = self.short[(self.offset[i] + j * self.stride) % len(self.short)]
            en2, zh2 = self.base[other]
            return f"{en} {en2}", zh + zh2
        u = (v - 1) // 2 if short else v - 1  # the u-th numbered frame of this base
        frame_en, frame_zh, first, count = FRAMES[u % len(FRAMES)]
        n = first + (self.offset[i] + u // len(FRAMES)) % count
        s = _lower_first(en) if frame_en.startswith("In ") else en
        return frame_en.format(n=n, s=s), frame_zh.format(n=n, z=zh)


def _opener(path: Path, xz: bool):
    if xz:
        return lzma.open(f"{path}.xz", "wt", encoding="utf-8", preset=1)
    return open(path, "w", encoding="utf-8")


def build_corpus(n: int, prefix: Path, root: Path, xz: bool = False, seed: int = 1) -> dict:
    """Write ``n`` pairs to ``prefix.en`` / ``prefix.zh`` (``.xz`` added with ``xz``);
    return counts and English length statistics."""
    start = time.perf_counter()
    base, weights = load_base(root)
    variants = Variants(base, seed)
    used = np.zeros(len(base), dtype=np.int64)  # variants of each base taken so far
    rng = np.random.default_rng(seed + 1)
    hashes, words = array("q"), array("H")
    prefix.parent.mkdir(parents=True, exist_ok=True)
    en_path, zh_path = Path(f"{prefix}.en"), Path(f"{prefix}.zh")
    with _opener(en_path, xz) as en_out, _opener(zh_path, xz) as zh_out:
        for chunk_start in range(0, n, 100_000):
            chunk = rng.choice(len(base), size=min(100_000, n - chunk_start), p=weights)
            en_lines, zh_lines = [], []
            for i in chunk.tolist():
                en, zh = variants.make(i, int(used[i]))
                used[i] += 1
                en_lines.append(en + "\n")
                zh_lines.append(zh + "\n")
                hashes.append(hash((en, zh)))
                words.append(min(len(en.split()), 65535))
            en_out.writelines(en_lines)
            zh_out.writelines(zh_lines)
    lengths = np.frombuffer(words, dtype=np.uint16)
    written = [Path(f"{p}.xz") if xz else p for p in (en_path, zh_path)]
    return {"pairs": n, "unique": int(len(np.unique(np.frombuffer(hashes, dtype=np.int64)))),
            "base_pairs": len(base), "max_variants": int(used.max()),
            "words_mean": float(lengths.mean()), "words_p50": int(np.median(lengths)),
            "words_p95": int(np.percentile(lengths, 95)), "words_max": int(lengths.max()),
            "mb": sum(p.stat().st_size for p in written) / 2**20,
            "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", help="pairs, e.g. 200k or 2M")
    parser.add_argument("prefix", help="writes PREFIX.en and PREFIX.zh")
    parser.add_argument("--data-root",
                        default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--xz", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    scale = {"k": 1_000, "m": 1_000_000}.get(args.size[-1].lower(), 1)
    n = math.floor(float(args.size[:-1] if scale > 1 else args.size) * scale)
    print(build_corpus(n, Path(args.prefix), Path(args.data_root), args.xz, args.seed))


if __name__ == "__main__":
    main()

"""The lexicon fallback (inference/lexicon.py, issue 14): what it changes, set by set.

    python bench/lexicon_fallback.py [--model models/hanyi-en-zh] [--data ../shared/data]
        [--test data/large-bt2/test] [--max-count 2] [--words-only] [--show 5]

Translates FLORES dev, WMT newsdev2017 and (``--test``) a prepared test split with the
model's own decode settings twice — the fallback off (``decode.lexicon_fallback`` -1) and
at each ``--max-count`` — exactly as `hanyi translate` and `hanyi evaluate` do, and reports
BLEU (sacreBLEU, zh) and chrF over each whole set and over the sentences the fallback
touched, how many words it replaced, and a few examples. ``--words-only``: lower-case words
only, no names (``decode.lexicon_names`` -1). The model must carry its training
words' counts (``train-words.tsv.xz``, written by ``hanyi export --format release``). A
benchmark, never a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from hanyi.documents import translate_texts  # noqa: E402
from hanyi.inference import Translator  # noqa: E402
from hanyi.metrics import bleu, chrf  # noqa: E402


def held_out_sets(data: Path, test: Path | None) -> dict[str, tuple[list[str], list[str]]]:
    stems = {name: data / "dev-general" / name / "dev" for name in ("flores-dev", "newsdev2017")}
    if test is not None:
        stems[test.name] = test
    return {name: tuple(Path(f"{stem}.{lang}").read_text("utf-8").splitlines()
                        for lang in ("en", "zh")) for name, stem in stems.items()}


def scores(hyp: list[str], ref: list[str], rows: list[int]) -> str:
    h, r = [hyp[i] for i in rows], [ref[i] for i in rows]
    return f"BLEU {bleu(h, r).score:6.2f}  chrF {chrf(h, r).score:6.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(REPO / "models" / "hanyi-en-zh"))
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data"), type=Path)
    parser.add_argument("--test", type=Path, default=None,
                        help="a prepared split's stem too, e.g. data/large-bt2/test")
    parser.add_argument("--max-count", default="2", help="comma-separated settings to try")
    parser.add_argument("--words-only", action="store_true", help="no names")
    parser.add_argument("--show", type=int, default=5, help="examples printed per set")
    args = parser.parse_args()
    translator = Translator.load(args.model)
    lexicon = translator.lexicon
    if lexicon is None:
        sys.exit(f"{args.model} has no training-word counts (train-words.tsv.xz)")
    off = dataclasses.replace(translator.decode_cfg, lexicon_fallback=-1)
    for name, (en, zh) in held_out_sets(args.data, args.test).items():
        plain = [t.text for t in translate_texts(translator, en, off)]
        print(f"{name}: {len(en)} sentences; off: {scores(plain, zh, list(range(len(en))))}")
        for n in (int(x) for x in args.max_count.split(",")):
            cfg = dataclasses.replace(translator.decode_cfg, lexicon_fallback=n,
                                      **({"lexicon_names": -1} if args.words_only else {}))
            terms = [lexicon.terms(s, n, cfg.lexicon_names) for s in en]
            hit = [i for i, t in enumerate(terms) if t]
            out = [t.text for t in translate_texts(translator, en, cfg)]
            print(f"  N={n}: {len(hit)} sentences, {sum(map(len, terms))} words; "
                  f"all {scores(out, zh, list(range(len(en))))}")
            if hit:
                print(f"    touched, off  {scores(plain, zh, hit)}\n"
                      f"    touched, on   {scores(out, zh, hit)}")
            for i in hit[:args.show]:
                print(f"      {terms[i]}\n        {en[i]}\n        ref  {zh[i]}\n"
                      f"        off  {plain[i]}\n        on   {out[i]}")


if __name__ == "__main__":
    main()

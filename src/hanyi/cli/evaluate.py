"""`hanyi evaluate --src test.en --ref test.zh`: sacreBLEU (tok zh) and chrF, with signatures."""

from __future__ import annotations

import json
import sys

from hanyi.cli.common import add_model_args, load_translator, read_input
from hanyi.errors import InputError
from hanyi.runtime import setup_logging


def add_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score translations of a test set (BLEU, chrF)",
                       description="Translate --src and score it against --ref with "
                                   "sacreBLEU (BLEU with the zh tokenizer, and chrF).")
    p.add_argument("--src", required=True, help="English sentences, one per line")
    p.add_argument("--ref", required=True, help="reference Chinese, line-aligned with --src")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--hyp-out", help="also write the translations to this file")
    p.add_argument("--errors", choices=("strict", "replace"), default="strict",
                   help="invalid UTF-8 in --src/--ref: stop (strict) or replace")
    add_model_args(p)
    p.set_defaults(run=run)


def run(args) -> int:
    setup_logging(args.verbose)
    src, src_name = read_input(args.src, sys.stdin.buffer, args.errors)
    ref, ref_name = read_input(args.ref, sys.stdin.buffer, args.errors)
    if not src:
        raise InputError(f"{src_name} is empty: nothing to evaluate")
    if len(src) != len(ref):
        raise InputError(f"{src_name} has {len(src)} lines but {ref_name} has {len(ref)}")
    translator = load_translator(args)
    from hanyi.evaluation.evaluate import evaluate

    report = evaluate(translator, src, ref)
    if args.hyp_out:
        with open(args.hyp_out, "w", encoding="utf-8") as f:
            f.writelines(h + "\n" for h in report.hypotheses)
    result = {"model": str(translator.loaded.path), "beam": translator.decode_cfg.beam_size,
              **report.as_dict()}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"{report.bleu.detail}\n  {report.bleu.signature}")
        print(f"chrF = {report.chrf.score:.2f}\n  {report.chrf.signature}")
        print(f"{report.sentences} sentences in {report.seconds:.1f} s "
              f"({result['sentences_per_second']} sentences/s)")
    return 0

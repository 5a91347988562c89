"""`hanyi evaluate`: sacreBLEU (tok zh) and chrF, with signatures, on one test set
(``--src``/``--ref``) or on every ``eval_sets`` entry of a config, optionally per
English-length bucket (``--by-length``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hanyi.cli.common import add_model_args, load_translator, read_input
from hanyi.config import EvalSetConfig, ExperimentConfig, load_config
from hanyi.errors import ConfigError, InputError
from hanyi.files import atomic_write_text
from hanyi.runtime import setup_logging


def add_parser(sub) -> None:
    p = sub.add_parser(
        "evaluate", help="score translations of test sets (BLEU, chrF)",
        description="Translate --src and score it against --ref with sacreBLEU (BLEU with "
                    "the zh tokenizer, and chrF). Without --src/--ref, score every set in "
                    "the eval_sets list of --config (default: the model's own config).")
    p.add_argument("--src", help="English sentences, one per line")
    p.add_argument("--ref", help="reference Chinese, line-aligned with --src")
    p.add_argument("--config", help="experiment YAML whose eval_sets are scored")
    p.add_argument("--sets", help="comma-separated names: score only these eval_sets")
    p.add_argument("--by-length", action="store_true",
                   help="also score each English-length bucket (1-5, 6-8, 9-12, 13-20, 21+ "
                        "words)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--hyp-out", help="also write the translations to this file (with "
                                     "several sets: to this directory, one NAME.zh each)")
    p.add_argument("--errors", choices=("strict", "replace"), default="strict",
                   help="invalid UTF-8 in --src/--ref: stop (strict) or replace")
    p.add_argument("--calibrate", action="store_true",
                   help="instead of scoring: fit the confidence calibration on --src/--ref "
                        "(a dev set, never the test set) and save it in the model directory "
                        "as confidence.json")
    add_model_args(p)
    p.set_defaults(run=run)


def resolve(path: str, cfg: ExperimentConfig) -> str:
    return path.replace("{data.root}", cfg.data.root).replace("{data.dir}", cfg.data.dir)


def chosen_sets(args, cfg: ExperimentConfig, origin: str) -> list[EvalSetConfig]:
    sets = cfg.eval_sets
    if not sets:
        raise ConfigError(f"{origin} has no eval_sets: give --src and --ref, or a --config "
                          "with an eval_sets list")
    if args.sets:
        wanted = [n.strip() for n in args.sets.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in {s.name for s in sets}]
        if unknown:
            raise ConfigError(f"--sets: no eval set named {unknown[0]!r} in {origin}; "
                              f"choose from {', '.join(s.name for s in sets)}")
        sets = [s for s in sets if s.name in wanted]
    return [EvalSetConfig(s.name, resolve(s.src, cfg), resolve(s.ref, cfg)) for s in sets]


def read_pair(src_path: str, ref_path: str, errors: str) -> tuple[list[str], list[str]]:
    src, src_name = read_input(src_path, sys.stdin.buffer, errors)
    ref, ref_name = read_input(ref_path, sys.stdin.buffer, errors)
    if not src:
        raise InputError(f"{src_name} is empty: nothing to evaluate")
    if len(src) != len(ref):
        raise InputError(f"{src_name} has {len(src)} lines but {ref_name} has {len(ref)}")
    return src, ref


def run(args) -> int:
    setup_logging(args.verbose)
    if (args.src is None) != (args.ref is None):
        raise InputError("give both --src and --ref, or neither (to score eval_sets)")
    if args.src is not None and (args.config or args.sets):
        raise InputError("--config/--sets choose eval_sets: leave out --src/--ref with them")
    if args.calibrate:
        return run_calibration(args)
    if args.src is not None:
        tasks = [("", *read_pair(args.src, args.ref, args.errors))]
        translator = load_translator(args)
    else:
        translator = load_translator(args)
        cfg = load_config(args.config) if args.config else translator.loaded.config
        origin = args.config or f"{translator.loaded.path}/config.yaml"
        tasks = [(s.name, *read_pair(s.src, s.ref, args.errors))
                 for s in chosen_sets(args, cfg, origin)]
    from hanyi.evaluation.evaluate import evaluate

    results = {}
    for name, src, ref in tasks:
        report = evaluate(translator, src, ref, lengths=args.by_length)
        if args.hyp_out:
            write_hypotheses(args.hyp_out, name, report.hypotheses)
        results[name] = report
    decode = translator.decode_cfg
    fallback = decode.lexicon_fallback if translator.fallback_terms(decode) else None
    head = {"model": str(translator.loaded.path), "beam": decode.beam_size,
            "lexicon_fallback": fallback}  # None: off, or the model has no word counts
    if args.json:
        if list(results) == [""]:
            print(json.dumps({**head, **results[""].as_dict()}, ensure_ascii=False))
        else:
            sets = {n: r.as_dict() for n, r in results.items()}
            print(json.dumps({**head, "sets": sets}, ensure_ascii=False))
    else:
        print_reports(results)
        print(f"lexicon fallback: words seen at most {fallback} times, names at most "
              f"{decode.lexicon_names}" if fallback is not None
              else "lexicon fallback: off (-1, or no train-words.tsv.xz in the model)")
    return 0


def run_calibration(args) -> int:
    from hanyi.evaluation.calibration import calibrate, save_calibration

    if args.src is None:
        raise InputError("--calibrate needs --src and --ref: a dev set with references")
    src, ref = read_pair(args.src, args.ref, args.errors)
    translator = load_translator(args)
    translator.calibration = None  # fit on the raw log-probabilities
    fitted, table = calibrate(translator, src, ref, Path(args.src).name)
    path = save_calibration(translator.loaded.path, fitted)
    if args.json:
        print(json.dumps({"calibration": fitted.__dict__, "reliability": table,
                          "saved": str(path)}, ensure_ascii=False))
        return 0
    print(f"confidence = sigmoid({fitted.a:.3f} * mean token log-prob + {fitted.b:.3f}), "
          f"fitted on {fitted.sentences} sentences (good = chrF >= {fitted.good_chrf:g})")
    print(f"  {'confidence':>10} {'sentences':>9} {'mean':>6} {'good':>6}")
    for row in table:
        print(f"  {row['confidence']:>10} {row['sentences']:>9} {row['mean_confidence']:>6.3f}"
              f" {row['good']:>6.3f}")
    print(f"saved {path}")
    return 0


def write_hypotheses(target: str, name: str, hypotheses: list[str]) -> None:
    path = Path(target) / f"{name}.zh" if name else Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "".join(h + "\n" for h in hypotheses))


def print_reports(results: dict) -> None:
    for name, report in results.items():
        speed = report.sentences / max(report.seconds, 1e-9)
        print(f"== {name}" if name else "", end="\n" if name else "")
        print(f"{report.bleu.detail}\n  {report.bleu.signature}")
        print(f"chrF = {report.chrf.score:.2f}\n  {report.chrf.signature}")
        print(f"{report.sentences} sentences in {report.seconds:.1f} s "
              f"({speed:.2f} sentences/s)")
        if report.lengths:
            print(f"  {'EN words':>9} {'sentences':>9} {'BLEU':>6} {'chrF':>6}")
            for row in report.lengths:
                print(f"  {row['words']:>9} {row['sentences']:>9} {row['bleu']:>6.2f} "
                      f"{row['chrf']:>6.2f}")
    if len(results) > 1:
        print("\nset                   sentences   BLEU   chrF")
        for name, report in results.items():
            print(f"{name:<21} {report.sentences:>9} {report.bleu.score:>6.2f} "
                  f"{report.chrf.score:>6.2f}")

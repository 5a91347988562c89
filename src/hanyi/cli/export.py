"""`hanyi export [--format ctranslate2|release] [--model DIR] --out OUT`: a model for fast
CPU inference, or the shipped model's layout (float16 weights + their own CTranslate2
export, see hanyi/export/release.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hanyi.cli.common import read_input
from hanyi.errors import ConfigError
from hanyi.runtime import set_threads, setup_logging


def add_parser(sub) -> None:
    from hanyi.export import QUANTIZATIONS

    p = sub.add_parser("export", help="export a model to CTranslate2 (fast CPU inference)",
                       description="Convert a hanyi model directory into a CTranslate2 model "
                                   "directory that `hanyi translate/evaluate/serve --model OUT` "
                                   "run through ctranslate2.Translator.")
    p.add_argument("--model", default=None,
                   help="model directory (default: the shipped model, or $HANYI_MODEL)")
    p.add_argument("--format", choices=("ctranslate2", "release"), default="ctranslate2",
                   help="ctranslate2: a CTranslate2 model directory; release: a model "
                        "directory with float16 weights carrying its own CTranslate2 export "
                        "in OUT/ctranslate2 (the shipped model's layout)")
    p.add_argument("--quantization", choices=QUANTIZATIONS, default=None,
                   help="CTranslate2 weight type (default: auto for ctranslate2, int8 for "
                        "release); auto times the types this CPU supports on a sample and "
                        "keeps the fastest one whose output matches float32")
    p.add_argument("--sample", help="English sentences for auto's timing (default: 16 "
                                    "built-in everyday sentences)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for auto's timing (0 = CTranslate2's default)")
    p.add_argument("--out", required=True, help="output directory (replaced if it exists)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.set_defaults(run=run)


def run(args) -> int:
    setup_logging(args.verbose)
    from hanyi.checkpoint import load_model_dir
    from hanyi.export import export_ctranslate2, export_release, is_export_dir
    from hanyi.inference import default_model_path

    path = Path(args.model) if args.model else default_model_path()
    if is_export_dir(path):
        raise ConfigError(f"{path} is already a CTranslate2 export; give the PyTorch model "
                          f"directory it came from")
    if Path(args.out).resolve() == path.resolve():
        raise ConfigError("--out must differ from --model")
    if args.threads < 0:
        raise ConfigError("--threads must be >= 0")
    sample = read_input(args.sample, sys.stdin.buffer, "strict")[0] if args.sample else None
    set_threads(args.threads)
    loaded = load_model_dir(path, "cpu")
    release = args.format == "release"
    quantization = args.quantization or ("int8" if release else "auto")
    write = export_release if release else export_ctranslate2
    meta = write(loaded, args.out, quantization, sample, args.threads)
    print(json.dumps({"out": args.out, "format": args.format,
                      "quantization": meta["quantization"],
                      "auto": meta["auto"]}, indent=2, ensure_ascii=False))
    return 0

"""`hanyi prepare CONFIG`: build the data splits and SentencePiece models of a config."""

from __future__ import annotations

import json

from hanyi.cli.common import add_config_args, config_from_args
from hanyi.runtime import setup_logging


def add_parser(sub) -> None:
    p = sub.add_parser("prepare", help="clean, split and tokenize the data named in a config",
                       description="Read data.sources, normalise, filter, de-duplicate, draw "
                                   "dev/test sets that share no English with training, and "
                                   "train the SentencePiece models; writes data.dir.")
    add_config_args(p)
    p.set_defaults(run=run)


def run(args) -> int:
    setup_logging(args.verbose)
    cfg = config_from_args(args)
    from hanyi.data.prepare import prepare

    stats = prepare(cfg.data, cfg.tokenizer)
    summary = {"dir": cfg.data.dir, "splits": stats["splits"], "filters": stats["filters"],
               "held_out": stats["held_out"]}
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0

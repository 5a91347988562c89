"""Helpers shared by the commands: config flags, error reporting, reading input lines."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from hanyi.config import ExperimentConfig, load_config
from hanyi.errors import InputError


def add_config_args(parser: argparse.ArgumentParser, config_required: bool = True) -> None:
    if config_required:
        parser.add_argument("config", help="experiment YAML file (see configs/)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value, e.g. --set model.d_model=512 "
                             "(repeatable; values are parsed as YAML)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    return load_config(getattr(args, "config", None), args.overrides)


def add_device_arg(parser: argparse.ArgumentParser, default: str = "auto") -> None:
    parser.add_argument("--device", default=default,
                        help=f"auto, cpu, cuda or cuda:N (default: {default})")


def decode_lines(raw: bytes, name: str, errors: str) -> list[str]:
    """Bytes -> lines, strictly UTF-8 unless ``errors == "replace"``.

    Every line break is a line: "a\\n\\nb\\n" is three lines, the middle one empty.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    parts = raw.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    lines = []
    for number, part in enumerate(parts, start=1):
        part = part.rstrip(b"\r")
        try:
            lines.append(part.decode("utf-8", errors="replace" if errors == "replace"
                                     else "strict"))
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}:{number}: invalid UTF-8 (byte {exc.start + 1} of the "
                             f"line); fix the file or pass --errors replace") from None
    return lines


def read_input(path: str | None, stream: BinaryIO, errors: str) -> tuple[list[str], str]:
    """Lines of ``path`` (or of ``stream`` when path is None or "-"), and a display name."""
    if path and path != "-":
        file = Path(path)
        if file.is_dir():
            raise InputError(f"{file} is a directory, not a file to translate")
        if not file.is_file():
            raise InputError(f"input file not found: {file}")
        try:
            raw = file.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {file}: {exc.strerror or exc}") from None
        return decode_lines(raw, str(file), errors), str(file)
    return decode_lines(stream.read(), "<stdin>", errors), "<stdin>"


def stdin_is_interactive() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=None,
                        help="model directory (default: the shipped model, or $HANYI_MODEL)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="decode.KEY=VALUE",
                        help="override a decode setting, e.g. --set decode.max_len_b=20")
    parser.add_argument("--beam", type=int, default=None, help="beam size (1 = greedy)")
    parser.add_argument("--nbest", type=int, default=None, help="hypotheses per sentence")
    parser.add_argument("--length-penalty", type=float, default=None,
                        help="score = log P / length ** PENALTY")
    parser.add_argument("--max-len-a", type=float, default=None,
                        help="max output tokens = A * source tokens + B")
    parser.add_argument("--max-len-b", type=int, default=None)
    parser.add_argument("--no-repeat-ngram", type=int, default=None,
                        help="forbid repeating any n-gram of this size (0 = off)")
    parser.add_argument("--keep-numbers-beam", type=int, default=None,
                        help="number rescue: after beam search, re-decode a translation that "
                             "lost a number with this beam (0 = off; default 8)")
    parser.add_argument("--sample-topk", type=int, default=None,
                        help="with --beam 1: draw each token at random from the K most "
                             "probable (0 = from all; 1 = off, the default)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="sampling temperature (default 1.0; lower = closer to greedy)")
    parser.add_argument("--seed", type=int, default=None,
                        help="random seed for --sample-topk (default 0: repeatable)")
    parser.add_argument("--lexicon-fallback", type=int, default=None, metavar="N",
                        help="English->Chinese: a lower-case word seen at most N times in "
                             "the model's training data gets CC-CEDICT's Chinese (default 2; "
                             "-1 = off, names too)")
    parser.add_argument("--lexicon-names", type=int, default=None, metavar="N",
                        help="... and a capitalised name seen at most N times (default 100; "
                             "-1 = no names)")
    parser.add_argument("--batch-size", type=int, default=None, help="sentences per batch")
    parser.add_argument("--quantize", choices=("none", "int8"), default="none",
                        help="PyTorch models: dynamic int8 Linear layers (CPU; lossy, faster "
                             "at small batches). CTranslate2 exports keep their own type")
    parser.add_argument("--engine", choices=("auto", "torch", "ctranslate2"), default="auto",
                        help="search engine: auto = the model's CTranslate2 export on a CPU "
                             "if it has one (the shipped model: int8), else PyTorch")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for inference (0 = the engine's default)")
    add_device_arg(parser, default="cpu")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")


# The decode flags are shorthands for `--set decode.KEY=VALUE` (flag attribute -> key).
DECODE_FLAGS = {"beam": "beam_size", "nbest": "nbest", "length_penalty": "length_penalty",
                "max_len_a": "max_len_a", "max_len_b": "max_len_b",
                "no_repeat_ngram": "no_repeat_ngram_size", "batch_size": "batch_size",
                "keep_numbers_beam": "keep_numbers_beam", "sample_topk": "sampling_topk",
                "temperature": "sampling_temperature", "seed": "sampling_seed",
                "lexicon_fallback": "lexicon_fallback", "lexicon_names": "lexicon_names"}


def decode_overrides(args: argparse.Namespace) -> list[str]:
    """``--set decode.*`` then the decode flags, all as ``decode.KEY=VALUE`` strings (a flag
    wins over a --set of the same key: it comes later)."""
    flags = [f"decode.{key}={getattr(args, flag)}" for flag, key in DECODE_FLAGS.items()
             if getattr(args, flag, None) is not None]
    return [*args.overrides, *flags]


def load_translator(args: argparse.Namespace):
    """The Translator for --model (or the shipped model) with the flags' decode settings."""
    from hanyi.errors import ConfigError
    from hanyi.inference import Translator, default_model_path
    from hanyi.runtime import pick_device, set_threads

    path = Path(args.model) if args.model else default_model_path()
    if args.threads < 0:
        raise ConfigError("--threads must be >= 0")
    set_threads(args.threads)
    return Translator.load(path, pick_device(args.device), overrides=decode_overrides(args),
                           quantize=args.quantize, threads=args.threads, engine=args.engine)

"""`hanyi translate`: text from arguments, a file (-i) or stdin; one output line per input
line, always (an empty line gives an empty line). A line may hold many sentences and be of
any length: it is split into sentences and translated whole (hanyi.documents). With
--nbest N > 1 the N hypotheses of a one-sentence line share its line, separated by tabs."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

from hanyi.cli.common import add_model_args, load_translator, read_input, stdin_is_interactive
from hanyi.documents import translate_texts
from hanyi.documents.formats import FORMATS, detect_format, translate_document
from hanyi.documents.markup import INLINE
from hanyi.documents.protect import load_glossary
from hanyi.errors import InputError
from hanyi.files import atomic_open
from hanyi.runtime import setup_logging

log = logging.getLogger(__name__)

CHUNK = 512  # lines translated and written at a time, so long files stream


def add_parser(sub) -> None:
    p = sub.add_parser("translate", help="translate English text to Chinese",
                       description="Translate English to Simplified Chinese. Text comes from "
                                   "the arguments, from -i FILE, or from stdin.")
    p.add_argument("text", nargs="*", help="sentences to translate (each on its own line)")
    p.add_argument("-i", "--input", help="input file, one sentence per line ('-' = stdin)")
    p.add_argument("-o", "--output", help="output file (default: stdout)")
    p.add_argument("--errors", choices=("strict", "replace"), default="strict",
                   help="invalid UTF-8 in the input: stop with the line number (strict) or "
                        "replace the bad bytes with U+FFFD (replace)")
    p.add_argument("--keep", action="append", default=[], metavar="TERM",
                   help="leave TERM untranslated (repeatable; URLs, e-mail addresses, "
                        "`code` and %%s/{name} placeholders are always kept)")
    p.add_argument("--glossary", metavar="FILE",
                   help="'English term<TAB>Chinese' lines: the output uses that Chinese")
    p.add_argument("--format", choices=("auto", *FORMATS), default="auto",
                   help="text (one output line per input line), markdown or html (text "
                        "translated, markup, code and links kept), srt (subtitles: timings "
                        "kept) or po (gettext: untranslated entries filled, flagged fuzzy); "
                        "auto: from the -i file's suffix (.md, .html, .srt, .po; default)")
    p.add_argument("--inline", choices=INLINE, default="align",
                   help="markdown and html: how emphasis, links and other inline elements "
                        "inside a sentence go through the model: align (left out, put back "
                        "where the model's attention says their words went; default) or "
                        "slots (numbers the model copies: slower, placed by the model)")
    p.add_argument("--in-place", action="store_true",
                   help="allow -o to be the -i file (it is replaced by its translation)")
    p.add_argument("--scores", action="store_true",
                   help="append ' ||| score ||| confidence' to hypotheses (score: length-"
                        "normalised log P; confidence: 0..1, see docs/serve.md)")
    add_model_args(p)
    p.set_defaults(run=run)


def same_file(a: str, b: str) -> bool:
    """Do the paths name one file (through links too)?"""
    try:
        return Path(a).resolve() == Path(b).resolve() or Path(a).samefile(b)
    except OSError:  # b does not exist yet
        return False


def gather_lines(args) -> list[str]:
    if args.text and args.input:
        raise InputError("give sentences as arguments or with -i, not both")
    if (args.input and args.input != "-" and args.output and not args.in_place
            and same_file(args.input, args.output)):
        raise InputError(f"-o {args.output} is the input file: its text would be replaced by "
                         f"the translation; choose another -o, or pass --in-place")
    if args.text:
        return [line for text in args.text for line in (text.splitlines() or [""])]
    if args.input is None and stdin_is_interactive():
        raise InputError("nothing to translate: pass sentences, -i FILE, or pipe text in")
    lines, name = read_input(args.input, sys.stdin.buffer, args.errors)
    if not lines:
        raise InputError(f"{name} is empty: nothing to translate")
    return lines


def format_line(translation, scores: bool) -> str:
    """The translation; with --scores: ``text ||| score ||| confidence`` (the numbers the
    API gives), n-best alternatives tab-separated."""
    def one(text: str, score: float, sure: float) -> str:
        return f"{text} ||| {score:.4f} ||| {sure:.3f}" if scores else text

    if len(translation.alternatives) > 1:
        return "\t".join(one(*alternative) for alternative in translation.alternatives)
    if not translation.text:
        return ""
    return one(translation.text, translation.score, translation.confidence)


def write_translations(translator, lines: list[str], out: TextIO, scores: bool,
                       keep: tuple[str, ...] = (), glossary: dict | None = None) -> None:
    for start in range(0, len(lines), CHUNK):
        translations = translate_texts(translator, lines[start:start + CHUNK], keep=keep,
                                       glossary=glossary)
        out.writelines(format_line(translation, scores) + "\n" for translation in translations)
        out.flush()


def run(args) -> int:
    setup_logging(args.verbose)
    fmt = detect_format(args.input if args.input != "-" else None, args.format)
    if fmt != "text":
        return run_document(args, fmt)
    lines = gather_lines(args)
    glossary = load_glossary(args.glossary) if args.glossary else None
    translator = load_translator(args)
    options = {"keep": tuple(args.keep), "glossary": glossary}
    if not args.output:
        write_translations(translator, lines, sys.stdout, args.scores, **options)
        return 0
    # -o: write beside the target and rename at the end, so an interrupted run never leaves
    # a half-written file (or clobbers an existing one).
    target = Path(args.output)
    if not target.parent.is_dir():
        raise InputError(f"cannot write {target}: no directory {target.parent}")
    with atomic_open(target) as out:
        write_translations(translator, lines, out, args.scores, **options)
    return 0


def run_document(args, fmt: str) -> int:
    """A whole markdown, html, srt or po document: read, translate, written at once
    (atomically with -o)."""
    if args.text:
        raise InputError(f"--format {fmt} translates a file: give it with -i (or on stdin)")
    lines, name = read_input(args.input, sys.stdin.buffer, args.errors)
    if not any(line.strip() for line in lines):
        raise InputError(f"{name} is empty: nothing to translate")
    if args.output and args.input and not args.in_place and same_file(args.input, args.output):
        raise InputError(f"-o {args.output} is the input file; choose another -o, or pass "
                         f"--in-place")
    glossary = load_glossary(args.glossary) if args.glossary else None
    translator = load_translator(args)
    text = "\n".join(lines) + ("\n" if lines and fmt in ("markdown", "html") else "")
    out, counts = translate_document(translator, text, fmt, keep=tuple(args.keep),
                                     glossary=glossary, name=name, inline=args.inline)
    for key, value in counts.items():
        if value:
            log.info("%s: %s %s", name, value, key.replace("_", " "))
    if not args.output:
        sys.stdout.write(out)
        return 0
    with atomic_open(Path(args.output)) as target:
        target.write(out)
    return 0

"""`hanyi COMMAND ...` — dispatch, and the one place where errors become messages.

A user error (bad config key, missing model, malformed input) prints one line,
``hanyi: error: ...``, and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import signal
import sys

from hanyi.errors import HanyiError
from hanyi.version import __version__

COMMANDS = ("prepare", "train", "translate", "evaluate", "serve", "export")


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` runs: an output being
    written atomically is discarded, never left behind as a temporary file."""


def _terminate(signum, frame):
    raise Terminated


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hanyi", description="汉译 hanyi — English→Chinese Transformer translation")
    parser.add_argument("--version", action="version", version=f"hanyi {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    import importlib

    for name in COMMANDS:
        module = importlib.import_module(f"hanyi.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "train":  # a faster allocator setting for the training loop
        from hanyi.runtime import reexec_with_malloc_tuning

        reexec_with_malloc_tuning(sys.argv[1:] if argv is None else argv)
    if args.command != "train":  # train saves a checkpoint on SIGTERM (cli/train.py)
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.run(args) or 0)
    except HanyiError as exc:
        print(f"hanyi: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hanyi: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("hanyi: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:  # e.g. `hanyi translate ... | head`
        return 0
    except OSError as exc:  # unreadable / unwritable paths named by the user
        where = f": {exc.filename}" if exc.filename else ""
        print(f"hanyi: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

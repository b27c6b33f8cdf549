"""The ``symcnn`` command: parses arguments, runs a sub-command, turns user errors into exit 2."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from .. import __version__
from ..errors import SymcnnError
from . import check, fixtures, grad, run, sheet
from .progress import progress_bar

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line: ``symcnn: error: … (see --help)``."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"symcnn: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


#: Sub-command registrars: each adds its parser and sets ``func``.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    grad.register,
    sheet.register,
    run.register,
    check.register,
    fixtures.register,
]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (used by ``main`` and the docs)."""
    parser = _Parser(
        prog="symcnn",
        description="Derive, prove, print and check the backpropagation formulas of CNN layers.",
    )
    parser.add_argument("--version", action="version", version=f"symcnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for register in COMMANDS:
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``symcnn`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # usage errors and --help: return the status, don't exit
        return int(done.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    # a large derivation makes millions of short-lived objects without cycles: the cycle
    # collector would rescan them again and again (about a tenth of the time), so it waits
    collecting = gc.isenabled()
    gc.disable()
    try:
        with progress_bar():
            return int(args.func(args))
    except SymcnnError as err:
        sys.stderr.write(f"symcnn: error: {err}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        sys.stderr.write("symcnn: interrupted\n")
        return 130
    finally:
        if collecting:
            gc.enable()


if __name__ == "__main__":
    raise SystemExit(main())

"""The ``symcnn`` command: parses arguments, runs a sub-command, turns user errors into exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from . import __version__
from .cli_options import add_layer_arguments, spec_from_args
from .errors import SymcnnError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line: ``symcnn: error: … (see --help)``."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"symcnn: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def _grad(args: argparse.Namespace) -> int:
    if args.layer is None:
        raise SymcnnError(
            "name a layer (conv2d, maxpool2d, avgpool2d), e.g. "
            "symcnn grad conv2d --input 5x5 --kernel 2x2"
        )
    spec = spec_from_args(args)
    derivation = spec.derive()
    if args.format == "json":
        text = json.dumps(derivation.to_json(), ensure_ascii=False) + "\n"
    elif args.format == "latex":
        text = derivation.latex()
    else:
        text = derivation.text(unicode=not args.ascii) + "\n"
    sys.stdout.write(text)
    return 0 if derivation.all_proven else 1


def _add_grad(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grad",
        help="print every per-entry gradient formula of a layer",
        description="Derive the backward pass of one layer symbolically and print ∂E/∂x for "
        "every entry x, the forward expressions and the proven matrix identities.",
        epilog="examples:\n  symcnn grad conv2d --input 3x3 --kernel 2x2 --bias untied\n"
        "  symcnn grad maxpool2d --input 4x4 --window 2x2 --format latex\n"
        "  symcnn grad conv2d --input 5x5 --kernel 3x3 --stride 2 --padding 1 --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_layer_arguments(p, required=False)
    p.add_argument(
        "--format",
        choices=("text", "latex", "json"),
        default="text",
        help="text (default, one line per entry), latex (align* and bmatrix) or json",
    )
    p.add_argument("--ascii", action="store_true", help="plain ASCII text (d_11, dE/dw_11, *)")
    p.set_defaults(func=_grad)


#: Sub-command registrars: each adds its parser and sets ``func``.
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_grad]


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
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
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


if __name__ == "__main__":
    raise SystemExit(main())

"""``symcnn sheet``: write the LaTeX derivation sheet of a layer or a network, and its PDF."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from ..api import derive
from ..errors import SymcnnError, TexCompileError, TexEngineMissing
from ..fileio import write_atomic
from ..kinds.registry import LAYERS
from ..numeric.values import hand_values, load_values
from ..sheet.build import sheet_tex
from ..sheet.compile import DEFAULT_TIMEOUT, compile_pdf
from ..sheet.general import general_sheet_tex
from ..sheet.i18n import LANGUAGES, language
from ..sheet.options import SheetOptions
from . import help
from .grad import general_layers
from .options import (
    add_layer_arguments,
    add_network_arguments,
    layer_from_args,
    network_from_args,
    reject_layer_options,
    wants_network,
)


def _sheet(args: argparse.Namespace) -> int:
    if args.lr is not None and not 0 < args.lr < math.inf:
        raise SymcnnError(f"--lr must be a positive number, got {args.lr}")
    if not 0 < args.timeout < math.inf:
        raise SymcnnError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.output == "-" and args.pdf:
        raise SymcnnError("--pdf needs a file: give -o NAME.tex instead of -o -")
    if args.general:
        return _general_sheet(args)
    if wants_network(args):
        return _network_sheet(args)
    if args.layer is None:
        raise SymcnnError(
            f"name a layer ({', '.join(LAYERS)}), e.g. symcnn sheet {help.LAYER_EXAMPLE} --pdf, "
            "or a network: symcnn sheet --preset seed000 --random 0 --pdf"
        )
    layer = layer_from_args(args)
    derivation = derive(
        layer, index_base=args.index_base, max_terms=args.max_terms, batch=args.batch
    )
    options = SheetOptions(
        title=args.title,
        lr=0.1 if args.lr is None else args.lr,
        detail=args.detail,
        lang=args.lang,
    )
    sheet_values(args, derivation.network, options)
    tex = sheet_tex(derivation, options)
    status = 0 if derivation.all_proven else 1
    stem = layer.slug() + ("-base0" if args.index_base == 0 else "")
    return _write(args, tex, stem, status)


def _general_sheet(args: argparse.Namespace) -> int:
    """``symcnn sheet … --general``: the size-independent derivation only, any size."""
    if args.values is not None or args.random is not None:
        raise SymcnnError("--general writes no entries, so no numbers: leave out --values/--random")
    layers, _, _ = general_layers(args)
    tex = general_sheet_tex(layers, args.title, args.lang)
    if wants_network(args):
        stem = f"network-{Path(args.network).stem if args.network else args.preset}-general"
    else:
        stem = f"{layers[0][1].layer.slug()}-general"
    return _write(args, tex, stem, 0)


def _network_sheet(args: argparse.Namespace) -> int:
    """``symcnn sheet --network FILE|--preset NAME``: one sheet for the whole network."""
    reject_layer_options(args)
    net = network_from_args(args)
    derivation = derive(net)
    options = SheetOptions(
        title=args.title,
        lr=0.1 if args.lr is None else args.lr,
        detail=args.detail,
        lang=args.lang,
    )
    sheet_values(args, net, options)
    tex = sheet_tex(derivation, options)
    name = Path(args.network).stem if args.network else args.preset
    return _write(args, tex, f"network-{name}", 0 if derivation.all_proven else 1)


def sheet_values(args: argparse.Namespace, network: Any, options: SheetOptions) -> None:
    """``--values FILE`` or ``--random SEED`` into the options: a sheet's random numbers have
    one decimal, so that a student can check every line by hand."""
    if args.values is not None:
        options.values = load_values(args.values, network)
        options.values_file = Path(args.values).name
    elif args.random is not None:
        options.values = hand_values(network, args.random)
        options.values_seed = args.random


def _write(args: argparse.Namespace, tex: str, stem: str, status: int) -> int:
    """Write the .tex (or print it for ``-o -``) and, with ``--pdf``, compile it."""
    if args.output == "-":
        sys.stdout.write(tex)
        return status
    path = Path(args.output) if args.output else Path(stem + ".tex")
    if path.suffix != ".tex":
        raise SymcnnError(f"the output file must end in .tex, got {str(path)!r}")
    write_atomic(path, tex)
    print(f"wrote {path}")
    if args.pdf:
        try:
            pdf = compile_pdf(tex, timeout=args.timeout, name=path.stem)
        except (TexEngineMissing, TexCompileError) as err:
            sys.stderr.write(f"symcnn: error: {err}; the .tex is written: {path}\n")
            return 1
        pdf_path = write_atomic(path.with_suffix(".pdf"), pdf)
        print(f"wrote {pdf_path}")
    return status


def _lang(code: str) -> str:
    """``--lang``: a language code of the table, else one line listing them."""
    try:
        return language(code).code
    except SymcnnError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sheet",
        help="write the LaTeX derivation sheet of a layer or a network (and compile it to PDF)",
        description="Write a derivation sheet a lecturer can hand out: the operators used, the "
        "layer or the network, the forward pass, the loss, then from the loss back to the input "
        "each gradient derived by SymPy for any size, one entry written out, the proven matrix "
        "identity written out for this configuration (why the kernel is rotated by 180°), the "
        "NumPy/SciPy code, figures; with numbers, a worked example checkable by hand ending in "
        "an SGD step; and a box of key formulas. --detail full writes every entry.",
        epilog=help.SHEET,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_layer_arguments(p, required=False)
    add_network_arguments(p)
    g = p.add_argument_group("sheet options")
    g.add_argument(
        "-o",
        "--output",
        metavar="FILE.tex",
        help="where to write the sheet (default: a name built from the layer or the network, "
        "in the current folder; - for standard output)",
    )
    g.add_argument(
        "--pdf",
        action="store_true",
        help="also compile FILE.pdf (latexmk with pdflatex, or xelatex for --lang other than en)",
    )
    numbers = g.add_mutually_exclusive_group()
    numbers.add_argument(
        "--values", metavar="FILE", help="numbers for a worked example (JSON: input, weight, ...)"
    )
    numbers.add_argument(
        "--random", type=int, metavar="SEED", help="a worked example with reproducible numbers"
    )
    g.add_argument(
        "--lr", type=float, metavar="ETA", help="learning rate of the SGD step (default 0.1)"
    )
    g.add_argument("--title", help="title of the sheet (printed as plain text)")
    g.add_argument(
        "--detail",
        choices=("short", "full"),
        default="short",
        help="short: one entry of each tensor written out, the rest as matrices (default); "
        "full: every entry written out",
    )
    g.add_argument(
        "--lang",
        default="en",
        type=_lang,
        metavar="LANG",
        help="the language of the sheet: "
        + ", ".join(f"{lang.code} ({lang.native})" for lang in LANGUAGES.values())
        + "; default en",
    )
    g.add_argument(
        "--general",
        action="store_true",
        help="only the size-independent derivation (index formulas, exact ranges): any size",
    )
    g.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=f"stop the TeX engine after S seconds (default {DEFAULT_TIMEOUT:g})",
    )
    p.set_defaults(func=_sheet)

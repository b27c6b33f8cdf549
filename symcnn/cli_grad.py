"""``symcnn grad``: print the per-entry gradient formulas of one layer as text, LaTeX or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from . import cli_net
from .cli_options import add_layer_arguments, spec_from_args
from .errors import SymcnnError


def _grad(args: argparse.Namespace) -> int:
    if cli_net.wants_network(args):
        return cli_net.grad_network(args)
    if args.substitute:
        raise SymcnnError("--substitute applies to networks (--network FILE or --preset NAME)")
    if args.layer is None:
        raise SymcnnError(
            "name a layer (conv2d, maxpool2d, avgpool2d), e.g. "
            "symcnn grad conv2d --input 5x5 --kernel 2x2, or a network: --preset seed003"
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "grad",
        help="print every per-entry gradient formula of a layer",
        description="Derive the backward pass of one layer symbolically and print ∂E/∂x for "
        "every entry x, the forward expressions and the proven matrix identities.",
        epilog="examples:\n  symcnn grad conv2d --input 3x3 --kernel 2x2 --bias untied\n"
        "  symcnn grad maxpool2d --input 4x4 --window 2x2 --format latex\n"
        "  symcnn grad conv2d --input 5x5 --kernel 3x3 --stride 2 --padding 1 --format json\n"
        "  symcnn grad --preset seed003\n  symcnn grad --network examples/seed000.toml --format json\n",
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
    cli_net.add_network_arguments(p)
    cli_net.add_substitute_argument(p)
    p.set_defaults(func=_grad)

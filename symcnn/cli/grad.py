"""``symcnn grad``: the per-entry gradient formulas of a layer or a network, as text, LaTeX or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from ..api import derive
from ..errors import SymcnnError
from ..kinds.registry import LAYERS
from . import help
from .options import (
    add_layer_arguments,
    add_network_arguments,
    layer_from_args,
    network_from_args,
    reject_layer_options,
    wants_network,
)


def _grad(args: argparse.Namespace) -> int:
    if wants_network(args):
        reject_layer_options(args)
        derivation = derive(network_from_args(args))
        if args.format == "latex" and args.substitute:
            raise SymcnnError("--substitute is printed in text and json formats")
    else:
        if args.substitute:
            raise SymcnnError("--substitute applies to networks (--network FILE or --preset NAME)")
        if args.layer is None:
            raise SymcnnError(
                f"name a layer ({', '.join(LAYERS)}), e.g. symcnn grad {help.LAYER_EXAMPLE}, "
                "or a network: --preset seed003"
            )
        layer = layer_from_args(args)
        derivation = derive(
            layer, index_base=args.index_base, max_terms=args.max_terms, batch=args.batch
        )
    if args.format == "json":
        text = json.dumps(derivation.to_json(args.substitute), ensure_ascii=False) + "\n"
    elif args.format == "latex":
        text = derivation.latex()
    else:
        text = derivation.text(unicode=not args.ascii, substitute=args.substitute) + "\n"
    sys.stdout.write(text)
    return 0 if derivation.all_proven else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``grad`` to the command line."""
    p = sub.add_parser(
        "grad",
        help="print every per-entry gradient formula of a layer or a network",
        description="Derive the backward pass of one layer (or of a whole network) "
        "symbolically and print ∂E/∂x for every entry x, the forward expressions and the "
        "proven matrix identities.",
        epilog=help.GRAD,
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
    add_network_arguments(p)
    p.add_argument(
        "--substitute",
        choices=("deltas", "all"),
        help="with --network/--preset: also print the fully substituted formulas (small "
        "networks): every δ replaced (deltas), or everything in x, parameters and t (all)",
    )
    p.set_defaults(func=_grad)

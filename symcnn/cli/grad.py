"""``symcnn grad``: the per-entry gradient formulas of a layer or a network, as text, LaTeX or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..api import derive
from ..core.shapes import check_index_base
from ..derivation.general import GeneralLayer, general_layer
from ..errors import SymcnnError
from ..kinds.registry import LAYERS
from ..render.general import general_json, general_latex, general_text, loss_json, loss_text
from . import help
from .options import (
    add_layer_arguments,
    add_network_arguments,
    layer_from_args,
    network_from_args,
    reject_layer_options,
    wants_network,
)

#: The size limit of --general: nothing is expanded, so there is none.
NO_LIMIT = 2**62


def general_layers(args: argparse.Namespace) -> tuple[list[tuple[str, GeneralLayer]], Any, int]:
    """The size-independent formulas of the layer or of every layer of the network the
    options describe (no size limit: nothing is expanded), the network's loss (or None) and
    the index base."""
    if wants_network(args):
        reject_layer_options(args)
        args.max_terms = NO_LIMIT
        net = network_from_args(args)
        base = net.index_base
        layers = [(f"{node.name}: ", general_layer(node.layer, base)) for node in net.nodes]
        return layers, net.loss, base
    if args.layer is None:
        raise SymcnnError(
            f"name a layer ({', '.join(LAYERS)}), e.g. symcnn grad {help.LAYER_EXAMPLE} "
            "--general, or a network: --preset seed003 --general"
        )
    base = check_index_base(args.index_base)
    return [("", general_layer(layer_from_args(args), base))], None, base


def _general(args: argparse.Namespace) -> int:
    if args.substitute:
        raise SymcnnError("--substitute expands entries; --general prints the index formulas")
    layers, loss, base = general_layers(args)
    if args.format == "json":
        data = general_json(layers, base)
        if loss is not None:
            data["loss"] = loss_json(loss, base)
        text = json.dumps(data, ensure_ascii=False) + "\n"
    elif args.format == "latex":
        text = general_latex(layers, base)
    else:
        lines = general_text(layers, base, unicode=not args.ascii)
        if loss is not None:
            lines += loss_text(loss, base, unicode=not args.ascii)
        text = "\n".join(lines).rstrip("\n") + "\n"
    sys.stdout.write(text)
    return 0


def _grad(args: argparse.Namespace) -> int:
    if args.general:
        return _general(args)
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
    p.add_argument(
        "--general",
        action="store_true",
        help="print the size-independent index formulas of every gradient, with the exact "
        "index ranges of this configuration, instead of every entry (any size; for a network, "
        "layer by layer)",
    )
    p.set_defaults(func=_grad)

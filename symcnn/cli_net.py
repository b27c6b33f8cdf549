"""``symcnn run``, ``symcnn presets`` and ``symcnn grad --network/--preset``: whole networks."""

from __future__ import annotations

import argparse
import json
import re
import sys

from .cli_options import positive_int
from .errors import SymcnnError
from .netfile import NetworkValues, load_network, load_values, random_values
from .network import Network
from .presets import PRESETS, preset, preset_summary, preset_text
from .spec import DEFAULT_MAX_TERMS

#: Layer options of ``symcnn grad`` that a network file replaces.
_LAYER_OPTIONS = (
    "input",
    "kernel",
    "window",
    "stride",
    "padding",
    "dilation",
    "in_channels",
    "out_channels",
    "bias",
    "channels",
)


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """``--network FILE`` / ``--preset NAME`` (one of them), for grad and run."""
    g = parser.add_argument_group("network")
    g.add_argument("--network", metavar="FILE", help="a network described in TOML")
    g.add_argument("--preset", metavar="NAME", help="a built-in network: " + ", ".join(PRESETS))


def wants_network(args: argparse.Namespace) -> bool:
    """True when the command was given ``--network`` or ``--preset``."""
    return bool(getattr(args, "network", None) or getattr(args, "preset", None))


def network_from_args(args: argparse.Namespace) -> Network:
    """Load the network named by ``--network`` or ``--preset``; ``--index-base 0`` and
    ``--max-terms`` override.

    Example:
        >>> ns = argparse.Namespace(network=None, preset="seed003", index_base=1)
        >>> network_from_args(ns).input
        (1, 3, 3)
    """
    if args.network and args.preset:
        raise SymcnnError("give either --network FILE or --preset NAME, not both")
    max_terms = getattr(args, "max_terms", DEFAULT_MAX_TERMS)
    if args.network:
        net = load_network(args.network, max_terms=max_terms)
    elif args.preset:
        net = preset(args.preset)
    else:
        raise SymcnnError("name a network: --network FILE.toml or --preset NAME")
    base = 0 if getattr(args, "index_base", 1) == 0 else net.index_base
    if (base, max_terms) != (net.index_base, net.max_terms):  # a preset has the default limit
        net = Network(
            net.layers, input=net.input, loss=net.loss, index_base=base, max_terms=max_terms
        )
    return net


def reject_layer_options(args: argparse.Namespace) -> None:
    """A layer kind or layer option next to ``--network``/``--preset`` is a usage error."""
    if args.layer is not None:
        raise SymcnnError(f"give either a layer ({args.layer}) or --network/--preset, not both")
    for name in _LAYER_OPTIONS:
        if getattr(args, name, None) is not None:
            raise SymcnnError(
                f"--{name.replace('_', '-')} does not apply with --network/--preset; "
                "the layers are described in the network"
            )


def network_values(args: argparse.Namespace, net: Network) -> NetworkValues | None:
    """The numbers named by ``--values FILE`` or ``--random SEED`` (None without either)."""
    if args.values is not None:
        return load_values(args.values, net)
    if args.random is not None:
        if args.random < 0:
            raise SymcnnError(f"--random needs a seed ≥ 0, got {args.random}")
        return random_values(net, args.random)
    return None


def grad_network(args: argparse.Namespace) -> int:
    """``symcnn grad --network FILE|--preset NAME``: every layer's δ and gradient formulas."""
    reject_layer_options(args)
    derivation = network_from_args(args).derive()
    if args.format == "json":
        from .netjson import network_json

        text = json.dumps(network_json(derivation, args.substitute), ensure_ascii=False) + "\n"
    elif args.format == "latex":
        if args.substitute:
            raise SymcnnError("--substitute is printed in text and json formats")
        text = derivation.latex()
    else:
        text = derivation.text(unicode=not args.ascii, substitute=args.substitute) + "\n"
    sys.stdout.write(text)
    return 0 if derivation.all_proven else 1


def add_substitute_argument(parser: argparse.ArgumentParser) -> None:
    """``--substitute deltas|all`` for ``symcnn grad --network``."""
    parser.add_argument(
        "--substitute",
        choices=("deltas", "all"),
        help="with --network/--preset: also print the fully substituted formulas (small "
        "networks): every δ replaced (deltas), or everything in x, parameters and t (all)",
    )


_DELTA_RE = re.compile(r"^\s*(\d+)\s*=\s*(.+)$", re.S)


def _parse_delta(text: str) -> tuple[int, object]:
    m = _DELTA_RE.match(text)
    if not m:
        raise SymcnnError(f"--delta wants LAYER=JSON, e.g. --delta '4=[0.25, -0.15]', got {text!r}")
    try:
        return int(m.group(1)), json.loads(m.group(2))
    except json.JSONDecodeError as err:
        raise SymcnnError(f"--delta: the value after '=' is not JSON: {err.msg}") from None


def _run(args: argparse.Namespace) -> int:
    net = network_from_args(args)
    if (args.values is None) == (args.random is None):
        raise SymcnnError("give the numbers: --values FILE.json or --random SEED (one of them)")
    values = network_values(args, net)
    assert values is not None
    delta_at = _parse_delta(args.delta) if args.delta else None
    if delta_at is not None and args.lr is not None:
        raise SymcnnError(
            "--lr needs ∂E/∂p from the loss, but --delta starts the backward pass from a given δ; "
            "use one of them"
        )
    derivation = net.derive(prove=False)
    numeric = derivation.numeric()
    run = numeric.run(values, delta_at=delta_at)
    if args.lr is not None:
        run.sgd = numeric.sgd(run, args.lr)
    if args.format == "json":
        from .netjson import run_json

        text = json.dumps(run_json(derivation, run)) + "\n"
    else:
        from .netprint import run_text

        text = run_text(derivation, run, unicode=not args.ascii) + "\n"
    sys.stdout.write(text)
    return 0


def _presets(args: argparse.Namespace) -> int:
    if args.show:
        sys.stdout.write(preset_text(args.show))
        return 0
    width = max(len(n) for n in PRESETS)
    for name in PRESETS:
        sys.stdout.write(f"{name:<{width}}  {preset_summary(name)}\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``run`` and ``presets`` (``grad --network`` is added by `symcnn.cli_grad`)."""
    p = sub.add_parser(
        "run",
        help="compute a network's forward and backward pass with numbers, layer by layer",
        description="Evaluate every layer's output, δ and gradient from the derived formulas "
        "(lambdified), record the winner of every max-pool window, optionally take one SGD step.",
        epilog="examples:\n  symcnn run --preset seed003 --random 0\n"
        "  symcnn run --network net.toml --values values.json --format json --lr 0.1\n"
        "  symcnn run --preset seed000 --random 0 --delta '4=[0.25, -0.15]'\n\n"
        'values.json: {"input": [C][H][W], "target": [...], "params": {"0.weight": ..., '
        '"0.bias": ...}}',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_network_arguments(p)
    p.add_argument("--values", metavar="FILE", help="JSON file with input, target and params")
    p.add_argument("--random", type=int, metavar="SEED", help="reproducible random values")
    p.add_argument("--lr", type=float, metavar="η", help="take one SGD step with this rate")
    p.add_argument(
        "--delta",
        metavar="L=JSON",
        help="start the backward pass at layer L with this δ (e.g. seed 000's δH at layer 4)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--ascii", action="store_true", help="plain ASCII text")
    p.add_argument(
        "--index-base", type=int, default=1, choices=(0, 1), help="first index in symbol names"
    )
    p.add_argument(
        "--max-terms", type=positive_int, default=DEFAULT_MAX_TERMS, metavar="N", help="size limit"
    )
    p.set_defaults(func=_run)

    q = sub.add_parser(
        "presets",
        help="list the built-in networks (the seeds' networks)",
        description="List the preset networks, or print one as a TOML network file.",
    )
    q.add_argument("--show", metavar="NAME", help="print the preset's TOML file")
    q.set_defaults(func=_presets)

"""``symcnn run`` (a network's numbers, one SGD step) and ``symcnn presets``."""

from __future__ import annotations

import argparse
import json
import re
import sys

from ..api import derive
from ..core.shapes import DEFAULT_MAX_TERMS
from ..errors import SymcnnError
from ..graph.presets import PRESETS, preset_info, preset_text
from ..numeric.engine import Engine
from ..render.json import run_json
from ..render.text import run_text
from . import help
from .options import add_network_arguments, network_from_args, positive_int, values_from_args

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
    values, _ = values_from_args(args, net)
    assert values is not None
    delta_at = _parse_delta(args.delta) if args.delta else None
    if delta_at is not None and args.lr is not None:
        raise SymcnnError(
            "--lr needs ∂E/∂p from the loss, but --delta starts the backward pass from a given δ; "
            "use one of them"
        )
    derivation = derive(net, prove=False)
    engine = Engine(derivation)
    run = engine.run(values, delta_at=delta_at)
    if args.lr is not None:
        run.sgd = engine.sgd(run, args.lr)
    if args.format == "json":
        text = json.dumps(run_json(derivation, run)) + "\n"
    else:
        text = run_text(derivation, run, unicode=not args.ascii) + "\n"
    sys.stdout.write(text)
    return 0


def _presets(args: argparse.Namespace) -> int:
    if args.show:
        sys.stdout.write(preset_text(args.show))
        return 0
    for name in PRESETS:
        info = preset_info(name)
        also = f" (also: {', '.join(info['aliases'])})" if info["aliases"] else ""
        sys.stdout.write(f"{name}{also}\n    {info['description']}\n")
        if info["explains"]:
            sys.stdout.write(f"    reproduces {info['explains']}\n")
    sys.stdout.write(
        "\nThe reference explanations are five texts on backpropagation through CNNs that "
        "symcnn reproduces: 000 (Spanish), 001 (Vietnamese), 002 (Russian), 003 (Chinese), "
        "004 (French); the README says what each one asks.\n"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``run`` and ``presets``."""
    p = sub.add_parser(
        "run",
        help="compute a network's forward and backward pass with numbers, layer by layer",
        description="Evaluate every layer's output, δ and gradient from the derived formulas "
        "(lambdified), record the winner of every max-pool window, optionally take one SGD step.",
        epilog=help.RUN,
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
        help="list the built-in networks, with what each one is",
        description="List the preset networks (name, older aliases, what the network is and "
        "which reference explanation it reproduces), or print one as a TOML network file.",
    )
    q.add_argument("--show", metavar="NAME", help="print the preset's TOML file")
    q.set_defaults(func=_presets)

"""Command-line options shared by the sub-commands: one layer, a network, numbers."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from ..api import Network, load_network, preset
from ..core.shapes import DEFAULT_MAX_TERMS, suggest
from ..errors import LayerKeyError, SpecError, SymcnnError
from ..graph import network as graph
from ..graph.presets import PRESETS
from ..kinds.base import Layer
from ..kinds.registry import LAYERS
from ..numeric.values import Values, load_values, random_values


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    """argparse type: a whole number ≥ 1 (``--max-terms``, channel counts).

    Example:
        >>> positive_int("3")
        3
    """
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number ≥ 1")
    return value


def _options() -> dict[str, tuple[str, list[str]]]:
    """Every option of every layer kind: name → (help, the kinds that take it)."""
    out: dict[str, tuple[str, list[str]]] = {}
    for kind, cls in LAYERS.items():
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == "input" or not f.init:
                continue
            help_text, kinds = out.get(f.name, (f.metadata.get("help", ""), []))
            out[f.name] = (help_text, [*kinds, kind])
    return out


def _value(text: str) -> Any:
    """A command-line value as the layer would read it from a network file: a whole number,
    a decimal number (``1e-3``), or the text itself (``2x2``, ``true``).

    Example:
        >>> _value("3"), _value("1e-3"), _value("2x2")
        (3, 0.001, '2x2')
    """
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def add_layer_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Add the layer kind (positional) and the options of every kind to a sub-command."""
    parser.add_argument(
        "layer",
        nargs=None if required else "?",
        metavar="LAYER",
        help="layer kind: " + ", ".join(LAYERS),
    )
    g = parser.add_argument_group("layer options")
    g.add_argument(
        "--input",
        metavar="SHAPE",
        help="the input: HxW (or N, square) for images, N for a vector, CxHxW with channels",
    )
    for name, (help_text, kinds) in _options().items():
        flag = "--" + name.replace("_", "-")
        g.add_argument(flag, metavar=name.upper(), help=f"{help_text} [{', '.join(kinds)}]")
    g.add_argument(
        "--batch",
        type=positive_int,
        metavar="N",
        help="a mini-batch of N samples: every tensor but the parameters gets a leading "
        "sample axis (a network sets batch in its file)",
    )
    g.add_argument(
        "--index-base",
        type=_int,
        default=1,
        metavar="0|1",
        help="first index in symbol names: 1 (a_11, default) or 0 (a_00)",
    )
    g.add_argument(
        "--max-terms",
        type=positive_int,
        default=DEFAULT_MAX_TERMS,
        metavar="N",
        help=f"refuse derivations above N product terms (default {DEFAULT_MAX_TERMS:,})",
    )


def layer_from_args(args: argparse.Namespace) -> Layer:
    """The sized layer the parsed options describe: ``LAYER --input … --option value``.

    Example:
        >>> ns = argparse.Namespace(layer="tanh", input="2x3")
        >>> layer_from_args(ns).output_shape
        (1, 2, 3)
    """
    kind = args.layer
    cls = LAYERS.get(kind)
    if cls is None:
        raise SpecError(
            f"unknown layer {kind!r}{suggest(str(kind), list(LAYERS))}; valid: {', '.join(LAYERS)}"
        )
    given = {
        name: getattr(args, name) for name in _options() if getattr(args, name, None) is not None
    }
    takes = cls.keys()
    for name in given:
        if name not in takes:
            flags = ", ".join("--" + k.replace("_", "-") for k in takes) or "no options"
            raise SpecError(
                f"--{name.replace('_', '-')} does not apply to {kind}; it takes {flags}"
            )
    if args.input is None:
        raise SpecError(f"{kind} needs --input, e.g. --input 5x5")
    if cls.required is not None and cls.required[0] not in given:
        key = cls.required[0]
        example = next(f for f in dataclasses.fields(cls) if f.name == key).metadata["example"]  # type: ignore[arg-type]
        raise SpecError(f"{kind} needs --{key.replace('_', '-')}, e.g. --{key} {example}")
    try:
        layer = cls.from_table({name: _value(value) for name, value in given.items()})
    except LayerKeyError as err:
        raise SpecError(str(err)) from None
    return layer.sized(args.input)


# --- networks ------------------------------------------------------------------------------


def add_network_arguments(parser: argparse.ArgumentParser) -> None:
    """``--network FILE`` / ``--preset NAME`` (one of them)."""
    g = parser.add_argument_group("network")
    g.add_argument("--network", metavar="FILE", help="a network described in TOML")
    g.add_argument("--preset", metavar="NAME", help="a built-in network: " + ", ".join(PRESETS))


def wants_network(args: argparse.Namespace) -> bool:
    """True when the command was given ``--network`` or ``--preset``."""
    return bool(getattr(args, "network", None) or getattr(args, "preset", None))


def network_from_args(args: argparse.Namespace) -> Network:
    """The network of ``--network`` or ``--preset``; ``--index-base 0`` and ``--max-terms`` apply.

    Example:
        >>> ns = argparse.Namespace(network=None, preset="seed003", index_base=1)
        >>> network_from_args(ns).input
        (1, 3, 3)
    """
    if args.network and args.preset:
        raise SymcnnError("give either --network FILE or --preset NAME, not both")
    max_terms = getattr(args, "max_terms", DEFAULT_MAX_TERMS)
    if args.network:
        net: graph.Network = load_network(args.network, max_terms=max_terms)
    elif args.preset:
        net = preset(args.preset)
    else:
        raise SymcnnError("name a network: --network FILE.toml or --preset NAME")
    base = 0 if getattr(args, "index_base", 1) == 0 else net.index_base
    if (base, max_terms) != (net.index_base, net.max_terms):  # a preset has the default limit
        net = net.replaced(index_base=base, max_terms=max_terms)
    assert isinstance(net, Network)
    return net


def reject_layer_options(args: argparse.Namespace) -> None:
    """A layer kind or layer option next to ``--network``/``--preset`` is a usage error."""
    if args.layer is not None:
        raise SymcnnError(f"give either a layer ({args.layer}) or --network/--preset, not both")
    for name in ("input", "batch", *_options()):
        if getattr(args, name, None) is not None:
            raise SymcnnError(
                f"--{name.replace('_', '-')} does not apply with --network/--preset; "
                "the layers are described in the network"
            )


def values_from_args(args: argparse.Namespace, network: graph.Network) -> tuple[Values | None, str]:
    """The numbers of ``--values FILE`` or ``--random SEED`` (None without either), and where
    they come from, in words."""
    if getattr(args, "values", None) is not None:
        return load_values(args.values, network), f"from {Path(args.values).name}"
    if getattr(args, "random", None) is not None:
        how = "" if network.lone else ", as symcnn run draws them"
        return random_values(network, args.random), f"drawn with --random {args.random}{how}"
    return None, ""

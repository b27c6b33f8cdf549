"""Command-line options shared by the sub-commands: one layer, a network, numbers."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..api import Network, load_network, preset
from ..core.shapes import DEFAULT_MAX_TERMS, parse_size
from ..errors import SpecError, SymcnnError
from ..graph import network as graph
from ..graph.presets import PRESETS
from ..kinds.base import Layer
from ..kinds.conv2d import Bias, Conv2d
from ..kinds.pool2d import AvgPool2d, MaxPool2d
from ..numeric.values import Values, load_values, random_values

#: The layer kinds the command line derives alone (others: in a network file).
LAYER_KINDS: dict[str, type[Layer]] = {cls.kind: cls for cls in (Conv2d, MaxPool2d, AvgPool2d)}
_CONV_ONLY = ("kernel", "padding", "dilation", "in_channels", "out_channels", "bias")
_POOL_ONLY = ("window", "channels")
#: Layer options that a network file replaces.
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


def add_layer_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Add the layer kind (positional) and its size options to a sub-command's parser."""
    parser.add_argument(
        "layer",
        nargs=None if required else "?",
        metavar="LAYER",
        help="layer kind: conv2d, maxpool2d or avgpool2d",
    )
    g = parser.add_argument_group("layer options")
    g.add_argument("--input", metavar="HxW", help="input size, e.g. 5x5 (required)")
    g.add_argument("--kernel", metavar="KHxKW", help="conv2d: kernel size, e.g. 2x2")
    g.add_argument("--window", metavar="KHxKW", help="pooling: window size, e.g. 2x2")
    g.add_argument(
        "--stride", metavar="S|SHxSW", help="stride (conv default 1, pooling default: the window)"
    )
    g.add_argument("--padding", metavar="P|PHxPW", help="conv2d: zero padding (default 0)")
    g.add_argument("--dilation", metavar="D|DHxDW", help="conv2d: kernel dilation (default 1)")
    g.add_argument(
        "--in-channels", type=_int, metavar="C", help="conv2d: input channels (default 1)"
    )
    g.add_argument(
        "--out-channels", type=_int, metavar="O", help="conv2d: output channels (default 1)"
    )
    g.add_argument(
        "--bias",
        metavar="MODE",
        help="conv2d: none, shared (one per output channel, default) or untied "
        "(one per output entry)",
    )
    g.add_argument("--channels", type=_int, metavar="C", help="pooling: channels (default 1)")
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
    """The sized layer the parsed options describe.

    Example:
        >>> ns = argparse.Namespace(layer="conv2d", input="3x3", kernel="2x2", window=None,
        ...     stride=None, padding=None, dilation=None, in_channels=None, out_channels=None,
        ...     bias=None, channels=None)
        >>> layer_from_args(ns).output_shape
        (1, 2, 2)
    """
    kind = args.layer
    if kind not in LAYER_KINDS:
        raise SpecError(f"unknown layer {kind!r}; valid: {', '.join(LAYER_KINDS)}")
    if args.input is None:
        raise SpecError(f"{kind} needs --input HxW, e.g. --input 5x5")
    size = parse_size(args.input, "input")
    if kind == "conv2d":
        _reject(args, _POOL_ONLY, kind, "use --kernel and --in-channels")
        if args.kernel is None:
            raise SpecError("conv2d needs --kernel KHxKW, e.g. --kernel 2x2")
        return Conv2d(
            kernel=parse_size(args.kernel, "kernel"),
            out_channels=1 if args.out_channels is None else args.out_channels,
            stride=parse_size(args.stride, "stride") if args.stride else (1, 1),
            padding=parse_size(args.padding, "padding", minimum=0) if args.padding else (0, 0),
            dilation=parse_size(args.dilation, "dilation") if args.dilation else (1, 1),
            bias=Bias.parse(args.bias or "shared"),
            in_channels=args.in_channels,
            input=size,
        )
    _reject(args, _CONV_ONLY, kind, "pooling layers take --window and --channels")
    if args.window is None:
        raise SpecError(f"{kind} needs --window KHxKW, e.g. --window 2x2")
    stride = parse_size(args.stride, "stride") if args.stride else None
    return LAYER_KINDS[kind](  # type: ignore[call-arg]
        parse_size(args.window, "window"), stride, args.channels, input=size
    )


def _reject(args: argparse.Namespace, names: tuple[str, ...], kind: str, hint: str) -> None:
    for name in names:
        if getattr(args, name, None) is not None:
            raise SpecError(f"--{name.replace('_', '-')} does not apply to {kind}; {hint}")


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
        net = Network(net.layers, net.input, net.loss, base, max_terms)
    assert isinstance(net, Network)
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


def values_from_args(args: argparse.Namespace, network: graph.Network) -> tuple[Values | None, str]:
    """The numbers of ``--values FILE`` or ``--random SEED`` (None without either), and where
    they come from, in words."""
    if getattr(args, "values", None) is not None:
        return load_values(args.values, network), f"from {Path(args.values).name}"
    if getattr(args, "random", None) is not None:
        how = "" if network.lone else ", as symcnn run draws them"
        return random_values(network, args.random), f"drawn with --random {args.random}{how}"
    return None, ""

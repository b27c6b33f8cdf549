"""Command-line options shared by the commands that take one layer (grad, sheet, check …)."""

from __future__ import annotations

import argparse
from typing import Any

from .errors import SpecError
from .spec import DEFAULT_MAX_TERMS, AvgPool2D, Bias, Conv2D, LayerSpec, MaxPool2D, parse_size

LAYER_KINDS = {"conv2d": Conv2D, "maxpool2d": MaxPool2D, "avgpool2d": AvgPool2D}
_CONV_ONLY = ("kernel", "padding", "dilation", "in_channels", "out_channels", "bias")
_POOL_ONLY = ("window", "channels")


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


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_int(text: str) -> int:
    """argparse type: a whole number ≥ 1 (``--max-terms``, channel counts)."""
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole number ≥ 1")
    return value


def spec_from_args(args: argparse.Namespace) -> LayerSpec:
    """Build and validate the layer spec described by the parsed options.

    Example:
        >>> ns = argparse.Namespace(layer="conv2d", input="3x3", kernel="2x2", window=None,
        ...     stride=None, padding=None, dilation=None, in_channels=None, out_channels=None,
        ...     bias=None, channels=None, index_base=1, max_terms=10**6)
        >>> spec_from_args(ns).output_shape
        (1, 2, 2)
    """
    kind = args.layer
    if kind not in LAYER_KINDS:
        raise SpecError(f"unknown layer {kind!r}; valid: {', '.join(LAYER_KINDS)}")
    if args.input is None:
        raise SpecError(f"{kind} needs --input HxW, e.g. --input 5x5")
    common: dict[str, Any] = {"index_base": args.index_base, "max_terms": args.max_terms}
    if kind == "conv2d":
        _reject(args, _POOL_ONLY, kind, "use --kernel and --in-channels")
        if args.kernel is None:
            raise SpecError("conv2d needs --kernel KHxKW, e.g. --kernel 2x2")
        return Conv2D(
            input=parse_size(args.input, "input"),
            kernel=parse_size(args.kernel, "kernel"),
            stride=parse_size(args.stride, "stride") if args.stride else (1, 1),
            padding=parse_size(args.padding, "padding", minimum=0) if args.padding else (0, 0),
            dilation=parse_size(args.dilation, "dilation") if args.dilation else (1, 1),
            in_channels=1 if args.in_channels is None else args.in_channels,
            out_channels=1 if args.out_channels is None else args.out_channels,
            bias=Bias.parse(args.bias or "shared"),
            **common,
        )
    _reject(args, _CONV_ONLY, kind, "pooling layers take --window and --channels")
    if args.window is None:
        raise SpecError(f"{kind} needs --window KHxKW, e.g. --window 2x2")
    cls = LAYER_KINDS[kind]
    return cls(
        input=parse_size(args.input, "input"),
        window=parse_size(args.window, "window"),
        stride=parse_size(args.stride, "stride") if args.stride else None,
        channels=1 if args.channels is None else args.channels,
        **common,
    )


def _reject(args: argparse.Namespace, names: tuple[str, ...], kind: str, hint: str) -> None:
    for name in names:
        if getattr(args, name, None) is not None:
            raise SpecError(f"--{name.replace('_', '-')} does not apply to {kind}; {hint}")

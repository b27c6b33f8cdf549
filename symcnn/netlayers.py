"""Layer descriptions of a network (sizes come from the chain) and their TOML-style tables."""

from __future__ import annotations

import difflib
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import SpecError
from .netspec import ActivationKind
from .spec import Bias, Pair, _positive, parse_size


class LayerKind(enum.Enum):
    """Every layer type a network file may name (the ``type`` key of a ``[[layer]]``)."""

    CONV2D = "conv2d"
    MAXPOOL2D = "maxpool2d"
    AVGPOOL2D = "avgpool2d"
    SIGMOID = "sigmoid"
    TANH = "tanh"
    RELU = "relu"
    IDENTITY = "identity"
    FLATTEN = "flatten"
    DENSE = "dense"


class NetworkShapeError(SpecError):
    """A layer does not fit the output of the layer before it; ``layer`` is its index."""

    def __init__(self, layer: int | None, message: str) -> None:
        super().__init__(message)
        self.layer = layer


class LayerKeyError(SpecError):
    """A bad key or value in a layer table; ``key`` names it (None: the table as a whole)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key


# --- layer descriptions (sizes come from the chain) ---------------------------------------


@dataclass(frozen=True)
class ConvLayer:
    """A conv2d layer of a network; its input size and channels come from the layer before.

    Example:
        >>> ConvLayer(kernel=2, bias="untied").kind
        <LayerKind.CONV2D: 'conv2d'>
    """

    kernel: Pair
    out_channels: int = 1
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    bias: Bias = Bias.SHARED
    in_channels: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kernel", parse_size(self.kernel, "kernel"))
        set_(self, "out_channels", _positive(self.out_channels, "out_channels"))
        set_(self, "stride", parse_size(self.stride, "stride"))
        set_(self, "padding", parse_size(self.padding, "padding", minimum=0))
        set_(self, "dilation", parse_size(self.dilation, "dilation"))
        set_(self, "bias", Bias.parse(self.bias))
        if self.in_channels is not None:
            set_(self, "in_channels", _positive(self.in_channels, "in_channels"))

    kind = LayerKind.CONV2D


@dataclass(frozen=True)
class _PoolLayer:
    window: Pair
    stride: Pair | None = None
    kind: ClassVar[LayerKind]

    def __post_init__(self) -> None:
        object.__setattr__(self, "window", parse_size(self.window, "window"))
        if self.stride is not None:
            object.__setattr__(self, "stride", parse_size(self.stride, "stride"))


@dataclass(frozen=True)
class MaxPoolLayer(_PoolLayer):
    """A max-pooling layer of a network (stride defaults to the window).

    Example:
        >>> MaxPoolLayer(window=2).window
        (2, 2)
    """

    kind = LayerKind.MAXPOOL2D


@dataclass(frozen=True)
class AvgPoolLayer(_PoolLayer):
    """An average-pooling layer of a network (stride defaults to the window)."""

    kind = LayerKind.AVGPOOL2D


@dataclass(frozen=True)
class ActivationLayer:
    """An element-wise activation: sigmoid, tanh, relu or identity.

    Example:
        >>> ActivationLayer("sigmoid").kind
        <LayerKind.SIGMOID: 'sigmoid'>
    """

    function: ActivationKind

    def __post_init__(self) -> None:
        object.__setattr__(self, "function", ActivationKind.parse(self.function))

    @property
    def kind(self) -> LayerKind:
        """The layer type, named after the function."""
        return LayerKind(self.function.value)


@dataclass(frozen=True)
class FlattenLayer:
    """Flatten [C, H, W] into a vector, row-major over (C, H, W)."""

    kind = LayerKind.FLATTEN


@dataclass(frozen=True)
class DenseLayer:
    """A fully connected layer with ``out_features`` neurons (``in_features``: optional check).

    Example:
        >>> DenseLayer(2).out_features
        2
    """

    out_features: int
    bias: bool = True
    in_features: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_features", _positive(self.out_features, "out_features"))
        if not isinstance(self.bias, bool):
            raise SpecError(f"bias of a dense layer is true or false, got {self.bias!r}")
        if self.in_features is not None:
            object.__setattr__(self, "in_features", _positive(self.in_features, "in_features"))

    kind = LayerKind.DENSE


LayerDesc = ConvLayer | MaxPoolLayer | AvgPoolLayer | ActivationLayer | FlattenLayer | DenseLayer

#: Keys each layer type accepts besides ``type`` (the first ones listed are required).
LAYER_KEYS: dict[LayerKind, tuple[str, ...]] = {
    LayerKind.CONV2D: (
        "kernel",
        "out_channels",
        "stride",
        "padding",
        "dilation",
        "bias",
        "in_channels",
    ),
    LayerKind.MAXPOOL2D: ("window", "stride"),
    LayerKind.AVGPOOL2D: ("window", "stride"),
    LayerKind.DENSE: ("out_features", "bias", "in_features"),
    LayerKind.FLATTEN: (),
    **{LayerKind(k.value): () for k in ActivationKind},
}
_REQUIRED = {
    LayerKind.CONV2D: ("kernel", "kernel = [2, 2]"),
    LayerKind.MAXPOOL2D: ("window", "window = [2, 2]"),
    LayerKind.AVGPOOL2D: ("window", "window = [2, 2]"),
    LayerKind.DENSE: ("out_features", "out_features = 2"),
}


def suggest(word: str, valid: Sequence[str]) -> str:
    """`` (did you mean 'kernel'?)`` when a close match exists, else an empty string.

    Example:
        >>> suggest("kernal", ["kernel", "stride"])
        " (did you mean 'kernel'?)"
    """
    close = difflib.get_close_matches(word, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def layer_from_dict(table: Mapping[str, Any]) -> LayerDesc:
    """Build a layer description from a TOML-style table, rejecting unknown types and keys.

    Example:
        >>> layer_from_dict({"type": "conv2d", "kernel": [2, 2], "bias": "untied"}).bias
        <Bias.UNTIED: 'untied'>
    """
    if "type" not in table:
        raise LayerKeyError(None, 'a layer needs a type, e.g. type = "conv2d"')
    name = table["type"]
    valid_types = [k.value for k in LayerKind]
    try:
        kind = LayerKind(name)
    except ValueError:
        raise LayerKeyError(
            "type",
            f"unknown layer type {name!r}{suggest(str(name), valid_types)}; "
            f"valid: {', '.join(valid_types)}",
        ) from None
    allowed = LAYER_KEYS[kind]
    for key in table:
        if key != "type" and key not in allowed:
            hint = f"valid keys: {', '.join(allowed)}" if allowed else "it takes no keys"
            raise LayerKeyError(
                key, f"unknown key {key!r} for {kind.value}{suggest(key, allowed)}; {hint}"
            )
    if kind in _REQUIRED and _REQUIRED[kind][0] not in table:
        key, example = _REQUIRED[kind]
        raise LayerKeyError(None, f"{kind.value} needs {key}, e.g. {example}")
    opts = {k: v for k, v in table.items() if k != "type"}
    return _build_desc(kind, opts)


def _build_desc(kind: LayerKind, opts: dict[str, Any]) -> LayerDesc:
    """Construct the description, naming the key whose value is invalid."""
    required = (_REQUIRED[kind][0],) if kind in _REQUIRED else ()
    ordered = [k for k in opts if k in required] + [k for k in opts if k not in required]
    for key in ordered:
        try:  # validate each key alone (with the required ones) so that an error names it
            _construct(kind, {k: v for k, v in opts.items() if k == key or k in required})
        except SpecError as err:
            raise LayerKeyError(key, str(err)) from None
    return _construct(kind, opts)


def _construct(kind: LayerKind, opts: dict[str, Any]) -> LayerDesc:
    if kind is LayerKind.CONV2D:
        return ConvLayer(**opts)
    if kind is LayerKind.MAXPOOL2D:
        return MaxPoolLayer(**opts)
    if kind is LayerKind.AVGPOOL2D:
        return AvgPoolLayer(**opts)
    if kind is LayerKind.FLATTEN:
        return FlattenLayer()
    if kind is LayerKind.DENSE:
        return DenseLayer(**opts)
    return ActivationLayer(ActivationKind(kind.value))

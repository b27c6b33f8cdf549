"""A network: an ordered list of layer descriptions, chained and shape-checked into sized specs."""

from __future__ import annotations

import difflib
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import singledispatch
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import SpecError, TooLargeError
from .netspec import (
    Activation,
    ActivationKind,
    Dense,
    Flatten,
    Loss,
    LossKind,
    Shape,
    shape_of,
    shape_text,
)
from .spec import (
    DEFAULT_MAX_TERMS,
    AvgPool2D,
    Bias,
    Conv2D,
    MaxPool2D,
    Pair,
    _check_index_base,
    _positive,
    parse_size,
)

if TYPE_CHECKING:
    from .netderive import NetworkDerivation

LayerSpec = Conv2D | MaxPool2D | AvgPool2D | Activation | Flatten | Dense


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
    """`` (did you mean 'kernel'?)`` when a close match exists, else an empty string."""
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


# --- chaining -----------------------------------------------------------------------------


def shape_arithmetic(spec: LayerSpec | None) -> str:
    """How a layer's output shape follows from its input: the conv arithmetic per axis.

    Example:
        >>> shape_arithmetic(MaxPool2D(input=(4, 4), window=(2, 2)))
        'rows ⌊(4 − 2)/2⌋ + 1 = 2, cols ⌊(4 − 2)/2⌋ + 1 = 2'
    """
    if isinstance(spec, Conv2D):
        parts = []
        for axis, name in enumerate(("rows", "cols")):
            n, k, s = spec.input[axis], spec.kernel[axis], spec.stride[axis]
            p, d = spec.padding[axis], spec.dilation[axis]
            out = spec.output_size[axis]
            parts.append(f"{name} ⌊({n} + 2·{p} − {d}·({k} − 1) − 1)/{s}⌋ + 1 = {out}")
        return ", ".join(parts)
    if isinstance(spec, (MaxPool2D, AvgPool2D)):
        assert spec.stride is not None
        return ", ".join(
            f"{name} ⌊({spec.input[a]} − {spec.window[a]})/{spec.stride[a]}⌋ + 1 "
            f"= {spec.output_size[a]}"
            for a, name in enumerate(("rows", "cols"))
        )
    if isinstance(spec, Flatten):
        return f"{'·'.join(map(str, spec.input_shape))} = {spec.output_shape[0]} features"
    if isinstance(spec, Dense):
        return f"out_features = {spec.out_features}"
    if isinstance(spec, Activation):
        return "same shape as its input"
    return "the network input"


@dataclass(frozen=True)
class _Chain:
    """What the layer being resolved receives: its input shape and where that shape came from."""

    index: int
    shape: Shape
    source: str
    base: int
    max_terms: int

    def fail(self, kind: LayerKind, why: str) -> NetworkShapeError:
        return NetworkShapeError(
            self.index, f"layer {self.index} ({kind.value}): {why}; its input {self.source}"
        )

    def spatial(self, kind: LayerKind) -> tuple[int, int, int]:
        if len(self.shape) != 3:
            raise self.fail(kind, "needs a [C, H, W] input but gets a flat vector")
        c, h, w = self.shape
        return c, h, w


@singledispatch
def _resolve(desc: object, chain: _Chain) -> LayerSpec:
    raise SpecError(
        f"layer {chain.index}: {type(desc).__name__} is not a layer; use ConvLayer, "
        "MaxPoolLayer, AvgPoolLayer, ActivationLayer, FlattenLayer, DenseLayer or a dict"
    )


@_resolve.register
def _(desc: ConvLayer, chain: _Chain) -> LayerSpec:
    c, h, w = chain.spatial(desc.kind)
    if desc.in_channels is not None and desc.in_channels != c:
        raise chain.fail(desc.kind, f"in_channels = {desc.in_channels}, but the input has {c}")
    try:
        return Conv2D(
            input=(h, w),
            kernel=desc.kernel,
            stride=desc.stride,
            padding=desc.padding,
            dilation=desc.dilation,
            in_channels=c,
            out_channels=desc.out_channels,
            bias=desc.bias,
            index_base=chain.base,
            max_terms=chain.max_terms,
        )
    except TooLargeError:
        raise
    except SpecError as err:
        raise chain.fail(desc.kind, str(err)) from None


@_resolve.register
def _(desc: _PoolLayer, chain: _Chain) -> LayerSpec:
    c, h, w = chain.spatial(desc.kind)
    cls = MaxPool2D if isinstance(desc, MaxPoolLayer) else AvgPool2D
    try:
        return cls(
            input=(h, w),
            window=desc.window,
            stride=desc.stride,
            channels=c,
            index_base=chain.base,
            max_terms=chain.max_terms,
        )
    except TooLargeError:
        raise
    except SpecError as err:
        raise chain.fail(desc.kind, str(err)) from None


@_resolve.register
def _(desc: ActivationLayer, chain: _Chain) -> LayerSpec:
    return Activation(desc.function, chain.shape, chain.base, chain.max_terms)


@_resolve.register
def _(desc: FlattenLayer, chain: _Chain) -> LayerSpec:
    return Flatten(chain.shape, chain.base, chain.max_terms)


@_resolve.register
def _(desc: DenseLayer, chain: _Chain) -> LayerSpec:
    if len(chain.shape) != 1:
        n = "·".join(map(str, chain.shape))
        raise chain.fail(
            desc.kind,
            f"needs a flat input, so put a flatten layer before it (it would give "
            f"{n} = {math.prod(chain.shape)} features)",
        )
    (n_in,) = chain.shape
    if desc.in_features is not None and desc.in_features != n_in:
        raise chain.fail(
            desc.kind, f"in_features = {desc.in_features}, but its input has {n_in} features"
        )
    return Dense(n_in, desc.out_features, desc.bias, chain.base, chain.max_terms)


def _to_desc(item: Any, index: int) -> LayerDesc:
    if isinstance(item, Mapping):
        try:
            return layer_from_dict(item)
        except LayerKeyError as err:
            raise NetworkShapeError(index, f"layer {index}: {err}") from None
    return item


@dataclass(frozen=True)
class Network:
    """An ordered list of layers on an input of shape [C, H, W] (or [N]), ending in a loss.

    Layers are numbered from 0; their parameters are named ``<index>.weight`` and
    ``<index>.bias``. Items may be layer descriptions or TOML-style dicts. Shapes are
    checked when the network is built.

    Example:
        >>> net = Network([ConvLayer(kernel=2, bias="untied"), ActivationLayer("sigmoid")],
        ...               input=(1, 3, 3), loss="mse")
        >>> [s.output_shape for s in net.specs]
        [(1, 2, 2), (1, 2, 2)]
        >>> Network([{"type": "flatten"}, {"type": "dense", "out_features": 2}],
        ...         input=(1, 2, 2)).param_shapes()
        {'1.weight': (2, 4), '1.bias': (2,)}
    """

    layers: tuple[LayerDesc, ...]
    input: Shape
    loss: LossKind = LossKind.MSE
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)
    specs: tuple[LayerSpec, ...] = field(init=False, compare=False, repr=False)
    loss_spec: Loss = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input", shape_of(self.input, "input"))
        set_(self, "loss", LossKind.parse(self.loss))
        _check_index_base(self.index_base)
        if isinstance(self.layers, (str, bytes, Mapping)) or not isinstance(self.layers, Sequence):
            raise SpecError("layers must be a list of layer descriptions")
        if not self.layers:
            raise SpecError("a network needs at least one layer")
        set_(self, "layers", tuple(_to_desc(item, i) for i, item in enumerate(self.layers)))
        specs: list[LayerSpec] = []
        shape, source = self.input, "is the network input"
        for index, desc in enumerate(self.layers):
            chain = _Chain(index, shape, source, self.index_base, self.max_terms)
            spec = _resolve(desc, chain)
            specs.append(spec)
            shape = tuple(spec.output_shape)
            source = (
                f"{shape_text(shape)} comes from layer {index} ({desc.kind.value}: "
                f"{shape_arithmetic(spec)})"
            )
        set_(self, "specs", tuple(specs))
        total = sum(s.term_count for s in specs)
        if total > self.max_terms:
            raise TooLargeError(
                f"this network would build about {total:,} product terms, more than the "
                f"limit of {self.max_terms:,}; use a smaller network or raise --max-terms"
            )
        try:
            set_(self, "loss_spec", Loss(self.loss, shape, self.index_base, self.max_terms))
        except SpecError as err:
            raise NetworkShapeError(len(self.layers), f"loss: {err}") from None

    @property
    def output_shape(self) -> Shape:
        """Shape of the network output ŷ (and of the target)."""
        return tuple(self.specs[-1].output_shape)

    def param_shapes(self) -> dict[str, Shape]:
        """``{"0.weight": (O, C, KH, KW), "0.bias": (O,), …}`` in layer order."""
        out: dict[str, Shape] = {}
        for index, spec in enumerate(self.specs):
            if isinstance(spec, (Conv2D, Dense)):
                out[f"{index}.weight"] = tuple(spec.weight_shape)
                if spec.bias_shape is not None:
                    out[f"{index}.bias"] = tuple(spec.bias_shape)
        return out

    def describe(self) -> str:
        """One line: ``input 1x3x3 → 0 conv2d 1x2x2 → 1 sigmoid 1x2x2 → loss mse``."""
        parts = [f"input {shape_text(self.input)}"]
        for index, (desc, spec) in enumerate(zip(self.layers, self.specs)):
            parts.append(f"{index} {desc.kind.value} {shape_text(tuple(spec.output_shape))}")
        parts.append(f"loss {self.loss.value}")
        return " → ".join(parts)

    def config(self) -> dict[str, Any]:
        """The network as plain JSON-able values (the TOML file's content, resolved)."""
        layers = []
        for index, (desc, spec) in enumerate(zip(self.layers, self.specs)):
            entry: dict[str, Any] = {"index": index, "type": desc.kind.value}
            entry.update(spec.config())
            entry["output_shape"] = list(spec.output_shape)
            layers.append(entry)
        return {
            "input": list(self.input),
            "loss": self.loss.value,
            "index_base": self.index_base,
            "layers": layers,
        }

    def derive(self, prove: bool = True) -> NetworkDerivation:
        """Every layer's forward terms, δ links and parameter gradients (see `netderive`)."""
        from .netderive import derive_network

        return derive_network(self, prove=prove)

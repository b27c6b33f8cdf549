"""A network: an ordered list of layer descriptions, chained and shape-checked into sized specs."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import singledispatch
from typing import TYPE_CHECKING, Any

from .errors import SpecError, TooLargeError
from .netlayers import (
    ActivationLayer,
    AvgPoolLayer,
    ConvLayer,
    DenseLayer,
    FlattenLayer,
    LayerDesc,
    LayerKeyError,
    LayerKind,
    MaxPoolLayer,
    NetworkShapeError,
    _PoolLayer,
    layer_from_dict,
)
from .netspec import Activation, Dense, Flatten, Loss, LossKind, Shape, shape_of, shape_text
from .spec import (
    DEFAULT_MAX_TERMS,
    AvgPool2D,
    Conv2D,
    MaxPool2D,
    _check_index_base,
)

if TYPE_CHECKING:
    from .netderive import NetworkDerivation

LayerSpec = Conv2D | MaxPool2D | AvgPool2D | Activation | Flatten | Dense

__all__ = [
    "ActivationLayer",
    "AvgPoolLayer",
    "ConvLayer",
    "DenseLayer",
    "FlattenLayer",
    "LayerKind",
    "MaxPoolLayer",
    "Network",
    "NetworkShapeError",
    "shape_arithmetic",
]


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

    @contextmanager
    def blame(self, kind: LayerKind) -> Iterator[None]:
        """Report a layer spec's own error (kernel too large …) with this layer's place."""
        try:
            yield
        except SpecError as err:
            raise self.fail(kind, str(err)) from None

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
    with chain.blame(desc.kind):
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


@_resolve.register
def _(desc: _PoolLayer, chain: _Chain) -> LayerSpec:
    c, h, w = chain.spatial(desc.kind)
    cls = MaxPool2D if isinstance(desc, MaxPoolLayer) else AvgPool2D
    with chain.blame(desc.kind):
        return cls(
            input=(h, w),
            window=desc.window,
            stride=desc.stride,
            channels=c,
            index_base=chain.base,
            max_terms=chain.max_terms,
        )


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

"""The names of symcnn 0.1, kept for one release: each warns and builds its replacement."""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass
from typing import Any

from .api import Derivation, derive
from .core.shapes import DEFAULT_MAX_TERMS
from .kinds.activation import Identity, ReLU, Sigmoid, Tanh
from .kinds.base import Layer
from .kinds.conv2d import Conv2d
from .kinds.dense import Linear
from .kinds.flatten import Flatten
from .kinds.pool2d import AvgPool2d, MaxPool2d
from .kinds.registry import LAYERS, LOSSES


def warn(old: str, new: str) -> None:
    """A `DeprecationWarning` saying what replaces ``old``."""
    warnings.warn(f"symcnn.{old} is deprecated; use {new}", DeprecationWarning, stacklevel=3)


@dataclass(frozen=True)
class LoneLayer:
    """A sized layer with the index base of its names, as the 0.1 layer classes were.

    Attributes read through to the layer; `derive` derives it alone.
    """

    layer: Layer
    index_base: int = 1
    max_terms: int = DEFAULT_MAX_TERMS

    def __getattr__(self, name: str) -> Any:
        return getattr(self.layer, name)

    def derive(self, prove: bool = True) -> Derivation:
        """`symcnn.derive` of the layer."""
        return derive(self.layer, prove=prove, index_base=self.index_base, max_terms=self.max_terms)


def Conv2D(
    input: Any,
    kernel: Any,
    stride: Any = (1, 1),
    padding: Any = (0, 0),
    dilation: Any = (1, 1),
    in_channels: int = 1,
    out_channels: int = 1,
    bias: Any = "shared",
    index_base: int = 1,
    max_terms: int = DEFAULT_MAX_TERMS,
) -> LoneLayer:
    """0.1's ``Conv2D(input=(H, W), kernel=…)``: now ``Conv2d(kernel=…, input=(C, H, W))``."""
    warn("Conv2D", "symcnn.Conv2d(kernel, ..., input=(C, H, W)) and symcnn.derive(layer)")
    layer = Conv2d(kernel, out_channels, stride, padding, dilation, bias, in_channels, input=input)
    return LoneLayer(layer, index_base, max_terms)


def _pool(cls: type, old: str, input: Any, window: Any, stride: Any, channels: int, index_base: int, max_terms: int) -> LoneLayer:  # fmt: skip
    warn(old, f"symcnn.{cls.__name__}(window, ..., input=(C, H, W)) and symcnn.derive(layer)")
    return LoneLayer(cls(window, stride, channels, input=input), index_base, max_terms)


def MaxPool2D(
    input: Any, window: Any, stride: Any = None, channels: int = 1, index_base: int = 1,
    max_terms: int = DEFAULT_MAX_TERMS,
) -> LoneLayer:  # fmt: skip
    """0.1's ``MaxPool2D(input=(H, W), window=…)``: now ``MaxPool2d(window, input=…)``."""
    return _pool(MaxPool2d, "MaxPool2D", input, window, stride, channels, index_base, max_terms)


def AvgPool2D(
    input: Any, window: Any, stride: Any = None, channels: int = 1, index_base: int = 1,
    max_terms: int = DEFAULT_MAX_TERMS,
) -> LoneLayer:  # fmt: skip
    """0.1's ``AvgPool2D(input=(H, W), window=…)``: now ``AvgPool2d(window, input=…)``."""
    return _pool(AvgPool2d, "AvgPool2D", input, window, stride, channels, index_base, max_terms)


def ActivationLayer(function: Any) -> Layer:
    """0.1's ``ActivationLayer("sigmoid")``: now ``Sigmoid()``, ``Tanh()``, ``ReLU()``."""
    warn("ActivationLayer", "symcnn.Sigmoid(), symcnn.Tanh(), symcnn.ReLU() or symcnn.Identity()")
    name = getattr(function, "value", function)
    kinds = {cls.kind: cls for cls in (Sigmoid, Tanh, ReLU, Identity)}
    return kinds[str(name).lower()]()


#: 0.1 name → (its replacement, what to say).
RENAMED: dict[str, tuple[Any, str]] = {
    "ConvLayer": (Conv2d, "symcnn.Conv2d"),
    "MaxPoolLayer": (MaxPool2d, "symcnn.MaxPool2d"),
    "AvgPoolLayer": (AvgPool2d, "symcnn.AvgPool2d"),
    "DenseLayer": (Linear, "symcnn.Linear"),
    "FlattenLayer": (Flatten, "symcnn.Flatten"),
    "LayerKind": (enum.Enum("LayerKind", {k.upper(): k for k in LAYERS}), "symcnn.LAYERS"),
    "LossKind": (enum.Enum("LossKind", {k.upper(): k for k in LOSSES}), "symcnn.LOSSES"),
    "ActivationKind": (
        enum.Enum(
            "ActivationKind", {k.upper(): k for k in ("sigmoid", "tanh", "relu", "identity")}
        ),
        "symcnn.Sigmoid, symcnn.Tanh, symcnn.ReLU, symcnn.Identity",
    ),
}
#: 0.1 names that are functions of this module.
FUNCTIONS = {
    "Conv2D": Conv2D,
    "MaxPool2D": MaxPool2D,
    "AvgPool2D": AvgPool2D,
    "ActivationLayer": ActivationLayer,
}


def deprecated(name: str) -> Any:
    """The object behind a 0.1 name (with a warning), or AttributeError."""
    if name in FUNCTIONS:
        return FUNCTIONS[name]
    if name in RENAMED:
        obj, new = RENAMED[name]
        warn(name, new)
        return obj
    raise AttributeError(f"module 'symcnn' has no attribute {name!r}")

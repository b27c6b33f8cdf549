"""Specifications of the network-only layers: activations, flatten, dense and the loss."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from .errors import SpecError
from .spec import DEFAULT_MAX_TERMS, _check_index_base, _check_terms, _positive, parse_enum

Shape = tuple[int, ...]


class ActivationKind(enum.Enum):
    """The element-wise activation functions."""

    SIGMOID = "sigmoid"
    TANH = "tanh"
    RELU = "relu"
    IDENTITY = "identity"

    @classmethod
    def parse(cls, value: ActivationKind | str) -> ActivationKind:
        """Accept an `ActivationKind` or its name: ``ActivationKind.parse("relu")``."""
        return parse_enum(cls, value, "activation")


class LossKind(enum.Enum):
    """The losses: ``mse`` is E = ½ Σ (ŷ − t)²; ``cross_entropy`` is −Σ t·log softmax(ŷ)."""

    MSE = "mse"
    CROSS_ENTROPY = "cross_entropy"

    @classmethod
    def parse(cls, value: LossKind | str) -> LossKind:
        """Accept a `LossKind` or its name: ``LossKind.parse("mse")``."""
        return parse_enum(cls, value, "loss")

    @property
    def definition(self) -> str:
        """The loss as a formula, with the convention it follows."""
        if self is LossKind.MSE:
            return "E = ½ Σ_k (ŷ_k − t_k)²  (the seeds' convention: ½ and a sum, no mean)"
        return (
            "E = −Σ_k t_k·log softmax(ŷ)_k = logsumexp(ŷ) − Σ_k t_k·ŷ_k  "
            "(targets t form a probability vector: t ≥ 0, Σ t = 1)"
        )


def shape_of(value: Any, what: str) -> Shape:
    """Validate a tensor shape: ``(C, H, W)`` or ``(N,)`` with every size ≥ 1.

    Example:
        >>> shape_of([1, 5, 5], "input")
        (1, 5, 5)
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or len(value) not in (1, 3):
        raise SpecError(
            f"{what} must be [C, H, W] (e.g. [1, 5, 5]) or [N] for a flat vector, got {value!r}"
        )
    return tuple(_positive(v, what) for v in value)


def shape_text(shape: Shape) -> str:
    """``1x5x5``; a flat vector of 4 is ``4``.

    Example:
        >>> shape_text((1, 5, 5)), shape_text((4,))
        ('1x5x5', '4')
    """
    return "x".join(str(s) for s in shape)


def channel_axes(shape: Shape) -> int:
    """How many leading axes of a tensor are channel axes: 1 for [C, H, W], 0 for [N].

    Example:
        >>> channel_axes((2, 4, 4)), channel_axes((8,))
        (1, 0)
    """
    return 1 if len(shape) == 3 else 0


@dataclass(frozen=True)
class Activation:
    """An element-wise activation on a tensor of any shape; its output has the same shape.

    Example:
        >>> Activation("sigmoid", (1, 2, 2)).output_shape
        (1, 2, 2)
    """

    kind: ActivationKind
    shape: Shape
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ActivationKind.parse(self.kind))
        object.__setattr__(self, "shape", shape_of(self.shape, "activation shape"))
        _check_index_base(self.index_base)
        _check_terms(self.term_count, self.max_terms)

    @property
    def input_shape(self) -> Shape:
        """Shape of the input (the same as the output)."""
        return self.shape

    @property
    def output_shape(self) -> Shape:
        """Shape of the output and of δ."""
        return self.shape

    @property
    def term_count(self) -> int:
        """One term per entry."""
        return math.prod(self.shape)

    def config(self) -> dict[str, Any]:
        """Every option, resolved, as plain JSON-able values."""
        return {"function": self.kind.value, "shape": list(self.shape)}


@dataclass(frozen=True)
class Flatten:
    """Row-major flattening of a [C, H, W] tensor into a vector of C·H·W entries (PyTorch's order).

    Example:
        >>> Flatten((2, 2, 3)).output_shape
        (12,)
    """

    input_shape: Shape
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_shape", shape_of(self.input_shape, "flatten input"))
        _check_index_base(self.index_base)

    @property
    def output_shape(self) -> Shape:
        """(C·H·W,)."""
        return (math.prod(self.input_shape),)

    @property
    def term_count(self) -> int:
        """One term per entry."""
        return math.prod(self.input_shape)

    def config(self) -> dict[str, Any]:
        """Every option, resolved, as plain JSON-able values."""
        return {"input_shape": list(self.input_shape), "order": "row-major (C, H, W)"}


@dataclass(frozen=True)
class Dense:
    """A fully connected layer: ``z_i = Σ_j W_ij·x_j + b_i``; weight [out, in], bias [out].

    Example:
        >>> Dense(in_features=4, out_features=2).weight_shape
        (2, 4)
    """

    in_features: int
    out_features: int
    bias: bool = True
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_features", _positive(self.in_features, "in_features"))
        object.__setattr__(self, "out_features", _positive(self.out_features, "out_features"))
        if not isinstance(self.bias, bool):
            raise SpecError(f"bias of a dense layer is true or false, got {self.bias!r}")
        _check_index_base(self.index_base)
        _check_terms(self.term_count, self.max_terms)

    @property
    def input_shape(self) -> Shape:
        """(in_features,)."""
        return (self.in_features,)

    @property
    def output_shape(self) -> Shape:
        """(out_features,)."""
        return (self.out_features,)

    @property
    def weight_shape(self) -> Shape:
        """(out_features, in_features), as PyTorch's ``nn.Linear``."""
        return (self.out_features, self.in_features)

    @property
    def bias_shape(self) -> Shape | None:
        """(out_features,), or None without bias."""
        return (self.out_features,) if self.bias else None

    @property
    def term_count(self) -> int:
        """Product terms of the weight gradient."""
        return self.in_features * self.out_features

    def config(self) -> dict[str, Any]:
        """Every option, resolved, as plain JSON-able values."""
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias,
        }


@dataclass(frozen=True)
class Loss:
    """The loss E of the network output ŷ (any shape for mse, a vector for cross_entropy).

    Example:
        >>> Loss("mse", (2,)).output_shape
        ()
    """

    kind: LossKind
    shape: Shape
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", LossKind.parse(self.kind))
        object.__setattr__(self, "shape", shape_of(self.shape, "loss input"))
        _check_index_base(self.index_base)
        if self.kind is LossKind.CROSS_ENTROPY and len(self.shape) != 1:
            raise SpecError(
                f"cross_entropy needs a flat output (one score per class), but the network "
                f"ends in {shape_text(self.shape)}; end it with flatten and a dense layer"
            )

    @property
    def input_shape(self) -> Shape:
        """Shape of the network output ŷ and of the target t."""
        return self.shape

    @property
    def output_shape(self) -> Shape:
        """E is a scalar."""
        return ()

    @property
    def term_count(self) -> int:
        """One term per entry of ŷ."""
        return math.prod(self.shape)

    def config(self) -> dict[str, Any]:
        """Every option, resolved, as plain JSON-able values."""
        return {"loss": self.kind.value, "shape": list(self.shape)}

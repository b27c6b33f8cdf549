"""Element-wise activations: sigmoid, tanh, relu and identity, each applied to every entry alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from ..core import functions as fn
from ..core import indexed as ix
from ..core.indexed import General
from ..core.shapes import Shape, shape_of
from ..core.symbols import Role
from .base import Layer


@dataclass(frozen=True)
class _Elementwise(Layer):
    """An element-wise function on a tensor of any shape; its output has the same shape."""

    input: Shape | None = field(default=None, kw_only=True)

    template = "layer_activation.tex.j2"
    letter = "a"
    lone = ("z", "a")

    def __post_init__(self) -> None:
        if self.input is not None:
            object.__setattr__(self, "input", shape_of(self.input, "activation shape"))

    def apply(self, x: Any) -> Any:
        """The function applied to one expression."""
        raise NotImplementedError

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        """``a[idx] = f(z[idx])`` for every entry: one summand, the function of one symbol.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> z = Grid("z", Role.INPUT, (2,), (False,)).symbols
            >>> Sigmoid(input=(2,)).terms(z, {})[0]
            (Sigmoid(z_1),)
        """
        terms = np.empty(self.input_shape, dtype=object)
        for idx in np.ndindex(*self.input_shape):
            terms[idx] = (self.apply(sympy.Symbol(str(x[idx]))),)
        return terms

    def config(self) -> dict[str, Any]:
        return {"function": self.kind, "shape": list(self.input_shape)}

    def index_formula(self, base: int) -> General:
        """``z[i,j] = f(a[i,j])`` (one index for a flat vector).

        Example:
            >>> Sigmoid(input=(1, 2, 2)).index_formula(1).rhs
            Sigmoid(a[i, j])
        """
        outer, rng, sizes = ix.elementwise(self.input_shape, base)
        wrt = {Role.INPUT: ix.A[tuple(ix.primed(s) for s in outer)]}
        return General(ix.Z[outer], self.apply(ix.A[outer]), outer, rng, sizes, wrt)

    def facts(self) -> dict[str, Any]:
        shape = self.input_shape
        return {"channels": shape[0] if len(shape) == 3 else 1, "function": self.kind}


@dataclass(frozen=True)
class Sigmoid(_Elementwise):
    """The logistic sigmoid σ(x) = 1/(1 + e^(−x)); σ' = σ(1 − σ).

    Example:
        >>> Sigmoid(input=(1, 2, 2)).output_shape
        (1, 2, 2)
    """

    kind = "sigmoid"
    title = "sigmoid"
    note = "σ(z) = 1/(1 + e^(−z)) and σ'(z) = σ(z)·(1 − σ(z))"

    def apply(self, x: Any) -> Any:
        return fn.Sigmoid(x)


@dataclass(frozen=True)
class Tanh(_Elementwise):
    """The hyperbolic tangent; tanh' = 1 − tanh²."""

    kind = "tanh"
    title = "tanh"
    note = "tanh'(z) = 1 − tanh(z)²"

    def apply(self, x: Any) -> Any:
        return sympy.tanh(x)


@dataclass(frozen=True)
class ReLU(_Elementwise):
    """The rectifier relu(x) = max(0, x); relu'(x) = [x > 0], 0 at x = 0 (PyTorch's choice)."""

    kind = "relu"
    title = "ReLU"
    note = "relu(z) = max(0, z); relu'(z) = [z > 0], 0 at z = 0 (PyTorch's choice)"

    def apply(self, x: Any) -> Any:
        return fn.ReLU(x)


@dataclass(frozen=True)
class Identity(_Elementwise):
    """The identity: its output is its input (derivative 1)."""

    kind = "identity"
    title = "identity"

    def apply(self, x: Any) -> Any:
        return x

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        terms = np.empty(self.input_shape, dtype=object)
        for idx in np.ndindex(*self.input_shape):
            terms[idx] = (x[idx],)
        return terms

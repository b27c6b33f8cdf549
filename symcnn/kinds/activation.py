"""Element-wise activations: sigmoid, tanh, relu and identity, each applied to every entry alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import sympy

from ..core import indexed as ix
from ..core.functions import ElementwiseBase
from ..core.indexed import General
from ..core.shapes import Shape, shape_of
from ..core.symbols import Role
from .base import Layer, NumpyCode


class sigmoid(ElementwiseBase):
    """σ(x) = 1/(1 + e^(−x)); its derivative is σ(x)·(1 − σ(x)), the seeds' form.

    Example:
        >>> x = sympy.Symbol("x")
        >>> sigmoid(x).diff(x), sigmoid(0)
        ((1 - sigmoid(x))*sigmoid(x), 1/2)
    """

    form_text, form_ascii = "σ({})", "sigmoid({})"
    form_latex = r"\sigma\left({}\right)"
    form_json = "(1/(1 + exp(-({}))))"

    @classmethod
    def eval(cls, x: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number:
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sympy.Basic, **kwargs: Any) -> sympy.Basic:
        return 1 / (1 + sympy.exp(-x))

    @staticmethod
    def numpy(x: Any) -> Any:
        return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))


class step(ElementwiseBase):
    """The bracket [x > 0], relu's derivative: 0 at x = 0, as PyTorch takes it.

    Example:
        >>> step(2), step(0), step(-1)
        (1, 0, 0)
    """

    form_text = form_ascii = "[{} > 0]"
    form_latex = r"\left[{} > 0\right]"
    form_json = "Piecewise((1, {} > 0), (0, True))"

    @classmethod
    def eval(cls, x: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number and x.is_extended_real:
            return sympy.Integer(1 if x > 0 else 0)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return sympy.Integer(0)

    def _eval_rewrite_as_Piecewise(self, x: sympy.Basic, **kwargs: Any) -> sympy.Basic:
        return sympy.Piecewise((1, x > 0), (0, True))

    @staticmethod
    def numpy(x: Any) -> Any:
        return np.greater(x, 0.0).astype(float)


class relu(ElementwiseBase):
    """relu(x) = max(0, x); its derivative is the bracket [x > 0] (`step`).

    Example:
        >>> x = sympy.Symbol("x")
        >>> relu(x).diff(x)
        step(x)
    """

    form_text = form_ascii = "relu({})"
    form_latex = r"\operatorname{{relu}}\left({}\right)"
    form_json = "Max(0, {})"

    @classmethod
    def eval(cls, x: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number and x.is_extended_real:
            return x if x > 0 else sympy.Integer(0)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return step(self.args[0])

    def _eval_rewrite_as_Max(self, x: sympy.Basic, **kwargs: Any) -> sympy.Basic:
        return sympy.Max(0, x)

    @staticmethod
    def numpy(x: Any) -> Any:
        return np.maximum(x, 0.0)


@dataclass(frozen=True)
class _Elementwise(Layer):
    """An element-wise function on a tensor of any shape; its output has the same shape."""

    input: Shape | None = field(default=None, kw_only=True)

    template = "layer_activation.tex.j2"
    letter = "a"
    lone = ("z", "a")
    nabla = True

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
            (sigmoid(z_1),)
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
            sigmoid(a[i, j])
        """
        outer, rng, sizes = ix.elementwise(self.input_shape, base)
        wrt = {Role.INPUT: ix.A[tuple(ix.primed(s) for s in outer)]}
        return General(ix.Z[outer], self.apply(ix.A[outer]), outer, rng, sizes, wrt)

    def facts(self) -> dict[str, Any]:
        shape = self.input_shape
        return {
            "channels": shape[0] if len(shape) == 3 else 1,
            "function": self.function_tex,
            "derivative": self.derivative_tex,
        }

    #: NumPy code of ∂E/∂(input): ``delta`` times the derivative at the input ``a``.
    numpy_grad: ClassVar[str] = "grad_a = delta"
    #: The function and its derivative in LaTeX, for a sheet's set-up (of ``x``).
    function_tex: ClassVar[str] = "f(x) = x"
    derivative_tex: ClassVar[str] = "f'(x) = 1"
    #: The derivative's name, as in the seeds' ``δ = (ŷ − t) ⊙ σ'(z)``.
    prime_tex: ClassVar[str] = "f'"

    def operators(self) -> set[str]:
        return {"odot"}

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """``delta`` times the function's derivative, entry by entry.

        Example:
            >>> print(Tanh(input=(2,)).numpy_code(Role.INPUT).text)
            grad_a = delta * (1 - np.tanh(a) ** 2)
        """
        return NumpyCode(self.numpy_grad) if role is Role.INPUT else None


@dataclass(frozen=True)
class Sigmoid(_Elementwise):
    """The logistic sigmoid σ(x) = 1/(1 + e^(−x)); σ' = σ(1 − σ).

    Example:
        >>> Sigmoid(input=(1, 2, 2)).output_shape
        (1, 2, 2)
    """

    kind = "sigmoid"
    torch_modules = ("Sigmoid",)
    title = "sigmoid"
    numpy_grad = "s = 1 / (1 + np.exp(-a))\ngrad_a = delta * s * (1 - s)"
    function_tex = r"\sigma(x) = 1/(1 + e^{-x})"
    prime_tex = r"\sigma'"
    derivative_tex = r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))"
    note = "σ(z) = 1/(1 + e^(−z)) and σ'(z) = σ(z)·(1 − σ(z))"

    def apply(self, x: Any) -> Any:
        return sigmoid(x)


@dataclass(frozen=True)
class Tanh(_Elementwise):
    """The hyperbolic tangent; tanh' = 1 − tanh²."""

    kind = "tanh"
    torch_modules = ("Tanh",)
    title = "tanh"
    numpy_grad = "grad_a = delta * (1 - np.tanh(a) ** 2)"
    function_tex = r"\tanh(x)"
    prime_tex = r"\tanh'"
    derivative_tex = r"\tanh'(x) = 1 - \tanh^2(x)"
    note = "tanh'(z) = 1 − tanh(z)²"

    def apply(self, x: Any) -> Any:
        return sympy.tanh(x)


@dataclass(frozen=True)
class ReLU(_Elementwise):
    """The rectifier relu(x) = max(0, x); relu'(x) = [x > 0], 0 at x = 0 (PyTorch's choice)."""

    kind = "relu"
    torch_modules = ("ReLU",)
    title = "ReLU"
    numpy_grad = "grad_a = delta * (a > 0)"
    function_tex = r"\operatorname{relu}(x) = \max(0, x)"
    prime_tex = r"\operatorname{relu}'"
    derivative_tex = r"\operatorname{relu}'(x) = \left[x > 0\right]"
    note = "relu(z) = max(0, z); relu'(z) = [z > 0], 0 at z = 0 (PyTorch's choice)"
    conventions: ClassVar[dict[str, str]] = {"relu": "relu'(0) = 0"}

    def apply(self, x: Any) -> Any:
        return relu(x)


@dataclass(frozen=True)
class Identity(_Elementwise):
    """The identity: its output is its input (derivative 1)."""

    kind = "identity"
    torch_modules = ("Identity",)
    title = "identity"

    def apply(self, x: Any) -> Any:
        return x

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        terms = np.empty(self.input_shape, dtype=object)
        for idx in np.ndindex(*self.input_shape):
            terms[idx] = (x[idx],)
        return terms

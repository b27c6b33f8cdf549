"""Element-wise activations: sigmoid, tanh, relu, its leaky variant and identity, entry by entry."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import sympy

from ..core import indexed as ix
from ..core.functions import ElementwiseBase
from ..core.indexed import General
from ..core.shapes import Shape, shape_of
from ..core.summands import Part
from ..core.symbols import Role
from ..errors import SpecError
from .base import Arrays, Layer, NumpyCode, signed


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


def slope_text(slope: Any) -> str:
    """A slope as the shortest decimal that reads back as the same float: ``0.01``.

    Example:
        >>> slope_text(sympy.Float(0.01)), slope_text(0.2)
        ('0.01', '0.2')
    """
    return repr(float(slope))


class _Sloped(ElementwiseBase):
    """A function of an entry and a fixed slope (its second argument, a number)."""

    nargs = 2

    def fill(self, form: str, arg: str) -> str:
        return form.format(arg, slope=slope_text(self.args[1]))


class leaky_step(_Sloped):
    """leaky_relu's derivative: 1 for x > 0, else the slope s (at x = 0 too, PyTorch's choice).

    Printed as the brackets ``[x > 0] + s·[x ≤ 0]``.

    Example:
        >>> s = sympy.Float(0.1)
        >>> leaky_step(2, s), leaky_step(0, s), leaky_step(-1, s)
        (1, 0.100000000000000, 0.100000000000000)
    """

    form_text = "([{0} > 0] + {slope}·[{0} ≤ 0])"
    form_ascii = "([{0} > 0] + {slope}*[{0} <= 0])"
    form_latex = r"\left(\left[{0} > 0\right] + {slope} \left[{0} \le 0\right]\right)"
    form_json = "Piecewise((1, ({0}) > 0), ({slope}, True))"

    @classmethod
    def eval(cls, x: sympy.Basic, slope: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number and x.is_extended_real:
            return sympy.Integer(1) if x > 0 else slope
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return sympy.Integer(0)

    def _eval_rewrite_as_Piecewise(
        self, x: sympy.Basic, slope: sympy.Basic, **kwargs: Any
    ) -> sympy.Basic:
        return sympy.Piecewise((1, x > 0), (slope, True))

    @staticmethod
    def numpy(x: Any, *slope: Any) -> Any:
        return np.where(np.greater(x, 0.0), 1.0, float(slope[0]))


class leaky_relu(_Sloped):
    """leaky_relu(x, s) = x for x > 0, else s·x, as PyTorch's; its derivative is `leaky_step`.

    Example:
        >>> x, s = sympy.Symbol("x"), sympy.Float(0.01)
        >>> leaky_relu(x, s).diff(x) == leaky_step(x, s), leaky_relu(-2, s)
        (True, -0.0200000000000000)
    """

    form_text = form_ascii = "leaky_relu({0}, {slope})"
    form_latex = r"\operatorname{{lrelu}}_{{{slope}}}\left({0}\right)"
    form_json = "Piecewise((({0}), ({0}) > 0), ({slope}*({0}), True))"

    @classmethod
    def eval(cls, x: sympy.Basic, slope: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number and x.is_extended_real:
            return x if x > 0 else slope * x
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        x, slope = self.args
        if argindex == 1:
            return leaky_step(x, slope)
        return x * (1 - leaky_step(x, sympy.Integer(0)))  # ∂/∂s: x where x ≤ 0

    def _eval_rewrite_as_Piecewise(
        self, x: sympy.Basic, slope: sympy.Basic, **kwargs: Any
    ) -> sympy.Basic:
        return sympy.Piecewise((x, x > 0), (slope * x, True))

    @staticmethod
    def numpy(x: Any, *slope: Any) -> Any:
        x = np.asarray(x, dtype=float)
        return np.where(x > 0.0, x, float(slope[0]) * x)


def parse_slope(value: Any, what: str = "negative_slope") -> float:
    """A finite number (a numeric string too, as the command line gives it).

    Example:
        >>> parse_slope("0.2"), parse_slope(1)
        (0.2, 1.0)
    """
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise SpecError(f"{what} must be a finite number, e.g. 0.01, got {value!r}")
    return number


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

    def parts(self) -> tuple[Part, ...]:
        """``a[idx] = f(z[idx])`` for every entry: one summand, the function of one entry.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> z = Grid("z", Role.INPUT, (2,), (False,)).symbols
            >>> Sigmoid(input=(2,)).terms(z, {})[0]
            (sigmoid(z_1),)
        """
        k = np.arange(int(np.prod(self.input_shape)))
        return (Part(k, (Role.INPUT,), k, fn=self.apply),)

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

    def parts(self) -> tuple[Part, ...]:
        k = np.arange(int(np.prod(self.input_shape)))
        return (Part(k, (Role.INPUT,), k),)


@dataclass(frozen=True)
class LeakyReLU(_Elementwise):
    """The leaky rectifier: x for x > 0, else ``negative_slope``·x (PyTorch's LeakyReLU).

    Its derivative is 1 for x > 0 and the slope otherwise, at x = 0 too (PyTorch's choice).

    Example:
        >>> LeakyReLU(0.1, input=(1,)).terms(np.array(["z"], dtype=object), {})[0]
        (leaky_relu(z, 0.1),)
    """

    negative_slope: float = field(
        default=0.01,
        metadata={"help": "slope for inputs ≤ 0 (default 0.01, as PyTorch)", "example": "0.1"},
    )

    kind = "leaky_relu"
    title = "leaky ReLU"
    torch_modules = ("LeakyReLU",)

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        return cls(float(module.negative_slope)), {}

    prime_tex = r"\operatorname{lrelu}'"
    note = (
        "leaky_relu(z, s) = z for z > 0, else s·z; its derivative is [z > 0] + s·[z ≤ 0]: "
        "the slope s at z = 0 (PyTorch's choice)"
    )
    conventions: ClassVar[dict[str, str]] = {
        "leaky_relu": "leaky_relu'(0) = negative_slope, as PyTorch"
    }

    def __post_init__(self) -> None:
        object.__setattr__(self, "negative_slope", parse_slope(self.negative_slope))
        super().__post_init__()

    @property
    def slope(self) -> sympy.Float:
        """The slope as the exact SymPy float the formulas carry."""
        return sympy.Float(self.negative_slope)

    def apply(self, x: Any) -> Any:
        return leaky_relu(x, self.slope)

    def config(self) -> dict[str, Any]:
        return {**super().config(), "negative_slope": self.negative_slope}

    def summary(self) -> str:
        return f"negative slope {slope_text(self.negative_slope)}"

    def slug(self) -> str:
        """``…-s0.1`` when the slope is not PyTorch's default 0.01.

        Example:
            >>> LeakyReLU(0.1, input=(3,)).slug().split("-", 2)[1:]
            ['3', 's0.1']
        """
        tag = "" if self.negative_slope == 0.01 else f"-s{slope_text(self.negative_slope)}"
        return super().slug() + tag

    def facts(self) -> dict[str, Any]:
        s = slope_text(self.negative_slope)
        return {
            **super().facts(),
            "slope": s,
            "function": rf"\operatorname{{lrelu}}(x) = x\left[x > 0\right] + {s}\,x\left[x \le 0\right]",
            "derivative": rf"\operatorname{{lrelu}}'(x) = \left[x > 0\right] + {s}\left[x \le 0\right]",
        }

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """``delta`` times 1 above 0 and the slope at and below 0."""
        if role is not Role.INPUT:
            return None
        return NumpyCode(f"grad_a = delta * np.where(a > 0, 1.0, {self.negative_slope!r})")

    # --- checking ------------------------------------------------------------------------

    def test_inputs(self, rng: np.random.Generator, ties: bool = False) -> Arrays | None:
        """Random inputs; with ``ties``, a third of them exactly 0, where the rule is a choice."""
        x = signed(rng, self.input_shape)
        if ties:
            x[rng.random(x.shape) < 1 / 3] = 0.0
            x.flat[0] = 0.0
        return {Role.INPUT: x, Role.DELTA: signed(rng, self.input_shape)}

    def wrong_results(self, role: Role, arrays: Arrays) -> list[tuple[str, np.ndarray]]:
        x, delta = arrays.get(Role.INPUT), arrays.get(Role.DELTA)
        if role is not Role.INPUT or x is None or delta is None:
            return []
        s = self.negative_slope
        return [
            (
                "negative slope ignored: relu's derivative [x > 0] (0 for x ≤ 0, not the slope "
                f"{slope_text(s)})",
                delta * (x > 0),
            ),
            (
                f"derivative 1 at x = 0 (the bracket [x ≥ 0]); PyTorch takes the slope "
                f"{slope_text(s)} there",
                delta * np.where(x >= 0, 1.0, s),
            ),
            ("slope on the wrong side (s for x > 0, 1 for x ≤ 0)", delta * np.where(x > 0, s, 1.0)),
            ("δ passed through unchanged (the derivative forgotten)", delta.copy()),
        ]

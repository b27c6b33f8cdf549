"""SymPy functions for activations and the softmax loss, with their derivatives and printed forms."""

from __future__ import annotations

from functools import reduce
from typing import Any

import numpy as np
import sympy

from .maxfunc import IsFirstMax, WindowMax


def _arg(printer: Any, expr: sympy.Basic) -> str:
    return printer._print(expr)


def _vector(printer: Any, ys: tuple[sympy.Basic, ...], latex: bool) -> tuple[str, list[str]]:
    """The name of the grid all ``ys`` belong to (``z²``), or their list; and their indices."""
    table = getattr(printer, "table", None)
    infos = [table.get(y) for y in ys] if table is not None else []
    known = [i for i in infos if i is not None]
    if known and len(known) == len(ys) and len({i.grid.name for i in known}) == 1:
        grid = known[0].grid
        unicode = getattr(printer, "unicode", True)
        stem = grid.latex if latex else (grid.text if unicode else grid.name)
        return stem, [",".join(str(k) for k in info.shown_index) for info in known]
    return ", ".join(_arg(printer, y) for y in ys), [str(k + 1) for k in range(len(ys))]


def _power(body: str, exp: Any) -> str:
    """LaTeX of a function raised to a power: ``\\sigma(x)^{2}``."""
    return f"{body}^{{{exp}}}" if exp is not None else body


class Sigmoid(sympy.Function):
    """The logistic sigmoid σ(x) = 1 / (1 + e^(−x)); its derivative is σ(x)·(1 − σ(x)).

    The derivative is returned in the seeds' form σ(1 − σ) rather than e^(−x)/(1 + e^(−x))².

    Example:
        >>> x = sympy.Symbol("x")
        >>> Sigmoid(x).diff(x)
        (1 - Sigmoid(x))*Sigmoid(x)
        >>> Sigmoid(0)
        1/2
    """

    @classmethod
    def eval(cls, x: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number:
            return 1 / (1 + sympy.exp(-x))
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        s = Sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x: sympy.Basic, **kwargs: Any) -> sympy.Basic:
        return 1 / (1 + sympy.exp(-x))

    def _symcnn_text(self, printer: Any) -> str:
        name = "σ" if getattr(printer, "unicode", True) else "sigmoid"
        return f"{name}({_arg(printer, self.args[0])})"

    def _symcnn_latex(self, printer: Any, exp: Any = None) -> str:
        return _power(rf"\sigma\left({_arg(printer, self.args[0])}\right)", exp)

    def _symcnn_json(self, printer: Any) -> str:
        return f"(1/(1 + exp(-({_arg(printer, self.args[0])}))))"


class Step(sympy.Function):
    """Iverson bracket [x > 0]: the derivative of relu, 0 at x = 0 (PyTorch's convention).

    Example:
        >>> Step(2), Step(0), Step(-1)
        (1, 0, 0)
    """

    @classmethod
    def eval(cls, x: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number and x.is_extended_real:
            return sympy.Integer(1 if x > 0 else 0)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return sympy.Integer(0)

    def _eval_rewrite_as_Piecewise(self, x: sympy.Basic, **kwargs: Any) -> sympy.Basic:
        return sympy.Piecewise((1, x > 0), (0, True))

    def _symcnn_text(self, printer: Any) -> str:
        return f"[{_arg(printer, self.args[0])} > 0]"

    def _symcnn_latex(self, printer: Any, exp: Any = None) -> str:
        return _power(rf"\left[{_arg(printer, self.args[0])} > 0\right]", exp)

    def _symcnn_json(self, printer: Any) -> str:
        return f"Piecewise((1, {_arg(printer, self.args[0])} > 0), (0, True))"


class ReLU(sympy.Function):
    """relu(x) = max(0, x); its derivative is the bracket [x > 0] (`Step`).

    Example:
        >>> x = sympy.Symbol("x")
        >>> ReLU(x).diff(x)
        Step(x)
    """

    @classmethod
    def eval(cls, x: sympy.Basic) -> sympy.Basic | None:
        if x.is_Number and x.is_extended_real:
            return x if x > 0 else sympy.Integer(0)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return Step(self.args[0])

    def _eval_rewrite_as_Max(self, x: sympy.Basic, **kwargs: Any) -> sympy.Basic:
        return sympy.Max(0, x)

    def _symcnn_text(self, printer: Any) -> str:
        return f"relu({_arg(printer, self.args[0])})"

    def _symcnn_latex(self, printer: Any, exp: Any = None) -> str:
        return _power(rf"\operatorname{{relu}}\left({_arg(printer, self.args[0])}\right)", exp)

    def _symcnn_json(self, printer: Any) -> str:
        return f"Max(0, {_arg(printer, self.args[0])})"


class SoftMax(sympy.Function):
    """Entry k (0-based, first argument) of softmax(y) = exp(y_k) / Σ_j exp(y_j).

    Example:
        >>> y1, y2 = sympy.symbols("y1 y2")
        >>> SoftMax(0, y1, y2).diff(y2)
        -SoftMax(0, y1, y2)*SoftMax(1, y1, y2)
    """

    @property
    def position(self) -> int:
        """The 0-based entry k."""
        return int(self.args[0])

    @property
    def vector(self) -> tuple[sympy.Basic, ...]:
        """The arguments y_1 … y_n."""
        return tuple(self.args[1:])

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        if argindex == 1:
            return sympy.Integer(0)
        j = argindex - 2
        k = self.position
        sj = SoftMax(j, *self.vector)
        return self * ((1 if j == k else 0) - sj)

    def _eval_rewrite_as_exp(self, k: sympy.Basic, *ys: sympy.Basic, **kw: Any) -> sympy.Basic:
        return sympy.exp(ys[int(k)]) / sympy.Add(*[sympy.exp(y) for y in ys])

    def _symcnn_text(self, printer: Any) -> str:
        name, shown = _vector(printer, self.vector, latex=False)
        return f"softmax({name})_{shown[self.position]}"

    def _symcnn_latex(self, printer: Any, exp: Any = None) -> str:
        name, shown = _vector(printer, self.vector, latex=True)
        body = rf"\operatorname{{softmax}}\left({name}\right)_{{{shown[self.position]}}}"
        return _power(body, exp)

    def _symcnn_json(self, printer: Any) -> str:
        total = " + ".join(f"exp({_arg(printer, y)})" for y in self.vector)
        return f"(exp({_arg(printer, self.vector[self.position])})/({total}))"


class LogSumExp(sympy.Function):
    """log Σ_j exp(y_j); ∂/∂y_k is `SoftMax` (k, y …).

    Example:
        >>> y1, y2 = sympy.symbols("y1 y2")
        >>> LogSumExp(y1, y2).diff(y1)
        SoftMax(0, y1, y2)
    """

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return SoftMax(argindex - 1, *self.args)

    def _eval_rewrite_as_exp(self, *ys: sympy.Basic, **kw: Any) -> sympy.Basic:
        return sympy.log(sympy.Add(*[sympy.exp(y) for y in ys]))

    def _symcnn_text(self, printer: Any) -> str:
        return f"logsumexp({_vector(printer, self.args, latex=False)[0]})"

    def _symcnn_latex(self, printer: Any, exp: Any = None) -> str:
        terms = " + ".join(rf"e^{{{_arg(printer, y)}}}" for y in self.args)
        return _power(rf"\log\left({terms}\right)", exp)

    def _symcnn_json(self, printer: Any) -> str:
        return "log(" + " + ".join(f"exp({_arg(printer, y)})" for y in self.args) + ")"


# --- NumPy implementations, for lambdify -------------------------------------------------


def _np_sigmoid(x: Any) -> Any:
    return np.exp(-np.logaddexp(0.0, -np.asarray(x, dtype=float)))


def _np_step(x: Any) -> Any:
    return np.greater(x, 0.0).astype(float)


def _np_relu(x: Any) -> Any:
    return np.maximum(x, 0.0)


def _np_logsumexp(*ys: Any) -> Any:
    arr = np.asarray(ys, dtype=float)
    top = np.max(arr)
    return top + np.log(np.sum(np.exp(arr - top)))


def _np_softmax(k: Any, *ys: Any) -> Any:
    arr = np.asarray(ys, dtype=float)
    e = np.exp(arr - np.max(arr))
    return e[int(k)] / np.sum(e)


def _np_window_max(*xs: Any) -> Any:
    return reduce(np.maximum, xs)


def _np_is_first_max(k: Any, *xs: Any) -> Any:
    values = [float(x) for x in xs]
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return 1.0 if best == int(k) else 0.0


#: Name → NumPy function for every symcnn SymPy function (a ``modules`` entry for lambdify).
NUMPY_FUNCTIONS: dict[str, Any] = {
    Sigmoid.__name__: _np_sigmoid,
    Step.__name__: _np_step,
    ReLU.__name__: _np_relu,
    SoftMax.__name__: _np_softmax,
    LogSumExp.__name__: _np_logsumexp,
    WindowMax.__name__: _np_window_max,
    IsFirstMax.__name__: _np_is_first_max,
}

"""SymPy functions that carry their own NumPy code: the window maximum (PyTorch's tie rule),
softmax and log-sum-exp, and the base class of the element-wise activations."""

from __future__ import annotations

from functools import reduce
from typing import Any, ClassVar

import numpy as np
import symengine as se
import sympy
from sympy import And, Piecewise


class ElementwiseBase(sympy.Function):
    """A function of one entry (an activation) that says how it prints and how it computes.

    Printers read the forms (``{}`` stands for the printed argument) and the NumPy compiler
    reads `numpy`, so a new activation is one subclass and nothing else. (SymPy's printers
    dispatch a function on its own class or on a base class whose name ends in ``Base``.)

    Example:
        >>> class double(ElementwiseBase):
        ...     form_text = form_ascii = "2·{}"
        >>> double(sympy.Symbol("x")).form_text.format("x")
        '2·x'
    """

    nargs = 1
    #: Printed in Unicode text, in ASCII, in LaTeX, and as a SymPy built-ins expression.
    form_text: ClassVar[str] = "{}"
    form_ascii: ClassVar[str] = "{}"
    form_latex: ClassVar[str] = "{}"
    form_json: ClassVar[str] = "{}"

    @staticmethod
    def numpy(x: Any) -> Any:
        """The function on NumPy arrays."""
        raise NotImplementedError

    def fill(self, form: str, arg: str) -> str:
        """One of the printed forms with the printed argument in place of ``{}``.

        A function with a number among its arguments (a slope) overrides this to print it.

        Example:
            >>> ElementwiseBase.fill(None, "f({})", "x")
            'f(x)'
        """
        return form.format(arg)


def first_max_condition(k: int, args: tuple[sympy.Expr, ...]) -> sympy.Basic:
    """The condition "args[k] is the first maximum": strictly above earlier, ≥ later entries.

    Example:
        >>> x, y, z = sympy.symbols("x y z")
        >>> first_max_condition(1, (x, y, z))
        (y >= z) & (y > x)
    """
    return And(*[STRICT[strict](args[k], a) for strict, a in first_max_comparisons(k, args)])


#: The comparison of the first-maximum rule: strict against earlier entries, ≥ against later.
STRICT = {True: lambda x, y: x > y, False: lambda x, y: x >= y}


def first_max_comparisons(k: int, args: tuple[Any, ...]) -> list[tuple[bool, Any]]:
    """The rule "args[k] is the first maximum" as (strict?, other entry) pairs, in window order.

    Every form of the bracket (SymPy, symengine, JSON text) is built from this one list.

    Example:
        >>> first_max_comparisons(1, ("x", "y", "z"))
        [(True, 'x'), (False, 'z')]
    """
    return [(True, a) for a in args[:k]] + [(False, a) for a in args[k + 1 :]]


def _first_max_index(values: tuple[Any, ...]) -> int:
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def _all_numbers(args: tuple[sympy.Basic, ...]) -> bool:
    return all(a.is_number and a.is_extended_real for a in args)


class WindowMax(sympy.Function):
    """``max`` of one pooling window; ∂/∂x_k is ``IsFirstMax(k, …)`` (ties: first in row-major).

    Example:
        >>> x, y = sympy.symbols("x y")
        >>> WindowMax(x, y).diff(y)
        IsFirstMax(1, x, y)
    """

    @classmethod
    def eval(cls, *args: sympy.Basic) -> sympy.Basic | None:
        if len(args) == 1:
            return args[0]
        if _all_numbers(args):
            return args[_first_max_index(args)]
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return IsFirstMax(sympy.Integer(argindex - 1), *self.args)

    def _eval_rewrite_as_Piecewise(self, *args: sympy.Basic, **kwargs: Any) -> sympy.Basic:
        pieces = [(args[k], first_max_condition(k, args)) for k in range(len(args) - 1)]
        return Piecewise(*pieces, (args[-1], True))

    def _eval_rewrite_as_Max(self, *args: sympy.Basic, **kwargs: Any) -> sympy.Basic:
        return sympy.Max(*args)

    @staticmethod
    def numpy(*xs: Any) -> Any:
        """The maximum of NumPy arrays, entry by entry."""
        return reduce(np.maximum, xs)


class IsFirstMax(sympy.Function):
    """Iverson bracket: 1 if ``args[k]`` is the first maximum of ``args``, else 0.

    The first argument is the 0-based position k; the others are the window's entries in
    row-major order. This is ∂ max / ∂ x_k with PyTorch's rule for ties.

    Example:
        >>> IsFirstMax(1, 3, 5, 5)
        1
        >>> IsFirstMax(2, 3, 5, 5)
        0
    """

    #: Its NumPy code takes one window's numbers, not whole arrays.
    vectorized: ClassVar[bool] = False

    @classmethod
    def eval(cls, k: sympy.Basic, *args: sympy.Basic) -> sympy.Basic | None:
        if not args:
            raise ValueError("IsFirstMax needs a window")
        if len(args) == 1:
            return sympy.Integer(1)
        if _all_numbers(args):
            return sympy.Integer(1 if _first_max_index(args) == int(k) else 0)
        return None

    @property
    def position(self) -> int:
        """The 0-based position k of the entry this bracket tests."""
        return int(self.args[0])

    @property
    def window(self) -> tuple[sympy.Basic, ...]:
        """The window's entries in row-major order."""
        return tuple(self.args[1:])

    @property
    def winner(self) -> sympy.Basic:
        """The entry this bracket tests."""
        return self.args[1 + self.position]

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return sympy.Integer(0)

    def _eval_rewrite_as_Piecewise(
        self, k: sympy.Basic, *args: sympy.Basic, **kw: Any
    ) -> sympy.Basic:
        return Piecewise((1, first_max_condition(int(k), args)), (0, True))

    @staticmethod
    def numpy(k: Any, *xs: Any) -> Any:
        """1.0 where entry k is the first maximum of the numbers (or arrays, entry by entry),
        else 0.0.

        Example:
            >>> IsFirstMax.numpy(1, np.array([3.0, 5.0]), np.array([5.0, 5.0])).tolist()
            [1.0, 0.0]
        """
        stacked = np.stack(np.broadcast_arrays(*[np.asarray(x, dtype=float) for x in xs]))
        return (np.argmax(stacked, axis=0) == int(k)).astype(float)


def engine_form(expr: Any) -> Any:
    """The same expression in symengine, brackets as ``Piecewise`` and window maxima as ``Max``.

    symengine evaluates and lambdifies these far faster than SymPy's own rewrite.

    Example:
        >>> x, y = sympy.symbols("x y")
        >>> engine_form(IsFirstMax(1, x, y))
        Piecewise((1, x < y), (0, True))
    """
    if isinstance(expr, IsFirstMax):
        window = tuple(se.Symbol(str(a)) for a in expr.window)
        k = expr.position
        pairs = first_max_comparisons(k, window)
        if not pairs:
            return se.Integer(1)
        parts = [STRICT[strict](window[k], a) for strict, a in pairs]
        return se.Piecewise((1, se.And(*parts)), (0, True))
    if isinstance(expr, WindowMax):
        return se.Max(*[se.Symbol(str(a)) for a in expr.args])
    if isinstance(expr, sympy.Symbol):
        return se.Symbol(str(expr))
    if isinstance(expr, (sympy.Add, sympy.Mul)):
        parts = [engine_form(a) for a in expr.args]
        return se.Add(*parts) if isinstance(expr, sympy.Add) else se.Mul(*parts)
    if isinstance(expr, sympy.Basic):
        return se.sympify(expr)
    return expr


class SoftMax(sympy.Function):
    """Entry k (0-based, first argument) of softmax(y) = exp(y_k) / Σ_j exp(y_j).

    Example:
        >>> y1, y2 = sympy.symbols("y1 y2")
        >>> SoftMax(0, y1, y2).diff(y2)
        -SoftMax(0, y1, y2)*SoftMax(1, y1, y2)
    """

    #: Its NumPy code takes one vector's numbers, not whole arrays.
    vectorized: ClassVar[bool] = False

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

    @staticmethod
    def numpy(k: Any, *ys: Any) -> Any:
        """Entry k of the softmax of the numbers (shifted by their maximum: no overflow)."""
        arr = np.stack(np.broadcast_arrays(*[np.asarray(y, dtype=float) for y in ys]))
        e = np.exp(arr - np.max(arr, axis=0))
        return e[int(k)] / np.sum(e, axis=0)


class LogSumExp(sympy.Function):
    """log Σ_j exp(y_j); ∂/∂y_k is `SoftMax` (k, y …).

    Example:
        >>> y1, y2 = sympy.symbols("y1 y2")
        >>> LogSumExp(y1, y2).diff(y1)
        SoftMax(0, y1, y2)
    """

    #: Its NumPy code takes one vector's numbers, not whole arrays.
    vectorized: ClassVar[bool] = False

    def fdiff(self, argindex: int = 1) -> sympy.Basic:
        return SoftMax(argindex - 1, *self.args)

    def _eval_rewrite_as_exp(self, *ys: sympy.Basic, **kw: Any) -> sympy.Basic:
        return sympy.log(sympy.Add(*[sympy.exp(y) for y in ys]))

    @staticmethod
    def numpy(*ys: Any) -> Any:
        """log Σ exp of the numbers, shifted by their maximum (no overflow)."""
        arr = np.stack(np.broadcast_arrays(*[np.asarray(y, dtype=float) for y in ys]))
        top = np.max(arr, axis=0)
        return top + np.log(np.sum(np.exp(arr - top), axis=0))

"""SymPy functions for max pooling: a window maximum whose derivative follows PyTorch's tie rule."""

from __future__ import annotations

from typing import Any

import sympy
from sympy import And, Piecewise


def first_max_condition(k: int, args: tuple[sympy.Expr, ...]) -> sympy.Basic:
    """The condition "args[k] is the first maximum": strictly above earlier, ≥ later entries.

    Example:
        >>> x, y, z = sympy.symbols("x y z")
        >>> first_max_condition(1, (x, y, z))
        (y > x) & (y >= z)
    """
    parts = [args[k] > a for a in args[:k]] + [args[k] >= a for a in args[k + 1 :]]
    return And(*parts)


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


def is_first_max_value(k: Any, *values: float) -> float:
    """Numeric `IsFirstMax` for lambdify: 1.0 if ``values[k]`` is the first maximum, else 0.0.

    Example:
        >>> is_first_max_value(1, 3.0, 5.0, 5.0), is_first_max_value(2, 3.0, 5.0, 5.0)
        (1.0, 0.0)
    """
    return 1.0 if _first_max_index(values) == int(k) else 0.0


def window_max_value(*values: float) -> float:
    """Numeric `WindowMax` for lambdify: the largest value.

    Example:
        >>> window_max_value(3.0, 5.0, 4.0)
        5.0
    """
    return values[_first_max_index(values)]


#: Names lambdify looks up for the max-pool functions (no Piecewise rewrite needed).
NUMERIC_FUNCTIONS = {"IsFirstMax": is_first_max_value, "WindowMax": window_max_value}

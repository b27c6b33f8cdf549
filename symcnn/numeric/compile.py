"""Formulas to NumPy functions: sums of product terms as index arrays, anything else lambdified."""

from __future__ import annotations

from typing import Any

import numpy as np
import symengine as se
import sympy


def numpy_functions(exprs: list[sympy.Basic]) -> dict[str, Any]:
    """Name → NumPy code of every symcnn function in the expressions (lambdify's modules).

    Each function class carries its own NumPy implementation (``numpy``).

    Example:
        >>> from symcnn.core.functions import WindowMax
        >>> x, y = sympy.symbols("x y")
        >>> list(numpy_functions([WindowMax(x, y) + 1]))
        ['WindowMax']
    """
    found: dict[str, Any] = {}
    for expr in exprs:
        for f in expr.atoms(sympy.Function):
            if callable(getattr(type(f), "numpy", None)):
                found[type(f).__name__] = type(f).numpy
    return found


def compile_exprs(args: list[Any], exprs: list[Any]) -> Any:
    """A function ``flat_args → flat_values``: symengine for polynomials, SymPy otherwise.

    SymPy's lambdify uses the NumPy code each symcnn function carries (window max, σ …).

    Example:
        >>> x, y = se.symbols("x y")
        >>> compile_exprs([x, y], [x * y, x + y])(np.array([2.0, 3.0])).tolist()
        [6.0, 5.0]
    """
    if not any(isinstance(e, sympy.Basic) for e in exprs):
        fn = se.Lambdify(args, [se.sympify(e) for e in exprs], backend="lambda", cse=False)
        return lambda flat: np.asarray(fn(np.asarray(flat, dtype=float)), dtype=float).ravel()
    sargs = [sympy.Symbol(str(a)) for a in args]
    sexprs = [e if isinstance(e, sympy.Basic) else sympy.sympify(e) for e in exprs]
    fn = sympy.lambdify(sargs, sexprs, modules=[numpy_functions(sexprs), "numpy"])
    return lambda flat: np.array([float(v) for v in fn(*flat)], dtype=float)


class Monomials:
    """Sums of product terms ``c·x·y…`` evaluated straight from the terms with index arrays.

    Most layers' formulas are sums of such terms (``δ_11·w_22``);
    gathering the factors and summing per output entry costs one pass over the terms, where
    compiling tens of thousands of them into a function would take seconds.

    Example:
        >>> x, y = se.symbols("x y")
        >>> m = Monomials.build([x, y], [[[x, y], [2, x]], [[y]]])
        >>> m(np.array([3.0, 5.0])).tolist()
        [21.0, 5.0]
    """

    def __init__(self, rows: np.ndarray, coeffs: np.ndarray, index: np.ndarray, size: int) -> None:
        self.rows, self.coeffs, self.index, self.size = rows, coeffs, index, size

    @classmethod
    def build(cls, args: list[Any], outputs: list[list[list[Any]]]) -> Monomials | None:
        """``outputs[i]`` lists the terms of entry i, each as a list of factors; None if some
        factor is not a number, a symbol of ``args`` or a product of those."""
        position = {str(a): k for k, a in enumerate(args)}
        rows: list[int] = []
        coeffs: list[float] = []
        factors: list[list[int]] = []
        for row, terms in enumerate(outputs):
            for term in terms:
                acc = [1.0]
                idx: list[int] = []
                if not all(_gather(f, position, acc, idx) for f in term):
                    return None
                rows.append(row)
                coeffs.append(acc[0])
                factors.append(idx)
        width = max((len(f) for f in factors), default=0)
        pad = len(args)  # points at the 1.0 appended to the values
        index = np.array([f + [pad] * (width - len(f)) for f in factors], dtype=np.int64)
        return cls(
            np.array(rows, dtype=np.int64),
            np.array(coeffs, dtype=float),
            index.reshape(len(factors), width),
            len(outputs),
        )

    def __call__(self, flat: np.ndarray) -> np.ndarray:
        values = np.append(np.asarray(flat, dtype=float), 1.0)
        products = self.coeffs * np.prod(values[self.index], axis=1)
        return np.bincount(self.rows, weights=products, minlength=self.size).astype(float)


def _gather(expr: Any, position: dict[str, int], acc: list[float], idx: list[int]) -> bool:
    if isinstance(expr, (int, float)):
        acc[0] *= float(expr)
        return True
    if isinstance(expr, (se.Symbol, sympy.Symbol)):
        k = position.get(str(expr))
        if k is None:
            return False
        idx.append(k)
        return True
    if isinstance(expr, (se.Number, sympy.Number)):
        acc[0] *= float(expr)
        return True
    if isinstance(expr, (se.Mul, sympy.Mul)):
        return all(_gather(a, position, acc, idx) for a in expr.args)
    return False


def compile_terms(args: list[Any], outputs: list[list[list[Any]]]) -> Any:
    """Evaluate sums of products: `Monomials` when every term is one, else `compile_exprs`.

    Example:
        >>> x = se.Symbol("x")
        >>> compile_terms([x], [[[x, x]], [[2, x]]])(np.array([3.0])).tolist()
        [9.0, 6.0]
    """
    fast = Monomials.build(args, outputs)
    if fast is not None:
        return fast
    exprs = [
        sympy.Add(*[sympy.Mul(*[_to_sympy(f) for f in term]) for term in terms])
        if any(isinstance(f, sympy.Basic) for term in terms for f in term)
        else se.Add(*[se.Mul(*term) for term in terms])
        for terms in outputs
    ]
    return compile_exprs(args, exprs)


def _to_sympy(expr: Any) -> Any:
    return expr if isinstance(expr, sympy.Basic) else sympy.sympify(expr)

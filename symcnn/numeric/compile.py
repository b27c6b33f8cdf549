"""Formulas to NumPy functions: sums of product terms as index arrays, anything else lambdified."""

from __future__ import annotations

from typing import Any

import numpy as np
import symengine as se
import sympy


def vectorized(f: sympy.Basic) -> bool:
    """True when a function's NumPy code works entry by entry on whole arrays (an activation,
    a window maximum; not a bracket or a softmax, which take one window's numbers).

    Example:
        >>> from symcnn.core.functions import IsFirstMax, WindowMax
        >>> x, y = sympy.symbols("x y")
        >>> vectorized(sympy.tanh(x)), vectorized(WindowMax(x, y)), vectorized(IsFirstMax(0, x, y))
        (True, True, False)
    """
    return bool(getattr(type(f), "vectorized", True))


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
    """Sums of product terms ``c·x·y·f(u, v)…`` evaluated straight from the terms with index
    arrays.

    Most layers' formulas are sums of such terms (``δ_11·w_22``); gathering the factors and
    summing per output entry costs one pass over the terms, where compiling tens of
    thousands of them into a function would take seconds. A factor that is neither a number
    nor a symbol (batch norm's ``(x − μ)²``) is a *pattern*: the same expression of other
    symbols recurs across the terms, so each pattern is compiled once and evaluated on all
    its occurrences at once.

    Example:
        >>> x, y = se.symbols("x y")
        >>> m = Monomials.build([x, y], [[[x, y], [2, x]], [[y]], [[(x - y) ** 2, y]]])
        >>> m(np.array([3.0, 5.0])).tolist()
        [21.0, 5.0, 20.0]
    """

    def __init__(
        self,
        rows: np.ndarray,
        coeffs: np.ndarray,
        index: np.ndarray,
        size: int,
        patterns: list[tuple[Any, np.ndarray]] | None = None,
        extra: np.ndarray | None = None,
    ) -> None:
        self.rows, self.coeffs, self.index, self.size = rows, coeffs, index, size
        self.patterns = patterns or []
        self.extra = extra

    @classmethod
    def build(cls, args: list[Any], outputs: list[list[list[Any]]]) -> Monomials | None:
        """``outputs[i]`` lists the terms of entry i, each as a list of factors; None if some
        factor is not a number, a symbol of ``args``, a product of those, or a symengine
        expression of symbols of ``args``."""
        position: dict[Any, int] = {str(a): k for k, a in enumerate(args)}
        position.update({a: k for k, a in enumerate(args) if type(a) is se.Symbol})
        rows: list[int] = []
        coeffs: list[float] = []
        flat: list[int] = []  # every term's symbol positions, one term after the other
        lengths: list[int] = []
        slots: list[list[int]] = []
        found = _Patterns(position)
        symbol, mul = se.Symbol, se.Mul
        for row, terms in enumerate(outputs):
            for term in terms:
                acc = [1.0]
                idx: list[int] = []
                ext: list[int] = []
                for f in term:  # symbols and products of symbols first: most factors are
                    kind = type(f)
                    if kind is symbol and f in position:
                        idx.append(position[f])
                    elif kind is mul and all(type(g) is symbol and g in position for g in f.args):
                        idx += [position[g] for g in f.args]
                    elif not _gather(f, position, acc, idx, ext, found):
                        return None
                rows.append(row)
                coeffs.append(acc[0])
                flat += idx
                lengths.append(len(idx))
                slots.append(ext)
        count, width = len(lengths), max(lengths, default=0)
        index = np.full((count, width), len(args), dtype=np.int64)  # len(args): the 1.0
        index[np.arange(width) < np.array(lengths, dtype=np.int64).reshape(-1, 1)] = flat
        compiled, extra = found.compile(slots) if found.meeting else ([], None)
        return cls(
            np.array(rows, dtype=np.int64),
            np.array(coeffs, dtype=float),
            index,
            len(outputs),
            compiled,
            extra,
        )

    def __call__(self, flat: np.ndarray) -> np.ndarray:
        values = np.append(np.asarray(flat, dtype=float), 1.0)
        products = self.coeffs * np.prod(values[self.index], axis=1)
        if self.patterns and self.extra is not None:
            parts = [
                np.asarray(fn(values[argidx]), dtype=float).ravel() for fn, argidx in self.patterns
            ]
            computed = np.concatenate([*parts, [1.0]])
            products = products * np.prod(computed[self.extra], axis=1)
        return np.bincount(self.rows, weights=products, minlength=self.size).astype(float)


class _Patterns:
    """The pattern factors met while gathering terms, keyed by the expression with its symbols
    renamed in order (``(_u1 - _u0)**2``), with the argument positions of every occurrence."""

    def __init__(self, position: dict[Any, int]) -> None:
        self.position = position
        self.table: dict[str, tuple[Any, list[list[int]]]] = {}
        self.meeting: list[str] = []  # the pattern of each slot, in the order they were met
        self.known: dict[Any, tuple[str, list[int]] | None] = {}

    def add(self, expr: Any) -> int | None:
        """The slot of one occurrence of a pattern factor (None: it has an unknown symbol)."""
        if expr not in self.known:
            self.known[expr] = self._shape(expr)
        found = self.known[expr]
        if found is None:
            return None
        key, positions = found
        self.table[key][1].append(positions)
        self.meeting.append(key)
        return len(self.meeting) - 1

    def _shape(self, expr: Any) -> tuple[str, list[int]] | None:
        symbols = sorted(expr.free_symbols, key=str)
        if not all(str(s) in self.position for s in symbols):
            return None
        if isinstance(expr, sympy.Basic):
            if not all(vectorized(f) for f in expr.atoms(sympy.Function)):
                return None
            dummies: list[Any] = [sympy.Symbol(f"_u{k}") for k in range(len(symbols))]
        else:
            dummies = [se.Symbol(f"_u{k}") for k in range(len(symbols))]
        shape = expr.xreplace(dict(zip(symbols, dummies)))
        key = f"{type(shape).__module__}:{shape}"
        self.table.setdefault(key, (shape, []))
        return key, [self.position[str(s)] for s in symbols]

    def compile(self, slots: list[list[int]]) -> tuple[list[tuple[Any, np.ndarray]], np.ndarray]:
        """One vectorised function per pattern, and each term's slots in their results."""
        offsets: dict[str, int] = {}
        compiled = []
        total = 0
        for key, (shape, occurrences) in self.table.items():
            offsets[key] = total
            total += len(occurrences)
            dummies = sorted(shape.free_symbols, key=lambda s: int(str(s)[2:]))
            if isinstance(shape, sympy.Basic):  # NumPy code on the columns of the arguments
                code = sympy.lambdify(dummies, shape, modules=[numpy_functions([shape]), "numpy"])
                fn: Any = lambda cols, code=code: code(*cols.T)  # noqa: E731
            else:
                fn = se.Lambdify(dummies, [shape], backend="lambda", cse=False)
            compiled.append((fn, np.array(occurrences, dtype=np.int64)))
        seen: dict[str, int] = {}
        final = []
        for key in self.meeting:  # the k-th meeting of a pattern is its k-th occurrence
            final.append(offsets[key] + seen.get(key, 0))
            seen[key] = seen.get(key, 0) + 1
        width = max((len(s) for s in slots), default=0)
        extra = np.array(
            [[final[k] for k in s] + [total] * (width - len(s)) for s in slots], dtype=np.int64
        ).reshape(len(slots), width)
        return compiled, extra


def _gather(
    expr: Any,
    position: dict[Any, int],
    acc: list[float],
    idx: list[int],
    ext: list[int],
    patterns: _Patterns,
) -> bool:
    """Fold one factor into a product: numbers into ``acc``, arguments into ``idx``, other
    expressions into pattern slots (``ext``); False when it is none of these."""
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
        return all(_gather(a, position, acc, idx, ext, patterns) for a in expr.args)
    if not expr.free_symbols:
        acc[0] *= float(expr)
        return True
    slot = patterns.add(expr)
    if slot is None:
        return False
    ext.append(slot)
    return True


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

"""Numbers from the formulas: lambdified forward and gradient functions over NumPy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import symengine as se

from .errors import SymcnnError
from .symbols import Role

if TYPE_CHECKING:
    from .derive import Derivation

_ARG_ROLES = (Role.INPUT, Role.WEIGHT, Role.BIAS, Role.DELTA)


class NumericGradients:
    """Lambdified formulas of one derivation: call with arrays, get gradient arrays back.

    Arrays follow the layer contract's shapes: input ``[C, H, W]``, weight ``[O, C, KH, KW]``,
    bias ``[O]`` (shared) or ``[O, OH, OW]`` (untied), delta ``[O, OH, OW]``.

    Example:
        >>> import numpy as np
        >>> from symcnn import Conv2D
        >>> num = Conv2D(input=(3, 3), kernel=(2, 2)).derive().numeric()
        >>> g = num(input=np.ones((1, 3, 3)), weight=np.ones((1, 1, 2, 2)),
        ...         bias=np.zeros(1), delta=np.ones((1, 2, 2)))
        >>> g["input"][0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        grids = derivation.forward.grids
        self.arg_roles = [r for r in _ARG_ROLES if r in grids]
        self.shapes = {r.value: grids[r].shape for r in self.arg_roles}
        args = [s for r in self.arg_roles for s in grids[r].symbols.ravel()]
        self.out_roles = list(derivation.grads)
        grads = [cs.engine() for r in self.out_roles for cs in derivation.grads[r].ravel()]
        self._grad_fn = _lambdify(args, grads)
        self._forward_fn: Any = None  # compiled on first use

    def _flat(self, values: dict[str, Any], roles: Sequence[Role]) -> np.ndarray:
        parts = []
        for role in roles:
            name = role.value
            if name not in values or values[name] is None:
                raise SymcnnError(f"missing array {name!r} of shape {list(self.shapes[name])}")
            arr = np.asarray(values[name], dtype=float)
            if arr.shape != tuple(self.shapes[name]):
                raise SymcnnError(
                    f"array {name!r} has shape {list(arr.shape)}, expected {list(self.shapes[name])}"
                )
            parts.append(arr.ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def __call__(self, **values: Any) -> dict[str, np.ndarray]:
        """Gradients for the given arrays: ``{"input": …, "weight": …, "bias": …}``."""
        flat = self._flat(values, self.arg_roles)
        out = np.asarray(self._grad_fn(flat), dtype=float).ravel()
        result: dict[str, np.ndarray] = {}
        pos = 0
        for role in self.out_roles:
            shape = self.derivation.forward.grids[role].shape
            size = int(np.prod(shape))
            result[role.value] = out[pos : pos + size].reshape(shape)
            pos += size
        return result

    def forward(self, **values: Any) -> np.ndarray:
        """The layer output z for the given input (and weight, bias) arrays."""
        roles = [r for r in self.arg_roles if r is not Role.DELTA]
        if self._forward_fn is None:
            d = self.derivation
            grids = d.forward.grids
            args = [s for r in roles for s in grids[r].symbols.ravel()]
            exprs = [d.forward.expr(i) for i in np.ndindex(*d.output_shape)]
            self._forward_fn = _lambdify(args, exprs)
        flat = self._flat(values, roles)
        out = np.asarray(self._forward_fn(flat), dtype=float)
        return out.reshape(self.derivation.output_shape)


def _lambdify(args: list[Any], exprs: list[Any]) -> Any:
    """Polynomials → `Monomials` (linear in terms); anything else → symengine's Lambdify.

    symengine's Lambdify build time grows with (number of expressions) × (number of
    arguments), 110 s at 64x64/5x5, so it only gets what is not a polynomial: max-pool
    brackets (as ``Piecewise``) and activations. CSE is off: it doubled compile times here.
    """
    plan = Monomials.build(args, exprs)
    if plan is not None:
        return plan
    fn = se.Lambdify(args, exprs, backend="lambda", cse=False)
    return lambda flat: fn(np.asarray(flat, dtype=float))


class Monomials:
    """Polynomials in the arguments as index arrays: ``out[row] += coeff · Π values[factors]``.

    Evaluation is one gather, one product and one ``bincount``; building is one pass over
    the monomials, so both are linear in the number of product terms.

    Example:
        >>> x, y = se.symbols("x y")
        >>> Monomials.build([x, y], [2 * x * y + 3, y**2])(np.array([2.0, 5.0])).tolist()
        [23.0, 25.0]
    """

    def __init__(self, rows: np.ndarray, coeffs: np.ndarray, factors: np.ndarray, n_out: int):
        self.rows, self.coeffs, self.factors, self.n_out = rows, coeffs, factors, n_out

    @classmethod
    def build(cls, args: list[Any], exprs: list[Any]) -> Monomials | None:
        """The plan of ``exprs`` over ``args``, or None if one is not such a polynomial."""
        position = {a: i for i, a in enumerate(args)}
        rows: list[int] = []
        coeffs: list[float] = []
        factors: list[list[Any]] = []
        get, mul = position.get, se.Mul
        for row, expr in enumerate(exprs):
            for mono, coeff in expr.as_coefficients_dict().items():
                if coeff == 0:
                    continue
                # the common case, a product of arguments, without the recursion
                found: list[Any] | None = None
                if type(mono) is mul:
                    found = [get(f) for f in mono.args]
                if found is None or None in found:
                    if mono.is_Number:  # a constant expression comes back as {7: 1}
                        coeff, found = coeff * mono, []
                    else:
                        found = _factor_positions(mono, position)
                        if found is None:
                            return None
                rows.append(row)
                coeffs.append(float(coeff))  # as_coefficients_dict keeps numbers here
                factors.append(found)
        degree = max((len(f) for f in factors), default=0)
        one = len(args)  # the slot holding 1.0 pads shorter monomials
        table = np.full((len(factors), max(degree, 1)), one, dtype=np.intp)
        for i, found in enumerate(factors):
            table[i, : len(found)] = found
        return cls(np.array(rows, dtype=np.intp), np.array(coeffs), table, len(exprs))

    def __call__(self, flat: Any) -> np.ndarray:
        values = np.append(np.asarray(flat, dtype=float).ravel(), 1.0)
        terms = self.coeffs * np.prod(values[self.factors], axis=1)
        return np.bincount(self.rows, weights=terms, minlength=self.n_out)


def _factor_positions(mono: Any, position: dict[Any, int]) -> list[int] | None:
    """Argument positions of a monomial's factors (x**2 → [i, i]); None if not a monomial."""
    kind = type(mono)
    if kind is se.Symbol:
        found = position.get(mono)
        return None if found is None else [found]
    if kind is se.Mul:
        out: list[int] = []
        for factor in mono.args:
            sub = _factor_positions(factor, position)
            if sub is None:
                return None
            out += sub
        return out
    if kind is se.Pow:
        base, exp = mono.args
        if isinstance(exp, se.Integer) and int(exp) > 0:
            sub = _factor_positions(base, position)
            return None if sub is None else sub * int(exp)
        return None
    if mono == 1:
        return []
    return None

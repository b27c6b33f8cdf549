"""A layer's derived formulas evaluated with NumPy a whole part at a time, not formula by formula.

A part of products ``c·x·y`` is a gather per factor, a product and a ``bincount`` into the
entries it feeds; a part of function summands ``f(x_1, …, x_n)`` (and each ∂f/∂u_k of the
chain rule) is one NumPy function of arrays, compiled once per template and reused by every
layer and every configuration. Summands kept as expressions are compiled one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter

from ..core.functions import WindowMax
from ..core.summands import Part
from ..core.symbols import Role
from ..derivation.backprop import Block, Chains, dummies
from ..derivation.structure import Structure
from .compile import compile_exprs, numpy_functions

_COMPILED: dict[Any, Callable[..., Any]] = {}


def template_function(expr: sympy.Basic, n: int) -> Callable[..., Any]:
    """``expr`` over ``dummies(n)`` as a NumPy function of n arrays (compiled once, cached).

    The code is what SymPy's NumPy printer writes for the template (as ``lambdify`` does),
    made into one function in a namespace of NumPy and the templates' own functions: about
    a millisecond a template, where ``lambdify`` takes about eight.

    Example:
        >>> from symcnn.derivation.backprop import derivative_template
        >>> f = template_function(derivative_template(sympy.exp, 1, 0), 1)
        >>> f(np.zeros(2)).tolist()
        [1.0, 1.0]
    """
    key = (expr, n)
    fn = _COMPILED.get(key)
    if fn is None:
        fn = _COMPILED[key] = _compile(expr, n)
    return fn


_PRINTER = NumPyPrinter(
    {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True}
)
_NUMPY = {name: getattr(np, name) for name in dir(np) if not name.startswith("_")}


def _compile(expr: sympy.Basic, n: int) -> Callable[..., Any]:
    names = [f"u{k}" for k in range(n)]
    code = _PRINTER.doprint(expr.xreplace(dict(zip(dummies(n), sympy.symbols(names)))))
    namespace: dict[str, Any] = {**_NUMPY, **numpy_functions([expr])}
    try:
        source = f"def template({', '.join(names)}):\n    return {code}\n"
        exec(compile(source, "<symcnn template>", "exec"), namespace)
    except SyntaxError:  # pragma: no cover - a form the printer cannot write: lambdify's way
        return sympy.lambdify(dummies(n), expr, modules=[numpy_functions([expr]), "numpy"])
    return namespace["template"]


def _columns(part: Part, arrays: dict[Role, np.ndarray], skip: int = -1) -> list[np.ndarray]:
    return [arrays[r][part.index[:, k]] for k, r in enumerate(part.roles) if k != skip]


def _times(coeff: Any, columns: Sequence[np.ndarray], size: int) -> np.ndarray:
    out = np.full(size, float(coeff))
    for col in columns:
        out = out * col
    return out


def _call(expr: sympy.Basic, n: int, columns: list[np.ndarray], size: int) -> np.ndarray:
    value = template_function(expr, n)(*columns)
    return np.broadcast_to(np.asarray(value, dtype=float), (size,))


def summand_values(part: Part, arrays: dict[Role, np.ndarray]) -> np.ndarray:
    """The value of every summand of a part."""
    if part.fn is None:
        return _times(part.coeff, _columns(part, arrays), part.size)
    n = len(part.roles)
    return _call(part.fn(*dummies(n)), n, _columns(part, arrays), part.size)


def partial_values(block: Block, arrays: dict[Role, np.ndarray]) -> np.ndarray:
    """The value of ∂s/∂x of every term of a block."""
    part = block.part
    if part.fn is None:
        return _times(part.coeff, _columns(part, arrays, block.column), part.size)
    return _call(block.template, len(part.roles), _columns(part, arrays), part.size)


class LayerPlan:
    """The forward pass, the backward pass and the max-pool winners of one layer, vectorised.

    ``roles`` and ``sizes`` say how a flat argument vector is cut into tensors (the forward
    pass reads the input and the parameters, the backward pass also δ); ``symbols`` are the
    names of those entries, for the summands compiled one by one.
    """

    def __init__(
        self,
        structure: Structure,
        chains: dict[Role, Chains],
        roles: list[Role],
        sizes: dict[Role, int],
        out_size: int,
        symbols: list[Any],
    ) -> None:
        self.structure, self.chains = structure, chains
        self.roles, self.sizes, self.out_size = roles, sizes, out_size
        op = structure.opaque
        self._opaque_forward = compile_exprs(symbols, list(op.exprs)) if op.exprs else None
        delta_args = symbols  # partials never contain δ
        self._opaque_back = {
            role: compile_exprs(delta_args, [o[3] for o in ch.opaque])
            for role, ch in chains.items()
            if ch.opaque
        }

    def split(self, flat: np.ndarray, roles: list[Role]) -> dict[Role, np.ndarray]:
        """The flat argument vector cut into one array per role."""
        out, pos = {}, 0
        for role in roles:
            out[role] = flat[pos : pos + self.sizes[role]]
            pos += self.sizes[role]
        return out

    def forward(self, flat: np.ndarray) -> np.ndarray:
        """The output (flat) from the input and parameters (flat, in ``roles`` order)."""
        flat = np.asarray(flat, dtype=float)
        arrays = self.split(flat, self.roles)
        out = np.zeros(self.out_size)
        for part in self.structure.parts:
            values = summand_values(part, arrays)
            out += np.bincount(part.rows, weights=values, minlength=self.out_size)
        if self._opaque_forward is not None:
            np.add.at(out, self.structure.opaque.rows, self._opaque_forward(flat))
        return out

    def backward(self, flat: np.ndarray) -> np.ndarray:
        """Every gradient (flat, in ``chains`` order) from the input, parameters and δ."""
        flat = np.asarray(flat, dtype=float)
        given = [*self.roles, Role.DELTA] if Role.DELTA in self.sizes else self.roles
        arrays = self.split(flat, given)
        delta = arrays.get(Role.DELTA, np.ones(1))  # a loss: ∂E/∂E = 1
        n_args = sum(self.sizes[r] for r in self.roles)
        pieces = []
        for role, chains in self.chains.items():
            out = np.zeros(chains.size)
            for block in chains.blocks:
                values = delta[block.part.rows] * partial_values(block, arrays)
                out += np.bincount(block.entries, weights=values, minlength=chains.size)
            if role in self._opaque_back:
                entries = np.array([o[0] for o in chains.opaque], dtype=np.int64)
                rows = np.array([o[2] for o in chains.opaque], dtype=np.int64)
                values = self._opaque_back[role](flat[:n_args])
                np.add.at(out, entries, delta[rows] * values)
            pieces.append(out)
        return np.concatenate(pieces) if pieces else np.zeros(0)

    @property
    def has_winners(self) -> bool:
        """True for a layer of window maxima (its input gradient routes δ to one cell)."""
        return any(p.fn is WindowMax for p in self.structure.parts)

    def winners(self, inputs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """For each window, the input index of the cell whose max bracket evaluates to 1."""
        arrays = {Role.INPUT: np.asarray(inputs, dtype=float).reshape(-1)}
        out = np.empty(self.out_size, dtype=object)
        for block in self.chains[Role.INPUT].blocks:
            if block.part.fn is not WindowMax:
                continue
            flags = partial_values(block, arrays)
            for row, cell in zip(block.part.rows[flags == 1.0], block.entries[flags == 1.0]):
                if out[row] is None:
                    out[row] = tuple(int(i) for i in np.unravel_index(int(cell), shape))
        return out

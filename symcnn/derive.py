"""Differentiation in one place: the chain rule ∂E/∂x = Σ_z δ_z · ∂z/∂x over a layer's terms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import symengine as se
import sympy

from .layers import Forward, build_forward
from .maxfunc import engine_form
from .symbols import Role, SymbolTable

if TYPE_CHECKING:
    from .identities import IdentityResult
    from .numeric import NumericGradients
    from .spec import LayerSpec


@dataclass(frozen=True, slots=True)
class Term:
    """One chain-rule term ``δ_z · ∂z/∂x``: the δ of output entry ``source`` and the partial."""

    delta: Any
    partial: Any
    source: tuple[int, ...]

    def sympy(self) -> sympy.Expr:
        """The product as a SymPy expression."""
        return sympy.Mul(_to_sympy(self.delta), _to_sympy(self.partial))


@dataclass(frozen=True, slots=True)
class ChainSum:
    """∂E/∂x for one entry x: the ordered chain-rule terms (empty means the gradient is 0)."""

    wrt: Any
    terms: tuple[Term, ...]

    def sympy(self) -> sympy.Expr:
        """The gradient entry as one SymPy expression.

        Example:
            >>> from symcnn import Conv2D
            >>> d = Conv2D(input=(2, 2), kernel=(1, 1), bias="none").derive()
            >>> d.grads[Role.WEIGHT][0, 0, 0, 0].sympy()
            a_11*d_11 + a_12*d_12 + a_21*d_21 + a_22*d_22
        """
        return sympy.Add(*[t.sympy() for t in self.terms])

    def engine(self) -> se.Basic:
        """The gradient entry as one symengine expression (fast to expand, compare, lambdify)."""
        return se.Add(*[t.delta * engine_form(t.partial) for t in self.terms])


def _to_sympy(expr: Any) -> sympy.Basic:
    if isinstance(expr, sympy.Basic):
        return expr
    if isinstance(expr, se.Symbol):
        return sympy.Symbol(str(expr))
    return sympy.sympify(expr)


def backprop(
    forward: Forward, table: SymbolTable, deltas: np.ndarray | None = None
) -> dict[Role, np.ndarray]:
    """Apply the chain rule to every forward term: a sparse local Jacobian, accumulated.

    For each output entry z with δ_z, each summand t of z and each symbol x of t (in grid
    order), the term ``δ_z · ∂t/∂x`` is appended to ∂E/∂x. Only symbols a term contains are
    differentiated, so the cost is linear in the number of product terms.

    ``deltas`` (shaped like the output) replaces the δ symbols of the layer's DELTA grid; a
    loss, whose output is E itself, passes ``∂E/∂E = 1``.

    Example:
        >>> from symcnn.spec import Conv2D
        >>> fwd = build_forward(Conv2D(input=(2, 2), kernel=(1, 1), bias="none"))
        >>> g = backprop(fwd, SymbolTable(list(fwd.grids.values())))
        >>> [str(t.partial) for t in g[Role.INPUT][0, 0, 0].terms]
        ['w_11']
    """
    wanted = {forward.grids[role].name: role for role in forward.wrt}
    acc: dict[str, list[Term]] = {}
    if deltas is None:
        deltas = forward.grids[Role.DELTA].symbols
    memo: dict[tuple[Any, int, int], tuple[tuple[sympy.Dummy, ...], sympy.Basic]] = {}
    position = table.position
    for idx in np.ndindex(*forward.terms.shape):
        delta = deltas[idx]
        for summand in forward.terms[idx]:
            symbols = sorted(summand.free_symbols, key=position)
            for sym in symbols:
                name = str(sym)
                info = table.info(name)
                if info.grid.name not in wanted:
                    continue
                acc.setdefault(name, []).append(Term(delta, _partial(summand, sym, memo), idx))
    grads: dict[Role, np.ndarray] = {}
    for role in forward.wrt:
        grid = forward.grids[role]
        out = np.empty(grid.shape, dtype=object)
        for index in np.ndindex(*grid.shape):
            sym = grid.symbols[index]
            out[index] = ChainSum(sym, tuple(acc.get(str(sym), ())))
        grads[role] = out
    return grads


def _partial(summand: Any, sym: Any, memo: dict[Any, Any]) -> Any:
    """∂summand/∂sym. A SymPy function of distinct symbols, f(x_1, …, x_n), is differentiated
    once per (f, n, k) on dummy arguments and the result renamed: ∂f/∂x_k = (∂f/∂u_k)(x).
    The same maths as ``summand.diff(sym)``, without SymPy's per-call assumption queries.
    """
    args = summand.args if isinstance(summand, sympy.Function) else ()
    if args and all(type(a) is sympy.Symbol for a in args) and len(set(args)) == len(args):
        k = args.index(sym)
        key = (summand.func, len(args), k)
        if key not in memo:
            dummies = tuple(sympy.Dummy(f"u{i}") for i in range(len(args)))
            memo[key] = (dummies, summand.func(*dummies).diff(dummies[k]))
        dummies, template = memo[key]
        return template.xreplace(dict(zip(dummies, args)))
    return summand.diff(sym)


@dataclass
class Derivation:
    """Everything derived for one layer: grids, forward terms, gradients, proven identities.

    Example:
        >>> from symcnn import Conv2D
        >>> d = Conv2D(input=(3, 3), kernel=(2, 2), bias="untied").derive()
        >>> print(d.text().splitlines()[0])  # doctest: +SKIP
    """

    spec: LayerSpec
    forward: Forward
    grads: dict[Role, np.ndarray]
    table: SymbolTable
    identities: list[IdentityResult] = field(default_factory=list)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the layer output and of δ."""
        return tuple(self.forward.terms.shape)

    def symbols(self, role: Role) -> np.ndarray:
        """The grid of symbols of one tensor (``Role.INPUT``, ``Role.WEIGHT`` …), as SymPy."""
        grid = self.forward.grids[role]
        return _map(grid.symbols, lambda s: sympy.Symbol(str(s)))

    def gradient(self, role: Role | str) -> np.ndarray:
        """∂E/∂(tensor) as an object array of SymPy expressions shaped like the tensor.

        Example:
            >>> from symcnn import Conv2D
            >>> Conv2D(input=(2, 2), kernel=(2, 2)).derive().gradient("bias")[0]
            d_11
        """
        role = Role(role) if isinstance(role, str) else role
        return _map(self.grads[role], lambda cs: cs.sympy())

    @property
    def all_proven(self) -> bool:
        """True when every identity checked for this layer was proven."""
        return all(r.proven for r in self.identities)

    def numeric(self) -> NumericGradients:
        """Lambdified gradient functions: numbers in, gradient arrays out (see `symcnn.numeric`)."""
        from .numeric import NumericGradients

        return NumericGradients(self)

    def text(self, unicode: bool = True) -> str:
        """The per-entry gradient sums as plain text, one line per entry."""
        from .printing import derivation_text

        return derivation_text(self, unicode=unicode)

    def latex(self) -> str:
        """``align*`` blocks and bmatrix forms, ready to paste into a LaTeX document."""
        from .printing import derivation_latex

        return derivation_latex(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON contract as a dict (see the README for its fields)."""
        from .jsonout import derivation_json

        return derivation_json(self)

    def _repr_latex_(self) -> str:
        """Jupyter's view: a compact ``$$…$$`` block (see `symcnn.notebook`)."""
        from .notebook import notebook_latex

        return notebook_latex(self)


def _map(arr: np.ndarray, fn: Callable[[Any], Any]) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    for index in np.ndindex(*arr.shape):
        out[index] = fn(arr[index])
    return out


def derive(spec: LayerSpec, prove: bool = True) -> Derivation:
    """Forward expressions → chain rule → gradients, then the matrix identities proven exactly.

    Example:
        >>> from symcnn import Conv2D
        >>> d = derive(Conv2D(input=(3, 3), kernel=(2, 2)))
        >>> d.all_proven
        True
    """
    forward = build_forward(spec)
    table = SymbolTable(list(forward.grids.values()))
    grads = backprop(forward, table)
    derivation = Derivation(spec, forward, grads, table)
    if prove:
        from .identities import prove_identities

        derivation.identities = prove_identities(derivation)
    return derivation

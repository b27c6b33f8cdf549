"""Differentiation in one place: the chain rule ∂E/∂x = Σ_z δ_z · ∂z/∂x over a layer's terms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import symengine as se
import sympy

from ..core.functions import engine_form
from ..core.symbols import Grid, Role, SymbolTable


@dataclass(frozen=True)
class Stage:
    """A named intermediate quantity of a layer (batch norm's μ, σ², x̂): its grid of symbols,
    the grid of its δ = ∂E/∂(quantity), and its terms (``grid[idx] = Σ terms[idx]``)."""

    grid: Grid
    delta: Grid
    terms: np.ndarray
    meaning: str = ""


@dataclass(frozen=True)
class Forward:
    """A layer's forward pass: ``z[index] = Σ terms[index]``, plus the grids the terms use.

    ``terms`` is an object array shaped like the output whose entries are tuples of summands,
    kept in the order the layer's index formula visits them (so printed sums read naturally).
    ``grids`` holds the tensors by role (INPUT is the first tensor the layer reads); ``wrt``
    lists the roles whose gradients are wanted (input first, then parameters). ``reads`` are
    all the tensors it reads, in order (one for most kinds; a merging kind reads several);
    ``stages`` its named intermediate quantities, in the order they are computed: their
    symbols may appear in later stages' terms and in ``terms``.
    """

    grids: dict[Role, Grid]
    terms: np.ndarray
    wrt: tuple[Role, ...]
    reads: tuple[Grid, ...] = ()
    stages: tuple[Stage, ...] = ()

    def __post_init__(self) -> None:
        if not self.reads and Role.INPUT in self.grids:
            object.__setattr__(self, "reads", (self.grids[Role.INPUT],))

    def expr(self, index: tuple[int, ...]) -> se.Basic:
        """The output entry at ``index`` as one symengine expression."""
        return se.Add(*[engine_form(t) for t in self.terms[index]])


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
            >>> x, d = se.symbols("x d")
            >>> ChainSum(x, (Term(d, 2, (0,)),)).sympy()
            2*d
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


@dataclass(frozen=True)
class Gradients:
    """What the chain rule gives for one layer, every entry a `ChainSum` in the layer's δ.

    ``roles``: by role (INPUT is the first tensor read); ``reads``: ∂E/∂(each tensor read),
    aligned with `Forward.reads` (a tensor read twice gets one array holding both paths);
    ``stages``: the δ of each named quantity, aligned with `Forward.stages`.
    """

    roles: dict[Role, np.ndarray]
    reads: tuple[np.ndarray, ...]
    stages: tuple[np.ndarray, ...]


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
        >>> from symcnn.derivation.naming import grid, plain
        >>> a = grid(plain("a"), Role.INPUT, (2,), 0, 1)
        >>> w = grid(plain("w"), Role.WEIGHT, (1, 2), 0, 1)
        >>> z = grid(plain("z"), Role.OUTPUT, (1,), 0, 1)
        >>> d = grid(plain("d"), Role.DELTA, (1,), 0, 1)
        >>> terms = np.empty((1,), dtype=object)
        >>> terms[0] = (a.symbols[0] * w.symbols[0, 0], a.symbols[1] * w.symbols[0, 1])
        >>> fwd = Forward({Role.INPUT: a, Role.WEIGHT: w, Role.OUTPUT: z, Role.DELTA: d},
        ...               terms, (Role.INPUT, Role.WEIGHT))
        >>> g = backprop(fwd, SymbolTable([a, w, z, d]))
        >>> [str(t.partial) for t in g[Role.INPUT][1].terms], g[Role.WEIGHT][0, 0].sympy()
        (['w_12'], a_1*d_1)
    """
    return backprop_all(forward, table, deltas).roles


def backprop_all(
    forward: Forward, table: SymbolTable, deltas: np.ndarray | None = None
) -> Gradients:
    """`backprop` for every tensor the layer reads and through its named quantities.

    The output's terms are differentiated first; then each quantity, last computed first:
    its δ is by then complete (only later quantities and the output use it), and its own
    terms pass it on, ``δ_q · ∂q/∂x``, to what it was computed from.

    Example:
        >>> from symcnn.derivation.naming import grid, plain
        >>> a = grid(plain("a"), Role.INPUT, (1,), 0, 1)
        >>> s = grid(plain("s"), Role.OUTPUT, (1,), 0, 1)
        >>> ds = grid(plain("ds"), Role.DELTA, (1,), 0, 1)
        >>> z = grid(plain("z"), Role.OUTPUT, (1,), 0, 1)
        >>> d = grid(plain("d"), Role.DELTA, (1,), 0, 1)
        >>> sq = np.empty((1,), dtype=object); sq[0] = (a.symbols[0] ** 2,)
        >>> out = np.empty((1,), dtype=object); out[0] = (3 * s.symbols[0],)
        >>> fwd = Forward({Role.INPUT: a, Role.OUTPUT: z, Role.DELTA: d}, out, (Role.INPUT,),
        ...               stages=(Stage(s, ds, sq),))
        >>> g = backprop_all(fwd, SymbolTable([a, s, ds, z, d]))
        >>> g.stages[0][0].sympy(), g.roles[Role.INPUT][0].sympy()
        (3*d_1, 2*a_1*ds_1)
    """
    targets = [forward.grids[role] for role in forward.wrt if role is not Role.INPUT]
    targets += [*forward.reads, *(stage.grid for stage in forward.stages)]
    wanted = {grid.name for grid in targets}
    acc: dict[str, list[Term]] = {}
    memo: dict[tuple[Any, int, int], tuple[tuple[sympy.Dummy, ...], sympy.Basic]] = {}
    position = table.position

    def visit(terms: np.ndarray, deltas: np.ndarray) -> None:
        for idx in np.ndindex(*terms.shape):
            delta = deltas[idx]
            for summand in terms[idx]:
                for sym in sorted(summand.free_symbols, key=position):
                    name = str(sym)
                    if table.info(name).grid.name not in wanted:
                        continue
                    acc.setdefault(name, []).append(Term(delta, _partial(summand, sym, memo), idx))

    def sums(grid: Grid) -> np.ndarray:
        out = np.empty(grid.shape, dtype=object)
        for index in np.ndindex(*grid.shape):
            sym = grid.symbols[index]
            out[index] = ChainSum(sym, tuple(acc.get(str(sym), ())))
        return out

    visit(forward.terms, forward.grids[Role.DELTA].symbols if deltas is None else deltas)
    stages: list[np.ndarray] = []
    for stage in reversed(forward.stages):
        stages.append(sums(stage.grid))
        visit(stage.terms, stage.delta.symbols)
    stages.reverse()
    by_grid: dict[str, np.ndarray] = {}
    for grid in forward.reads:
        if grid.name not in by_grid:
            by_grid[grid.name] = sums(grid)
    reads = tuple(by_grid[grid.name] for grid in forward.reads)
    roles: dict[Role, np.ndarray] = {}
    for role in forward.wrt:
        grid = forward.grids[role]
        roles[role] = by_grid[grid.name] if role is Role.INPUT else sums(grid)
    return Gradients(roles, reads, tuple(stages))


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

"""Differentiation in one place: the chain rule ∂E/∂x = Σ_z δ_z · ∂z/∂x over a layer's terms.

A layer's forward rule is a set of `~symcnn.core.summands.Part` arrays (plus a few summands
kept as expressions). The chain rule of a product summand ``c·x·y`` is structural: its term
for x is ``δ·c·y``, read off the arrays, so a whole part is differentiated at once, column by
column (`Block`). A summand ``f(x_1, …, x_n)`` of a SymPy function is differentiated once per
(f, n, k) on dummy arguments (∂f/∂u_k), and the result renamed per summand. Anything else is
differentiated one summand at a time. The terms are SymPy/symengine objects only when
something reads them (`ChainSum.terms`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import symengine as se
import sympy

from ..core.functions import engine_form
from ..core.summands import Part, order, product, summand_array
from ..core.symbols import Grid, Role, SymbolTable
from .structure import NO_OPAQUE, Opaque, Structure, analyse


@dataclass(frozen=True)
class Stage:
    """A named intermediate quantity of a layer (batch norm's μ, σ², x̂): its grid of symbols,
    the grid of its δ = ∂E/∂(quantity), and its terms (``grid[idx] = Σ terms[idx]``)."""

    grid: Grid
    delta: Grid
    terms: np.ndarray
    meaning: str = ""


class Forward:
    """A layer's forward pass: ``z[index] = Σ terms[index]``, plus the grids the terms use.

    ``terms`` is an object array shaped like the output whose entries are tuples of summands,
    kept in the order the layer's index formula visits them (so printed sums read naturally);
    given ``parts`` instead, it is built from them when first read. ``grids`` holds the
    tensors by role (INPUT is the first tensor the layer reads); ``wrt`` lists the roles whose
    gradients are wanted (input first, then parameters). ``reads`` are all the tensors it
    reads, in order (one for most kinds; a merging kind reads several); ``stages`` its named
    intermediate quantities, in the order they are computed: their symbols may appear in
    later stages' terms and in ``terms``.
    """

    def __init__(
        self,
        grids: dict[Role, Grid],
        terms: np.ndarray | None,
        wrt: tuple[Role, ...],
        reads: tuple[Grid, ...] = (),
        stages: tuple[Stage, ...] = (),
        parts: tuple[Part, ...] | None = None,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        if terms is None and (parts is None or shape is None):
            raise ValueError("a Forward needs its terms, or its parts and output shape")
        self.grids = grids
        self.wrt = tuple(wrt)
        if not reads and Role.INPUT in grids:
            reads = (grids[Role.INPUT],)
        self.reads = tuple(reads)
        self.stages = tuple(stages)
        self.parts = parts
        self.shape: tuple[int, ...] = tuple(terms.shape if terms is not None else shape or ())
        self._terms = terms
        self.structure: Structure | None = None

    @property
    def structural(self) -> bool:
        """True when the chain rule can be read off index arrays: one tensor read, no named
        quantities, the input's gradient wanted (graph layers go term by term)."""
        return (
            not self.stages
            and len(self.reads) == 1
            and Role.INPUT in self.wrt
            and self.reads[0] is self.grids.get(Role.INPUT)
        )

    @property
    def terms(self) -> np.ndarray:
        """Summand tuples per output entry (built from the parts when first read)."""
        if self._terms is None:
            assert self.parts is not None
            symbols = {role: g.symbols for role, g in self.grids.items()}
            self._terms = summand_array(self.parts, self.shape, symbols)
        return self._terms

    def analyse(self, table: SymbolTable) -> Structure:
        """The forward rule as parts and opaque summands (computed once)."""
        if self.structure is None:
            if self.parts is not None:
                self.structure = Structure(self.parts, NO_OPAQUE)
            else:
                self.structure = analyse(self.terms, self.grids, table)
        return self.structure

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


class ChainSum:
    """∂E/∂x for one entry x: the ordered chain-rule terms (empty means the gradient is 0).

    Built by `backprop`, the terms are read from the layer's `Chains` when first asked for.
    """

    __slots__ = ("_chains", "_entry", "_terms", "wrt")

    def __init__(
        self,
        wrt: Any,
        terms: tuple[Term, ...] | None = None,
        chains: Chains | None = None,
        entry: int = 0,
    ) -> None:
        self.wrt = wrt
        self._terms = terms
        self._chains = chains
        self._entry = entry

    @property
    def terms(self) -> tuple[Term, ...]:
        """The chain-rule terms in order."""
        if self._terms is None:
            assert self._chains is not None
            self._terms = self._chains.terms(self._entry)
        return self._terms

    @property
    def chains(self) -> Chains | None:
        """The chains of the whole tensor this entry belongs to (None when built by hand)."""
        return self._chains

    @property
    def entry(self) -> int:
        """The flat index of x in its tensor."""
        return self._entry

    def __repr__(self) -> str:
        return f"ChainSum(wrt={self.wrt!r}, terms={self.terms!r})"

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


#: Dummy arguments u_0, u_1, … of the function templates (one tuple per arity).
_DUMMIES: dict[int, tuple[sympy.Dummy, ...]] = {}
_TEMPLATES: dict[tuple[Any, int], sympy.Basic] = {}


def dummies(n: int) -> tuple[sympy.Dummy, ...]:
    """The dummy arguments of a function of n entries (the same objects every time)."""
    if n not in _DUMMIES:
        _DUMMIES[n] = tuple(sympy.Dummy(f"u{i}") for i in range(n))
    return _DUMMIES[n]


def derivative_template(fn: Any, n: int, k: int) -> sympy.Basic:
    """∂f(u_0, …, u_{n−1})/∂u_k over `dummies`, computed once per (f, n, k).

    Example:
        >>> from symcnn.core.functions import WindowMax
        >>> u = dummies(2)
        >>> derivative_template(WindowMax, 2, 1).args[0]
        1
    """
    expr = fn(*dummies(n))
    key = (expr, k)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = expr.diff(dummies(n)[k])
    return _TEMPLATES[key]


@dataclass(frozen=True, eq=False)
class Block:
    """The chain-rule terms of one column of one part: for summand t, the entry
    ``part.index[t, column]`` of the column's tensor gets ``δ[part.rows[t]] · ∂s_t/∂x``.

    ``rank`` orders the part's summands in the layer's forward order; ``template`` (a function
    part) is ∂f/∂u_column over `dummies`.
    """

    part: Part
    column: int
    rank: np.ndarray
    template: Any = None

    @property
    def entries(self) -> np.ndarray:
        """The flat index, in the column's tensor, of the entry each term differentiates by."""
        return self.part.index[:, self.column]

    def partial(self, t: int, symbols: dict[Role, np.ndarray]) -> Any:
        """∂s_t/∂x of summand t as an expression."""
        part = self.part
        args = [symbols[r].flat[k] for r, k in zip(part.roles, part.index[t].tolist())]
        if part.fn is not None:
            values = [sympy.Symbol(str(a)) for a in args]
            return self.template.xreplace(dict(zip(dummies(len(args)), values)))
        return product(part.coeff, args[: self.column] + args[self.column + 1 :])


@dataclass(eq=False)
class Chains:
    """∂E/∂x for every entry of one tensor: structural `Block` terms plus opaque ones.

    ``opaque`` holds ``(entry, rank, row, partial)`` for summands differentiated one by one.
    ``deltas`` gives the δ of each output entry (flat), ``symbols`` the layer's symbols by
    role, ``shape`` the layer's output shape.
    """

    size: int
    blocks: list[Block]
    opaque: list[tuple[int, int, int, Any]]
    deltas: np.ndarray
    symbols: dict[Role, np.ndarray]
    shape: tuple[int, ...]
    _sorted: tuple[np.ndarray, np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(starts, block, position)``: the terms of entry e are ``starts[e] … starts[e+1]``,
        each from ``blocks[block]`` (−1: ``opaque``) at summand (or opaque item) ``position``."""
        if self._sorted is None:
            blocks, opaque = self.blocks, np.array([o[:2] for o in self.opaque], dtype=np.int64)
            opaque = opaque.reshape(-1, 2)  # (entry, rank) of each opaque item
            entry = np.concatenate([*(b.entries for b in blocks), opaque[:, 0]])
            rank = np.concatenate([*(b.rank for b in blocks), opaque[:, 1]])
            which = [np.full(len(b.rank), k) for k, b in enumerate(blocks)]
            block = np.concatenate([*which, np.full(len(opaque), -1)]).astype(np.int64)
            where = [np.arange(len(b.rank)) for b in blocks]
            position = np.concatenate([*where, np.arange(len(opaque))]).astype(np.int64)
            span = int(rank.max()) + 1 if len(rank) else 1
            perm = np.argsort(entry * span + rank, kind="stable")
            counts = np.bincount(entry, minlength=self.size)
            starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self._sorted = (starts, block[perm], position[perm])
        return self._sorted

    def terms(self, entry: int) -> tuple[Term, ...]:
        """The chain-rule terms of one entry, as objects, in order."""
        starts, block, position = self.sorted()
        out = []
        for k in range(int(starts[entry]), int(starts[entry + 1])):
            b, t = int(block[k]), int(position[k])
            if b < 0:
                _, _, row, partial = self.opaque[t]
            else:
                row = int(self.blocks[b].part.rows[t])
                partial = self.blocks[b].partial(t, self.symbols)
            source = tuple(int(i) for i in np.unravel_index(row, self.shape)) if self.shape else ()
            out.append(Term(self.deltas[row], partial, source))
        return tuple(out)


def chains_of(grads: np.ndarray) -> Chains | None:
    """The `Chains` a gradient array (of `ChainSum`, never empty) was built from; None for
    hand-built chain sums."""
    chains: Chains | None = grads.flat[0].chains
    return chains


def chain_rule(
    forward: Forward, table: SymbolTable, deltas: np.ndarray | None = None
) -> dict[Role, Chains]:
    """The chains of every wanted tensor of a layer (see `backprop`)."""
    structure = forward.analyse(table)
    parts = list(structure.parts)
    op = structure.opaque
    holder = Part(op.rows, (), np.zeros((len(op.rows), 0)), seq=op.seq)
    ranks = order([*parts, holder] if len(op.rows) else parts)
    if deltas is None:
        deltas = forward.grids[Role.DELTA].symbols
    flat_deltas = np.asarray(deltas, dtype=object).reshape(-1)
    symbols = {role: g.symbols for role, g in forward.grids.items()}
    out: dict[Role, Chains] = {}
    for role in forward.wrt:
        blocks = []
        for part, rank in zip(parts, ranks):
            for column, r in enumerate(part.roles):
                if r is role:
                    n = len(part.roles)
                    template = derivative_template(part.fn, n, column) if part.fn else None
                    blocks.append(Block(part, column, rank, template))
        size = int(np.prod(forward.grids[role].shape))
        out[role] = Chains(size, blocks, [], flat_deltas, symbols, forward.shape)
    if len(op.rows):
        _opaque_terms(op, ranks[-1], forward, table, out)
    return out


def _opaque_terms(
    op: Opaque, ranks: np.ndarray, forward: Forward, table: SymbolTable, out: dict[Role, Chains]
) -> None:
    """Differentiate the opaque summands one by one by every entry they contain."""
    wanted = {forward.grids[role].name: role for role in forward.wrt}
    for k, summand in enumerate(op.exprs):
        for sym in sorted(summand.free_symbols, key=table.position):
            info = table.info(str(sym))
            role = wanted.get(info.grid.name)
            if role is None:
                continue
            entry = table.position(sym) - table.offset(info.grid)
            partial = summand.diff(sym)
            out[role].opaque.append((entry, int(ranks[k]), int(op.rows[k]), partial))


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


def backprop_all(
    forward: Forward, table: SymbolTable, deltas: np.ndarray | None = None
) -> Gradients:
    """`backprop` for every tensor the layer reads and through its named quantities.

    A layer reading one tensor without named quantities goes through the index arrays
    (`backprop`); otherwise the output's terms are differentiated first, then each
    quantity, last computed first: its δ is by then complete (only later quantities and the
    output use it), and its own terms pass it on, ``δ_q · ∂q/∂x``, to what it was computed
    from.

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
    if forward.structural:
        roles = backprop(forward, table, deltas)
        return Gradients(roles, (roles[Role.INPUT],), ())
    return _backprop_terms(forward, table, deltas)


def _backprop_terms(
    forward: Forward, table: SymbolTable, deltas: np.ndarray | None = None
) -> Gradients:
    """The chain rule term object by term object (graph layers: several reads, quantities)."""
    targets = [forward.grids[role] for role in forward.wrt if role is not Role.INPUT]
    targets += [*forward.reads, *(stage.grid for stage in forward.stages)]
    wanted = {grid.name for grid in targets}
    acc: dict[str, list[Term]] = {}
    position = table.position

    def visit(terms: np.ndarray, deltas: np.ndarray) -> None:
        for idx in np.ndindex(*terms.shape):
            delta = deltas[idx]
            for summand in terms[idx]:
                for sym in sorted(summand.free_symbols, key=position):
                    name = str(sym)
                    if table.info(name).grid.name not in wanted:
                        continue
                    acc.setdefault(name, []).append(Term(delta, summand.diff(sym), idx))

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


def backprop(
    forward: Forward, table: SymbolTable, deltas: np.ndarray | None = None
) -> dict[Role, np.ndarray]:
    """Apply the chain rule to every forward term: a sparse local Jacobian, accumulated.

    For each output entry z with δ_z, each summand t of z and each entry x of t, the term
    ``δ_z · ∂t/∂x`` is appended to ∂E/∂x, in forward order. Only entries a summand contains
    are differentiated, so the cost is linear in the number of product terms.

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
    if not forward.structural:
        return _backprop_terms(forward, table, deltas).roles
    grads: dict[Role, np.ndarray] = {}
    for role, chains in chain_rule(forward, table, deltas).items():
        grid = forward.grids[role]
        wrt = grid.symbols.reshape(-1)
        out = np.empty(chains.size, dtype=object)
        for k in range(chains.size):
            out[k] = ChainSum(wrt[k], None, chains, k)
        grads[role] = out.reshape(grid.shape)
    return grads

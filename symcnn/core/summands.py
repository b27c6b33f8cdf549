"""A layer's forward rule as index arrays: `Part`, the summands of one form for many entries.

A conv layer's output entry ``z[o,i,j]`` adds ``w[o,c,m,n]·a[c,r,t]`` for every kernel tap
and its bias: two parts, one of products ``w·a`` and one of single bias entries, each given
by the output entry it feeds and the (flat) indices of its factors. Differentiating such a
summand is bookkeeping (∂(w·a)/∂a = w), so the derivation works on the arrays; the SymPy
objects are built only when something prints them (`summand_array`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import symengine as se
import sympy

from .symbols import Role


@dataclass(frozen=True, eq=False)
class Part:
    """Summands of one form: summand t is added to output entry ``rows[t]`` (flat, row-major).

    With ``fn`` None, summand t is the product ``coeff · x_1 ⋯ x_n`` of distinct entries; else
    it is ``fn(x_1, …, x_n)`` (a SymPy function of distinct entries). Entry x_k is the tensor
    of role ``roles[k]`` at flat index ``index[t, k]``. The summands of one output entry are
    ordered part by part, in array order, unless ``seq`` gives each one's position.

    Example:
        >>> p = Part(np.array([0, 0]), (Role.WEIGHT, Role.INPUT), np.array([[0, 0], [1, 1]]))
        >>> a = np.array(se.symbols("a_1 a_2")); w = np.array(se.symbols("w_1 w_2"))
        >>> [sorted(map(str, s.args)) for s in summand_array([p], (1,), {Role.INPUT: a, Role.WEIGHT: w})[0]]
        [['a_1', 'w_1'], ['a_2', 'w_2']]
    """

    rows: np.ndarray
    roles: tuple[Role, ...]
    index: np.ndarray
    fn: Callable[..., Any] | None = None
    coeff: Any = 1
    seq: np.ndarray | None = None

    def __post_init__(self) -> None:
        rows = np.asarray(self.rows, dtype=np.int64).reshape(-1)
        index = np.asarray(self.index, dtype=np.int64).reshape(len(rows), len(self.roles))
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "index", index)

    @property
    def size(self) -> int:
        """The number of summands."""
        return len(self.rows)

    def summand(self, t: int, symbols: dict[Role, np.ndarray]) -> Any:
        """Summand t as an expression over the given symbol arrays (by role)."""
        args = [symbols[role].flat[k] for role, k in zip(self.roles, self.index[t].tolist())]
        if self.fn is not None:
            return self.fn(*[sympy.Symbol(str(s)) for s in args])
        return product(self.coeff, args)


def product(coeff: Any, factors: Sequence[Any]) -> Any:
    """``coeff·f_1⋯f_n`` as symengine builds it (a lone factor is itself; none is ``coeff``).

    Example:
        >>> x, y = se.symbols("x y")
        >>> product(1, [x]), product(se.Rational(1, 4), [x]), product(1, [])
        (x, (1/4)*x, 1)
    """
    if not factors:
        return se.Integer(coeff) if isinstance(coeff, int) else coeff
    body = factors[0] if len(factors) == 1 else se.Mul(*factors)
    return body if _is_one(coeff) else coeff * body


def _is_one(coeff: Any) -> bool:
    return isinstance(coeff, (int, se.Integer, sympy.Integer)) and int(coeff) == 1


def order(parts: Sequence[Part]) -> list[np.ndarray]:
    """For each part, the rank of each of its summands in the layer's forward order.

    Summands are ordered by output entry, then by ``seq`` (or part by part, in array order).

    Example:
        >>> p = Part(np.array([1, 0]), (Role.INPUT,), np.array([[0], [1]]))
        >>> q = Part(np.array([0]), (Role.BIAS,), np.array([[0]]))
        >>> [r.tolist() for r in order([p, q])]
        [[2, 0], [1]]
    """
    if not parts:
        return []
    rows = np.concatenate([p.rows for p in parts])
    seqs = []
    start = 0
    for p in parts:
        seqs.append(p.seq if p.seq is not None else np.arange(start, start + p.size))
        start += p.size
    seq = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
    ranked = np.lexsort((seq, rows))
    rank = np.empty(len(rows), dtype=np.int64)
    rank[ranked] = np.arange(len(rows))
    out, start = [], 0
    for p in parts:
        out.append(rank[start : start + p.size])
        start += p.size
    return out


def summand_array(
    parts: Sequence[Part], shape: tuple[int, ...], symbols: dict[Role, np.ndarray]
) -> np.ndarray:
    """The object array of summand tuples the parts describe (the form `Layer.terms` returns).

    Example:
        >>> p = Part(np.array([0]), (Role.INPUT,), np.array([[1]]))
        >>> summand_array([p], (2,), {Role.INPUT: np.array(se.symbols("a_1 a_2"))}).tolist()
        [(a_2,), ()]
    """
    ranks = order(parts)
    keyed: list[tuple[int, int, int]] = []
    for number, (part, rank) in enumerate(zip(parts, ranks)):
        keyed += zip(rank.tolist(), [number] * part.size, range(part.size))
    keyed.sort()
    size = int(np.prod(shape)) if shape else 1
    rows: list[list[Any]] = [[] for _ in range(size)]
    for _, number, t in keyed:
        part = parts[number]
        rows[int(part.rows[t])].append(part.summand(t, symbols))
    out = np.empty(size, dtype=object)
    for k, row in enumerate(rows):
        out[k] = tuple(row)
    return out.reshape(shape)


def flat_index(shape: tuple[int, ...], *axes: np.ndarray) -> np.ndarray:
    """Row-major flat indices of the given per-axis index arrays (broadcast together).

    Example:
        >>> flat_index((2, 3), np.array([1]), np.array([2])).tolist()
        [5]
    """
    return np.ravel_multi_index(np.broadcast_arrays(*axes), shape).astype(np.int64)

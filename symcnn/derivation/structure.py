"""A forward rule given as summand objects, read back into `Part` arrays where it has their form.

Kinds that give only `~symcnn.kinds.base.Layer.terms` (and the losses) hand the derivation
SymPy/symengine summands. Products of distinct entries and SymPy functions of distinct
entries become parts; anything else (``½(ŷ − t)²``) stays an `Opaque` summand, which the
chain rule differentiates one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import symengine as se
import sympy

from ..core.summands import Part
from ..core.symbols import Grid, Role, SymbolTable


@dataclass(frozen=True)
class Opaque:
    """Summands kept as expressions: summand k is ``exprs[k]``, added to entry ``rows[k]``."""

    rows: np.ndarray
    seq: np.ndarray
    exprs: tuple[Any, ...]


@dataclass(frozen=True)
class Structure:
    """A layer's forward rule as parts plus opaque summands (see `analyse`)."""

    parts: tuple[Part, ...]
    opaque: Opaque


NO_OPAQUE = Opaque(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), ())


def _locate(sym: Any, table: SymbolTable, roles: dict[str, Role]) -> tuple[Role, int] | None:
    info = table.get(sym)
    if info is None or info.grid.name not in roles:
        return None
    return roles[info.grid.name], table.position(sym) - table.offset(info.grid)


def _classify(expr: Any, table: SymbolTable, roles: dict[str, Role]) -> tuple[Any, ...] | None:
    """``("prod", coeff, located factors)`` or ``("fn", func, located args)``; None: opaque."""
    if isinstance(expr, (se.Symbol, sympy.Symbol)):
        factors, coeff = [expr], se.Integer(1)
    elif isinstance(expr, (se.Mul, sympy.Mul)):
        numbers = [a for a in expr.args if isinstance(a, (se.Number, sympy.Number))]
        factors = [a for a in expr.args if isinstance(a, (se.Symbol, sympy.Symbol))]
        if len(numbers) > 1 or len(numbers) + len(factors) != len(expr.args):
            return None
        coeff = se.sympify(numbers[0]) if numbers else se.Integer(1)
    elif isinstance(expr, sympy.Function) and all(type(a) is sympy.Symbol for a in expr.args):
        located = [_locate(a, table, roles) for a in expr.args]
        if not expr.args or None in located or len(set(expr.args)) != len(expr.args):
            return None
        return ("fn", expr.func, tuple(located))
    else:
        return None
    located = [_locate(f, table, roles) for f in factors]
    if None in located or len({str(f) for f in factors}) != len(factors):
        return None
    return ("prod", coeff, tuple(located))


def analyse(terms: np.ndarray, grids: dict[Role, Grid], table: SymbolTable) -> Structure:
    """Group summand objects into parts (products, functions) and opaque summands.

    Example:
        >>> from symcnn.derivation.naming import grid, plain
        >>> a = grid(plain("a"), Role.INPUT, (2,), 0, 1)
        >>> terms = np.empty((1,), dtype=object)
        >>> terms[0] = (2 * a.symbols[0], a.symbols[1] ** 2)
        >>> s = analyse(terms, {Role.INPUT: a}, SymbolTable([a]))
        >>> s.parts[0].coeff, s.opaque.exprs
        (2, (a_2**2,))
    """
    roles = {g.name: role for role, g in grids.items()}
    groups: dict[Any, tuple[list[int], list[int], list[tuple[int, ...]]]] = {}
    keys: dict[Any, tuple[Any, ...]] = {}
    op_rows: list[int] = []
    op_seq: list[int] = []
    op_exprs: list[Any] = []
    for row, entry in enumerate(terms.ravel()):
        for seq, expr in enumerate(entry):
            found = _classify(expr, table, roles)
            if found is None:
                op_rows.append(row)
                op_seq.append(seq)
                op_exprs.append(expr)
                continue
            kind, how, located = found
            key = (kind, how, tuple(role for role, _ in located))
            keys[key] = found
            rows, seqs, index = groups.setdefault(key, ([], [], []))
            rows.append(row)
            seqs.append(seq)
            index.append(tuple(k for _, k in located))
    parts = []
    for key, (rows, seqs, index) in groups.items():
        kind, how, located = keys[key]
        roles_ = tuple(role for role, _ in located)
        parts.append(
            Part(
                np.array(rows),
                roles_,
                np.array(index).reshape(len(rows), len(roles_)),
                fn=how if kind == "fn" else None,
                coeff=1 if kind == "fn" else how,
                seq=np.array(seqs),
            )
        )
    opaque = Opaque(
        np.array(op_rows, dtype=np.int64), np.array(op_seq, dtype=np.int64), tuple(op_exprs)
    )
    return Structure(tuple(parts), opaque)

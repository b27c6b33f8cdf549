"""Printing whole tensors of formulas at once: product terms straight from their index arrays.

A chain-rule term ``δ_11·w_22`` of a product part is its factors' printed names, joined in
the printers' order (δ first, then the grids in table order); a sum is those strings joined
in chain order. The result is the same text `chain_sum_string` and `forward_string` print
term object by term object, without building the objects. Anything else (functions, opaque
summands) is printed object by object.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from ..core.summands import Part, order
from ..core.symbols import Grid, Role
from ..derivation.backprop import Chains, Forward, chains_of
from .printers import Printer, SymcnnLatexPrinter, chain_sum_string, forward_string


def _names(p: Printer, grid: Grid) -> np.ndarray:
    out = np.empty(len(grid.names), dtype=object)
    out[:] = [p.symbol(n) for n in grid.names]
    return out


def _coefficient(p: Printer, coeff: Any, bodies: list[str]) -> list[str]:
    """The products ``coeff·body`` as the printer writes them (`Printer.product`)."""
    q = sympy.Rational(str(coeff))
    if q == 1:
        return bodies
    if q == -1:
        return ["-" + b if b else "-1" for b in bodies]
    if isinstance(p, SymcnnLatexPrinter):
        num = rf"\tfrac{{{q.p}}}{{{q.q}}}" if q.q != 1 else str(q.p)
        return [f"{num} {b}" if b else num for b in bodies]
    if q.p == 1:
        return [f"{b}/{q.q}" if b else str(q) for b in bodies]
    return [f"{q}{p.times}{b}" if b else str(q) for b in bodies]


def _products(
    p: Printer,
    grids: dict[Role, Grid],
    names: dict[Role, np.ndarray],
    columns: list[tuple[Role, np.ndarray]],
    coeff: Any,
) -> list[str]:
    """One product per row of the given factor columns, factors in the printers' order."""
    times = " " if isinstance(p, SymcnnLatexPrinter) else p.times
    if not columns:
        return []
    size = len(columns[0][1])
    printed = [names[role][idx] for role, idx in columns]
    if len(columns) > 1:  # δ first, then the grids in table order (`_order_key`)
        keys = np.stack(
            [
                np.full(size, -1) if role is Role.DELTA else p.table.offset(grids[role]) + idx
                for role, idx in columns
            ],
            axis=1,
        )
        if np.any(np.diff(keys, axis=1) < 0):
            perm = np.argsort(keys, axis=1, kind="stable")
            stacked = np.stack(printed, axis=1)
            printed = list(np.take_along_axis(stacked, perm, axis=1).T)
    bodies = [times.join(row) for row in zip(*printed)] if len(printed) > 1 else list(printed[0])
    return _coefficient(p, coeff, bodies)


def _joined(p: Printer, terms: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    out = np.empty(size, dtype=object)
    for e in range(size):
        out[e] = p.total(terms[starts[e] : starts[e + 1]].tolist())
    return out


def chain_strings(p: Printer, sums: np.ndarray) -> np.ndarray:
    """Every entry of a gradient array printed (`chain_sum_string`), shaped like ``sums``."""
    chains = chains_of(sums)
    cells = sums.reshape(-1)
    if chains is None or any(getattr(cs, "chains", None) is not chains for cs in cells):
        return _each(sums, lambda cs: chain_sum_string(p, cs))
    cache = p.__dict__.setdefault("_bulk", {})
    if id(chains) not in cache:
        cache[id(chains)] = (chains, _all_chain_strings(p, chains))
    full = cache[id(chains)][1]
    if full is None:
        return _each(sums, lambda cs: chain_sum_string(p, cs))
    return full[[cs.entry for cs in cells]].reshape(sums.shape)


def _all_chain_strings(p: Printer, chains: Chains) -> np.ndarray | None:
    if not _products_only(chains.blocks, chains):
        return None
    grids = _grids(chains, p)
    if grids is None:
        return None
    used = {Role.DELTA} | {r for b in chains.blocks for r in b.part.roles}
    names = {role: _names(p, g) for role, g in grids.items() if role in used}
    pieces = []
    for block in chains.blocks:
        part = block.part
        cols = [(Role.DELTA, part.rows)]
        cols += [(r, part.index[:, k]) for k, r in enumerate(part.roles) if k != block.column]
        pieces.append(_products(p, grids, names, cols, part.coeff))
    starts, which, position = chains.sorted()
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in pieces])]).astype(np.int64)
    flat = np.empty(int(offsets[-1]), dtype=object)
    for k, strings in enumerate(pieces):
        flat[offsets[k] : offsets[k + 1]] = strings
    ordered = flat[offsets[which] + position] if len(which) else flat
    return _joined(p, ordered, starts, chains.size)


def forward_strings(p: Printer, forward: Forward) -> np.ndarray:
    """Every output entry of a forward pass printed (`forward_string`), shaped like it."""
    parts = forward.parts
    if parts is None or any(part.fn is not None for part in parts):
        return _each(forward.terms, lambda terms: forward_string(p, terms))
    grids = dict(forward.grids)
    names = {role: _names(p, grids[role]) for role in {r for q in parts for r in q.roles}}
    pieces = [
        _products(p, grids, names, [(r, q.index[:, k]) for k, r in enumerate(q.roles)], q.coeff)
        for q in parts
    ]
    rank = np.concatenate(order(parts))
    flat = np.empty(len(rank), dtype=object)
    flat[rank] = [s for strings in pieces for s in strings]
    rows = np.concatenate([q.rows for q in parts])[np.argsort(rank)]
    size = int(np.prod(forward.shape)) if forward.shape else 1
    starts = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=size))]).astype(np.int64)
    return _joined(p, flat, starts, size).reshape(forward.shape)


def _products_only(blocks: list[Any], chains: Chains) -> bool:
    return not chains.opaque and all(b.part.fn is None for b in blocks)


def _grids(chains: Chains, p: Printer) -> dict[Role, Grid] | None:
    """The grids of the chains' symbols, found through the printer's table."""
    out = {}
    for role, symbols in chains.symbols.items():
        info = p.table.get(symbols.flat[0]) if symbols.size else None
        if info is None:
            return None
        out[role] = info.grid
    first = chains.deltas[0] if len(chains.deltas) else None
    info = p.table.get(first) if first is not None else None
    if info is None or info.grid.role is not Role.DELTA:
        return None
    out[Role.DELTA] = info.grid
    return out


def _each(arr: np.ndarray, fn: Any) -> np.ndarray:
    out = np.empty(arr.size, dtype=object)
    for k, x in enumerate(arr.reshape(-1)):
        out[k] = fn(x)
    return out.reshape(arr.shape)


__all__ = ["Part", "chain_strings", "forward_strings"]

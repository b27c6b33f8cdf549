"""Whole-array operations on object arrays of expressions: zero insertion, padding, rot180, ⋆."""

from __future__ import annotations

import numpy as np
import symengine as se

from .poly import atom_ids, correlate_atoms

ZERO = se.Integer(0)


def zeros(shape: tuple[int, ...]) -> np.ndarray:
    """An object array of symbolic zeros.

    Example:
        >>> zeros((1, 2)).tolist()
        [[0, 0]]
    """
    return np.full(shape, ZERO, dtype=object)


def zero_insert(x: np.ndarray, stride: tuple[int, int]) -> np.ndarray:
    """Spread a 2-D array by a stride: s−1 zeros between neighbouring entries.

    Example:
        >>> zero_insert(np.array([[1, 2]], dtype=object), (1, 2)).tolist()
        [[1, 0, 2]]
    """
    rows, cols = x.shape
    out = zeros(((rows - 1) * stride[0] + 1, (cols - 1) * stride[1] + 1))
    out[:: stride[0], :: stride[1]] = x
    return out


def zero_pad(x: np.ndarray, before: tuple[int, int], after: tuple[int, int]) -> np.ndarray:
    """Surround a 2-D array with zeros: ``before`` rows/cols at the start, ``after`` at the end.

    Example:
        >>> zero_pad(np.array([[1]], dtype=object), (1, 0), (0, 1)).tolist()
        [[0, 0], [1, 0]]
    """
    rows, cols = x.shape
    out = zeros((rows + before[0] + after[0], cols + before[1] + after[1]))
    out[before[0] : before[0] + rows, before[1] : before[1] + cols] = x
    return out


def rot180(x: np.ndarray) -> np.ndarray:
    """A 2-D array rotated by 180°: flipped along both axes.

    Example:
        >>> rot180(np.array([[1, 2], [3, 4]])).tolist()
        [[4, 3], [2, 1]]
    """
    return x[::-1, ::-1]


def correlate_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid cross-correlation ``out[r, t] = Σ_{p,q} x[r+p, t+q] · k[p, q]`` (zeros skipped).

    Example:
        >>> x = np.array([[1, 2, 3]], dtype=object)
        >>> correlate_valid(x, np.array([[1, 10]], dtype=object)).tolist()
        [[21, 32]]
    """
    xid, kid = atom_ids(x), atom_ids(k)
    if xid is not None and kid is not None and (xid.max(initial=-1) >= 0 or kid.size == 0):
        return correlate_atoms(xid, kid)  # entries are `Poly` atoms: a proof, vectorised
    kr, kc = k.shape
    rows, cols = x.shape[0] - kr + 1, x.shape[1] - kc + 1
    nonzero = [(p, q, k[p, q]) for p in range(kr) for q in range(kc) if k[p, q] != 0]
    cells = x.tolist()  # nested lists index much faster than an object array
    live = [[v != 0 for v in row] for row in cells]
    out = np.empty((rows, cols), dtype=object)
    for r in range(rows):
        for t in range(cols):
            prods = [cells[r + p][t + q] * v for p, q, v in nonzero if live[r + p][t + q]]
            out[r, t] = se.Add(*prods) if prods else ZERO
    return out


def add_all(items: list) -> object:
    """The sum of expressions (symengine's ``Add`` for symbols, ``+`` for `Poly` entries).

    Example:
        >>> x, y = se.symbols("x y")
        >>> add_all([x, y, x])
        2*x + y
    """
    if all(isinstance(v, se.Basic) for v in items):
        return se.Add(*items)
    total: object = ZERO
    for v in items:
        total = total + v
    return total

"""Polynomials as arrays of monomials, for exact proofs of bilinear identities without expansion.

A closed form built from `Poly` atoms (one per tensor entry, named by an integer id) with the
same array code that builds it from symbols gives, entry by entry, its monomials: rows of
sorted ids with rational coefficients. Two polynomials are equal exactly when their
monomials, merged and summed, all cancel, which sorting decides without any expansion.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import symengine as se
import sympy


class Poly:
    """A polynomial ``Σ (num_k/den)·Π_j x[mono[k, j]]`` (ids −1 pad lower-degree monomials).

    Example:
        >>> x, y = Poly.atom(0), Poly.atom(1)
        >>> p = (x * y + y * x) * se.Rational(1, 2)
        >>> p.mono.tolist(), p.num.tolist(), p.den
        ([[0, 1], [0, 1]], [1, 1], 2)
    """

    __slots__ = ("den", "mono", "num")

    def __init__(self, mono: np.ndarray, num: np.ndarray, den: int = 1) -> None:
        self.mono, self.num, self.den = mono, num, den

    @classmethod
    def atom(cls, ident: int) -> Poly:
        """The entry with id ``ident``."""
        return cls(np.array([[ident]], dtype=np.int64), np.ones(1, dtype=np.int64))

    @property
    def is_atom(self) -> bool:
        """True for a single entry with coefficient 1."""
        return self.mono.shape == (1, 1) and self.num[0] == 1 and self.den == 1

    def _scaled(self, den: int) -> np.ndarray:
        return self.num * (den // self.den)

    def __add__(self, other: Any) -> Any:
        if isinstance(other, Poly):
            den = math.lcm(self.den, other.den)
            width = max(self.mono.shape[1], other.mono.shape[1])
            mono = np.concatenate([_pad(self.mono, width), _pad(other.mono, width)])
            return Poly(mono, np.concatenate([self._scaled(den), other._scaled(den)]), den)
        if _is_zero(other):
            return self
        return NotImplemented

    __radd__ = __add__

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, Poly):
            m, n = len(self.mono), len(other.mono)
            mono = np.concatenate(
                [np.repeat(self.mono, n, axis=0), np.tile(other.mono, (m, 1))], axis=1
            )
            num = np.repeat(self.num, n) * np.tile(other.num, m)
            return Poly(np.sort(mono, axis=1), num, self.den * other.den)
        if _is_zero(other):
            return se.Integer(0)
        fraction = _rational(other)
        if fraction is None:
            return NotImplemented
        p, q = fraction
        return Poly(self.mono, self.num * p, self.den * q)

    __rmul__ = __mul__

    def __ne__(self, other: object) -> bool:
        return not (_is_zero(other) and len(self.num) == 0)

    def __eq__(self, other: object) -> bool:
        return _is_zero(other) and len(self.num) == 0

    __hash__ = None  # type: ignore[assignment]


def _pad(mono: np.ndarray, width: int) -> np.ndarray:
    if mono.shape[1] == width:
        return mono
    fill = np.full((len(mono), width - mono.shape[1]), -1, dtype=np.int64)
    return np.concatenate([fill, mono], axis=1)


def _is_zero(value: Any) -> bool:
    return isinstance(value, (int, se.Integer, sympy.Integer)) and int(value) == 0


def _rational(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int):
        return value, 1
    if isinstance(value, (se.Rational, se.Integer, sympy.Rational)):
        q = sympy.Rational(str(value))
        return int(q.p), int(q.q)
    return None


def atoms(shape: tuple[int, ...], first: int) -> np.ndarray:
    """An object array of `Poly` atoms with ids ``first, first + 1, …`` in row-major order."""
    out = np.empty(int(np.prod(shape)) if shape else 1, dtype=object)
    out[:] = [Poly.atom(first + k) for k in range(len(out))]
    return out.reshape(shape)


def atom_ids(x: np.ndarray) -> np.ndarray | None:
    """The id of each entry of an array of atoms and zeros (−1 for a zero); None otherwise."""
    out = np.empty(x.size, dtype=np.int64)
    for k, v in enumerate(x.reshape(-1).tolist()):
        if isinstance(v, Poly) and v.is_atom:
            out[k] = v.mono[0, 0]
        elif _is_zero(v):
            out[k] = -1
        else:
            return None
    return out.reshape(x.shape)


def correlate_atoms(xid: np.ndarray, kid: np.ndarray) -> np.ndarray:
    """Valid cross-correlation of two 2-D arrays of atom ids (−1: zero), as `Poly` entries.

    Example:
        >>> out = correlate_atoms(np.array([[0, 1, -1]]), np.array([[5, 6]]))
        >>> [sorted(map(tuple, e.mono.tolist())) if isinstance(e, Poly) else e for e in out[0]]
        [[(0, 5), (1, 6)], [(1, 5)]]
    """
    kr, kc = kid.shape
    rows, cols = xid.shape[0] - kr + 1, xid.shape[1] - kc + 1
    entries, firsts, seconds = [], [], []
    grid = np.arange(rows * cols).reshape(rows, cols)
    for p in range(kr):
        for q in range(kc):
            if kid[p, q] < 0:
                continue
            window = xid[p : p + rows, q : q + cols]
            live = window >= 0
            entries.append(grid[live])
            firsts.append(window[live])
            seconds.append(np.full(int(live.sum()), kid[p, q]))
    out = np.full(rows * cols, se.Integer(0), dtype=object)
    if entries:
        entry = np.concatenate(entries)
        mono = np.sort(np.stack([np.concatenate(firsts), np.concatenate(seconds)], axis=1), axis=1)
        perm = np.argsort(entry, kind="stable")
        entry, mono = entry[perm], mono[perm]
        bounds = np.flatnonzero(np.diff(entry)) + 1
        for chunk, part in zip(np.split(entry, bounds), np.split(mono, bounds)):
            out[chunk[0]] = Poly(part, np.ones(len(part), dtype=np.int64))
    return out.reshape(rows, cols)


def monomials(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """``(entry, mono, num, den)`` of every monomial of an array of `Poly` entries and zeros
    (one common denominator); None when some entry is neither."""
    polys = []
    for k, v in enumerate(arr.reshape(-1).tolist()):
        if isinstance(v, Poly):
            polys.append((k, v))
        elif not _is_zero(v):
            return None
    den = math.lcm(*[p.den for _, p in polys]) if polys else 1
    width = max([p.mono.shape[1] for _, p in polys], default=1)
    if not polys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros((0, width), dtype=np.int64), empty, den
    entry = np.concatenate([np.full(len(p.num), k, dtype=np.int64) for k, p in polys])
    mono = np.concatenate([_pad(p.mono, width) for _, p in polys])
    num = np.concatenate([p._scaled(den) for _, p in polys])
    return entry, mono, num, den


def differing_entries(
    left: tuple[np.ndarray, np.ndarray, np.ndarray, int],
    right: tuple[np.ndarray, np.ndarray, np.ndarray, int],
) -> np.ndarray:
    """The entries where two monomial lists (`monomials`) differ as polynomials, exactly.

    Example:
        >>> a = monomials(np.array([Poly.atom(1) * Poly.atom(0), Poly.atom(2)], dtype=object))
        >>> b = monomials(np.array([Poly.atom(0) * Poly.atom(1), Poly.atom(3)], dtype=object))
        >>> differing_entries(a, b).tolist()
        [1]
    """
    den = math.lcm(left[3], right[3])
    width = max(left[1].shape[1], right[1].shape[1])
    entry = np.concatenate([left[0], right[0]])
    mono = np.sort(np.concatenate([_pad(left[1], width), _pad(right[1], width)]), axis=1)
    num = np.concatenate([left[2] * (den // left[3]), -right[2] * (den // right[3])])
    if not len(entry):
        return entry
    keys = (*[mono[:, j] for j in range(width - 1, -1, -1)], entry)
    perm = np.lexsort(keys)
    entry, mono, num = entry[perm], mono[perm], num[perm]
    new = np.ones(len(entry), dtype=bool)
    new[1:] = (entry[1:] != entry[:-1]) | np.any(mono[1:] != mono[:-1], axis=1)
    starts = np.flatnonzero(new)
    sums = np.add.reduceat(num, starts)
    return np.unique(entry[starts[sums != 0]])

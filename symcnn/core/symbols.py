"""Named symbol grids: the entries a_11, w_12, b_1, d_22, z_11 … of every tensor, and their table."""

from __future__ import annotations

import bisect
import enum
import itertools
from dataclasses import dataclass, field

import numpy as np
import symengine as se


def with_channels(stem: str, channels: str) -> str:
    r"""A LaTeX stem with channel indices in its superscript: ``a^{(2)}``, ``z^{(0)(2)}``.

    Example:
        >>> with_channels("a", "2"), with_channels("z^{(0)}", "1,2"), with_channels("x^{T}", "c")
        ('a^{(2)}', 'z^{(0)(1,2)}', '{x^{T}}^{(c)}')
    """
    if "^{(" in stem and stem.endswith(")}"):
        return f"{stem[:-1]}({channels})}}"
    if "^" in stem:
        return f"{{{stem}}}^{{({channels})}}"
    return f"{stem}^{{({channels})}}"


class Role(enum.Enum):
    """What a tensor is in a layer: its input, parameters, output, or the δ coming back."""

    INPUT = "input"
    WEIGHT = "weight"
    BIAS = "bias"
    OUTPUT = "output"
    DELTA = "delta"
    TARGET = "target"


@dataclass(frozen=True)
class Stem:
    """How a grid is named: identifier stem, LaTeX stem and Unicode text stem.

    Layers name their grids ``a``, ``w``, ``b``, ``z``, ``d`` by default; a network passes one
    `Stem` per role to `symcnn.layers.build_forward` so that every layer's grids get names of
    their own (``w0``, ``d1`` …), unique across the network.

    Example:
        >>> Stem("w0", r"w^{(0)}", "w⁰").name
        'w0'
    """

    name: str
    latex: str = ""
    text: str = ""


@dataclass(frozen=True)
class SymbolInfo:
    """Where one symbol lives: its grid and its (0-based) index in that grid."""

    grid: Grid
    index: tuple[int, ...]

    @property
    def shown_index(self) -> tuple[int, ...]:
        """The index as printed: shifted by the index base, channel axes of size 1 dropped
        (the sample, on a grid with a batch axis, comes first)."""
        return self.sample_part + self.channel_part + self.spatial_part

    @property
    def sample_part(self) -> tuple[int, ...]:
        """The printed sample index ``(n,)`` on a grid with a batch axis, else ``()``."""
        return (self.index[0] + self.grid.index_base,) if self.grid.batch else ()

    @property
    def channel_part(self) -> tuple[int, ...]:
        """The printed channel indices (empty when every channel axis has size 1)."""
        g = self.grid
        return tuple(
            i + g.index_base
            for i, size, ch in zip(self.index, g.shape, g.channel_axes)
            if ch and size > 1
        )

    @property
    def spatial_part(self) -> tuple[int, ...]:
        """The printed spatial indices (row, column), shifted by the index base."""
        g = self.grid
        skip = 1 if g.batch else 0
        pairs = list(zip(self.index, g.channel_axes))[skip:]
        return tuple(i + g.index_base for i, ch in pairs if not ch)


@dataclass(frozen=True)
class Grid:
    """A tensor of named scalar symbols, e.g. the 3x3 input ``a_11 … a_33``.

    ``name`` is the identifier stem (``"a"``), ``latex`` the LaTeX stem (``"a"`` or
    ``"\\delta"``), ``text`` the Unicode stem (``"δ"``). Axes flagged in ``channel_axes`` are
    shown only when their size is above 1. With ``batch`` the first axis is the sample
    (mini-batch) axis: its index comes first, as ``n<k>`` in names (``x_n2_11`` is entry 11 of
    sample 2) and before a semicolon in LaTeX (``x_{2;11}``).

    Example:
        >>> g = Grid("a", Role.INPUT, (1, 2, 2), (True, False, False))
        >>> [str(s) for s in g.symbols.ravel()]
        ['a_11', 'a_12', 'a_21', 'a_22']
        >>> str(Grid("x", Role.INPUT, (2, 3, 2, 2), (False, True, False, False), batch=True)
        ...     .symbols[1, 2, 0, 1])
        'x_n2_3_12'
    """

    name: str
    role: Role
    shape: tuple[int, ...]
    channel_axes: tuple[bool, ...]
    index_base: int = 1
    latex: str = ""
    text: str = ""
    batch: bool = False
    symbols: np.ndarray = field(init=False, compare=False, repr=False)
    names: list[str] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.latex:
            object.__setattr__(self, "latex", self.name)
        if not self.text:
            object.__setattr__(self, "text", self.name)
        shown_max = [
            size - 1 + self.index_base
            for k, (size, ch) in enumerate(zip(self.shape, self.channel_axes))
            if not (ch and size == 1) and not (self.batch and k == 0)
        ]
        compact = all(m < 10 for m in shown_max)
        object.__setattr__(self, "_compact", compact)
        names = self._names()
        object.__setattr__(self, "names", names)
        syms = np.empty(len(names), dtype=object)
        syms[:] = [se.Symbol(n) for n in names]
        object.__setattr__(self, "symbols", syms.reshape(self.shape))

    def _names(self) -> list[str]:
        """The Python identifier of every entry in row-major order (``a_11``, ``a_10_3``,
        ``d_n1_2_11``), built axis by axis."""
        if not self.shape:  # a scalar (the loss E): its name alone
            return [self.name]
        sep = "" if getattr(self, "_compact", True) else "_"
        first = 1 if self.batch else 0  # the sample axis is written n<k>, right after the stem
        shown = [not (ch and n == 1) for n, ch in zip(self.shape, self.channel_axes)]
        labels = [
            [str(i + self.index_base) for i in range(n)] if keep else [""] * n
            for n, keep in zip(self.shape, shown)
        ]
        if self.batch:
            labels[0] = [f"_n{i + self.index_base}" for i in range(self.shape[0])]
        chan = [k for k, ch in enumerate(self.channel_axes) if ch and shown[k] and k >= first]
        spat = [k for k, ch in enumerate(self.channel_axes) if not ch and k >= first]
        out = []
        for combo in itertools.product(*labels):
            stem = self.name + (combo[0] if self.batch else "")
            if chan and spat:
                head = "_".join(combo[k] for k in chan)
                out.append(f"{stem}_{head}_{sep.join(combo[k] for k in spat)}")
            elif chan or spat:
                out.append(f"{stem}_{sep.join(combo[k] for k in chan or spat)}")
            else:
                out.append(stem)
        return out


class SymbolTable:
    """Maps every symbol of a derivation to its grid and index, for printers and numerics.

    Example:
        >>> g = Grid("w", Role.WEIGHT, (1, 1, 2, 2), (True, True, False, False))
        >>> table = SymbolTable([g])
        >>> table.info("w_12").index
        (0, 0, 0, 1)
    """

    def __init__(self, grids: list[Grid]) -> None:
        self.grids = list(grids)
        self._order: dict[str, int] = {}
        self._offsets: dict[str, int] = {}
        self._starts: list[int] = []
        for grid in self.grids:
            start = len(self._order)
            self._offsets[grid.name] = start
            self._starts.append(start)
            names = grid.names
            new = dict(zip(names, range(start, start + len(names))))
            if len(new) != len(names) or not new.keys().isdisjoint(self._order):
                raise ValueError(f"symbol name {self._clash(names)} used twice")
            self._order.update(new)
        self._infos: dict[str, SymbolInfo] = {}

    def _clash(self, names: list[str]) -> str:
        """The first of ``names`` that an earlier grid or an earlier entry already uses."""
        seen: set[str] = set()
        for name in names:
            if name in seen or name in self._order:
                return name
            seen.add(name)
        raise AssertionError("no name is used twice")

    def info(self, symbol: object) -> SymbolInfo:
        """Grid and index of a symbol (SymPy, symengine, or its name)."""
        found = self.get(symbol)
        if found is None:
            raise KeyError(str(symbol))
        return found

    def get(self, symbol: object) -> SymbolInfo | None:
        """Like `info`, but None for a symbol this table does not know."""
        name = str(symbol)
        hit = self._infos.get(name)
        if hit is None:
            position = self._order.get(name)
            if position is None:
                return None
            k = bisect.bisect_right(self._starts, position) - 1
            grid = self.grids[k]
            flat = position - self._starts[k]
            index: list[int] = []
            for size in reversed(grid.shape):  # row-major unravel, without NumPy's overhead
                flat, i = divmod(flat, size)
                index.append(i)
            hit = self._infos[name] = SymbolInfo(grid, tuple(reversed(index)))
        return hit

    def position(self, symbol: object) -> int:
        """A stable sort key: grids in table order, then row-major index."""
        return self._order[str(symbol)]

    def offset(self, grid: Grid) -> int:
        """The position of a grid's first entry: entry k (flat) is at ``offset + k``."""
        return self._offsets[grid.name]

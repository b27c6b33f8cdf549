"""Named symbol grids: the entries a_11, w_12, b_1, d_22, z_11 … of every tensor, and their table."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import symengine as se
import sympy


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
        syms = np.empty(self.shape, dtype=object)
        for index in np.ndindex(*self.shape) if self.shape else [()]:
            syms[index] = se.Symbol(self.symbol_name(index))
        object.__setattr__(self, "symbols", syms)

    def symbol_name(self, index: tuple[int, ...]) -> str:
        """The Python identifier of the entry at a 0-based ``index``: ``a_11``, ``a_10_3``."""
        info = SymbolInfo(self, tuple(index))
        sample = "".join(f"_n{n}" for n in info.sample_part)
        parts = info.channel_part + info.spatial_part
        if not parts:
            return self.name + sample
        sep = "" if getattr(self, "_compact", True) else "_"
        channels = info.channel_part
        spatial = info.spatial_part
        if channels and spatial:
            head = "_".join(str(c) for c in channels)
            return f"{self.name}{sample}_{head}_{sep.join(str(i) for i in spatial)}"
        return f"{self.name}{sample}_{sep.join(str(i) for i in parts)}"

    def infos(self) -> Iterator[tuple[se.Symbol, SymbolInfo]]:
        """Every symbol with its position, in row-major order."""
        for index in np.ndindex(*self.shape):
            yield self.symbols[index], SymbolInfo(self, index)


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
        self._by_name: dict[str, SymbolInfo] = {}
        self._order: dict[str, int] = {}
        for grid in self.grids:
            for sym, info in grid.infos():
                name = str(sym)
                if name in self._by_name:
                    raise ValueError(f"symbol name {name} used twice")
                self._order[name] = len(self._by_name)
                self._by_name[name] = info

    def info(self, symbol: object) -> SymbolInfo:
        """Grid and index of a symbol (SymPy, symengine, or its name)."""
        return self._by_name[str(symbol)]

    def get(self, symbol: object) -> SymbolInfo | None:
        """Like `info`, but None for a symbol this table does not know."""
        return self._by_name.get(str(symbol))

    def position(self, symbol: object) -> int:
        """A stable sort key: grids in table order, then row-major index."""
        return self._order[str(symbol)]

    def sympy_symbols(self) -> dict[str, sympy.Symbol]:
        """Name → SymPy ``Symbol`` for every entry (a ``local_dict`` for ``parse_expr``)."""
        return {name: sympy.Symbol(name) for name in self._by_name}

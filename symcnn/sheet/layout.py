"""Sheet layout of a layer: equation rows broken into lines, gradient entries, identity operands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.functions import WindowMax
from ..core.symbols import Role
from ..derivation.backprop import ChainSum
from ..derivation.derived import DerivedLayer
from ..render.matrices import (
    break_terms,
    elide,
    short_sum,
    slices,
    tex_width,
)
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from .printers import CompactLatexPrinter

#: Width in em of the right-hand side of one equation line (A4, 11pt, 2 cm margins).
LINE_WIDTH = 38.0
#: Entries of one tensor written out in the worked example in full detail (the matrices
#: show all of them).
WORKED_CAP = 32
#: At most this many lines per equation; further summands are elided (⋯, with a count).
MAX_LINES = 4
#: At most this many entries of one tensor are written out; the rest is elided (⋮).
ENTRY_CAP = 64


def elided_rows(count: int, row: Callable[[int], dict[str, Any]], cap: int = ENTRY_CAP) -> list:
    """Rows 0…count−1 made by ``row(k)``, only for the rows kept; a run left out is ``{"gap": n}``.

    Example:
        >>> [r.get("k", "gap") for r in elided_rows(100, lambda k: {"k": k}, cap=6)]
        [0, 'gap', 96, 97, 98, 99]
    """
    kept, more = elide(list(range(count)), cap, tail=4)
    return [{"gap": more} if k is None else row(k) for k in kept]


def representative(sums: np.ndarray) -> int:
    """The flat index of the first entry with the most terms: the one showing the whole pattern.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> representative(np.array([NS(terms=(1,)), NS(terms=(1, 2)), NS(terms=(3, 4))]))
        1
    """
    counts = [len(cs.terms) for cs in sums.ravel()]
    return int(np.argmax(counts))


def equation_row(lhs: Tex, terms: Sequence[str], p: SymcnnLatexPrinter) -> dict[str, Any]:
    """One ``lhs = sum`` row: ``{"lhs", "lines", "omitted"}`` (summands left out for length).

    Every line after the first starts with its operator (`` + a`` or `` - a``), which the
    templates put after the line break.
    """
    lines, omitted = break_terms(list(terms), LINE_WIDTH, MAX_LINES)
    printed = [
        Tex(p.total(["", *line]) if k else p.total(list(line))) for k, line in enumerate(lines)
    ]
    return {"lhs": lhs, "lines": printed, "omitted": omitted}


def chain_term(p: SymcnnLatexPrinter, delta: Any, z: Any, wrt: Any) -> str:
    """One chain-rule term written out: ``\\delta_{11} \\frac{\\partial z_{11}}{\\partial a_{12}}``."""
    return rf"{p.symbol(delta)} \frac{{\partial {p.symbol(z)}}}{{\partial {p.symbol(wrt)}}}"


def compact_printer(layer: DerivedLayer, p: SymcnnLatexPrinter) -> CompactLatexPrinter:
    """A printer for matrix cells that writes a max-pool window as the output it produced."""
    z = layer.grid(Role.OUTPUT).symbols
    windows = {}
    for idx in np.ndindex(*layer.output_shape):
        for summand in layer.forward.terms[idx]:
            if isinstance(summand, WindowMax):
                windows[tuple(str(a) for a in summand.args)] = p.symbol(z[idx])
    return CompactLatexPrinter(p.table, windows)


def _cell(p: SymcnnLatexPrinter, cs: ChainSum, keep: int) -> Tex:
    return short_sum(p, [term_string(p, t) for t in cs.terms], keep)


def via_label(label: str, via: int | None) -> Tex:
    r"""``\frac{\partial E}{\partial x}`` as the part that comes back through layer ``via``:
    ``\frac{\partial_{(5)} E}{\partial x}`` (None: the label itself).

    Example:
        >>> print(via_label(r"\frac{\partial E}{\partial x}", 5))
        \frac{\partial_{(5)} E}{\partial x}
    """
    if via is None:
        return Tex(label)
    return Tex(label.replace(r"\frac{\partial E}", rf"\frac{{\partial_{{({via})}} E}}", 1))


def gradient_matrices(
    layer: DerivedLayer,
    p: SymcnnLatexPrinter,
    role: Role,
    names: np.ndarray | None = None,
    via: int | None = None,
) -> list[dict[str, Any]]:
    """The gradient of one tensor as matrices of compact cells (``∂E/∂w = [...]``), or none
    when they would not fit the line at 90 % (the per-entry formulas then stand alone).

    Long cells keep their first and last terms around ⋯, never for six terms or fewer;
    ``names`` (the δ of the layer before) labels the matrices ``δ = ∂E/∂z = [...]``; ``via``
    labels them as the part of the gradient that comes back through that layer. Over a
    mini-batch, the first sample's (the others' are alike).
    """
    grads = layer.grads[role]
    compact = compact_printer(layer, p)
    grid = layer.grid(role)
    if grid.batch:
        grads = grads[:1]
    cells = np.vectorize(lambda cs: _cell(compact, cs, 6), otypes=[object])(grads)
    matrices = slices(cells, grid.latex, grid.index_base, gradient=True, batch=grid.batch)
    for m in matrices:
        m["label"] = via_label(m["label"], via)
    if names is not None:
        before = names.ravel()[0]
        stem = p.table.info(before).grid
        labels = slices(cells, stem.latex, stem.index_base, batch=stem.batch)
        for m, named in zip(matrices, labels):
            m["label"] = Tex(f"{named['label']} = {m['label']}")
    widest = max(getattr(m["body"], "width", 0.0) + tex_width(m["label"]) for m in matrices)
    return [] if widest > LINE_WIDTH / 0.9 else matrices


def pack(displays: Sequence[dict[str, Any]], width: float = LINE_WIDTH) -> list[Tex]:
    """``label = matrix`` displays packed side by side into lines of at most ``width`` em.

    Example:
        >>> from symcnn.render.matrices import matrix
        >>> m = {"label": Tex("a"), "body": matrix(np.array([["x"]], dtype=object))}
        >>> len(pack([m, m])), len(pack([m] * 12, width=20.0))
        (1, 4)
    """
    lines: list[list[str]] = [[]]
    used = 0.0
    for item in displays:
        w = tex_width(item["label"]) + getattr(item["body"], "width", tex_width(item["body"])) + 4
        if lines[-1] and used + w > width:
            lines.append([])
            used = 0.0
        lines[-1].append(f"{item['label']} = {item['body']}")
        used += w
    return [Tex(r", \qquad ".join(line)) for line in lines if line]

"""Tensors as LaTeX: bmatrix with elision, 2-D slices labelled by channel, widths and line breaks."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

from .printers import SymcnnLatexPrinter, with_channels
from .tex import Tex

#: Matrices show at most this many rows and columns.
MATRIX_CAP = 16


_CMD = re.compile(r"\\[a-zA-Z]+")
_SCRIPT = re.compile(r"[_^]\{([^{}]*)\}")
_SILENT = re.compile(r"\\(left|right|tfrac|frac|partial|,|!|;|quad|qquad)")
_CHAR_WIDTH = {
    ".": 0.28,
    ",": 0.45,
    "(": 0.39,
    ")": 0.39,
    "[": 0.28,
    "]": 0.28,
    "·": 0.8,
    "+": 1.3,
    "=": 1.3,
    "-": 0.9,
    "x": 0.6,
}


def tex_width(tex: str) -> float:
    r"""Rough printed width of inline maths in em (for line breaking, never exact).

    Example:
        >>> round(tex_width(r"\delta_{11} w_{12}"), 1)
        2.8
    """
    scripts = sum(len(m) for m in _SCRIPT.findall(tex))
    body = _SCRIPT.sub("", tex)
    body = body.replace(r"\cdot", "·")
    body = _SILENT.sub("", body)
    body = _CMD.sub("x", body)
    body = re.sub(r"[{}\s]", "", body)
    return sum(_CHAR_WIDTH.get(ch, 0.55) for ch in body) + 0.4 * scripts


def break_terms(
    terms: Sequence[str], width: float, max_lines: int = 0
) -> tuple[list[list[Tex]], int]:
    """Group summands into lines of at most ``width`` em; keep at most ``max_lines`` lines.

    Returns the lines and the number of summands left out (shown by the template as ⋯).

    Example:
        >>> lines, left_out = break_terms(["x"] * 10, 6.0, max_lines=2)
        >>> [len(line) for line in lines], left_out
        ([3, 3], 4)
    """
    lines: list[list[Tex]] = [[]]
    used = 0.0
    for term in terms:
        w = tex_width(term) + 1.3
        if lines[-1] and used + w > width:
            lines.append([])
            used = 0.0
        lines[-1].append(Tex(term))
        used += w
    if max_lines and len(lines) > max_lines:
        kept = lines[:max_lines]
        return kept, len(terms) - sum(len(line) for line in kept)
    return lines, 0


def elide(items: Sequence[Any], cap: int, tail: int = 2) -> tuple[list[Any], int]:
    """First ``cap - tail - 1`` items, ``None`` (the gap), last ``tail`` items, when too long.

    Example:
        >>> elide(list(range(10)), 6)
        ([0, 1, 2, None, 8, 9], 5)
    """
    if len(items) <= cap:
        return list(items), 0
    head = cap - tail - 1
    return [*items[:head], None, *items[len(items) - tail :]], len(items) - head - tail


_COLUMNS: ContextVar[list[int] | None] = ContextVar("symcnn_matrix_columns", default=None)


@contextmanager
def track_matrix_columns() -> Iterator[list[int]]:
    """Collect the column count of every `matrix` printed inside the ``with`` block.

    amsmath's bmatrix allows 10 columns unless told more (``MaxMatrixCols``); matrices end
    up inside larger LaTeX strings, so they report their width as they are made.

    Example:
        >>> with track_matrix_columns() as seen:
        ...     _ = matrix(np.zeros((2, 12), dtype=object))
        >>> seen
        [12]
    """
    seen: list[int] = []
    token = _COLUMNS.set(seen)
    try:
        yield seen
    finally:
        _COLUMNS.reset(token)


class Matrix(Tex):
    """A printed ``bmatrix`` that knows its columns (for MaxMatrixCols) and width in em."""

    cols: int
    width: float


#: Widest a matrix is printed, in em: a sheet shrinks a wider line to fit, and below about
#: three quarters of its size (a line is some 38 em) it reads badly; wider matrices lose columns.
MATRIX_WIDTH = 50.0


def matrix(cells: np.ndarray, cap: int = 16) -> Matrix:
    r"""A 2-D array of LaTeX strings as a ``bmatrix``, rows and columns elided beyond ``cap``,
    and columns elided while it would be wider than `MATRIX_WIDTH` (at least five are kept).

    Example:
        >>> print(matrix(np.array([["a", "b"], ["c", "d"]], dtype=object)))
        \begin{bmatrix} a & b \\ c & d \end{bmatrix}
        >>> wide = np.full((1, 32), "-0.012345", dtype=object)
        >>> matrix(wide).cols
        9
    """
    rows, _ = elide(list(range(cells.shape[0])), cap)
    widths = [
        max((tex_width(str(cells[r, c])) for r in rows if r is not None), default=1.0) + 1.0
        for c in range(cells.shape[1])
    ]
    col_cap = cap
    while col_cap > 5:
        kept, _ = elide(list(range(cells.shape[1])), col_cap)
        if sum(1.0 if c is None else widths[c] for c in kept) <= MATRIX_WIDTH:
            break
        col_cap -= 1
    cols, _ = elide(list(range(cells.shape[1])), col_cap)
    lines = []
    for r in rows:
        if r is None:
            lines.append(" & ".join(r"\ddots" if c is None else r"\vdots" for c in cols))
        else:
            lines.append(" & ".join(r"\cdots" if c is None else str(cells[r, c]) for c in cols))
    out = Matrix(r"\begin{bmatrix} " + r" \\ ".join(lines) + r" \end{bmatrix}")
    out.cols = len(cols)
    seen = _COLUMNS.get()
    if seen is not None:
        seen.append(out.cols)
    out.width = sum(widths[c] if c is not None else 1.0 for c in cols)
    return out


def short_sum(printer: SymcnnLatexPrinter, terms: Sequence[str], keep: int = 3) -> Tex:
    r"""A sum for a matrix cell: all terms when few, else ``first + \cdots + last``.

    Example:
        >>> from symcnn.core.symbols import SymbolTable
        >>> print(short_sum(SymcnnLatexPrinter(SymbolTable([])), ["a", "b", "c", "d", "e"]))
        a + b + \cdots + e
    """
    if len(terms) <= keep + 1:
        return Tex(printer.total(list(terms)))
    return Tex(printer.total([*terms[: keep - 1], r"\cdots", terms[-1]]))


#: amsmath's matrix environments hold at most this many columns unless told more.
AMS_MAX_COLUMNS = 10


def bmatrix(cells: np.ndarray) -> str:
    r"""A 2-D array of LaTeX strings as a ``bmatrix``; wider than amsmath's 10 columns, as a
    bracketed ``array``, which compiles in any document without ``MaxMatrixCols``.

    Example:
        >>> print(bmatrix(np.array([["a", "b"]], dtype=object)))
        \begin{bmatrix}
        a & b
        \end{bmatrix}
        >>> bmatrix(np.zeros((1, 12), dtype=int).astype(str)).splitlines()[0]
        '\\left[\\begin{array}{cccccccccccc}'
    """
    rows = " \\\\\n".join(" & ".join(row) for row in cells.tolist())
    if cells.shape[1] > AMS_MAX_COLUMNS:
        spec = "c" * cells.shape[1]
        return f"\\left[\\begin{{array}}{{{spec}}}\n{rows}\n\\end{{array}}\\right]"
    return "\\begin{bmatrix}\n" + rows + "\n\\end{bmatrix}"


def slices_2d(arr: np.ndarray) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Split an array into its trailing 2-D slices, with the leading (channel) index."""
    if arr.ndim <= 2:
        return [((), arr.reshape((1, -1)) if arr.ndim == 1 else arr)]
    lead = arr.shape[:-2]
    return [(idx, arr[idx]) for idx in np.ndindex(*lead)]


def shape_tex(shape: tuple[int, ...]) -> Tex:
    r"""``1 \times 5 \times 5``; a scalar is ``1``.

    Example:
        >>> shape_tex((1, 5, 5)), shape_tex(())
        ('1 \\times 5 \\times 5', '1')
    """
    return Tex(r" \times ".join(str(n) for n in shape) or "1")


def slices(
    cells: np.ndarray, name: str, base: int, gradient: bool = False, batch: bool = False
) -> list[dict[str, Any]]:
    """A tensor of printed cells as 2-D slices, each labelled with its channel indices.

    ``gradient`` labels them ∂E/∂(name) instead of (name). With ``batch`` the first axis is
    the sample of a mini-batch: each sample's slices are labelled with it, ``x^{(2)}_{1;}``.

    Example:
        >>> cells = np.array([[["a", "b"]], [["c", "d"]]], dtype=object)
        >>> [s["label"] for s in slices(cells, "a", 1)]
        ['a^{(1)}', 'a^{(2)}']
        >>> [s["label"] for s in slices(cells, "v", 1, batch=True)]
        ['v_{1;}', 'v_{2;}']
    """
    if batch and cells.ndim == 2:  # a flat vector per sample: one row each
        return [
            {"label": label, "body": matrix(cells[k].reshape(1, -1), MATRIX_CAP)}
            for k, label in enumerate(slice_labels(cells.shape, name, base, gradient, batch))
        ]
    labels = slice_labels(cells.shape, name, base, gradient, batch)
    if cells.size == 1:
        return [{"label": labels[0], "body": Tex(str(cells.ravel()[0]))}]
    if cells.ndim == 1:
        return [{"label": labels[0], "body": matrix(cells.reshape(1, -1), MATRIX_CAP)}]
    lead = cells.shape[:-2]
    return [
        {"label": label, "body": matrix(cells[idx], MATRIX_CAP)}
        for label, idx in zip(labels, np.ndindex(*lead))
    ]


def slice_labels(
    shape: tuple[int, ...], name: str, base: int, gradient: bool = False, batch: bool = False
) -> list[Tex]:
    """The labels `slices` gives the 2-D slices of a tensor of this shape (with ``batch``,
    the first axis is the sample, written first: ``z^{(0)(1)}_{2;}``).

    Example:
        >>> slice_labels((2, 3, 3), "z^{(0)}", 1)
        ['z^{(0)(1)}', 'z^{(0)(2)}']
        >>> slice_labels((2, 1, 3, 3), "x", 1, batch=True)
        ['x_{1;}', 'x_{2;}']
    """

    def label(sup: str, sample: str = "") -> Tex:
        symbol = with_channels(name, sup) if sup else name
        if sample:
            symbol = f"{symbol}_{{{sample};}}"
        return Tex(rf"\frac{{\partial E}}{{\partial {symbol}}}" if gradient else symbol)

    if batch and len(shape) == 2:
        return [label("", str(k + base)) for k in range(shape[0])]
    if batch and len(shape) > 2:
        lead = shape[:-2]
        return [
            label(
                ",".join(str(i + base) for i, n in zip(idx[1:], lead[1:]) if n > 1),
                str(idx[0] + base),
            )
            for idx in np.ndindex(*lead)
        ]
    if len(shape) <= 2 or int(np.prod(shape)) == 1:
        return [label("")]
    lead = shape[:-2]
    return [
        label(",".join(str(i + base) for i, n in zip(idx, lead) if n > 1))
        for idx in np.ndindex(*lead)
    ]

"""Sheet layout from a derivation: equation rows broken into lines, matrix slices, elisions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import singledispatch
from typing import Any

import numpy as np

from .derive import ChainSum, Derivation
from .identities import ZERO, rot180, zero_insert, zero_pad
from .maxfunc import WindowMax
from .printing import ROLE_TITLES, SymcnnLatexPrinter, term_string
from .render import Tex
from .sheetprint import (
    CompactLatexPrinter,
    break_terms,
    elide,
    matrix,
    short_sum,
    tex_width,
)
from .spec import AvgPool2D, Conv2D, MaxPool2D
from .symbols import Role

#: Width in em of the right-hand side of one equation line (A4, 11pt, 2 cm margins).
LINE_WIDTH = 38.0
#: At most this many lines per equation; further summands are elided (⋯, with a count).
MAX_LINES = 4
#: At most this many entries of one tensor are written out; the rest is elided (⋮).
ENTRY_CAP = 64
#: Matrices show at most this many rows and columns.
MATRIX_CAP = 16
#: Matrices estimated wider than this (em) would shrink below legibility: they are left out.
MATRIX_MAX_WIDTH = 62.0
#: Above this width (em) matrix cells keep fewer summands.
MATRIX_COMFORT_WIDTH = 46.0
#: The chain-rule form δ·∂z/∂x of each entry is shown for tensors up to this many entries.
CHAIN_FORM_CAP = 16


def elided_rows(count: int, row: Callable[[int], dict[str, Any]], cap: int = ENTRY_CAP) -> list:
    """Rows 0…count−1 made by ``row(k)``, only for the rows kept; a run left out is ``{"gap": n}``.

    Example:
        >>> [r.get("k", "gap") for r in elided_rows(100, lambda k: {"k": k}, cap=6)]
        [0, 'gap', 96, 97, 98, 99]
    """
    kept, more = elide(list(range(count)), cap, tail=4)
    return [{"gap": more} if k is None else row(k) for k in kept]


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


def with_sup(name: str, sup: str) -> str:
    r"""``name^{sup}``, braced when the name has a superscript already (``{z^{(0)}}^{(1)}``).

    Example:
        >>> with_sup("a", "(c)"), with_sup("z^{(0)}", "(1)")
        ('a^{(c)}', '{z^{(0)}}^{(1)}')
    """
    return f"{{{name}}}^{{{sup}}}" if "^" in name else f"{name}^{{{sup}}}"


def shape_tex(shape: tuple[int, ...]) -> Tex:
    r"""``1 \times 5 \times 5``; a scalar is ``1``.

    Example:
        >>> shape_tex((1, 5, 5)), shape_tex(())
        ('1 \\times 5 \\times 5', '1')
    """
    return Tex(r" \times ".join(str(n) for n in shape) or "1")


def slices(cells: np.ndarray, name: str, base: int, gradient: bool = False) -> list[dict[str, Any]]:
    """A tensor of printed cells as 2-D slices, each labelled with its channel indices.

    ``gradient`` labels them ∂E/∂(name) instead of (name).

    Example:
        >>> cells = np.array([[["a", "b"]], [["c", "d"]]], dtype=object)
        >>> [s["label"] for s in slices(cells, "a", 1)]
        ['a^{(1)}', 'a^{(2)}']
    """

    labels = slice_labels(cells.shape, name, base, gradient)
    if cells.size == 1:
        return [{"label": labels[0], "body": Tex(str(cells.ravel()[0]))}]
    if cells.ndim == 1:
        return [{"label": labels[0], "body": matrix(cells.reshape(1, -1), MATRIX_CAP)}]
    lead = cells.shape[:-2]
    return [
        {"label": label, "body": matrix(cells[idx], MATRIX_CAP)}
        for label, idx in zip(labels, np.ndindex(*lead))
    ]


def slice_labels(shape: tuple[int, ...], name: str, base: int, gradient: bool = False) -> list[Tex]:
    """The labels `slices` gives the 2-D slices of a tensor of this shape.

    Example:
        >>> slice_labels((2, 3, 3), "z^{(0)}", 1)
        ['{z^{(0)}}^{(1)}', '{z^{(0)}}^{(2)}']
    """

    def label(sup: str) -> Tex:
        symbol = with_sup(name, f"({sup})") if sup else name
        return Tex(rf"\frac{{\partial E}}{{\partial {symbol}}}" if gradient else symbol)

    if len(shape) <= 2 or int(np.prod(shape)) == 1:
        return [label("")]
    lead = shape[:-2]
    return [
        label(",".join(str(i + base) for i, n in zip(idx, lead) if n > 1))
        for idx in np.ndindex(*lead)
    ]


def entries(
    d: Derivation, p: SymcnnLatexPrinter, role: Role, names: np.ndarray | None = None
) -> dict[str, Any]:
    """Every per-entry gradient of one tensor, its chain-rule form, and its matrix slices.

    ``names`` (same shape as the tensor) gives each entry a name shown before ∂E/∂x: in a
    network, the δ of the layer before is the gradient of this layer's input.
    """
    grads = d.grads[role]
    z = d.forward.grids[Role.OUTPUT].symbols
    chain_form = grads.size <= CHAIN_FORM_CAP and all(len(cs.terms) <= 4 for cs in grads.ravel())
    flat = grads.ravel()
    named = None if names is None else names.ravel()

    def row(k: int) -> dict[str, Any]:
        cs = flat[k]
        lhs = p.gradient_name(cs.wrt)
        if named is not None:
            lhs = f"{p.symbol(named[k])} = {lhs}"
        out = equation_row(Tex(lhs), [term_string(p, t) for t in cs.terms], p)
        if chain_form:
            form = Tex(p.total([_chain_term(p, t.delta, z[t.source], cs.wrt) for t in cs.terms]))
            width = tex_width(form) + sum(tex_width(line) for line in out["lines"])
            out.update(chain=form, chain_inline=len(out["lines"]) == 1 and width < LINE_WIDTH)
        return out

    rows = elided_rows(len(flat), row)
    # matrix cells: long sums shortened to first + ⋯ + last, shorter still if the matrix is wide
    compact = compact_printer(d)
    for keep in (3, 2):
        cells = np.vectorize(lambda cs, k=keep: _cell(compact, cs, k), otypes=[object])(grads)
        matrices = slices(cells, d.forward.grids[role].latex, d.spec.index_base, gradient=True)
        widest = max(getattr(m["body"], "width", 0.0) for m in matrices)
        if widest <= MATRIX_COMFORT_WIDTH:
            break
    wide = widest > MATRIX_MAX_WIDTH
    return {
        "role": ROLE_TITLES[role],
        "symbol": Tex(d.forward.grids[role].latex),
        "rows": rows,
        "chain_form": chain_form,
        "matrices": [] if wide else matrices,
    }


def _chain_term(p: SymcnnLatexPrinter, delta: Any, z: Any, wrt: Any) -> str:
    """One chain-rule term written out: ``\\delta_{11} \\frac{\\partial z_{11}}{\\partial a_{12}}``."""
    return rf"{p.symbol(delta)} \frac{{\partial {p.symbol(z)}}}{{\partial {p.symbol(wrt)}}}"


def compact_printer(d: Derivation) -> CompactLatexPrinter:
    """A printer for matrix cells that writes a max-pool window as the output it produced."""
    p = SymcnnLatexPrinter(d.table)
    z = d.forward.grids[Role.OUTPUT].symbols
    windows = {}
    for idx in np.ndindex(*d.output_shape):
        for summand in d.forward.terms[idx]:
            if isinstance(summand, WindowMax):
                windows[tuple(str(a) for a in summand.args)] = p.symbol(z[idx])
    return CompactLatexPrinter(d.table, windows)


def _cell(p: SymcnnLatexPrinter, cs: ChainSum, keep: int) -> Tex:
    return short_sum(p, [term_string(p, t) for t in cs.terms], keep)


def _print_grid(p: SymcnnLatexPrinter, arr: np.ndarray) -> np.ndarray:
    return np.vectorize(lambda s: "0" if s == ZERO else p.symbol(s), otypes=[object])(arr)


@singledispatch
def identity_operands(spec: object, d: Derivation, p: SymcnnLatexPrinter) -> list[Tex | None]:
    """For each identity (in the core's order), its operands written out for this layer."""
    return []


@identity_operands.register
def _conv(spec: Conv2D, d: Derivation, p: SymcnnLatexPrinter) -> list[Tex | None]:
    g = d.forward.grids
    delta, w, a = g[Role.DELTA].symbols[0], g[Role.WEIGHT].symbols[0, 0], g[Role.INPUT].symbols[0]
    kernel = zero_insert(w, spec.dilation)
    kr, kc = kernel.shape
    spread = zero_insert(delta, spec.stride)
    padded = zero_pad(spread, (kr - 1, kc - 1), (kr - 1, kc - 1))
    d_name = r"\delta^{\uparrow s}" if spec.stride != (1, 1) else r"\delta"
    if spec.out_channels > 1:
        d_name = f"{{{d_name}}}^{{(1)}}"
    w_name = "w^{(1,1)}" if spec.out_channels > 1 or spec.in_channels > 1 else "w"
    a_name = "a^{(1)}" if spec.in_channels > 1 else "a"
    if spec.dilation != (1, 1):
        w_name = rf"\operatorname{{dilate}}({w_name})"
    mats = {
        "pad_delta": matrix(_print_grid(p, padded), MATRIX_CAP),
        "rot_w": matrix(_print_grid(p, rot180(kernel)), MATRIX_CAP),
        "a": matrix(_print_grid(p, zero_pad(a, spec.padding, spec.padding)), MATRIX_CAP),
        "delta": matrix(_print_grid(p, spread), MATRIX_CAP),
    }
    if any(spec.padding):
        a_name = rf"\operatorname{{pad}}({a_name})"
    input_op = (
        rf"\operatorname{{pad}}({d_name}) \star \operatorname{{rot180}}({w_name}) = "
        rf"{mats['pad_delta']} \star {mats['rot_w']}"
    )
    weight_op = rf"{a_name} \star {d_name} = {mats['a']} \star {mats['delta']}"
    return [Tex(input_op), Tex(weight_op), None]


def _pool(spec: AvgPool2D | MaxPool2D, d: Derivation, p: SymcnnLatexPrinter) -> list[Tex | None]:
    """δ and, when it is legible as a matrix, the upsampled ∂E/∂a it turns into (seed 003)."""
    delta = d.forward.grids[Role.DELTA].symbols
    first = slices(_print_grid(p, delta), r"\delta", d.spec.index_base)[0]
    text = f"{first['label']} = {first['body']}"
    compact = compact_printer(d)
    cells = np.vectorize(lambda cs: _cell(compact, cs, 2), otypes=[object])(d.grads[Role.INPUT])
    up = slices(cells, d.forward.grids[Role.INPUT].latex, d.spec.index_base, gradient=True)[0]
    if up["body"].width <= MATRIX_MAX_WIDTH:
        text += rf" \;\xrightarrow{{\text{{backward}}}}\; {up['label']} = {up['body']}"
    return [Tex(text)]


identity_operands.register(AvgPool2D, _pool)
identity_operands.register(MaxPool2D, _pool)


def pack(displays: Sequence[dict[str, Any]], width: float = LINE_WIDTH) -> list[Tex]:
    """``label = matrix`` displays packed side by side into lines of at most ``width`` em.

    Example:
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

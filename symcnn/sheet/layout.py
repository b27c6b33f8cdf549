"""Sheet layout of a layer: equation rows broken into lines, gradient entries, identity operands."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..core.arrays import ZERO
from ..core.functions import WindowMax
from ..core.symbols import Role
from ..derivation.backprop import ChainSum
from ..derivation.derived import DerivedLayer
from ..derivation.proofs import Proof
from ..render.matrices import (
    MATRIX_CAP,
    break_terms,
    elide,
    matrix,
    short_sum,
    slices,
    tex_width,
)
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from .printers import CompactLatexPrinter

#: Width in em of the right-hand side of one equation line (A4, 11pt, 2 cm margins).
LINE_WIDTH = 38.0
#: At most this many lines per equation; further summands are elided (⋯, with a count).
MAX_LINES = 4
#: At most this many entries of one tensor are written out; the rest is elided (⋮).
ENTRY_CAP = 64
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


def entries(
    layer: DerivedLayer, p: SymcnnLatexPrinter, role: Role, names: np.ndarray | None = None
) -> dict[str, Any]:
    """Every per-entry gradient of one tensor, its chain-rule form, and its matrix slices.

    ``names`` (same shape as the tensor) gives each entry a name shown before ∂E/∂x: in a
    network, the δ of the layer before is the gradient of this layer's input.
    """
    grads = layer.grads[role]
    z = layer.grid(Role.OUTPUT).symbols
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
    compact = compact_printer(layer, p)
    base = layer.grid(role).index_base
    for keep in (3, 2):
        cells = np.vectorize(lambda cs, k=keep: _cell(compact, cs, k), otypes=[object])(grads)
        matrices = slices(cells, layer.grid(role).latex, base, gradient=True)
        widest = max(getattr(m["body"], "width", 0.0) for m in matrices)
        if widest <= MATRIX_COMFORT_WIDTH:
            break
    wide = widest > MATRIX_MAX_WIDTH
    return {
        "role": role.value,
        "symbol": Tex(layer.grid(role).latex),
        "rows": rows,
        "chain_form": chain_form,
        "matrices": [] if wide else matrices,
    }


def _chain_term(p: SymcnnLatexPrinter, delta: Any, z: Any, wrt: Any) -> str:
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


def print_grid(p: SymcnnLatexPrinter, arr: np.ndarray) -> np.ndarray:
    """An array of symbols (and zeros) as LaTeX cells."""
    return np.vectorize(lambda s: "0" if s == ZERO else p.symbol(s), otypes=[object])(arr)


def operands(layer: DerivedLayer, proof: Proof, p: SymcnnLatexPrinter) -> Tex | None:
    """A proven closed form written out for this layer, from the operands that were proven."""
    form = proof.form
    if form is None or form.shown is None:
        return None
    shown = form.shown
    facts = layer.layer.facts()
    if shown.right is None:  # δ spread back onto the input (pooling)
        delta = layer.grid(Role.DELTA)
        # single-layer names, as the identities are stated (δ, a), with this layer's cells
        first = slices(print_grid(p, delta.symbols), r"\delta", delta.index_base)[0]
        text = f"{first['label']} = {first['body']}"
        compact = compact_printer(layer, p)
        cells = np.vectorize(lambda cs: _cell(compact, cs, 2), otypes=[object])(
            layer.grads[Role.INPUT]
        )
        a = layer.grid(Role.INPUT)
        up = slices(cells, a.latex, a.index_base, gradient=True)[0]
        if up["body"].width <= MATRIX_MAX_WIDTH:
            text += rf" \;\xrightarrow{{\text{{backward}}}}\; {up['label']} = {up['body']}"
        return Tex(text)
    d_name = r"\delta^{\uparrow s}" if facts.get("strided") else r"\delta"
    if layer.output_shape[0] > 1 and len(layer.output_shape) == 3:
        d_name = f"{{{d_name}}}^{{(1)}}"
    multi = layer.output_shape[0] > 1 or layer.input_shape[0] > 1
    w_name = "w^{(1,1)}" if multi else "w"
    if facts.get("dilated"):
        w_name = rf"\operatorname{{dilate}}({w_name})"
    a_name = "a^{(1)}" if layer.input_shape[0] > 1 else "a"
    if facts.get("padded"):
        a_name = rf"\operatorname{{pad}}({a_name})"
    left = matrix(print_grid(p, shown.left.cells), MATRIX_CAP)
    right = matrix(print_grid(p, shown.right.cells), MATRIX_CAP)
    if proof.role is Role.INPUT:
        op = rf"\operatorname{{pad}}({d_name}) \star \operatorname{{rot180}}({w_name})"
    else:
        op = rf"{a_name} \star {d_name}"
    return Tex(rf"{op} = {left} \star {right}")


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

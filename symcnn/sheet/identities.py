"""The proven matrix identities of a layer as a sheet writes them: statement, status, operands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import symengine as se

from ..core.arrays import ZERO
from ..core.symbols import Role, with_channels
from ..derivation.derived import DerivedLayer
from ..derivation.proofs import Proof
from ..kinds.base import Op, Operand, Shown, TexNames
from ..render.matrices import MATRIX_CAP, matrix, short_sum
from ..render.printers import SymcnnLatexPrinter
from ..render.tex import Tex
from .layout import LINE_WIDTH, compact_printer
from .printers import DIGITS, GIVEN, fmt_number

#: A written-out display may be this much wider than the line before it is left out (the
#: preamble's \fitmath shrinks it, never below 90 %).
FIT = 1 / 0.9


def op_tex(op: Op, body: str) -> str:
    r"""One operation applied to ``body``: ``\operatorname{pad}_{2}(X)``; a pair of equal
    parameters is written once.

    Example:
        >>> op_tex(Op("pad", (2, 2)), "X"), op_tex(Op("rot180"), "w"), op_tex(Op("crop", (1, 0)), "Y")
        ('\\operatorname{pad}_{2}(X)', '\\operatorname{rot180}(w)', '\\operatorname{crop}_{1,0}(Y)')
    """
    arg = op.arg
    if len(arg) == 2 and arg[0] == arg[1]:
        arg = arg[:1]
    if op.name == "keep":  # (k1, k2, d1, d2): the kernel's size and the dilation
        arg = (arg[0], arg[2]) if arg[0] == arg[1] and arg[2] == arg[3] else arg
    sub = f"_{{{','.join(map(str, arg))}}}" if arg else ""
    if r"\begin" in body:  # a written-out matrix: brackets as tall as it is
        return rf"\operatorname{{{op.name}}}{sub}\left({body}\right)"
    return rf"\operatorname{{{op.name}}}{sub}({body})"


def applied(ops: tuple[Op, ...], body: str) -> str:
    """Every operation in turn, the first innermost."""
    for op in ops:
        body = op_tex(op, body)
    return body


def operand_name(operand: Operand, names: TexNames, shape: tuple[int, ...], base: int) -> str:
    """The slice's name in the layer's names, with its channels: ``\\delta^{(1)}``, ``w^{(1,2)}``."""
    stem = {Role.INPUT: names.a, Role.WEIGHT: names.w, Role.DELTA: names.d}[operand.role]
    axes = shape[: len(operand.channels)]
    shown = [str(c + base) for c, n in zip(operand.channels, axes) if n > 1]
    return with_channels(stem, ",".join(shown)) if shown else stem


def identity(
    layer: DerivedLayer, proof: Proof, p: SymcnnLatexPrinter, names: TexNames, base: int
) -> dict[str, Any]:
    """One identity: its statement in the layer's names, whether it was proven, and the
    displays that write it out for this layer from the operands that were proven."""
    form = proof.form
    shown = form.shown if form is not None else None
    sides = form.tex(names) if form is not None else (proof.latex, None)
    return {
        "lhs": Tex(sides[0]),
        "rhs": Tex(sides[1]) if sides[1] is not None else None,
        "proven": proof.proven,
        "entries": proof.entries,
        "mismatches": proof.mismatches,
        "written": written(layer, shown, p, names, base) if shown is not None else None,
        "role": proof.role.value if proof.role is not None else None,
        "first_slice": layer.output_shape[0] > 1 or layer.input_shape[0] > 1,
    }


def _printer(
    layer: DerivedLayer, p: SymcnnLatexPrinter, number: Callable[[Any], str] | None
) -> Callable[[np.ndarray], Any]:
    """Operand cells → a matrix: symbols (compact sums), or numbers when ``number`` is given."""
    if number is None:
        compact = compact_printer(layer, p)
        cell = np.vectorize(lambda s: cell_tex(compact, s), otypes=[object])
    else:
        cell = np.vectorize(number, otypes=[object])
    return lambda arr: matrix(cell(arr), MATRIX_CAP)


def _fits(*parts: Any) -> bool:
    width = sum(getattr(x, "width", 0.0) for x in parts) + 3.0 * len(parts)
    return width <= LINE_WIDTH * FIT


def _shapes(layer: DerivedLayer) -> dict[Role, tuple[int, ...]]:
    """One sample's shapes (a written-out identity is about one sample: over a mini-batch its
    operands' first axis is a channel, not the sample)."""
    weight = layer.grid(Role.WEIGHT).shape if Role.WEIGHT in layer.forward.grids else ()
    kind = layer.layer
    return {Role.INPUT: kind.input_shape, Role.DELTA: kind.output_shape, Role.WEIGHT: weight}


def written(
    layer: DerivedLayer, shown: Shown, p: SymcnnLatexPrinter, names: TexNames, base: int
) -> dict[str, Any] | None:
    r"""One identity written out with this layer's symbols, for the first channels.

    ``rows`` continue ``term`` (``= [L] ⋆ [R]``, ``= [F]``, cropped …); when ``chains``,
    ``term`` is the identity's own right-hand side (one channel), so the rows continue the
    statement itself. None when even the first row would not fit the line.
    """
    mat = _printer(layer, p, None)
    shapes = _shapes(layer)
    left = shown.left
    multi = layer.output_shape[0] > 1 or layer.input_shape[0] > 1
    if shown.right is None:  # pooling: δ handed back onto the input
        g_mat = mat(shown.full)
        if not _fits(g_mat):
            return None
        a_name = with_channels(names.a, str(base)) if layer.input_shape[0] > 1 else names.a
        tiles = "up" in layer.layer.operators()
        return {
            "term": Tex(rf"\frac{{\partial E}}{{\partial {a_name}}}"),
            "rows": [g_mat],
            "chains": tiles and not multi,
        }
    right = shown.right
    l_mat, r_mat, f_mat = mat(left.value), mat(right.value), mat(shown.full)
    if not _fits(l_mat, r_mat):
        return None
    l_name = applied(left.ops, operand_name(left, names, shapes[left.role], base))
    r_name = applied(right.ops, operand_name(right, names, shapes[right.role], base))
    rows = [Tex(applied(shown.after, rf"{l_mat} \star {r_mat}"))]
    if _fits(f_mat):
        rows.append(Tex(applied(shown.after, str(f_mat))))
        if shown.after and shown.result is not None and _fits(mat(shown.result)):
            rows.append(mat(shown.result))
    return {
        "term": Tex(applied(shown.after, rf"{l_name} \star {r_name}")),
        "rows": rows,
        "chains": not multi,
    }


def written_numbers(
    layer: DerivedLayer,
    shown: Shown,
    p: SymcnnLatexPrinter,
    number: Callable[[Any], str],
    name: str | None = None,
) -> list[dict[str, Any]]:
    r"""One identity with numbers, every operation on its own line from literal matrices:
    ``pad_{1}([δ]) = [L]``, ``rot180([w]) = [R]``, ``[L] ⋆ [R] = [F]``, ``crop_{1}([F]) = [C]``,
    so that each line can be checked by hand (and is, by the tests). ``name`` (the gradient's,
    for a one-channel layer) is written before the final result, which is that gradient.
    Lines wider than the page at 90 % are left out.
    """
    if shown.right is None:
        return []
    mat = _printer(layer, p, number)
    left, right = shown.left, shown.right
    l_mat, r_mat, f_mat = mat(left.value), mat(right.value), mat(shown.full)
    named = f"{name} = " if name else ""
    out: list[dict[str, Any]] = []
    for operand, prepared in ((left, l_mat), (right, r_mat)):
        if operand.ops:
            raw = mat(operand.cells)
            if _fits(raw, prepared):
                out.append(_row(applied(operand.ops, str(raw)), str(prepared)))
    full = "" if shown.after else named
    if _fits(l_mat, r_mat, f_mat):
        out.append(_row(rf"{l_mat} \star {r_mat}", f"{full}{f_mat}"))
    elif _fits(l_mat, r_mat) and _fits(f_mat):  # the result on a line of its own
        out.append(_row(rf"{l_mat} \star {r_mat}", f"{full}{f_mat}") | {"split": True})
    if shown.after and shown.result is not None:
        res = mat(shown.result)
        if _fits(f_mat, res):
            out.append(_row(applied(shown.after, str(f_mat)), f"{named}{res}"))
        elif _fits(f_mat) and _fits(res):  # the result on a line of its own
            out.append(_row(applied(shown.after, str(f_mat)), f"{named}{res}") | {"split": True})
    return out


def cell_tex(p: SymcnnLatexPrinter, expr: Any) -> str:
    """One entry of an operand (a symbol, 0, or a sum of products) as a matrix cell; sums of
    more than six terms keep their first and last terms around ⋯.

    Example:
        >>> import symengine as se
        >>> from symcnn.core.symbols import SymbolTable
        >>> x, y = se.symbols("x y")
        >>> cell_tex(SymcnnLatexPrinter(SymbolTable([])), 2 * x * y + x)
        'x + 2 x y'
    """
    if expr == ZERO or expr == 0:
        return "0"
    terms = list(expr.args) if isinstance(expr, se.Add) else [expr]
    return str(short_sum(p, [p.product([t]) for t in terms], 6))


def _row(lhs: str, rhs: str) -> dict[str, Any]:
    return {"lhs": Tex(lhs), "rhs": Tex(rhs), "split": False}


def numbers_of(
    values: dict[str, float], given: frozenset[str] = frozenset()
) -> Callable[[Any], str]:
    """A cell (a symbol, 0 or a sum of products of symbols) → its number, formatted.

    Example:
        >>> import symengine as se
        >>> numbers_of({"x": 0.5, "y": -2.0})(se.Symbol("x") * se.Symbol("y") + 1)
        '0'
    """
    mapping = {se.Symbol(k): v for k, v in values.items()}

    def number(cell: Any) -> str:
        if cell == ZERO:
            return "0"
        digits = GIVEN if str(cell) in given else DIGITS
        return fmt_number(float(se.sympify(cell).subs(mapping)), digits)

    return number

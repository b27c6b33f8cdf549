"""TikZ figures for sheets: grids of cells with highlighted entries and arrows between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import sympy

from ..core.symbols import Role, SymbolTable
from ..derivation.derived import DerivedLayer
from ..kinds.base import Figure
from ..numeric.engine import LayerEngine
from ..numeric.values import one_decimal
from ..render.matrices import tex_width
from ..render.printers import SymcnnLatexPrinter, with_channels
from ..render.tex import Tex
from .i18n import translations
from .printers import fmt_number

Cell = tuple[int, int]

#: Width in cm available to the two grids of one figure (A4, 2 cm margins, a gap between).
FIGURE_WIDTH = 14.0
MAX_CELL = 0.75  # cm
LABEL_MIN = 0.5  # cells smaller than this carry no label
SCRIPTSIZE_EM = 0.27  # cm per em of \scriptsize at 11pt


@dataclass
class Panel:
    """One grid of a figure: its size, padding ring, cell labels and marked cells.

    ``label(r, c)`` gives the LaTeX of the cell at row r, column c of the unpadded grid
    (0-based); ``marks`` maps cells to a style name defined in the sheet's preamble
    (``field``, ``target``, ``win``); ``pad`` adds a dashed ring of zero cells.
    """

    rows: int
    cols: int
    label: Callable[[int, int], str]
    title: str
    marks: dict[Cell, str] = field(default_factory=dict)
    pad: tuple[int, int] = (0, 0)

    @property
    def shape(self) -> tuple[int, int]:
        """Rows and columns including the padding ring."""
        return self.rows + 2 * self.pad[0], self.cols + 2 * self.pad[1]


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") or "0"


def cell_size(panels: Sequence[Panel]) -> float:
    """The side of a cell in cm so that the panels fit side by side (same size in each).

    Example:
        >>> cell_size([Panel(3, 3, str, ""), Panel(2, 2, str, "")])
        0.75
    """
    cols = sum(p.shape[1] for p in panels)
    rows = max(p.shape[0] for p in panels)
    return min(MAX_CELL, FIGURE_WIDTH / max(cols, 1), 9.0 / max(rows, 1))


def _panel(p: Panel, x0: float, s: float) -> list[str]:
    """TikZ commands drawing one panel with its top-left corner at (x0, 0)."""
    out: list[str] = []
    ph, pw = p.pad
    rows, cols = p.shape
    labels = s >= LABEL_MIN
    font = r"\scriptsize" if s >= 0.8 else r"\tiny"
    widest = max(
        (tex_width(p.label(r, c)) for r in range(p.rows) for c in range(p.cols)), default=0
    )
    if widest * SCRIPTSIZE_EM > s - 0.1:  # long numbers: the smaller font keeps them inside
        font = r"\tiny"
    for r in range(rows):
        for c in range(cols):
            x, y = x0 + c * s, -r * s
            inner = (r - ph, c - pw)
            padded = not (0 <= inner[0] < p.rows and 0 <= inner[1] < p.cols)
            style = "padcell" if padded else "cell"
            mark = p.marks.get(inner)
            if mark:
                style += f", {mark}"
            box = f"({_fmt(x)},{_fmt(y)}) rectangle ({_fmt(x + s)},{_fmt(y - s)})"
            text = "0" if padded else p.label(*inner)
            node = f" node[midway, font={font}] {{${text}$}}" if labels and text else ""
            out.append(rf"\draw[{style}] {box}{node};")
    out.append(
        rf"\node[anchor=south, font=\small] at ({_fmt(x0 + cols * s / 2)},0.05) {{{p.title}}};"
    )
    return out


def grids_figure(panels: Sequence[Panel], labels: Sequence[str | None] = ()) -> Tex:
    r"""Grids side by side, joined left to right by arrows (``labels`` above them; None: no arrow).

    Returns a complete ``tikzpicture``; the grids are centred on a common horizontal axis.

    Example:
        >>> fig = grids_figure([Panel(2, 2, lambda r, c: f"a_{{{r}{c}}}", "$a$", {(0, 0): "field"}),
        ...                     Panel(1, 1, lambda r, c: "z", "$z$", {(0, 0): "target"})])
        >>> fig.startswith(r"\begin{tikzpicture}") and "field" in fig
        True
    """
    s = cell_size(panels)
    gap = max(1.1, 2.2 * s)
    height = max(p.shape[0] for p in panels) * s
    lines = [r"\begin{tikzpicture}"]
    x = 0.0
    for k, panel in enumerate(panels):
        label = labels[k - 1] if 0 < k <= len(labels) else ""
        if k and label is not None:
            y = _fmt(-height / 2)
            text = rf" node[midway, above, font=\scriptsize] {{{label}}}" if label else ""
            lines.append(
                rf"\draw[flow] ({_fmt(x - gap + 0.2)},{y}) -- ({_fmt(x - 0.2)},{y}){text};"
            )
        shift = (height - panel.shape[0] * s) / 2
        lines.append(rf"\begin{{scope}}[yshift={_fmt(-shift)}cm]")
        lines += _panel(panel, x, s)
        lines.append(r"\end{scope}")
        x += panel.shape[1] * s + gap
    lines.append(r"\end{tikzpicture}")
    return Tex("\n".join(lines))


# --- the figures of a layer, from its derivation ------------------------------------------


def _input_cells(expr: Any, table: SymbolTable) -> list[tuple[int, ...]]:
    """Indices of the input entries an expression contains, in table order."""
    found = []
    for sym in expr.free_symbols:
        info = table.get(sym)
        if info is not None and info.grid.role is Role.INPUT:
            found.append(info.index)
    return sorted(found)


def _target(layer: DerivedLayer) -> tuple[int, int, int]:
    """The output entry whose receptive field is drawn: (1, 1) 0-based, or the last one."""
    _, oh, ow = layer.output_shape
    return (0, min(1, oh - 1), min(1, ow - 1))


def _symbol_label(p: SymcnnLatexPrinter, grid: Any) -> Callable[[int, int], str]:
    return lambda r, c: p.symbol(grid.symbols[0, r, c])


def _title(message: str, grid: Any, base: int) -> str:
    """A panel title from a translated ``… %(name)s`` (channel 1 named when there are
    several): ``input $a^{(1)}$``."""
    name = with_channels(grid.latex, str(base)) if grid.shape[0] > 1 else grid.latex
    return message % {"name": f"${name}$"}


def _pair(
    layer: DerivedLayer,
    p: SymcnnLatexPrinter,
    cells: set[Cell],
    right: Any,
    right_title: str,
    right_marks: dict[Cell, str],
    lang: str = "en",
) -> Tex:
    """The input (channel 1, padded as the layer pads) with ``cells`` marked, beside ``right``
    (titled by the translated ``right_title``, ``… %(name)s``)."""
    a = layer.grid(Role.INPUT)
    axes = layer.layer.facts().get("axes", [{"pad": 0}, {"pad": 0}])
    pad = (axes[0]["pad"], axes[1]["pad"])
    base = a.index_base
    left = Panel(
        a.shape[1],
        a.shape[2],
        _symbol_label(p, a),
        # TRANSLATORS: the title of a grid of a figure; %(name)s is its symbol, as $a$
        _title(translations(lang).gettext("input %(name)s"), a, base),
        dict.fromkeys(cells, "field"),
        pad,
    )
    rpanel = Panel(
        right.shape[1],
        right.shape[2],
        _symbol_label(p, right),
        _title(right_title, right, base),
        right_marks,
    )
    return grids_figure([left, rpanel])


def receptive_field(
    layer: DerivedLayer, p: SymcnnLatexPrinter, lang: str = "en"
) -> tuple[Tex, Tex]:
    """The input (channel 1) with the cells one output entry reads, beside the output."""
    z = layer.grid(Role.OUTPUT)
    target = _target(layer)
    cells: set[Cell] = set()
    for summand in layer.forward.terms[target]:
        cells.update((r, c) for ch, r, c in _input_cells(summand, p.table) if ch == 0)
    # TRANSLATORS: the title of a grid of a figure; %(name)s is its symbol, as $z$
    output = translations(lang).gettext("output %(name)s")
    fig = _pair(layer, p, cells, z, output, {(target[1], target[2]): "target"}, lang)
    return fig, Tex(p.symbol(z.symbols[target]))


def weight_cells(layer: DerivedLayer, p: SymcnnLatexPrinter, lang: str = "en") -> tuple[Tex, Tex]:
    """For the last weight of channel pair (1, 1): the input cells it multiplies, and its δs."""
    w = layer.grid(Role.WEIGHT)
    w_index = (0, 0, w.shape[2] - 1, w.shape[3] - 1)
    cells: set[Cell] = set()
    sources: set[Cell] = set()
    for term in layer.grads[Role.WEIGHT][w_index].terms:
        cells.update((r, c) for ch, r, c in _input_cells(term.partial, p.table) if ch == 0)
        _, i, j = term.source
        sources.add((i, j))
    delta = layer.grid(Role.DELTA)
    # TRANSLATORS: the title of a grid of a figure; %(name)s is its symbol, as $\delta$
    error = translations(lang).gettext("error %(name)s")
    fig = _pair(layer, p, cells, delta, error, dict.fromkeys(sources, "target"), lang)
    return fig, Tex(p.symbol(w.symbols[w_index]))


def readers(layer: DerivedLayer, p: SymcnnLatexPrinter, lang: str = "en") -> tuple[Tex, Tex]:
    """For one input cell (channel 1, the one with the most terms): the outputs that read it,
    each showing the weight it used (the kernel appears rotated by 180°)."""
    a, delta = layer.grid(Role.INPUT), layer.grid(Role.DELTA)
    grads = layer.grads[Role.INPUT]
    first = [idx for idx in np.ndindex(*grads.shape) if idx[0] == 0]
    sizes = [len(cast(Any, grads[idx]).terms) for idx in first]
    cell = first[int(np.argmax(sizes))]
    chain: Any = grads[cell]
    weights: dict[Cell, str] = {}
    for term in chain.terms:
        o, i, j = term.source
        if o == 0:
            weights[(i, j)] = p.doprint(term.partial)
    a_panel = Panel(
        a.shape[1],
        a.shape[2],
        _symbol_label(p, a),
        _title(translations(lang).gettext("input %(name)s"), a, a.index_base),
        {(cell[1], cell[2]): "target"},
    )
    d_panel = Panel(
        delta.shape[1],
        delta.shape[2],
        lambda r, c: weights.get((r, c), ""),
        _title(translations(lang).gettext("error %(name)s"), delta, delta.index_base),
        dict.fromkeys(weights, "field"),
    )
    return grids_figure([a_panel, d_panel]), Tex(p.symbol(a.symbols[cell]))


def routing(
    layer: DerivedLayer, p: SymcnnLatexPrinter, values: dict[str, np.ndarray], lang: str = "en"
) -> Tex:
    """Max pooling, channel 1: the input with each window's winner shaded, δ, and ∂E/∂a.

    The winners are the cells whose bracket ``IsFirstMax`` (the engine's rule, ties to the
    first maximum) is 1 at these numbers; ∂E/∂a comes from the compiled formulas.
    """
    a = layer.grid(Role.INPUT)
    numbers = {
        sympy.Symbol(str(s)): sympy.Float(v)
        for s, v in zip(a.symbols.ravel(), values["input"].ravel())
    }
    winners: set[tuple[int, int]] = set()
    for cs in layer.grads[Role.INPUT][0].ravel():
        if any(t.partial.xreplace(numbers) == 1 for t in cs.terms):
            _, r, c = p.table.info(cs.wrt).index
            winners.add((r, c))
    flat = np.concatenate([values["input"].ravel(), values["delta"].ravel()])
    grad = LayerEngine(layer).backward(flat)[: a.symbols.size].reshape(a.shape)[0]
    inp, delta = values["input"][0], values["delta"][0]
    marks = dict.fromkeys(winners, "win")

    def numbers_of(arr: np.ndarray) -> Callable[[int, int], str]:
        return lambda r, c: fmt_number(arr[r, c])

    (h, w), (oh, ow) = inp.shape, delta.shape
    base = a.index_base
    tr = translations(lang)
    delta_title = _title(tr.gettext("error %(name)s"), layer.grid(Role.DELTA), base)
    panels = [
        Panel(h, w, numbers_of(inp), _title(tr.gettext("input %(name)s"), a, base), marks),
        Panel(oh, ow, numbers_of(delta), delta_title),
        Panel(h, w, numbers_of(grad), rf"$\partial E/\partial {a.latex}$", marks),
    ]
    # TRANSLATORS: the label above a short arrow (from δ to ∂E/∂a): keep it about as short
    # as the English, a single word
    return grids_figure(panels, [None, tr.gettext("backward")])


def figures(
    layer: DerivedLayer,
    p: SymcnnLatexPrinter,
    values: dict[str, np.ndarray] | None,
    illustrative_seed: int = 0,
    lang: str = "en",
) -> dict[str, Any]:
    """Every figure the layer's kind asks for, with the names their captions mention.

    ``values`` (input and δ) are the numbers of the routing figure; without them it uses
    illustrative numbers drawn from ``illustrative_seed``. The words on the figures (the
    panels' titles, an arrow's label) are in ``lang``.
    """
    out: dict[str, Any] = {}
    for figure in layer.layer.figures:
        if figure is Figure.RECEPTIVE_FIELD:
            out["field"], out["target"] = receptive_field(layer, p, lang)
        elif figure is Figure.WEIGHT_CELLS:
            out["weight"], out["weight_name"] = weight_cells(layer, p, lang)
        elif figure is Figure.READERS:
            out["readers"], out["readers_cell"] = readers(layer, p, lang)
        elif figure is Figure.ROUTING:
            out["illustrative"] = values is None
            if values is None:
                shapes = {
                    "input": layer.grid(Role.INPUT).shape,
                    "delta": layer.grid(Role.DELTA).shape,
                }
                values = one_decimal(shapes, illustrative_seed)
            out["routing"] = routing(layer, p, values, lang)
    return out

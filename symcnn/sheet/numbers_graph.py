"""The worked example where a network branches, merges, works on a mini-batch or goes through
named quantities: the parts of a merged gradient and their sum, one sample's matrices, and
batch norm's statistics and closed form with numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.symbols import Grid, Role, with_channels
from ..derivation.derived import Derivation, DerivedLayer
from ..numeric.engine import LayerValues, Run
from ..render.matrices import MATRIX_CAP, matrix, slices
from ..render.printers import SymcnnLatexPrinter
from ..render.tex import Tex
from .layout import LINE_WIDTH, WORKED_CAP, elided_rows, pack, representative, via_label
from .merges import part_name, readers, written
from .printers import DIGITS, NumberLatexPrinter, fmt_number

#: A display may be this much wider than the line (\fitmath shrinks it, never below 90 %).
FIT = 1 / 0.9


def matrices(
    arr: np.ndarray, grid: Grid, gradient: bool = False, digits: int = DIGITS
) -> list[dict[str, Any]]:
    """An array of numbers as labelled matrices (``∂E/∂name`` when ``gradient``); a tensor
    with a batch axis is labelled sample by sample."""
    cells = np.vectorize(lambda x: fmt_number(x, digits), otypes=[object])(
        np.asarray(arr, dtype=float)
    )
    return slices(cells, grid.latex, grid.index_base, gradient, batch=grid.batch)


def results(arr: np.ndarray, grid: Grid, gradient: bool = False) -> list[Tex]:
    """A computed tensor as packed matrices, the first sample's only when it has a batch
    axis; none for a single number (its row shows it)."""
    if np.size(arr) == 1:
        return []
    if grid.batch:
        arr = np.asarray(arr)[:1]
    return pack(matrices(arr, grid, gradient))


def term_rows(
    names: np.ndarray,
    terms: np.ndarray,
    out: np.ndarray,
    p: SymcnnLatexPrinter,
    nump: NumberLatexPrinter,
    detail: str,
    row_of: Any,
) -> list[dict[str, Any]]:
    """``name_k = summands = numbers = result`` for one entry of a quantity (every entry in
    full detail), made by ``row_of`` (`symcnn.sheet.numbers.calc_row`)."""
    index = list(np.ndindex(*np.shape(terms)))
    values = np.asarray(out, dtype=float)

    def row(k: int) -> dict[str, Any]:
        summands = terms[index[k]]
        return row_of(
            Tex(p.symbol(names[index[k]])),
            [p.product([s]) for s in summands],
            [nump.product([s]) for s in summands],
            float(values[index[k]]),
            p,
        )

    if detail == "full":
        return elided_rows(len(index), row, WORKED_CAP)
    return [row(int(np.argmax([len(terms[i]) for i in index])))]


def merge_numbers(d: Derivation, run: Run, source: int | None) -> dict[str, Any] | None:
    r"""Where several layers read the tensor of ``source`` (None: the network input): for the
    first sample (and each channel), the part each reader sends back, their sum, and the
    gradient, one line each: ``[A] + [B] = \frac{\partial E}{\partial x} = [C]``. None when
    one layer alone reads it.
    """
    who = [r for r in readers(d, source) if r is not None]
    if len(who) < 2:
        return None
    grid = written(d, source)
    parts = []
    for reader in who:
        node = d.layers[reader].node
        assert node is not None
        parts.append(run.layers[reader].read_grads[node.reads.index(source)])
    total = run.grads["input"] if source is None else run.layers[source].delta
    if grid.batch:
        parts, total = [a[:1] for a in parts], np.asarray(total)[:1]
    labels = matrices(total, grid, gradient=True)
    pieces = [matrices(a, grid, gradient=True) for a in parts]
    rows = []
    for k, label in enumerate(labels):
        bodies = [found[k]["body"] for found in pieces]
        width = sum(getattr(b, "width", 4.0) + 2 for b in [*bodies, label["body"]])
        rows.append(
            {
                "lhs": Tex(" + ".join(str(b) for b in bodies)),
                "rhs": Tex(f"{label['label']} = {label['body']}"),
                "split": width > LINE_WIDTH * FIT,
            }
        )
    names = [via_label(rf"\frac{{\partial E}}{{\partial {grid.latex}}}", r) for r in who]
    return {"readers": who, "names": names, "rows": rows, "sample": grid.batch}


def merge_rows(
    d: Derivation,
    run: Run,
    source: int | None,
    p: SymcnnLatexPrinter,
    detail: str,
    row_of: Any,
) -> list[dict[str, Any]]:
    r"""Where several layers read the tensor of ``source``: its gradient at one entry (every
    entry in full detail) as the sum of the parts, ``∂E/∂x_k = ∂_{(0)}E/∂x_k + ∂_{(5)}E/∂x_k
    = a + b = c``, each part from the numbers of the layer that sends it back."""
    who = [r for r in readers(d, source) if r is not None]
    total = d.input_grad() if source is None else d.layers[source].delta
    assert total is not None
    numbers = run.grads["input"] if source is None else run.layers[source].delta
    delta = d.layers[source].grid(Role.DELTA) if source is not None else None
    parts = []
    for reader in who:
        node = d.layers[reader].node
        assert node is not None
        parts.append(np.ravel(run.layers[reader].read_grads[node.reads.index(source)]))
    flat, values = total.ravel(), np.ravel(numbers)

    def row(k: int) -> dict[str, Any]:
        wrt = flat[k].wrt
        lhs = p.gradient_name(wrt)
        if delta is not None:
            lhs = f"{p.symbol(delta.symbols.ravel()[k])} = {lhs}"
        named = [part_name(p, wrt, reader) for reader in who]
        shown = [fmt_number(float(part[k])) for part in parts]
        shown = [f"({x})" if x.startswith("-") and i else x for i, x in enumerate(shown)]
        return row_of(Tex(lhs), named, shown, float(values[k]), p)

    if detail == "full":
        return elided_rows(total.size, row, 32)
    return [row(representative(total))]


def staged_numbers(
    layer: DerivedLayer,
    lv: LayerValues,
    p: SymcnnLatexPrinter,
    nump: NumberLatexPrinter,
    detail: str,
    row_of: Any,
    sum_rows: Any,
    params: dict[str, np.ndarray],
    closed: bool = True,
) -> dict[str, Any]:
    r"""A layer with named quantities (batch norm) with numbers: one entry of each quantity
    and the statistics; one entry of each quantity's δ; and, for the first sample and each
    channel, the closed form of the input's gradient with numbers, one operation per line
    (``closed``; for the first channel, the others alike): ``k = γ/(M·√(σ² + ε))``,
    ``A = M·δ − Σδ``, ``A − x̂·Σδx̂``, then ``k`` times that, the gradient of the input."""
    stages = layer.stages
    full = detail == "full"
    forward = []
    for k, (stage, values) in enumerate(zip(stages, lv.stages)):
        last = k == len(stages) - 1  # x̂: one entry; the statistics: one entry and all values
        rows = term_rows(stage.grid.symbols, stage.terms, values, p, nump, detail, row_of)
        forward.append(
            {"rows": rows, "matrices": [] if last else pack(matrices(values, stage.grid))}
        )
    backward = [  # the quantities' δ: in full detail (the closed form below uses its sums)
        sum_rows(sums, values, p, nump, detail, stage.delta.symbols)
        for stage, sums, values in zip(stages, layer.stage_deltas, lv.stage_deltas)
        if full
    ]
    return {
        "forward": forward,
        "backward": backward,
        "closed": closed_numbers(layer, lv, params)[:1] if closed else [],
    }


def closed_numbers(
    layer: DerivedLayer, lv: LayerValues, params: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    r"""Batch norm's closed form with numbers, channel by channel, from the layer's own
    numbers (γ, σ², x̂, δ) and the derived gradient of its input: for an image the first
    sample's entries of the channel, for a vector every sample's entry of the feature.
    """
    var = np.asarray(lv.stages[1], dtype=float)
    xhat = np.asarray(lv.stages[2], dtype=float)
    delta = np.asarray(lv.delta, dtype=float)
    grad = np.asarray(lv.read_grads[0], dtype=float)
    grid = layer.grid(Role.INPUT)
    if not grid.batch:
        xhat, delta, grad = xhat[None], delta[None], grad[None]
    eps = float(layer.layer.eps)  # type: ignore[attr-defined]
    name = layer.params.get(Role.WEIGHT)
    gamma = np.ones(delta.shape[1]) if name is None else np.ravel(params[name])
    channels = delta.shape[1]
    m = delta.size // channels
    axes = tuple(k for k in range(delta.ndim) if k != 1)
    sum_d, sum_dx = delta.sum(axis=axes), (delta * xhat).sum(axis=axes)
    cell = np.vectorize(lambda v: fmt_number(float(v)), otypes=[object])
    base = grid.index_base

    def number(x: float) -> Tex:
        text = fmt_number(float(x))
        return Tex(f"({text})" if text.startswith("-") else text)

    def shown(a: np.ndarray, pick: Any) -> Any:
        return matrix(cell(np.atleast_2d(np.asarray(a)[pick])), MATRIX_CAP)

    out = []
    for c in range(channels):
        pick: Any
        if delta.ndim > 2:  # an image: the first sample's entries of the channel
            pick = (0, c)
            stem = with_channels(grid.latex, str(c + base)) if channels > 1 else grid.latex
            label = rf"\frac{{\partial E}}{{\partial {stem}_{{{base};}}}}"
        else:  # a vector: the feature's entry in every sample, as a row
            pick = (slice(None), c)
            label = (
                rf"\left(\frac{{\partial E}}{{\partial {grid.latex}_{{s;{c + base}}}}}\right)_{{s}}"
            )
        out.append(
            {
                "channel": c + base,
                "affine": name is not None,
                "g": number(gamma[c]),
                "var": Tex(fmt_number(float(var[c]))),
                "eps": Tex(fmt_number(eps)),
                "m": m,
                "factor": Tex(fmt_number(gamma[c] / (m * np.sqrt(var[c] + eps)))),
                "sum_d": number(sum_d[c]),
                "sum_dx": number(sum_dx[c]),
                "delta": shown(delta, pick),
                "xhat": shown(xhat, pick),
                "centred": shown(m * delta - sum_d[c], pick),
                "scaled": shown(xhat * sum_dx[c], pick),
                "inner": shown(m * delta - sum_d[c] - xhat * sum_dx[c], pick),
                "result": shown(grad, pick),
                "label": Tex(label),
            }
        )
    return out

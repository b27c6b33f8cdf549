"""Where paths branch and merge: what each layer reads, and the gradients that add up where
several layers read one tensor (the network input or a layer's output)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.symbols import Grid, Role
from ..derivation.derived import Derivation, DerivedLayer
from ..render.matrices import short_sum
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from . import layout
from .layout import representative


def readers(d: Derivation, source: int | None) -> tuple[int | None, ...]:
    """The layers that read the tensor layer ``source`` writes (None: the network input), in
    order; None in the answer is the loss, which reads the last layer's output.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("residual"))
        >>> readers(d, None), readers(d, 4), readers(d, 8)
        ((0, 5), (5,), (None,))
    """
    if source is None:
        return tuple(d.input_sources)
    return tuple(d.layers[source].delta_sources)


def written(d: Derivation, source: int | None) -> Grid:
    """The grid of the tensor layer ``source`` writes (None: the network input)."""
    return d.input_grid if source is None else d.layers[source].grid(Role.OUTPUT)


def part_name(p: SymcnnLatexPrinter, wrt: Any, via: int | None) -> str:
    r"""``\frac{\partial E}{\partial x_{11}}``, or with ``via`` the part of it that comes back
    through that layer: ``\frac{\partial_{(5)} E}{\partial x_{11}}``."""
    if via is None:
        return p.gradient_name(wrt)
    return rf"\frac{{\partial_{{({via})}} E}}{{\partial {p.symbol(wrt)}}}"


def read_context(d: Derivation, layer: DerivedLayer) -> list[dict[str, Any]]:
    r"""For each tensor the layer reads: its name, the layer that wrote it (None: the input),
    the layers that read it, and how the gradient this layer computes for it is named: the
    error of the layer that wrote it when this layer alone reads it (``δ^{(3)}``, or
    ``∂E/∂x`` for the input), else this layer's part of the gradient, ``∂_{(l)}E/∂x``.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("residual"))
        >>> [(r["source"], r["alone"], r["grad"]) for r in read_context(d, d.layers[5])]
        [(None, False, '\\frac{\\partial_{(5)} E}{\\partial x}'), (4, True, '\\delta^{(4)}')]
    """
    assert layer.node is not None
    out = []
    for source, grid in zip(layer.node.reads, layer.forward.reads):
        who = [r for r in readers(d, source)]
        alone = len(who) <= 1
        via = None if alone else layer.index
        delta = d.layers[source].grid(Role.DELTA) if source is not None else None
        label = rf"\frac{{\partial E}}{{\partial {grid.latex}}}"
        out.append(
            {
                "name": Tex(grid.latex),
                "source": source,
                "alone": alone,
                "via": via,
                "named": delta.symbols if alone and delta is not None else None,
                "grad": Tex(delta.latex)
                if alone and delta is not None
                else layout.via_label(label, via),
                "readers": [r for r in who if r is not None],
            }
        )
    return out


def read_rows(
    d: Derivation, layer: DerivedLayer, k: int, p: SymcnnLatexPrinter, detail: str
) -> list[dict[str, Any]]:
    """The gradient of the k-th tensor the layer reads, one entry (every entry in full
    detail), named as `read_context` says."""
    read = read_context(d, layer)[k]
    sums = layer.read_grads[k]
    flat = sums.ravel()
    named = read["named"].ravel() if read["named"] is not None else None

    def row(i: int) -> dict[str, Any]:
        lhs = part_name(p, flat[i].wrt, read["via"])
        if named is not None:
            lhs = f"{p.symbol(named[i])} = {lhs}"
        return layout.equation_row(Tex(lhs), [term_string(p, t) for t in flat[i].terms], p)

    if detail == "full":
        return layout.elided_rows(len(flat), row)
    return [row(representative(sums))]


def contributions(d: Derivation, source: int | None) -> list[tuple[int, np.ndarray]]:
    """What each layer reading the tensor of ``source`` sends back: (reader, its gradient)."""
    out = []
    for reader in readers(d, source):
        if reader is None:
            continue
        layer = d.layers[reader]
        assert layer.node is not None
        out.append((reader, layer.read_grads[layer.node.reads.index(source)]))
    return out


def merge_context(
    d: Derivation, source: int | None, p: SymcnnLatexPrinter, detail: str
) -> dict[str, Any] | None:
    r"""Where several layers read the tensor of ``source`` (None: the network input): its
    gradient is the sum of what each sends back, written for the tensor and for one entry
    (every entry in full detail). None when one layer alone reads it.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("residual"))
        >>> m = merge_context(d, None, SymcnnLatexPrinter(d.table), "short")
        >>> print(m["statement"])
        \frac{\partial E}{\partial x} = \frac{\partial_{(0)} E}{\partial x} + \frac{\partial_{(5)} E}{\partial x}
    """
    parts = contributions(d, source)
    if len(parts) < 2:
        return None
    grid = written(d, source)
    total = d.input_grad() if source is None else d.layers[source].delta
    assert total is not None
    delta = d.layers[source].grid(Role.DELTA) if source is not None else None
    name = rf"\frac{{\partial E}}{{\partial {grid.latex}}}"
    vias = [layout.via_label(name, reader) for reader, _ in parts]
    head = f"{delta.latex} = " if delta is not None else ""
    flat = [arr.ravel() for _, arr in parts]

    def row(i: int) -> dict[str, Any]:
        wrt = total.ravel()[i].wrt
        lhs = p.gradient_name(wrt)
        if delta is not None:
            lhs = f"{p.symbol(delta.symbols.ravel()[i])} = {lhs}"
        named = " + ".join(part_name(p, wrt, reader) for reader, _ in parts)
        pieces = []
        for arr in flat:
            terms = [term_string(p, t) for t in arr[i].terms]
            text = str(short_sum(p, terms, 3))
            pieces.append(f"\\left({text}\\right)" if len(terms) > 1 else text)
        return {"lhs": Tex(lhs), "named": Tex(named), "sum": Tex(p.total(pieces))}

    rows = layout.elided_rows(total.size, row) if detail == "full" else [row(representative(total))]
    return {
        "name": Tex(grid.latex),
        "source": source,
        "readers": [reader for reader, _ in parts],
        "statement": Tex(f"{head}{name} = " + " + ".join(vias)),
        "rows": rows,
    }

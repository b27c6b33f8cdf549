"""The LaTeX output of `symcnn grad`: align* blocks and bmatrix forms, ready to paste."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.symbols import Role
from ..document.model import DeltaBlock, Document, ForwardBlock, GradientBlock, QuantityBlock
from .bulk import chain_strings, forward_strings
from .matrices import bmatrix, slice_labels, slices_2d
from .printers import SymcnnLatexPrinter, chain_sum_string, forward_string


def _align(rows: list[str], comment: str = "") -> str:
    head = f"% {comment}\n" if comment else ""
    return head + "\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}"


def _forward_rows(block: ForwardBlock, p: SymcnnLatexPrinter) -> list[str]:
    layer = block.layer
    rows = [
        f"{p.symbol(stage.grid.symbols[idx])} &= {forward_string(p, stage.terms[idx])}"
        for stage in layer.stages
        for idx in np.ndindex(*stage.grid.shape)
    ]
    z = layer.grid(Role.OUTPUT).symbols.reshape(-1)
    rhs = forward_strings(p, layer.forward).reshape(-1)
    return rows + [f"{p.symbol(s)} &= {text}" for s, text in zip(z, rhs)]


def _quantity_rows(block: QuantityBlock, p: SymcnnLatexPrinter) -> list[str]:
    names = block.layer.stages[block.stage].delta.symbols.ravel()
    return [
        f"{p.symbol(names[k])} = {p.gradient_name(cs.wrt)} &= {chain_sum_string(p, cs)}"
        for k, cs in enumerate(block.sums.ravel())
    ]


def _printed(sums: np.ndarray, p: SymcnnLatexPrinter) -> np.ndarray:
    return chain_strings(p, sums)


def lone_latex(doc: Document) -> str:
    r"""A lone layer: ``align*`` blocks (forward and every gradient entry) and bmatrix forms.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.document.build import document
        >>> tex = lone_latex(document(derive(Network.of(Linear(2, input=(3,))))))
        >>> r"\frac{\partial E}{\partial w_{23}}" in tex
        True
    """
    d = doc.derivation
    p = SymcnnLatexPrinter(d.table)
    out: list[str] = [f"% symcnn {d.spec.describe()}"]
    out += [_align([row for b in doc.forward for row in _forward_rows(b, p)])]
    out += [_align(_quantity_rows(b, p)) for b in doc.backward if isinstance(b, QuantityBlock)]
    blocks = [b for b in doc.backward if isinstance(b, GradientBlock)]
    # each entry is printed once and used in both its align* row and its bmatrix cell
    printed = [_printed(b.sums, p) for b in blocks]
    for block, cells in zip(blocks, printed):
        rows = [
            f"{p.gradient_name(cs.wrt)} &= {text}"
            for cs, text in zip(block.sums.ravel(), cells.ravel())
        ]
        out.append(_align(rows))
    base = d.network.index_base
    for block, cells in zip(blocks, printed):
        grid = block.layer.grid(block.role)
        batch = grid.batch and block.sums.ndim > 2  # a [B, N] matrix: one row per sample
        labels = slice_labels(block.sums.shape, grid.latex, base, gradient=True, batch=batch)
        for label, (_lead, sl) in zip(labels, slices_2d(cells)):
            out.append(f"\\[\n{label} = {bmatrix(sl)}\n\\]")
    return "\n\n".join(out) + "\n"


def network_latex(doc: Document) -> str:
    r"""One ``align*`` block per layer: forward, δ (naming its source), parameter gradients.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.document.build import document
        >>> r"\delta^{(0)}_{11}" in network_latex(document(derive(preset("seed003"))))
        True
    """
    d = doc.derivation
    p = SymcnnLatexPrinter(d.table)
    out = [f"% symcnn network: {d.network.describe()}"]
    out.append(_align([row for b in doc.forward for row in _forward_rows(b, p)], "forward"))
    for block in doc.backward:
        layer = block.layer
        if isinstance(block, DeltaBlock):
            dsyms = layer.grid(Role.DELTA).symbols
            sums: Any = block.sums
            texts = _printed(sums, p)
            rows = [
                f"{p.symbol(dsyms[idx])} = {p.gradient_name(sums[idx].wrt)} &= {texts[idx]}"
                for idx in np.ndindex(*layer.output_shape)
            ]
            origins = [
                "the loss" if source is None else f"layer {source}"
                for source in block.sources or (block.source,)
            ]
            merge = " (their deltas add up)" if len(origins) > 1 else ""
            out.append(_align(rows, f"{layer.name}: delta from {' and '.join(origins)}{merge}"))
        elif isinstance(block, QuantityBlock):
            stage = layer.stages[block.stage]
            out.append(
                _align(_quantity_rows(block, p), f"{layer.name}: delta of {stage.grid.name}")
            )
        elif block.role is Role.INPUT:
            for _lead, sl in slices_2d(block.sums):
                cells = _printed(sl, p)
                out.append(
                    "% input gradient\n\\[\n\\frac{\\partial E}{\\partial "
                    f"{layer.grid(Role.INPUT).latex}}} = {bmatrix(cells)}\n\\]"
                )
        else:
            texts = _printed(block.sums, p).reshape(-1)
            rows = [
                f"{p.gradient_name(cs.wrt)} &= {text}"
                for cs, text in zip(block.sums.ravel(), texts)
            ]
            out.append(_align(rows, block.name))
    return "\n\n".join(out) + "\n"

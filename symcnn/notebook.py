"""A compact LaTeX view of a derivation for Jupyter (``Derivation._repr_latex_``), MathJax-safe."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .layout import slice_labels
from .printing import SymcnnLatexPrinter, describe, forward_string, term_string
from .sheetprint import matrix, short_sum
from .symbols import Role

if TYPE_CHECKING:
    from .derive import Derivation

#: Matrices in a notebook show at most this many rows and columns, and slices per tensor.
NOTEBOOK_CAP = 6
NOTEBOOK_SLICES = 4


def notebook_latex(d: Derivation) -> str:
    r"""One ``$$\begin{aligned}…$$`` block: the layer, one forward entry, every gradient as
    a matrix (long sums and large matrices elided) and the identities with their status.

    Example:
        >>> from symcnn import Conv2D
        >>> text = notebook_latex(Conv2D(input=(3, 3), kernel=(2, 2)).derive())
        >>> text.startswith("$$") and r"\begin{bmatrix}" in text
        True
    """
    p = SymcnnLatexPrinter(d.table)
    # describe() is symcnn's own ASCII text (no user input): MathJax's \text takes it as is
    rows = [r"&\text{" + describe(d.spec) + "}"]
    z = d.forward.grids[Role.OUTPUT].symbols
    first = (0,) * len(d.output_shape)
    rows.append(f"{p.symbol(z[first])} &= {forward_string(p, d.forward.terms[first])}")
    for role, grads in d.grads.items():
        name = d.forward.grids[role].latex
        cells = np.vectorize(
            lambda cs: short_sum(p, [term_string(p, t) for t in cs.terms], keep=2),
            otypes=[object],
        )(grads)
        labels = slice_labels(cells.shape, name, d.spec.index_base, gradient=True)
        slices = list(zip(labels, _planes(cells)))
        for label, sl in slices[:NOTEBOOK_SLICES]:
            rows.append(f"{label} &= {matrix(sl, NOTEBOOK_CAP)}")
        if len(slices) > NOTEBOOK_SLICES:
            rows.append(rf"&\text{{... and {len(slices) - NOTEBOOK_SLICES} more slices}}")
    for r in d.identities:
        mark = r"\text{proven: }" if r.proven else r"\text{NOT proven: }"
        rows.append(f"&{mark} {r.latex}")
    return "$$\\begin{aligned}\n" + " \\\\[2pt]\n".join(rows) + "\n\\end{aligned}$$"


def _planes(cells: np.ndarray) -> list[np.ndarray]:
    """The 2-D slices of a tensor, in the order `symcnn.layout.slice_labels` labels them."""
    if cells.ndim == 1 or cells.size == 1:
        return [cells.reshape(1, -1)]
    return [cells[idx] for idx in np.ndindex(*cells.shape[:-2])]

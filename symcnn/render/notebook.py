"""A compact LaTeX view of a derivation for Jupyter (``_repr_latex_``), MathJax-safe."""

from __future__ import annotations

import numpy as np

from ..core.symbols import Role
from ..document.model import Document, GradientBlock
from .matrices import matrix, short_sum, slice_labels
from .printers import SymcnnLatexPrinter, forward_string, term_string

#: Matrices in a notebook show at most this many rows and columns, and slices per tensor.
NOTEBOOK_CAP = 6
NOTEBOOK_SLICES = 4


def notebook_latex(doc: Document) -> str:
    r"""One ``$$\begin{aligned}…$$`` block: what was derived, one forward entry, every gradient
    as a matrix (long sums and large matrices elided) and the identities with their status.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.document.build import document
        >>> text = notebook_latex(document(derive(Network.of(Linear(2, input=(3,))))))
        >>> text.startswith("$$") and r"\begin{bmatrix}" in text
        True
    """
    d = doc.derivation
    p = SymcnnLatexPrinter(d.table)
    # the descriptions are symcnn's own ASCII text (no user input): MathJax's \text takes it
    head = d.spec.describe() if d.lone else f"network: {d.network.describe()}"
    rows = [r"&\text{" + head.replace("→", "->") + "}"]
    first = d.layers[0]
    z = first.grid(Role.OUTPUT).symbols
    entry = (0,) * len(first.output_shape)
    rows.append(f"{p.symbol(z[entry])} &= {forward_string(p, first.forward.terms[entry])}")
    base = d.network.index_base
    for block in doc.backward:
        if not isinstance(block, GradientBlock):
            continue
        cells = np.vectorize(
            lambda cs: short_sum(p, [term_string(p, t) for t in cs.terms], keep=2),
            otypes=[object],
        )(block.sums)
        name = block.layer.grid(block.role).latex
        labels = slice_labels(cells.shape, name, base, gradient=True)
        slices = list(zip(labels, _planes(cells)))
        for label, sl in slices[:NOTEBOOK_SLICES]:
            rows.append(f"{label} &= {matrix(sl, NOTEBOOK_CAP)}")
        if len(slices) > NOTEBOOK_SLICES:
            rows.append(rf"&\text{{... and {len(slices) - NOTEBOOK_SLICES} more slices}}")
    for line in doc.proofs:
        mark = r"\text{proven: }" if line.proof.proven else r"\text{NOT proven: }"
        rows.append(f"&{mark} {line.proof.latex}")
    return "$$\\begin{aligned}\n" + " \\\\[2pt]\n".join(rows) + "\n\\end{aligned}$$"


def _planes(cells: np.ndarray) -> list[np.ndarray]:
    """The 2-D slices of a tensor, in the order `slice_labels` labels them."""
    if cells.ndim == 1 or cells.size == 1:
        return [cells.reshape(1, -1)]
    return [cells[idx] for idx in np.ndindex(*cells.shape[:-2])]

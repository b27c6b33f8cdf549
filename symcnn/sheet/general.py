"""``symcnn sheet --general``: a sheet of the size-independent derivation alone, any size.

Each layer gets its forward index formula and SymPy's chain rule step by step (the context
``chain.tex.j2`` reads, built by `symcnn.sheet.layer.chain`), then every gradient with the
exact index ranges of its configuration (`symcnn.derivation.general`). No entry is expanded,
so no set-up tables, entries, identities, figures or numbers.
"""

from __future__ import annotations

from typing import Any

from ..core.symbols import SymbolTable
from ..derivation.general import GeneralGradient, GeneralLayer
from ..render.tex import Tex, escape_tex
from .layer import chain
from .printers import IndexedLatexPrinter
from .tex import render


def _formula(ip: IndexedLatexPrinter, f: GeneralGradient) -> dict[str, Any]:
    return {
        "role": f.role.value,
        "lhs": Tex(ip.doprint(f.lhs)),
        "rhs": Tex(ip.doprint(f.rhs)),
        "ranges": [
            {
                "index": Tex(ip.doprint(b.index)),
                "lo": Tex(ip.doprint(b.lo)),
                "hi": Tex(ip.doprint(b.hi)),
            }
            for b in f.ranges
        ],
        "conditions": [Tex(ip.doprint(c)) for c in f.conditions],
    }


def general_context(heading: str, g: GeneralLayer, layer_id: int = 1) -> dict[str, Any]:
    """What ``layer_general.tex.j2`` (and the ``chain.tex.j2`` it includes) needs of a layer."""
    ip = IndexedLatexPrinter(SymbolTable([]))
    return {
        "id": layer_id,
        "template": "layer_general.tex.j2",
        "heading": heading or g.layer.title,
        "describe": g.layer.describe(),
        "sym": {"input": Tex("a"), "output": Tex("z"), "delta": Tex(r"\delta")},
        "forward": _formula(ip, g.forward),
        "chain": chain(ip, g.general, list(g.rules)),
        "exact": [_formula(ip, f) for f in g.gradients],
    }


def general_sheet_tex(layers: list[tuple[str, GeneralLayer]], title: str | None = None) -> str:
    r"""The LaTeX document of the size-independent derivation of one layer or of a network.

    Example:
        >>> from symcnn.derivation.general import general_layer
        >>> from symcnn import Linear
        >>> tex = general_sheet_tex([("", general_layer(Linear(2, input=(3,))))])
        >>> r"\partial w_{i',\,j'}" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    contexts = [general_context(head.rstrip(": "), g, k + 1) for k, (head, g) in enumerate(layers)]
    kinds = ", ".join(dict.fromkeys(g.layer.title for _, g in layers))
    return render(
        "sheet.tex.j2",
        title=title if title is not None else f"Backpropagation for any size: {kinds}",
        subtitle=escape_tex("; ".join(g.layer.describe() for _, g in layers[:3])),
        layers=contexts,
        max_matrix_cols=0,
    )

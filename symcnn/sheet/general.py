"""``symcnn sheet --general``: a sheet of the size-independent derivation alone, any size.

Each layer gets its forward index formula with the exact ranges of its configuration, and
for every gradient SymPy's chain rule step by step (``rule.tex.j2``, its context built by
`symcnn.sheet.parts.rule_context`) followed by the same gradient with exact ranges
(`symcnn.derivation.general`). No entry is expanded, so no set-up tables, entries,
identities, figures or numbers: ``general.tex.j2`` is the whole document.
"""

from __future__ import annotations

from typing import Any

from ..core.symbols import SymbolTable
from ..derivation.general import GeneralGradient, GeneralLayer
from ..render.matrices import shape_tex
from ..render.tex import Tex, escape_tex
from .i18n import translations
from .parts import rule_context
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


def general_context(heading: str, g: GeneralLayer) -> dict[str, Any]:
    """What ``general.tex.j2`` (and the ``rule.tex.j2`` it includes) needs of a layer."""
    ip = IndexedLatexPrinter(SymbolTable([]))
    rules = {r.role: r for r in g.rules}
    index = heading.split(":")[0].strip() if heading else ""
    return {
        "index": int(index) if index.isdigit() else None,
        "title": g.layer.title,
        "shapes": Tex(
            rf"\texttt{{{escape_tex(g.layer.kind)}}}: ${shape_tex(g.layer.input_shape)} \to "
            rf"{shape_tex(g.layer.output_shape)}$"
        ),
        "d": Tex(r"\delta"),
        "z": Tex("z"),
        "forward": _formula(ip, g.forward),
        "gradients": [
            {"rule": rule_context(ip, g.general, rules[f.role]), "exact": _formula(ip, f)}
            for f in g.gradients
        ],
    }


def general_sheet_tex(
    layers: list[tuple[str, GeneralLayer]], title: str | None = None, lang: str = "en"
) -> str:
    r"""The LaTeX document of the size-independent derivation of one layer or of a network.

    Example:
        >>> from symcnn.derivation.general import general_layer
        >>> from symcnn import Linear
        >>> tex = general_sheet_tex([("", general_layer(Linear(2, input=(3,))))])
        >>> r"\partial w_{i',\,j'}" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    tr = translations(lang)
    if title is None:
        kinds = ", ".join(tr.gettext(t) for t in dict.fromkeys(g.layer.title for _, g in layers))
        title = tr.gettext("Backpropagation for any size: %(kinds)s") % {"kinds": kinds}
    return render(
        "general.tex.j2",
        lang=lang,
        title=title,
        layers=[general_context(head.rstrip(": "), g) for head, g in layers],
        max_matrix_cols=0,
    )

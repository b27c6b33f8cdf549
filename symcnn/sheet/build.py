"""The one entry point of sheets: the LaTeX document of any derivation, a lone layer or a network."""

from __future__ import annotations

from ..derivation.derived import Derivation
from .layer import sheet_tex as _layer_sheet
from .network import network_tex as _network_sheet
from .options import SheetOptions


def sheet_tex(d: Derivation, options: SheetOptions | None = None) -> str:
    r"""The complete LaTeX document of a derivation sheet.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> tex = sheet_tex(derive(preset("seed003")))
        >>> r"\documentclass" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    options = options or SheetOptions()
    if d.network.lone:
        return _layer_sheet(d, options)
    return _network_sheet(d, options)

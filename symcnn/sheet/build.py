"""The one entry point of sheets: the LaTeX document of any derivation, a lone layer or a network."""

from __future__ import annotations

from ..derivation.derived import Derivation
from ..errors import SpecError
from .layer import sheet_tex as _layer_sheet
from .network import network_tex as _network_sheet
from .options import SheetOptions
from .tex import has_template


def check_sheet(d: Derivation) -> None:
    """A one-line `SpecError` for what sheets do not cover yet: mini-batches, branches and
    merges, and the kinds without a sheet template (grad and run derive them all).

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> check_sheet(derive(preset("residual")))
        Traceback (most recent call last):
        symcnn.errors.SpecError: sheets do not cover mini-batches yet (batch = 2); symcnn grad and symcnn run derive it
    """
    net = d.network
    where = "symcnn grad and symcnn run derive it"
    if net.batch is not None:
        raise SpecError(f"sheets do not cover mini-batches yet (batch = {net.batch}); {where}")
    if not net.chained:
        raise SpecError(
            f"sheets do not cover networks with branches or merges yet (from, inputs); {where}"
        )
    for layer in d.layers:
        if not has_template(layer.layer.template):
            raise SpecError(f"sheets do not cover {layer.kind} layers yet; {where}")


def sheet_tex(d: Derivation, options: SheetOptions | None = None) -> str:
    r"""The complete LaTeX document of a derivation sheet.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> tex = sheet_tex(derive(preset("seed003")))
        >>> r"\documentclass" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    check_sheet(d)
    options = options or SheetOptions()
    if d.network.lone:
        return _layer_sheet(d, options)
    return _network_sheet(d, options)

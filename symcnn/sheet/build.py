"""The one entry point of sheets: the LaTeX document of any derivation, a lone layer or a network."""

from __future__ import annotations

from typing import Any, cast

from ..core.symbols import Role
from ..derivation import index
from ..derivation.derived import Derivation
from ..kinds.loss import Loss
from ..numeric.engine import Engine, Run
from ..render.matrices import shape_tex, track_matrix_columns
from ..render.printers import SymcnnLatexPrinter
from ..render.tex import Tex, escape_tex
from .loss import loss_context
from .merges import merge_context
from .numbers import worked
from .options import SheetOptions
from .parts import layer_part, names_matrices, step_context
from .printers import IndexedLatexPrinter
from .tex import render


def sheet_tex(d: Derivation, options: SheetOptions | None = None) -> str:
    r"""The complete LaTeX document of a derivation sheet.

    In order: notation; the layer (its set-up) or the network (its table); the forward pass;
    the loss and the output error (a network) or where δ comes from (a lone layer); from
    the loss backwards, each layer's gradients, derived, proven and written out; with
    values, a worked example ending in one SGD step; the key formulas.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> tex = sheet_tex(derive(preset("seed003")))
        >>> r"\documentclass" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    options = options or SheetOptions()
    run = _run(d, options)
    lone = d.network.lone
    seen: set[Any] = set()
    with track_matrix_columns() as columns:
        parts = []
        for layer, lv in zip(d.layers, run.layers if run else [None] * len(d.layers)):
            values = {"input": lv.input, "delta": lv.delta} if lv is not None else None
            first = derivation_of(layer) not in seen
            parts.append(layer_part(d, layer, options, values, first=first))
            seen.add(derivation_of(layer))
        shown: dict[Any, int | None] = {}
        for part, layer in zip(reversed(parts), reversed(d.layers)):  # the backward pass's order
            kind = derivation_of(layer)
            part["first_back"] = kind not in shown
            part["same_as"] = shown.setdefault(kind, part["index"])
        p = SymcnnLatexPrinter(d.table)
        ip = IndexedLatexPrinter(d.table)
        net = d.network
        merges = [part["merge"] for part in parts if part["merge"]]
        into_input = merge_context(d, None, p, options.detail) if not lone else None
        context: dict[str, Any] = {
            "title": options.title,  # None: the template's own, in the sheet's language
            "subtitle": subtitle(d),
            "base": net.index_base,
            "lone": lone,
            "detail": options.detail,
            "input": {
                "name": Tex(d.input_grid.latex),
                "shape": shape_tex(net.input),
                "flat": len(net.input) == 1,
                "merge": into_input,
            },
            "batch": batch_context(d),
            "branched": not net.chained,
            "merged": bool(merges or into_input),
            "letters": sorted({part["letter"] for part in parts}),
            "ids": any(part["node_id"] for part in parts),
            "scaled": any(part["letter"] == "y" and part["params"] for part in parts),
            "layers": parts,
            "names": names_matrices(d.layers[0], p) if lone else [],
            "loss": loss_context(d, p, options.detail) if d.loss is not None else None,
            "numbers": worked(d, run, options) if run is not None else None,
            "ops": operators(d),
            "delta_steps": [
                step_context(ip, s) for s in index.output_delta_steps(d.layers[0].layer.lone[1])
            ]
            if lone
            else [],
        }
    context["key"] = key_formulas(parts, context["loss"], context["merged"])
    context["max_matrix_cols"] = max(columns, default=0)
    return render("sheet.tex.j2", lang=options.lang, **context)


def derivation_of(layer: Any) -> Any:
    """What makes two layers' derivations the same on a sheet: their kind, or, for layers
    with named quantities (batch norm on images or on vectors), their template."""
    return layer.layer.template if layer.stages else type(layer.layer)


def batch_context(d: Derivation) -> dict[str, Any] | None:
    """The mini-batch (None without one): its size B, how E reduces it, the sample index's
    first value, and the PyTorch expression of E (with ``y`` the output, ``t`` the target)."""
    net = d.network
    if net.batch is None:
        return None
    reduction = net.reduction if d.loss is not None else None
    return {
        "size": net.batch,
        "reduction": reduction,
        "mean": reduction == "mean",
        "torch": cast(Loss, d.loss.layer).torch_expression(reduction) if d.loss else None,
        # a layer with identities that treats the samples one by one (not batch norm)
        "per_sample_identities": any(layer.proofs and not layer.stages for layer in d.layers),
    }


def key_formulas(
    parts: list[dict[str, Any]], loss: dict[str, Any] | None, merged: bool = False
) -> list[dict[str, Any]]:
    """The closing box, in a single layer's names: the output error, then each kind's key
    formulas once (its identities, or SymPy's general results) with the layers it covers,
    from the last layer back; where paths merge, the sum of what every reader sends back."""
    rows: list[dict[str, Any]] = []
    if loss is not None and loss["output"] is not None:
        formula = Tex(rf"\delta = {loss['output_error']}")
        rows.append({"title": "", "layers": [], "formulas": [formula]})
    if merged:
        formula = Tex(
            r"\frac{\partial E}{\partial a} = \sum_{l} \frac{\partial_{(l)} E}{\partial a}"
        )
        rows.append({"title": "", "merge": True, "layers": [], "formulas": [formula]})
    groups: dict[str, dict[str, Any]] = {}
    for part in reversed(parts):
        if part["kind"] in groups:
            groups[part["kind"]]["layers"].append(part["index"])
            continue
        formulas = [Tex(f"{lhs} = {rhs}") for g in part["gradients"] for lhs, rhs in g["key"]]
        row = {"title": part["title"], "layers": [part["index"]], "formulas": formulas}
        groups[part["kind"]] = row
        if formulas:
            rows.append(row)
    for row in rows:
        row["count"] = len(row["layers"])
        row["layers"] = ", ".join(str(i) for i in sorted(i for i in row["layers"] if i is not None))
    return rows


def subtitle(d: Derivation) -> Tex:
    r"""The shapes through the layers, in no language: ``1 \times 3 \times 3 \to`` conv2d …

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> print(subtitle(derive(preset("seed003"))))
        $1 \times 3 \times 3$ $\to$ \texttt{conv2d} $1 \times 2 \times 2$ $\to$ \texttt{sigmoid} $1 \times 2 \times 2$ $\to$ \texttt{mse}
    """
    net = d.network
    parts = [f"${shape_tex(net.input)}$"]
    if net.batch is not None:  # the shapes are a sample's
        parts[0] = f"$B = {net.batch}$: {parts[0]}"
    for layer in d.layers:
        shape = shape_tex(layer.layer.output_shape)
        parts.append(rf"\texttt{{{escape_tex(layer.kind)}}} ${shape}$")
    if d.loss is not None:
        parts.append(rf"\texttt{{{escape_tex(d.loss.kind)}}}")
    return Tex(r" $\to$ ".join(parts))


def _run(d: Derivation, options: SheetOptions) -> Run | None:
    """The numbers of the worked example (None without values), with one SGD step."""
    if options.values is None:
        return None
    engine = Engine(d)
    run = engine.run(options.values)
    if d.loss is not None:
        run.sgd = engine.sgd(run, options.lr)
    return run


def operators(d: Derivation) -> list[str]:
    """The operators the sheet's formulas use (each defined once, where the notation is).

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> operators(derive(preset("seed000")))
        ['argmax', 'mask', 'odot', 'pad', 'rot180', 'star', 'up']
    """
    found: set[str] = set()
    for layer in d.layers:
        found |= layer.layer.operators()
    if d.loss is not None and any(Role.WEIGHT in layer.forward.grids for layer in d.layers):
        found.add("odot")
    return sorted(found)


def default_title(d: Derivation) -> str:
    """``Backpropagation through a max pooling layer`` or ``… through a network of 8 layers``.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> default_title(derive(preset("seed003")))
        'Backpropagation through a network of 2 layers'
    """
    if d.network.lone:
        return f"Backpropagation through a {d.spec.title} layer"
    n = len(d.layers)
    return f"Backpropagation through a network of {n} layer{'s' if n > 1 else ''}"

"""The derivation sheet of a whole network: every layer's printed parts, in the seeds' order."""

from __future__ import annotations

from typing import Any

from ..core.symbols import Role
from ..derivation.derived import Derivation, DerivedLayer
from ..derivation.index import loss_steps
from ..kinds.activation import _Elementwise
from ..kinds.loss import Loss
from ..numeric.engine import Engine, Run
from ..render.matrices import shape_tex, slice_labels, track_matrix_columns
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from . import layout
from .layer import layer_context, named, step_context
from .networked import network_worked
from .options import SheetOptions
from .printers import IndexedLatexPrinter
from .tex import render

#: The options of a network sheet are those of any sheet (the name of 0.1).
NetSheetOptions = SheetOptions


def network_tex(d: Derivation, options: NetSheetOptions | None = None) -> str:
    r"""The complete LaTeX document of a network's derivation sheet.

    In order: the layers and their shapes; the forward pass of every layer; the loss and
    the output δ; from the loss backwards, each layer's δ from the next one's and its
    parameter gradients; the matrix identities; with values, a worked example through
    every layer ending in one SGD step.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> tex = network_tex(derive(preset("seed003")))
        >>> r"\documentclass" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    options = options or NetSheetOptions()
    run = None
    if options.values is not None:
        numeric = Engine(d)
        run = numeric.run(options.values)
        run.sgd = numeric.sgd(run, options.lr)
    with track_matrix_columns() as columns:
        p = SymcnnLatexPrinter(d.table)
        context = {
            "title": options.title if options.title is not None else default_title(d),
            "subtitle": d.network.describe(),
            "base": d.network.index_base,
            "input": {
                "name": Tex(d.input_grid.latex),
                "shape": shape_tex(d.input_grid.shape),
            },
            "layers": [layer_view(d, layer, p, run, options) for layer in d.layers],
            "loss": loss_context(d, p),
            "numbers": network_worked(d, run, options) if run is not None else None,
        }
    context["max_matrix_cols"] = max(columns, default=0)
    return render("network.tex.j2", **context)


def default_title(d: Derivation) -> str:
    """``Backpropagation through a network of 8 layers``.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> default_title(derive(preset("seed003")))
        'Backpropagation through a network of 2 layers'
    """
    n = len(d.layers)
    return f"Backpropagation through a network of {n} layer{'s' if n > 1 else ''}"


def layer_view(
    d: Derivation,
    layer: DerivedLayer,
    p: SymcnnLatexPrinter,
    run: Run | None,
    options: NetSheetOptions,
) -> dict[str, Any]:
    r"""One layer's context: `symcnn.sheet.layer_context` in the network's names, split into
    the part that hands δ back to the layer before (``passback``) and its own parameters.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("seed003"))
        >>> view = layer_view(d, d.layers[1], SymcnnLatexPrinter(d.table), None, NetSheetOptions())
        >>> print(view["passback"]["entries"][0]["delta"], view["sym"]["output"])
        \delta^{(0)} a^{(1)}
    """
    assert layer.index is not None
    sheet_options = SheetOptions(illustrative_seed=options.illustrative_seed)
    values = None
    if run is not None:
        lv = run.layers[layer.index]  # the routing figure shows the worked example's numbers
        values = {"input": lv.input, "delta": lv.delta}
    ctx = layer_context(
        d, layer, sheet_options, layer_id=layer.index + 1, standalone=False, values=values
    )
    before = d.layers[layer.index - 1] if layer.index else None
    names = before.grid(Role.DELTA).symbols if before is not None else None
    passback = layout.entries(layer, p, Role.INPUT, names)
    if before is not None:
        delta = before.grid(Role.DELTA)
        labels = slice_labels(delta.shape, delta.latex, delta.index_base)
        passback["delta"] = Tex(delta.latex)
        passback["matrices"] = [
            {"label": Tex(f"{label} = {m['label']}"), "body": m["body"]}
            for label, m in zip(labels, passback["matrices"])
        ]
    new_roles = [r for r in ctx["names"] if r != Role.INPUT.value or before is None]
    ctx.update(
        index=layer.index,
        kind=layer.kind,
        name_lines=layout.pack(named(ctx["names"][r] for r in new_roles)),
        passback={
            "rules": [r for r in ctx["chain"] if r["role"] == Role.INPUT.value],
            "entries": [passback],
        },
        params={
            "rules": [r for r in ctx["chain"] if r["role"] != Role.INPUT.value],
            "entries": [e for e in ctx["entries"] if e["role"] != Role.INPUT.value],
        },
        has_params=bool(layer.params),
        shapes={"input": shape_tex(layer.input_shape), "output": shape_tex(layer.output_shape)},
        param_list=[
            {"name": name, "symbol": Tex(layer.grid(role).latex), "shape": shape_tex(shape)}
            for role, name in layer.params.items()
            for shape in [layer.grid(role).shape]
        ],
        delta_from=layer.delta_from,
    )
    return ctx


def delta_rows(layer: DerivedLayer, p: SymcnnLatexPrinter) -> list[dict[str, Any]]:
    r"""``δˡ_k = ∂E/∂(output entry k) = …`` for every entry of a layer's δ (elided when long).

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("seed003"))
        >>> row = delta_rows(d.layers[1], SymcnnLatexPrinter(d.table))[0]
        >>> print(row["lhs"], "=", row["lines"][0])
        \nabla a^{(1)}_{11} = \frac{\partial E}{\partial a^{(1)}_{11}} = a^{(1)}_{11} - t_{11}
    """
    assert layer.delta is not None
    names, sums = layer.grid(Role.DELTA).symbols.ravel(), layer.delta.ravel()

    def row(k: int) -> dict[str, Any]:
        lhs = Tex(f"{p.symbol(names[k])} = {p.gradient_name(sums[k].wrt)}")
        return layout.equation_row(lhs, [term_string(p, t) for t in sums[k].terms], p)

    return layout.elided_rows(len(sums), row)


def loss_context(d: Derivation, p: SymcnnLatexPrinter) -> dict[str, Any]:
    r"""The loss written out, ∂E/∂ŷ derived by SymPy, δ of the last layer, and the seeds'
    output δ ``(ŷ − t) ⊙ f'(z)`` when the network ends in an activation.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("seed003"))
        >>> print(loss_context(d, SymcnnLatexPrinter(d.table))["steps"][-1]["rhs"])
        a^{(1)}_{i',\,j'} - t_{i',\,j'}
    """
    loss, last = d.loss, d.layers[-1]
    assert loss is not None and isinstance(loss.layer, Loss)
    act = last.layer if isinstance(last.layer, _Elementwise) else None
    steps = loss_steps(loss.layer, d.network.index_base, act)
    bases = {
        "y": last.grid(Role.OUTPUT).latex,
        "t": loss.grid(Role.TARGET).latex,
        "z": last.grid(Role.INPUT).latex,
    }
    ip = IndexedLatexPrinter(d.table, bases)
    terms = [p.product([s]) for s in loss.forward.terms[()]]
    out: dict[str, Any] = {
        "kind": loss.kind,
        "yhat": Tex(bases["y"]),
        "target": Tex(bases["t"]),
        "definition": step_context(ip, steps.definition),
        "sizes": [{"sym": Tex(ip.doprint(s)), "value": v} for s, v in steps.sizes],
        "written": [layout.equation_row(Tex("E"), terms, p)],
        "steps": [step_context(ip, s) for s in steps.steps],
        "last": {
            "index": last.index,
            "kind": last.kind,
            "delta": Tex(last.grid(Role.DELTA).latex),
        },
        "rows": delta_rows(last, p),
        "output": None,
    }
    if act is not None and steps.factors is not None and len(d.layers) > 1:
        before = d.layers[-2]
        out["output"] = {
            "function": act.kind,
            "input": Tex(bases["z"]),
            "delta": Tex(before.grid(Role.DELTA).latex),
            "index": before.index,
            "lhs": Tex(ip.doprint(steps.output[0].lhs)),
            "factors": [Tex(ip.doprint(f)) for f in steps.factors if f != 1],  # identity: f' = 1
            "derived": Tex(ip.doprint(steps.output[0].rhs)),
        }
    return out

"""The derivation sheet of a whole network: every layer's printed parts, in the seeds' order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import layout
from .derive import Derivation
from .layout import shape_tex
from .netindexed import loss_steps
from .netnumeric import NetworkRun
from .netspec import Activation, Dense, Flatten
from .printing import SymcnnLatexPrinter, term_string
from .render import Tex, render
from .sheet import SheetOptions, layer_context, named, setup, step_context
from .sheetprint import IndexedLatexPrinter, track_matrix_columns
from .spec import MaxPool2D
from .symbols import Role

if TYPE_CHECKING:
    from .netderive import NetLayer, NetworkDerivation
    from .netfile import NetworkValues


@dataclass
class NetSheetOptions:
    """What to put on a network sheet besides the derivation: title, numbers, learning rate."""

    title: str | None = None
    values: NetworkValues | None = None
    values_source: str = ""
    lr: float = 0.1
    illustrative_seed: int = 0


def network_tex(d: NetworkDerivation, options: NetSheetOptions | None = None) -> str:
    r"""The complete LaTeX document of a network's derivation sheet.

    In order: the layers and their shapes; the forward pass of every layer; the loss and
    the output δ; from the loss backwards, each layer's δ from the next one's and its
    parameter gradients; the matrix identities; with values, a worked example through
    every layer ending in one SGD step.

    Example:
        >>> from symcnn.presets import preset
        >>> tex = network_tex(preset("seed003").derive())
        >>> r"\documentclass" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    from .networked import network_worked

    options = options or NetSheetOptions()
    run = None
    if options.values is not None:
        numeric = d.numeric()
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


def default_title(d: NetworkDerivation) -> str:
    """``Backpropagation through a network of 8 layers``.

    Example:
        >>> from symcnn.presets import preset
        >>> default_title(preset("seed003").derive())
        'Backpropagation through a network of 2 layers'
    """
    n = len(d.layers)
    return f"Backpropagation through a network of {n} layer{'s' if n > 1 else ''}"


def layer_view(
    d: NetworkDerivation,
    layer: NetLayer,
    p: SymcnnLatexPrinter,
    run: NetworkRun | None,
    options: NetSheetOptions,
) -> dict[str, Any]:
    r"""One layer's context: `symcnn.sheet.layer_context` in the network's names, split into
    the part that hands δ back to the layer before (``passback``) and its own parameters.

    Example:
        >>> from symcnn.presets import preset
        >>> d = preset("seed003").derive()
        >>> view = layer_view(d, d.layers[1], SymcnnLatexPrinter(d.table), None, NetSheetOptions())
        >>> print(view["passback"]["entries"][0]["delta"], view["sym"]["output"])
        \delta^{(0)} a^{(1)}
    """
    assert layer.index is not None
    derivation = Derivation(layer.spec, layer.forward, layer.grads, d.table, layer.identities)
    sheet_options = SheetOptions(illustrative_seed=options.illustrative_seed)
    if run is not None and isinstance(layer.spec, MaxPool2D):
        lv = run.layers[layer.index]  # the routing figure shows the worked example's numbers
        sheet_options.values = {"input": lv.input, "delta": lv.delta}
    ctx = layer_context(derivation, sheet_options, layer_id=layer.index + 1, standalone=False)
    before = d.layers[layer.index - 1] if layer.index else None
    names = before.grid(Role.DELTA).symbols if before is not None else None
    passback = layout.entries(derivation, p, Role.INPUT, names)
    if before is not None:
        delta = before.grid(Role.DELTA)
        labels = layout.slice_labels(delta.shape, delta.latex, delta.index_base)
        passback["delta"] = Tex(delta.latex)
        passback["matrices"] = [
            {"label": Tex(f"{label} = {m['label']}"), "body": m["body"]}
            for label, m in zip(labels, passback["matrices"])
        ]
    new_roles = [r for r in ctx["names"] if r != Role.INPUT.value or before is None]
    ctx.update(
        index=layer.index,
        kind=layer.kind.value,
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


def delta_rows(layer: NetLayer, p: SymcnnLatexPrinter) -> list[dict[str, Any]]:
    r"""``δˡ_k = ∂E/∂(output entry k) = …`` for every entry of a layer's δ (elided when long).

    Example:
        >>> from symcnn.presets import preset
        >>> d = preset("seed003").derive()
        >>> row = delta_rows(d.layers[1], SymcnnLatexPrinter(d.table))[0]
        >>> print(row["lhs"], "=", row["lines"][0])
        \delta^{(1)}_{11} = \frac{\partial E}{\partial a^{(1)}_{11}} = a^{(1)}_{11} - t_{11}
    """
    assert layer.delta is not None
    names, sums = layer.grid(Role.DELTA).symbols.ravel(), layer.delta.ravel()

    def row(k: int) -> dict[str, Any]:
        lhs = Tex(f"{p.symbol(names[k])} = {p.gradient_name(sums[k].wrt)}")
        return layout.equation_row(lhs, [term_string(p, t) for t in sums[k].terms], p)

    return layout.elided_rows(len(sums), row)


def loss_context(d: NetworkDerivation, p: SymcnnLatexPrinter) -> dict[str, Any]:
    r"""The loss written out, ∂E/∂ŷ derived by SymPy, δ of the last layer, and the seeds'
    output δ ``(ŷ − t) ⊙ f'(z)`` when the network ends in an activation.

    Example:
        >>> from symcnn.presets import preset
        >>> d = preset("seed003").derive()
        >>> print(loss_context(d, SymcnnLatexPrinter(d.table))["steps"][-1]["rhs"])
        a^{(1)}_{i',\,j'} - t_{i',\,j'}
    """
    loss, last = d.loss, d.layers[-1]
    act = last.spec if isinstance(last.spec, Activation) else None
    steps = loss_steps(loss.spec, act)
    bases = {
        "y": last.grid(Role.OUTPUT).latex,
        "t": loss.grid(Role.TARGET).latex,
        "z": last.grid(Role.INPUT).latex,
    }
    ip = IndexedLatexPrinter(d.table, bases)
    terms = [p.product([s]) for s in loss.forward.terms[()]]
    out: dict[str, Any] = {
        "kind": loss.kind.value,
        "yhat": Tex(bases["y"]),
        "target": Tex(bases["t"]),
        "definition": step_context(ip, steps.definition),
        "sizes": [{"sym": Tex(ip.doprint(s)), "value": v} for s, v in steps.sizes],
        "written": [layout.equation_row(Tex("E"), terms, p)],
        "steps": [step_context(ip, s) for s in steps.steps],
        "last": {
            "index": last.index,
            "kind": last.kind.value,
            "delta": Tex(last.grid(Role.DELTA).latex),
        },
        "rows": delta_rows(last, p),
        "output": None,
    }
    if act is not None and steps.factors is not None and len(d.layers) > 1:
        before = d.layers[-2]
        out["output"] = {
            "function": act.kind.value,
            "input": Tex(bases["z"]),
            "delta": Tex(before.grid(Role.DELTA).latex),
            "index": before.index,
            "lhs": Tex(ip.doprint(steps.output[0].lhs)),
            "factors": [Tex(ip.doprint(f)) for f in steps.factors if f != 1],  # identity: f' = 1
            "derived": Tex(ip.doprint(steps.output[0].rhs)),
        }
    return out


# --- set-up of the network-only layers (the conv and pooling ones are in symcnn.sheet) ----


@setup.register
def _dense_setup(spec: Dense, d: Derivation) -> dict[str, Any]:
    return {
        "base": spec.index_base,
        "channels": 1,
        "in": spec.in_features,
        "out": spec.out_features,
        "weight_shape": shape_tex(spec.weight_shape),
        "bias": spec.bias,
        "bias_shape": shape_tex(spec.bias_shape or ()),
    }


@setup.register
def _activation_setup(spec: Activation, d: Derivation) -> dict[str, Any]:
    return {
        "base": spec.index_base,
        "channels": spec.shape[0] if len(spec.shape) == 3 else 1,
        "function": spec.kind.value,
        "shape": shape_tex(spec.shape),
    }


@setup.register
def _flatten_setup(spec: Flatten, d: Derivation) -> dict[str, Any]:
    return {
        "base": spec.index_base,
        "channels": spec.input_shape[0] if len(spec.input_shape) == 3 else 1,
        "input_shape": shape_tex(spec.input_shape),
        "product": Tex(r" \cdot ".join(str(n) for n in spec.input_shape)),
        "size": int(np.prod(spec.input_shape)),
    }

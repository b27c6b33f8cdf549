"""A network's worked example: every layer's formulas with the run's numbers, then one SGD step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.symbols import Grid, Role
from ..render.matrices import Matrix, tex_width
from ..render.printers import SymcnnLatexPrinter
from ..render.tex import Tex
from .layout import LINE_WIDTH, pack
from .printers import NumberLatexPrinter, fmt_number
from .worked import forward_rows, number_slices, sum_rows

if TYPE_CHECKING:
    from ..derivation.derived import Derivation, DerivedLayer
    from ..numeric.engine import Run
    from .options import SheetOptions


def symbol_values(d: Derivation, run: Run) -> dict[str, float]:
    r"""Symbol name → number for every tensor of the run: x, t, parameters, outputs, δs.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.numeric.engine import Engine
        >>> from symcnn.numeric.values import random_values
        >>> net = preset("seed003")
        >>> d = derive(net)
        >>> values = symbol_values(d, Engine(d).run(random_values(net, 0)))
        >>> len(values), values["x_11"] == float(random_values(net, 0).input[0, 0, 0])
        (37, True)
    """
    out: dict[str, float] = {}

    def put(grid: Grid, arr: np.ndarray) -> None:
        for sym, value in zip(grid.symbols.ravel(), np.asarray(arr, dtype=float).ravel()):
            out[str(sym)] = float(value)

    assert run.values.target is not None, "a network's run has a target"
    put(d.input_grid, run.values.input)
    put(d.target_grid, run.values.target)
    for layer, lv in zip(d.layers, run.layers):
        put(layer.grid(Role.OUTPUT), lv.output)
        put(layer.grid(Role.DELTA), lv.delta)
        for role, name in layer.params.items():
            put(layer.grid(role), run.values.params[name])
    return out


def _matrices(arr: np.ndarray, grid: Grid, gradient: bool = False) -> list[dict[str, Any]]:
    return number_slices(arr, grid.latex, grid.index_base, gradient)


def _winners(layer: DerivedLayer, lv: Any, p: SymcnnLatexPrinter) -> list[dict[str, Tex]]:
    """For every window of a max-pool layer: its output, the input cell that won, the value."""
    cells = layer.grid(Role.INPUT).symbols
    outs = layer.grid(Role.OUTPUT).symbols
    return [
        {
            "out": Tex(p.symbol(outs[idx])),
            "cell": Tex(p.symbol(cells[lv.winners[idx]])),
            "value": Tex(fmt_number(float(lv.output[idx]))),
        }
        for idx in np.ndindex(*layer.output_shape)
    ]


def _sgd_line(old: dict, grad: dict, new: dict, lr: float) -> dict[str, Any]:
    """``θ(t+1) = θ − η·∂E/∂θ = θ'`` for one slice; on two lines when the three are wide."""
    eta, body = fmt_number(lr), grad["body"]
    if isinstance(body, Matrix):
        step = f"{eta} {body}"
    else:  # a number: the product needs its dot (and a negative one its brackets)
        step = rf"{eta} \cdot ({body})" if body.startswith("-") else rf"{eta} \cdot {body}"
    width = sum(getattr(m["body"], "width", tex_width(m["body"])) for m in (old, grad, new))
    return {
        "label": old["label"],
        "old": old["body"],
        "step": Tex(step),
        "new": new["body"],
        "split": width > LINE_WIDTH,
    }


def network_worked(d: Derivation, run: Run, options: SheetOptions) -> dict[str, Any]:
    r"""Numbers through every layer: forward rows, the loss, every δ from the loss back (with
    the max-pool winners), the parameter gradients, ∂E/∂x, and the SGD step.

    Every number is the run's (`symcnn.netnumeric`, the lambdified formulas); this only
    prints them next to the formulas they came from.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.numeric.engine import Engine
        >>> from symcnn.numeric.values import random_values
        >>> from symcnn.sheet.options import SheetOptions
        >>> net = preset("seed003")
        >>> d = derive(net)
        >>> run = Engine(d).run(random_values(net, 0))
        >>> run.sgd = Engine(d).sgd(run, 0.1)
        >>> print(*[b["delta"] for b in network_worked(d, run, SheetOptions())["backward"]])
        \nabla a^{(1)} \delta^{(0)}
    """
    p = SymcnnLatexPrinter(d.table)
    nump = NumberLatexPrinter(d.table, symbol_values(d, run))
    given = [*_matrices(run.values.input, d.input_grid)]
    for layer in d.layers:
        for role, name in layer.params.items():
            given += _matrices(run.values.params[name], layer.grid(role))
    assert run.values.target is not None and d.loss is not None and run.loss is not None
    given += _matrices(run.values.target, d.target_grid)

    forward = []
    for layer, lv in zip(d.layers, run.layers):
        forward.append(
            {
                "index": layer.index,
                "kind": layer.kind,
                "rows": forward_rows(
                    layer.forward, layer.grid(Role.OUTPUT).symbols, lv.output, p, nump
                ),
                "matrices": pack(_matrices(lv.output, layer.grid(Role.OUTPUT))),
                "winners": _winners(layer, lv, p) if lv.winners is not None else None,
            }
        )
    loss_rows = forward_rows(
        d.loss.forward, d.loss.grid(Role.OUTPUT).symbols, np.array(run.loss), p, nump
    )

    backward = []
    for layer, lv in zip(reversed(d.layers), reversed(run.layers)):
        assert layer.delta is not None
        delta = layer.grid(Role.DELTA)
        params = [
            {
                "name": name,
                "symbol": Tex(layer.grid(role).latex),
                "rows": sum_rows(layer.grads[role], lv.grads[name], p, nump),
                "matrices": pack(_matrices(lv.grads[name], layer.grid(role), gradient=True)),
            }
            for role, name in layer.params.items()
        ]
        backward.append(
            {
                "index": layer.index,
                "kind": layer.kind,
                "delta": Tex(delta.latex),
                "from": layer.delta_from,
                "rows": sum_rows(layer.delta, lv.delta, p, nump, delta.symbols),
                "matrices": pack(_matrices(lv.delta, delta)),
                "params": params,
            }
        )
    assert run.sgd is not None
    sgd = []
    for layer in d.layers:
        for role, name in layer.params.items():
            grid = layer.grid(role)
            steps = zip(
                _matrices(run.values.params[name], grid),
                _matrices(run.grads[name], grid),
                _matrices(run.sgd.params[name], grid),
            )
            sgd.append({"name": name, "steps": [_sgd_line(*s, run.sgd.lr) for s in steps]})
    return {
        "source": options.values_source,
        "given": pack(given),
        "forward": forward,
        "loss": {"rows": loss_rows, "value": Tex(fmt_number(run.loss))},
        "backward": backward,
        "input_grad": pack(_matrices(run.grads["input"], d.input_grid, gradient=True)),
        "sgd": sgd,
        "lr": Tex(fmt_number(run.sgd.lr)),
        "loss_after": Tex(fmt_number(run.sgd.loss_after)),
    }

"""The JSON contracts of networks: the derivation (one entry per layer, δ links) and a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .jsonout import _nested
from .printing import JsonPrinter, chain_sum_string, forward_string
from .symbols import Role

if TYPE_CHECKING:
    from .netderive import NetLayer, NetworkDerivation
    from .netnumeric import NetworkRun


class NetJsonPrinter(JsonPrinter):
    """The layer contract's printer, plus σ, relu, softmax … written with SymPy built-ins only."""

    printmethod = "_symcnn_json"


CONVENTIONS = {
    "shapes": "PyTorch's without the batch axis: tensors [C, H, W], conv weight "
    "[O, C, KH, KW], dense weight [out, in], dense bias [out]",
    "flatten": "row-major over (C, H, W)",
    "names": "x input, t target, E loss; the output of layer l is z<l> (conv2d, dense), "
    "p<l> (pooling), a<l> (activation) or v<l> (flatten); d<l> is δ of layer l = dE/d(its "
    "output); parameters w<l>, b<l> are '<l>.weight', '<l>.bias'",
    "delta": "layers[l].delta.formula gives d<l> in the δ symbols of layer delta.from "
    "(or of the loss); layers[l].grad.input is the δ of layer l - 1, in d<l>",
    "max": "Piecewise conditions select the first maximum of a window (PyTorch's tie rule)",
    "relu": "relu'(0) = 0",
}


def _symbols(layer: NetLayer) -> dict[str, Any]:
    roles = (Role.INPUT, Role.OUTPUT, Role.WEIGHT, Role.BIAS, Role.DELTA, Role.TARGET)
    grids = layer.forward.grids
    return {r.value: _nested(grids[r].symbols, str) for r in roles if r in grids}


def _strings(grads: np.ndarray, p: NetJsonPrinter) -> Any:
    return _nested(grads, lambda cs: chain_sum_string(p, cs))


def layer_json(
    layer: NetLayer, p: NetJsonPrinter, printed: dict[int, Any] | None = None
) -> dict[str, Any]:
    """One layer in the layer contract's form, plus its δ link and parameter names.

    Example:
        >>> from symcnn.presets import preset
        >>> d = preset("seed003").derive()
        >>> layer_json(d.layers[0], NetJsonPrinter(d.table))["delta"]["formula"][0][0][0]
        'd1_11*(1/(1 + exp(-(z0_11))))*(1 - (1/(1 + exp(-(z0_11)))))'


    ``printed`` caches printed chain-sum arrays by ``id``: a layer's δ formulas are the
    input gradient of the layer after it, printed once.
    """
    cache = {} if printed is None else printed

    def strings(grads: np.ndarray) -> Any:
        if id(grads) not in cache:
            cache[id(grads)] = _strings(grads, p)
        return cache[id(grads)]

    entry: dict[str, Any] = {
        "index": layer.index,
        "layer": layer.kind.value,
        "config": layer.spec.config(),
        "input_shape": list(layer.input_shape),
        "output_shape": list(layer.output_shape),
        "symbols": _symbols(layer),
        "forward": _nested(layer.forward.terms, lambda terms: forward_string(p, terms)),
        "grad": {role.value: strings(grads) for role, grads in layer.grads.items()},
    }
    if layer.index is None:
        return entry
    assert layer.delta is not None
    entry["params"] = {role.value: name for role, name in layer.params.items()}
    entry["delta"] = {
        "symbols": _nested(layer.grid(Role.DELTA).symbols, str),
        "wrt": _nested(layer.grid(Role.OUTPUT).symbols, str),
        "from": "loss" if layer.delta_from is None else layer.delta_from,
        "formula": strings(layer.delta),
    }
    entry["identities"] = [
        {"name": r.name, "statement": r.statement, "proven": r.proven, "entries": r.entries}
        for r in layer.identities
    ]
    return entry


def network_json(d: NetworkDerivation, substitute: str | None = None) -> dict[str, Any]:
    """One object: the network, every layer's formulas and δ link, the loss, conventions.

    Every expression parses with ``sympy.parse_expr`` using SymPy built-ins only.

    Example:
        >>> from symcnn.presets import preset
        >>> j = preset("seed003").derive().to_json()
        >>> j["layers"][0]["delta"]["from"], j["loss"]["grad"]["input"][0][0][0]
        (1, 'a1_11 - t_11')
    """
    p = NetJsonPrinter(d.table)
    printed: dict[int, Any] = {}
    loss = layer_json(d.loss, p, printed)
    layers = [layer_json(layer, p, printed) for layer in reversed(d.layers)][::-1]
    out: dict[str, Any] = {
        "network": d.network.config(),
        "loss_definition": d.network.loss.definition,
        "symbols": {
            "input": _nested(d.input_grid.symbols, str),
            "target": _nested(d.target_grid.symbols, str),
        },
        "layers": layers,
        "loss": loss,
        "grad": {"input": layers[0]["grad"]["input"]},
        "all_proven": d.all_proven,
        "conventions": CONVENTIONS,
    }
    for layer, entry in zip(d.layers, layers):
        for role, name in layer.params.items():
            out["grad"][name] = entry["grad"][role.value]
    if substitute:
        subs = d.substituted(forward=substitute == "all")
        out["substituted"] = {
            "level": substitute,
            "formulas": {k: _nested(v, p.doprint) for k, v in subs.items()},
        }
    return out


def _cells(arr: np.ndarray, fn: Any) -> Any:
    """Nested lists of ``fn(entry)`` for an object array whose entries may be tuples."""
    if arr.ndim == 1:
        return [fn(arr[i]) for i in range(arr.shape[0])]
    return [_cells(arr[i], fn) for i in range(arr.shape[0])]


def _list(arr: np.ndarray | None) -> Any:
    return None if arr is None else np.asarray(arr, dtype=float).tolist()


def run_json(d: NetworkDerivation, run: NetworkRun) -> dict[str, Any]:
    """The numbers of a run: loss, output, every layer's values and δ, gradients, SGD step.

    Example:
        >>> from symcnn.presets import preset
        >>> from symcnn.netfile import random_values
        >>> d = preset("seed000").derive()
        >>> j = run_json(d, d.evaluate(random_values(d.network, 0)))
        >>> j["layers"][1]["winners"]
        [[['z0_11', 'z0_14'], ['z0_32', 'z0_44']]]
    """
    layers = []
    for values, layer in zip(run.layers, d.layers):
        entry: dict[str, Any] = {
            "index": values.index,
            "layer": layer.kind.value,
            "output_name": layer.grid(Role.OUTPUT).name,
            "output": _list(values.output),
            "delta": _list(values.delta),
            "delta_from": "loss"
            if values.delta_from is None and run.delta_at is None
            else ("given" if values.delta_from is None else values.delta_from),
            "grad": {k: _list(v) for k, v in values.grads.items()},
        }
        if values.winners is not None:
            names = layer.grid(Role.INPUT).symbols
            entry["winners"] = _cells(values.winners, lambda cell, g=names: str(g[cell]))
            entry["winner_index"] = _cells(values.winners, list)
        layers.append(entry)
    out: dict[str, Any] = {
        "network": d.network.describe(),
        "loss": run.loss,
        "output": _list(run.output),
        "target": _list(run.values.target),
        "input": _list(run.values.input),
        "params": {k: _list(v) for k, v in run.values.params.items()},
        "grad": {k: _list(v) for k, v in run.grads.items()},
        "layers": layers,
    }
    if run.delta_at is not None:
        out["delta_given_at"] = run.delta_at
    if run.sgd is not None:
        out["sgd"] = {
            "lr": run.sgd.lr,
            "params": {k: _list(v) for k, v in run.sgd.params.items()},
            "loss_before": run.sgd.loss_before,
            "loss_after": run.sgd.loss_after,
        }
    return out

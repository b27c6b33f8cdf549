"""The JSON contracts: a lone layer's derivation, a network's (one entry per layer), and a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.progress import report
from ..core.symbols import Role
from ..derivation.derived import DerivedLayer
from ..document.model import Document, GradientBlock
from ..graph.network import INPUT
from ..kinds.registry import conventions, letters
from .bulk import chain_strings, forward_strings
from .printers import JsonPrinter, chain_sum_string, forward_string

if TYPE_CHECKING:
    from ..derivation.derived import Derivation
    from ..numeric.engine import Run


def nested(arr: np.ndarray, fn: Any) -> Any:
    """Nested lists of ``fn(entry)`` shaped like ``arr`` (a 0-d array gives one value).

    Example:
        >>> nested(np.arange(4).reshape(2, 2), str)
        [['0', '1'], ['2', '3']]
    """
    flat = [fn(x) for x in arr.ravel()]
    return np.array(flat, dtype=object).reshape(arr.shape).tolist() if arr.ndim else flat[0]


def _identities(layer: DerivedLayer) -> list[dict[str, Any]]:
    return [
        {"name": r.name, "statement": r.statement, "proven": r.proven, "entries": r.entries}
        for r in layer.proofs
    ]


def lone_json(doc: Document) -> dict[str, Any]:
    """One JSON-able object: layer, resolved config, shapes, symbol names, expressions, proofs.

    Every expression is a string that ``sympy.parse_expr`` reads with SymPy built-ins only.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.document.build import document
        >>> j = lone_json(document(derive(Network.of(Linear(1, input=(2,))))))
        >>> j["grad"]["weight"]
        [['d_1*a_1', 'd_1*a_2']]
    """
    d = doc.derivation
    layer = d.layers[0]
    p = JsonPrinter(d.table)
    grids = layer.forward.grids
    roles = [Role.INPUT, Role.WEIGHT, Role.BIAS, Role.DELTA]
    base = d.network.index_base
    return {
        "layer": layer.kind,
        "config": {**layer.layer.config(), "index_base": base},
        "output_shape": list(layer.output_shape),
        "symbols": {r.value: nested(grids[r].symbols, str) for r in roles if r in grids},
        "forward": forward_strings(p, layer.forward).tolist(),
        "grad": {
            b.role.value: chain_strings(p, b.sums).tolist()
            for b in doc.backward
            if isinstance(b, GradientBlock)
        },
        **({"quantities": _quantities(layer, p)} if layer.stages else {}),
        "identities": _identities(layer),
        "conventions": {
            "index_base": base,
            "delta": "d_... is dE/dz for the output entry z_... of the same index",
            "convolution": layer.layer.conventions.get("convolution"),
        },
    }


#: The network contract's conventions: the names, the δ links, and each kind's own.
CONVENTIONS = {
    **conventions(),
    "names": "x input, t target, E loss; the output of layer l is "
    + letters().replace("ˡ", "<l>")
    + "; d<l> is δ of layer l = dE/d(its output); parameters w<l>, b<l> are '<l>.weight', "
    "'<l>.bias'",
    "delta": "layers[l].delta.formula gives d<l> in the δ symbols of layer delta.from "
    "(or of the loss); when several layers read the output of layer l, delta.sources lists "
    "them all and the formula is the sum of what each sends back (delta.from is the first); "
    "layers[l].grad.input is the gradient of the first tensor layer l reads, "
    "layers[l].grad.inputs of each tensor it reads (layers[l].reads), in d<l>",
    "batch": "with a mini-batch every tensor but the parameters has a leading sample axis, "
    "and its symbols carry the sample as _n<k> (x_n2_11: entry 11 of sample 2)",
    "quantities": "a layer's named intermediate quantities (batch norm's mu<l>, var<l>, xh<l>) "
    "with their forward terms and their δ (dmu<l> …), in layers[l].quantities",
}


def _symbols(layer: DerivedLayer) -> dict[str, Any]:
    roles = (Role.INPUT, Role.OUTPUT, Role.WEIGHT, Role.BIAS, Role.DELTA, Role.TARGET)
    grids = layer.forward.grids
    return {r.value: nested(grids[r].symbols, str) for r in roles if r in grids}


def _quantities(layer: DerivedLayer, p: JsonPrinter) -> list[dict[str, Any]]:
    """A layer's named quantities (batch norm's μ, σ², x̂): symbols, forward terms, δ."""
    return [
        {
            "name": stage.grid.name,
            "symbols": nested(stage.grid.symbols, str),
            "forward": nested(stage.terms, lambda terms: forward_string(p, terms)),
            "delta": {
                "symbols": nested(stage.delta.symbols, str),
                "formula": nested(sums, lambda cs: chain_sum_string(p, cs)),
            },
        }
        for stage, sums in zip(layer.stages, layer.stage_deltas)
    ]


def layer_json(
    layer: DerivedLayer, p: JsonPrinter, base: int, printed: dict[int, Any] | None = None
) -> dict[str, Any]:
    """One layer in the layer contract's form, plus its δ link and parameter names.

    ``printed`` caches printed chain-sum arrays by ``id``: a layer's δ formulas are the
    input gradient of the layer after it, printed once.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("seed003"))
        >>> layer_json(d.layers[0], JsonPrinter(d.table), 1)["delta"]["formula"][0][0][0]
        'd1_11*(1/(1 + exp(-(z0_11))))*(1 - (1/(1 + exp(-(z0_11)))))'
    """
    cache = {} if printed is None else printed

    def strings(grads: np.ndarray) -> Any:
        if id(grads) not in cache:
            cache[id(grads)] = chain_strings(p, grads).tolist()
        return cache[id(grads)]

    config = layer.layer.config()
    if layer.index is not None:
        config = {**config, "index_base": base}
    entry: dict[str, Any] = {
        "index": layer.index,
        "layer": layer.kind,
        "config": config,
        "input_shape": list(layer.input_shape),
        "output_shape": list(layer.output_shape),
        "symbols": _symbols(layer),
        "forward": forward_strings(p, layer.forward).tolist(),
        "grad": {role.value: strings(grads) for role, grads in layer.grads.items()},
    }
    if layer.node is not None:
        reads = [INPUT if r is None else r for r in layer.node.reads]
        entry["reads"] = reads
        if len(reads) > 1:
            entry["grad"]["inputs"] = [strings(g) for g in layer.read_grads]
    if layer.stages:
        entry["quantities"] = _quantities(layer, p)
    if layer.index is None:
        return entry
    assert layer.delta is not None
    entry["params"] = {role.value: name for role, name in layer.params.items()}
    entry["delta"] = {
        "symbols": nested(layer.grid(Role.DELTA).symbols, str),
        "wrt": nested(layer.grid(Role.OUTPUT).symbols, str),
        "from": "loss" if layer.delta_from is None else layer.delta_from,
        "sources": ["loss" if s is None else s for s in layer.delta_sources],
        "formula": strings(layer.delta),
    }
    entry["identities"] = _identities(layer)
    return entry


def network_json(doc: Document, substitute: str | None = None) -> dict[str, Any]:
    """One object: the network, every layer's formulas and δ link, the loss, conventions.

    Every expression parses with ``sympy.parse_expr`` using SymPy built-ins only.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.document.build import document
        >>> j = network_json(document(derive(preset("seed003"))))
        >>> j["layers"][0]["delta"]["from"], j["loss"]["grad"]["input"][0][0][0]
        (1, 'a1_11 - t_11')
    """
    d = doc.derivation
    assert d.loss is not None and d.network.loss is not None
    p = JsonPrinter(d.table)
    base = d.network.index_base
    printed: dict[int, Any] = {}
    loss = layer_json(d.loss, p, base, printed)
    layers = []
    for done, layer in enumerate(reversed(d.layers)):
        report("printing", done, len(d.layers))
        layers.append(layer_json(layer, p, base, printed))
    layers.reverse()
    out: dict[str, Any] = {
        "network": d.network.config(),
        "loss_definition": d.network.loss.definition,
        "symbols": {
            "input": nested(d.input_grid.symbols, str),
            "target": nested(d.target_grid.symbols, str),
        },
        "layers": layers,
        "loss": loss,
        "grad": {"input": _printed(d.input_grad(), p, printed)},
        "input_sources": list(d.input_sources),
        "all_proven": doc.all_proven,
        "conventions": CONVENTIONS,
    }
    for layer, entry in zip(d.layers, layers):
        for role, name in layer.params.items():
            out["grad"][name] = entry["grad"][role.value]
    if substitute:
        subs = d.substituted(forward=substitute == "all")
        out["substituted"] = {
            "level": substitute,
            "formulas": {k: nested(v, p.doprint) for k, v in subs.items()},
        }
    return out


def _printed(sums: np.ndarray, p: JsonPrinter, cache: dict[int, Any]) -> Any:
    """Printed chain sums, from the cache when a layer's entry printed the same array."""
    if id(sums) not in cache:
        cache[id(sums)] = chain_strings(p, sums).tolist()
    return cache[id(sums)]


def _cells(arr: np.ndarray, fn: Any) -> Any:
    """Nested lists of ``fn(entry)`` for an object array whose entries may be tuples."""
    if arr.ndim == 1:
        return [fn(arr[i]) for i in range(arr.shape[0])]
    return [_cells(arr[i], fn) for i in range(arr.shape[0])]


def _list(arr: np.ndarray | None) -> Any:
    return None if arr is None else np.asarray(arr, dtype=float).tolist()


def run_json(d: Derivation, run: Run) -> dict[str, Any]:
    """The numbers of a run: loss, output, every layer's values and δ, gradients, SGD step.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.numeric.engine import Engine
        >>> from symcnn.numeric.values import random_values
        >>> d = derive(preset("seed000"))
        >>> j = run_json(d, Engine(d).run(random_values(d.network, 0)))
        >>> j["layers"][1]["winners"]
        [[['z0_12', 'z0_13'], ['z0_42', 'z0_44']]]
    """
    layers = []
    for values, layer in zip(run.layers, d.layers):
        entry: dict[str, Any] = {
            "index": values.index,
            "layer": layer.kind,
            "output_name": layer.grid(Role.OUTPUT).name,
            "output": _list(values.output),
            "delta": _list(values.delta),
            "delta_from": "loss"
            if values.delta_from is None and run.delta_at is None
            else ("given" if values.delta_from is None else values.delta_from),
            "delta_sources": ["loss" if s is None else s for s in values.delta_sources],
            "grad": {k: _list(v) for k, v in values.grads.items()},
        }
        if len(values.read_grads) > 1:
            entry["grad"]["inputs"] = [_list(g) for g in values.read_grads]
        if values.stages:
            entry["quantities"] = {
                stage.grid.name: {"value": _list(v), "delta": _list(dv)}
                for stage, v, dv in zip(layer.stages, values.stages, values.stage_deltas)
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

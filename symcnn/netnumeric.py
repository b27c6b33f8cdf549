"""Numbers from a network's formulas: lambdified forward and backward passes, max-pool winners, SGD."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SymcnnError
from .netfile import NetworkValues, check_values
from .numcompile import compile_exprs, compile_terms
from .spec import MaxPool2D
from .symbols import Grid, Role

if TYPE_CHECKING:
    from .netderive import NetLayer, NetworkDerivation


def _flat(grids: list[Grid]) -> list[Any]:
    return [s for g in grids for s in g.symbols.ravel()]


@dataclass
class LayerValues:
    """The numbers of one layer: its input, output, δ (∂E/∂output) and gradients.

    ``grads`` maps ``"input"`` (∂E/∂ the layer input, i.e. δ of the layer before) and each
    parameter name (``"0.weight"``) to an array. ``winners`` (max-pool only) holds, for every
    output entry, the 0-based input index ``(c, r, s)`` of the cell that won its window.
    """

    index: int
    kind: Any
    input: np.ndarray
    output: np.ndarray
    delta: np.ndarray
    delta_from: int | None
    grads: dict[str, np.ndarray]
    winners: np.ndarray | None = None


@dataclass
class NetworkRun:
    """A forward and backward pass with numbers: the loss, the output, every layer, the gradients.

    ``grads`` holds ``"input"`` and every parameter (``"<index>.weight"``) in its own shape.
    """

    values: NetworkValues
    loss: float
    output: np.ndarray
    layers: list[LayerValues]
    grads: dict[str, np.ndarray]
    delta_at: int | None = None
    sgd: SGDStep | None = field(default=None)


@dataclass
class SGDStep:
    """One step ``p ← p − η·∂E/∂p`` and the loss it leads to."""

    lr: float
    params: dict[str, np.ndarray]
    loss_before: float
    loss_after: float


class _Compiled:
    """The lambdified functions of one layer."""

    def __init__(self, layer: NetLayer) -> None:
        g = layer.forward.grids
        self.layer = layer
        self.param_roles = [r for r in (Role.WEIGHT, Role.BIAS, Role.TARGET) if r in g]
        fwd_args = _flat([g[Role.INPUT]] + [g[r] for r in self.param_roles])
        terms: Any = layer.forward.terms
        outputs = [[[s] for s in terms[i]] for i in np.ndindex(*layer.output_shape)]
        self.forward = compile_terms(fwd_args, outputs)
        self.back_roles = [r for r in (Role.INPUT, Role.WEIGHT, Role.BIAS) if r in layer.grads]
        sums = [
            [[t.delta, t.partial] for t in cs.terms]
            for r in self.back_roles
            for cs in layer.grads[r].ravel()
        ]
        delta = [g[Role.DELTA]] if Role.DELTA in g else []
        self.backward = compile_terms(fwd_args + _flat(delta), sums)
        self.winner_fn: Any = None
        if isinstance(layer.spec, MaxPool2D):
            input_sums: Any = layer.grads[Role.INPUT]
            cells = [
                (term.source, index)
                for index in np.ndindex(*layer.input_shape)
                for term in input_sums[index].terms
            ]
            partials = [
                term.partial
                for index in np.ndindex(*layer.input_shape)
                for term in input_sums[index].terms
            ]
            self.cells = cells
            self.winner_fn = compile_exprs(_flat([g[Role.INPUT]]), partials)

    def winners(self, inputs: np.ndarray) -> np.ndarray:
        """For each window, the input index of the cell whose max bracket evaluates to 1."""
        out = np.empty(self.layer.output_shape, dtype=object)
        flags = self.winner_fn(inputs.ravel())
        for (source, cell), flag in zip(self.cells, flags):
            if flag == 1.0 and out[source] is None:
                out[source] = cell
        return out


class NetworkNumeric:
    """Lambdified forward and backward passes of a derived network.

    Example:
        >>> from symcnn.presets import preset
        >>> from symcnn.netfile import random_values
        >>> net = preset("seed003")
        >>> run = net.derive().numeric().run(random_values(net, seed=1))
        >>> sorted(run.grads)
        ['0.bias', '0.weight', 'input']
    """

    def __init__(self, derivation: NetworkDerivation) -> None:
        self.derivation = derivation
        self.network = derivation.network
        self.layers = [_Compiled(layer) for layer in derivation.layers]
        self.loss = _Compiled(derivation.loss)

    def _params(self, comp: _Compiled, values: NetworkValues) -> list[np.ndarray]:
        return [
            values.target.ravel()
            if r is Role.TARGET
            else values.params[comp.layer.params[r]].ravel()
            for r in comp.param_roles
        ]

    def forward(self, values: NetworkValues) -> tuple[list[np.ndarray], float]:
        """Every layer's output (index 0 is the network input) and the loss E."""
        outputs = [values.input]
        for comp in self.layers:
            flat = np.concatenate([outputs[-1].ravel(), *self._params(comp, values)])
            outputs.append(comp.forward(flat).reshape(comp.layer.output_shape))
        flat = np.concatenate([outputs[-1].ravel(), *self._params(self.loss, values)])
        return outputs, float(self.loss.forward(flat)[0])

    def run(
        self, values: NetworkValues | dict[str, Any], delta_at: tuple[int, Any] | None = None
    ) -> NetworkRun:
        """Forward, then backward from the loss (or from a given δ of one layer).

        ``delta_at = (l, δ)`` starts the backward pass at layer l with the given δ (seed 000:
        "suppose I already have δH1, δH2"); later layers are then left out.
        """
        if not isinstance(values, NetworkValues):
            values = check_values(self.network, values)
        outputs, loss = self.forward(values)
        start = len(self.layers) - 1
        if delta_at is None:
            flat = np.concatenate([outputs[-1].ravel(), *self._params(self.loss, values)])
            delta = self.loss.backward(flat).reshape(self.network.output_shape)
        else:
            start, raw = delta_at
            if not 0 <= start < len(self.layers):
                raise SymcnnError(f"no layer {start}; layers are 0 … {len(self.layers) - 1}")
            shape = self.layers[start].layer.output_shape
            delta = np.asarray(raw, dtype=float)
            if delta.shape != shape:
                raise SymcnnError(
                    f"δ of layer {start} has shape {list(delta.shape)}, expected {list(shape)}"
                )
        grads: dict[str, np.ndarray] = {}
        per_layer: list[LayerValues] = []
        for index in range(start, -1, -1):
            comp = self.layers[index]
            layer = comp.layer
            inputs = outputs[index]
            flat = np.concatenate([inputs.ravel(), *self._params(comp, values), delta.ravel()])
            out = comp.backward(flat)
            pieces: dict[str, np.ndarray] = {}
            pos = 0
            for role in comp.back_roles:
                grid = layer.forward.grids[role]
                size = int(np.prod(grid.shape))
                name = "input" if role is Role.INPUT else layer.params[role]
                pieces[name] = out[pos : pos + size].reshape(grid.shape)
                pos += size
            per_layer.append(
                LayerValues(
                    index,
                    layer.kind,
                    inputs,
                    outputs[index + 1],
                    delta,
                    None if delta_at is not None and index == start else layer.delta_from,
                    pieces,
                    comp.winners(inputs) if comp.winner_fn is not None else None,
                )
            )
            grads.update({k: v for k, v in pieces.items() if k != "input"})
            delta = pieces["input"]
        per_layer.reverse()
        ordered = {"input": delta}
        ordered.update({k: grads[k] for k in self.network.param_shapes() if k in grads})
        return NetworkRun(
            values, loss, outputs[-1], per_layer, ordered, start if delta_at else None
        )

    def sgd(self, run: NetworkRun, lr: float) -> SGDStep:
        """``p ← p − η·∂E/∂p`` for every parameter, and the loss after the step."""
        if not np.isfinite(lr) or lr <= 0:
            raise SymcnnError(f"--lr must be a positive number, got {lr}")
        params = {
            name: p - lr * run.grads[name] if name in run.grads else p
            for name, p in run.values.params.items()
        }
        stepped = NetworkValues(run.values.input, run.values.target, params)
        _, after = self.forward(stepped)
        return SGDStep(lr, params, run.loss, after)

"""Numbers from a derivation's formulas: each layer compiled once, runs forward and back, SGD."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.functions import WindowMax
from ..core.progress import report
from ..core.symbols import Grid, Role
from ..derivation.backprop import chains_of
from ..errors import ValuesError
from .compile import compile_exprs, compile_terms
from .values import Values, check_values
from .vectorised import LayerPlan

if TYPE_CHECKING:
    from ..derivation.derived import Derivation, DerivedLayer


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
    kind: str
    input: np.ndarray
    output: np.ndarray
    delta: np.ndarray
    delta_from: int | None
    grads: dict[str, np.ndarray]
    winners: np.ndarray | None = None


@dataclass
class SGDStep:
    """One step ``p ← p − η·∂E/∂p`` and the loss it leads to."""

    lr: float
    params: dict[str, np.ndarray]
    loss_before: float
    loss_after: float


@dataclass
class Run:
    """A forward and backward pass with numbers: the loss, the output, every layer, the gradients.

    ``grads`` holds ``"input"`` and every parameter in its own shape. ``loss`` is None for a
    lone layer (its δ was given); ``delta_at`` the layer a given δ started from.
    """

    values: Values
    loss: float | None
    output: np.ndarray
    layers: list[LayerValues]
    grads: dict[str, np.ndarray]
    delta_at: int | None = None
    sgd: SGDStep | None = field(default=None)


class LayerEngine:
    """The compiled forward and backward passes of one layer (and its max-pool winners)."""

    def __init__(self, layer: DerivedLayer) -> None:
        g = layer.forward.grids
        self.layer = layer
        self.param_roles = [r for r in (Role.WEIGHT, Role.BIAS, Role.TARGET) if r in g]
        self.back_roles = [r for r in (Role.INPUT, Role.WEIGHT, Role.BIAS) if r in layer.grads]
        chains = {r: chains_of(layer.grads[r]) for r in self.back_roles}
        structure = layer.forward.structure
        if structure is None or any(c is None for c in chains.values()):
            self._compile_objects(layer)
            return
        roles = [Role.INPUT, *self.param_roles]
        sizes = {r: int(np.prod(g[r].shape)) for r in [*roles, Role.DELTA] if r in g}
        symbols = _flat([g[r] for r in roles])
        self.plan: LayerPlan | None = LayerPlan(
            structure,
            {r: c for r, c in chains.items() if c is not None},
            roles,
            sizes,
            int(np.prod(layer.output_shape)),
            symbols,
        )
        self.forward: Any = self.plan.forward
        self.backward: Any = self.plan.backward
        self.winner_fn: Any = self.plan.winners if self.plan.has_winners else None

    def _compile_objects(self, layer: DerivedLayer) -> None:
        """Formula by formula, from the term objects (chain sums built by hand)."""
        g = layer.forward.grids
        self.plan = None
        fwd_args = _flat([g[Role.INPUT]] + [g[r] for r in self.param_roles])
        terms: Any = layer.forward.terms
        outputs = [[[s] for s in terms[i]] for i in np.ndindex(*layer.output_shape)]
        self.forward = compile_terms(fwd_args, outputs)
        sums = [
            [[t.delta, t.partial] for t in cs.terms]
            for r in self.back_roles
            for cs in layer.grads[r].ravel()
        ]
        delta = [g[Role.DELTA]] if Role.DELTA in g else []
        self.backward = compile_terms(fwd_args + _flat(delta), sums)
        self.cells: list[tuple[Any, Any]] = []
        self.winner_fn = None
        if any(isinstance(s, WindowMax) for t in terms.ravel() for s in t):
            input_sums: Any = layer.grads[Role.INPUT]
            found = [
                (term.source, index, term.partial)
                for index in np.ndindex(*layer.input_shape)
                for term in input_sums[index].terms
            ]
            self.cells = [(source, index) for source, index, _ in found]
            self.winner_fn = compile_exprs(_flat([g[Role.INPUT]]), [p for *_, p in found])

    def winners(self, inputs: np.ndarray) -> np.ndarray:
        """For each window, the input index of the cell whose max bracket evaluates to 1."""
        if self.plan is not None:
            return self.plan.winners(inputs, self.layer.input_shape).reshape(
                self.layer.output_shape
            )
        out = np.empty(self.layer.output_shape, dtype=object)
        flags = self.winner_fn(inputs.ravel())
        for (source, cell), flag in zip(self.cells, flags):
            if flag == 1.0 and out[source] is None:
                out[source] = cell
        return out


class Engine:
    """A derivation's formulas compiled layer by layer: forward, backward, one SGD step.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.numeric.values import random_values
        >>> net = preset("seed003")
        >>> run = Engine(derive(net)).run(random_values(net, seed=1))
        >>> sorted(run.grads)
        ['0.bias', '0.weight', 'input']
    """

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        self.network = derivation.network
        self.layers = []
        for done, layer in enumerate(derivation.layers):
            report("compiling", done, len(derivation.layers))
            self.layers.append(LayerEngine(layer))
        self.loss = None if derivation.loss is None else LayerEngine(derivation.loss)

    def _params(self, comp: LayerEngine, values: Values) -> list[np.ndarray]:
        out = []
        for role in comp.param_roles:
            if role is Role.TARGET:
                assert values.target is not None
                out.append(values.target.ravel())
            else:
                out.append(values.params[comp.layer.params[role]].ravel())
        return out

    def forward(self, values: Values) -> tuple[list[np.ndarray], float | None]:
        """Every layer's output (index 0 is the network input) and the loss E (None alone)."""
        outputs = [values.input]
        for comp in self.layers:
            flat = np.concatenate([outputs[-1].ravel(), *self._params(comp, values)])
            outputs.append(comp.forward(flat).reshape(comp.layer.output_shape))
        if self.loss is None:
            return outputs, None
        flat = np.concatenate([outputs[-1].ravel(), *self._params(self.loss, values)])
        return outputs, float(self.loss.forward(flat)[0])

    def run(self, values: Values | dict[str, Any], delta_at: tuple[int, Any] | None = None) -> Run:
        """Forward, then backward from the loss (a lone layer: from its given δ).

        ``delta_at = (l, δ)`` starts the backward pass at layer l with the given δ (seed 000:
        "suppose I already have δH1, δH2"); later layers are then left out.
        """
        if not isinstance(values, Values):
            values = check_values(self.network, values)
        outputs, loss = self.forward(values)
        start = len(self.layers) - 1
        if delta_at is not None:
            start, raw = delta_at
            if not 0 <= start < len(self.layers):
                raise ValuesError(f"no layer {start}; layers are 0 … {len(self.layers) - 1}")
            shape = self.layers[start].layer.output_shape
            delta = np.asarray(raw, dtype=float)
            if delta.shape != shape:
                raise ValuesError(
                    f"δ of layer {start} has shape {list(delta.shape)}, expected {list(shape)}"
                )
        elif self.loss is None:
            assert values.delta is not None, "a lone layer needs its δ"
            delta = values.delta
        else:
            flat = np.concatenate([outputs[-1].ravel(), *self._params(self.loss, values)])
            delta = self.loss.backward(flat).reshape(self.network.output_shape)
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
            given = delta_at is not None and index == start
            per_layer.append(
                LayerValues(
                    index,
                    layer.kind,
                    inputs,
                    outputs[index + 1],
                    delta,
                    None if given else layer.delta_from,
                    pieces,
                    comp.winners(inputs) if comp.winner_fn is not None else None,
                )
            )
            grads.update({k: v for k, v in pieces.items() if k != "input"})
            delta = pieces["input"]
        per_layer.reverse()
        ordered = {"input": delta}
        ordered.update({k: grads[k] for k in self.network.param_shapes() if k in grads})
        return Run(values, loss, outputs[-1], per_layer, ordered, start if delta_at else None)

    def sgd(self, run: Run, lr: float) -> SGDStep:
        """``p ← p − η·∂E/∂p`` for every parameter, and the loss after the step."""
        if not np.isfinite(lr) or lr <= 0:
            raise ValuesError(f"--lr must be a positive number, got {lr}")
        params = {
            name: p - lr * run.grads[name] if name in run.grads else p
            for name, p in run.values.params.items()
        }
        stepped = Values(run.values.input, params, run.values.target, run.values.delta)
        _, after = self.forward(stepped)
        assert run.loss is not None and after is not None, "SGD needs a loss"
        return SGDStep(lr, params, run.loss, after)


class Gradients:
    """A lone layer's formulas as NumPy functions: arrays in, gradient arrays out.

    Arrays follow the layer contract's shapes: input ``[C, H, W]``, weight ``[O, C, KH, KW]``,
    bias ``[O]`` (shared) or ``[O, OH, OW]`` (untied), delta ``[O, OH, OW]``.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear
        >>> from symcnn.derivation.derived import derive
        >>> num = Gradients(derive(Network.of(Linear(2, input=(3,)))))
        >>> g = num(input=np.ones(3), weight=np.ones((2, 3)), bias=np.zeros(2),
        ...         delta=np.array([1.0, 2.0]))
        >>> g["input"].tolist(), g["weight"].tolist()
        ([3.0, 3.0, 3.0], [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])
    """

    def __init__(self, derivation: Derivation) -> None:
        self.engine = Engine(derivation)
        self.network = derivation.network

    def _values(self, arrays: dict[str, Any], with_delta: bool) -> Values:
        data = {k: v for k, v in arrays.items() if v is not None}
        if not with_delta:
            data["delta"] = np.zeros(self.network.output_shape)
        return check_values(self.network, data, "arrays")

    def __call__(self, **arrays: Any) -> dict[str, np.ndarray]:
        """Gradients for the given arrays: ``{"input": …, "weight": …, "bias": …}``."""
        run = self.engine.run(self._values(arrays, True))
        return run.layers[0].grads | {}

    def forward(self, **arrays: Any) -> np.ndarray:
        """The layer output z for the given input (and weight, bias) arrays."""
        outputs, _ = self.engine.forward(self._values(arrays, False))
        return outputs[-1]

"""Numbers from a derivation's formulas: each layer compiled once, runs forward and back, SGD."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.progress import report
from ..core.symbols import Grid, Role
from ..derivation.backprop import chains_of
from ..errors import ValuesError
from .compile import compile_terms
from .values import Values, check_values
from .vectorised import LayerPlan

if TYPE_CHECKING:
    from ..derivation.derived import Derivation, DerivedLayer


def _flat(grids: list[Grid]) -> list[Any]:
    return [s for g in grids for s in g.symbols.ravel()]


@dataclass
class LayerValues:
    """The numbers of one layer: its input, output, δ (∂E/∂output) and gradients.

    ``grads`` maps ``"input"`` (∂E/∂ the first tensor it reads, i.e. what it sends back to
    the layer before) and each parameter name (``"0.weight"``) to an array; ``read_grads``
    holds ∂E/∂(each tensor it reads), in order (several for a merging layer). ``winners``
    (max-pool only) holds, for every output entry, the 0-based input index ``(c, r, s)`` of
    the cell that won its window. ``delta_sources`` are the layers whose δ added up to this
    layer's (None: the loss); ``stages`` and ``stage_deltas`` the values and δ of its named
    quantities (batch norm's μ, σ², x̂).
    """

    index: int
    kind: str
    input: np.ndarray
    output: np.ndarray
    delta: np.ndarray
    delta_from: int | None
    grads: dict[str, np.ndarray]
    winners: np.ndarray | None = None
    delta_sources: tuple[int | None, ...] = ()
    read_grads: list[np.ndarray] = field(default_factory=list)
    stages: list[np.ndarray] = field(default_factory=list)
    stage_deltas: list[np.ndarray] = field(default_factory=list)


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


def _sums(arrays: list[np.ndarray]) -> list[list[list[Any]]]:
    return [[[t.delta, t.partial] for t in cs.terms] for arr in arrays for cs in arr.ravel()]


def _outputs(terms: np.ndarray) -> list[list[list[Any]]]:
    return [[[s] for s in terms[i]] for i in np.ndindex(*terms.shape)]


class LayerEngine:
    """The compiled forward and backward passes of one layer (and its max-pool winners).

    Arguments are, in order: the distinct tensors it reads, its parameters (the loss: the
    target), its named quantities; the backward pass adds its δ and its quantities' δ.
    """

    def __init__(self, layer: DerivedLayer) -> None:
        g = layer.forward.grids
        fwd = layer.forward
        self.layer = layer
        distinct = {grid.name: grid for grid in fwd.reads}
        self.reads = list(distinct.values())
        self.param_roles = [r for r in (Role.WEIGHT, Role.BIAS, Role.TARGET) if r in g]
        self.back_roles = [r for r in (Role.INPUT, Role.WEIGHT, Role.BIAS) if r in layer.grads]
        self.has_delta = Role.DELTA in g  # the loss has none: its δ is ∂E/∂E = 1
        self.read_grads = [layer.grads[Role.INPUT]]  # every layer's gradients include it
        self.param_grads = [layer.grads[r] for r in (Role.WEIGHT, Role.BIAS) if r in layer.grads]
        self.stage_grids = [s.grid for s in fwd.stages]
        self.plan: LayerPlan | None = None
        self.winner_fn: Any = None
        if fwd.structural:  # one read, no named quantities: the chain rule's index arrays
            chains = {r: chains_of(layer.grads[r]) for r in self.back_roles}
            assert fwd.structure is not None and None not in chains.values()
            roles = [Role.INPUT, *self.param_roles]
            sizes = {r: int(np.prod(g[r].shape)) for r in [*roles, Role.DELTA] if r in g}
            self.plan = LayerPlan(
                fwd.structure,
                {r: c for r, c in chains.items() if c is not None},
                roles,
                sizes,
                int(np.prod(layer.output_shape)),
                _flat([g[r] for r in roles]),
            )
            # the flat forward and backward passes (a sheet's figures call them directly)
            self.forward: Any = self.plan.forward
            self.backward: Any = self.plan.backward
            self.winner_fn = self.plan.winners if self.plan.has_winners else None
            return
        # term by term (graph layers, named quantities): no kind of these takes a window max
        args = _flat(self.reads + [g[r] for r in self.param_roles] + self.stage_grids)
        self.stage_fns = [compile_terms(args, _outputs(st.terms)) for st in fwd.stages]
        self.forward = compile_terms(args, _outputs(fwd.terms))
        deltas = ([g[Role.DELTA]] if self.has_delta else []) + [s.delta for s in fwd.stages]
        back_args = args + _flat(deltas)
        self.stage_delta_fns = [compile_terms(back_args, _sums([d])) for d in layer.stage_deltas]
        firsts = {grid.name: k for k, grid in reversed(list(enumerate(fwd.reads)))}
        self.read_grads = [layer.read_grads[firsts[grid.name]] for grid in self.reads]
        self.backward = compile_terms(back_args, _sums(self.read_grads + self.param_grads))

    def run_forward(
        self, reads: list[np.ndarray], params: list[np.ndarray]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """The output and the named quantities' values, from the distinct reads and params."""
        stages = [np.zeros(g.shape) for g in self.stage_grids]
        if self.plan is not None:  # one read, no named quantities: the vectorised plan
            args = np.concatenate([a.ravel() for a in (*reads, *params)])
            return self.plan.forward(args).reshape(self.layer.output_shape), stages

        def flat() -> np.ndarray:
            return np.concatenate([a.ravel() for a in (*reads, *params, *stages)])

        for k, fn in enumerate(self.stage_fns):
            stages[k] = fn(flat()).reshape(self.stage_grids[k].shape)
        return self.forward(flat()).reshape(self.layer.output_shape), stages

    def run_backward(
        self,
        reads: list[np.ndarray],
        params: list[np.ndarray],
        stages: list[np.ndarray],
        delta: np.ndarray,
    ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """∂E/∂(each distinct read), ∂E/∂(each parameter), and the quantities' δ."""
        stage_deltas = [np.zeros(g.shape) for g in self.stage_grids]
        if self.plan is not None:
            own = [delta] if self.has_delta else []
            out = self.plan.backward(np.concatenate([a.ravel() for a in (*reads, *params, *own)]))
            return (*self._split(out), stage_deltas)

        def flat() -> np.ndarray:
            own = [delta] if self.has_delta else []
            parts = (*reads, *params, *stages, *own, *stage_deltas)
            return np.concatenate([a.ravel() for a in parts])

        for k in reversed(range(len(self.stage_delta_fns))):
            stage_deltas[k] = self.stage_delta_fns[k](flat()).reshape(self.stage_grids[k].shape)
        return (*self._split(self.backward(flat())), stage_deltas)

    def _split(self, out: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The flat backward result cut into the reads' gradients and the parameters'."""
        pieces, pos = [], 0
        for arr in self.read_grads + self.param_grads:
            pieces.append(out[pos : pos + arr.size].reshape(arr.shape))
            pos += arr.size
        n = len(self.read_grads)
        return pieces[:n], pieces[n:]

    def winners(self, inputs: np.ndarray) -> np.ndarray:
        """For each window, the input index of the cell whose max bracket evaluates to 1."""
        assert self.plan is not None and self.winner_fn is not None, "no window max here"
        return self.plan.winners(inputs, self.layer.input_shape).reshape(self.layer.output_shape)


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
                out.append(values.target)
            else:
                out.append(values.params[comp.layer.params[role]])
        return out

    def _reads(self, comp: LayerEngine, outputs: list[np.ndarray]) -> list[np.ndarray]:
        node = comp.layer.node
        assert node is not None
        distinct = dict.fromkeys(node.reads)
        return [outputs[0 if r is None else r + 1] for r in distinct]

    def _forward(
        self, values: Values
    ) -> tuple[list[np.ndarray], list[list[np.ndarray]], float | None]:
        outputs = [values.input]
        stages = []
        for comp in self.layers:
            out, named = comp.run_forward(self._reads(comp, outputs), self._params(comp, values))
            outputs.append(out)
            stages.append(named)
        if self.loss is None:
            return outputs, stages, None
        loss, _ = self.loss.run_forward([outputs[-1]], self._params(self.loss, values))
        return outputs, stages, float(loss.ravel()[0])

    def forward(self, values: Values) -> tuple[list[np.ndarray], float | None]:
        """Every layer's output (index 0 is the network input) and the loss E (None alone)."""
        outputs, _, loss = self._forward(values)
        return outputs, loss

    def run(
        self,
        values: Values | dict[str, Any],
        delta_at: tuple[int, Any] | None = None,
        ignore: frozenset[tuple[int, int | None]] = frozenset(),
    ) -> Run:
        """Forward, then backward from the loss (a lone layer: from its given δ).

        ``delta_at = (l, δ)`` starts the backward pass at layer l with the given δ (seed 000:
        "suppose I already have δH1, δH2"); later layers are then left out. ``ignore`` lists
        (reader, tensor) pairs whose δ is *not* added to the tensor's (None: the network
        input): the numbers of a backward pass that forgot to sum δ where paths merge.
        """
        if not isinstance(values, Values):
            values = check_values(self.network, values)
        outputs, stages, loss = self._forward(values)
        start = len(self.layers) - 1
        received: dict[int | None, list[tuple[int | None, np.ndarray]]] = {}
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
            received[start] = [(None, delta)]
        elif self.loss is None:
            assert values.delta is not None, "a lone layer needs its δ"
            received[start] = [(None, values.delta)]
        else:
            ([delta], _, _) = self.loss.run_backward(
                [outputs[-1]], self._params(self.loss, values), [], np.ones(())
            )
            received[start] = [(None, delta)]
        grads: dict[str, np.ndarray] = {}
        per_layer: list[LayerValues] = []
        for index in range(start, -1, -1):
            comp = self.layers[index]
            layer = comp.layer
            assert layer.node is not None
            got = sorted(received.pop(index, []), key=lambda rg: -1 if rg[0] is None else rg[0])
            shape = layer.output_shape
            delta = sum((g for _, g in got), np.zeros(shape))
            reads = self._reads(comp, outputs)
            params = self._params(comp, values)
            read_grads, param_grads, stage_deltas = comp.run_backward(
                reads, params, stages[index], delta
            )
            by_source = dict(zip(dict.fromkeys(layer.node.reads), read_grads))
            for source, g in by_source.items():
                if (index, source) not in ignore:
                    received.setdefault(source, []).append((index, g))
            pieces = {"input": read_grads[0]}
            pieces.update(zip(layer.params.values(), param_grads))
            given = delta_at is not None and index == start
            sources = () if given else tuple(r for r, _ in got)
            per_layer.append(
                LayerValues(
                    index,
                    layer.kind,
                    outputs[0 if layer.node.reads[0] is None else layer.node.reads[0] + 1],
                    outputs[index + 1],
                    delta,
                    sources[0] if sources else None,
                    pieces,
                    comp.winners(reads[0]) if comp.winner_fn is not None else None,
                    sources,
                    [by_source[r] for r in layer.node.reads],
                    list(stages[index]),
                    stage_deltas,
                )
            )
            grads.update({k: v for k, v in pieces.items() if k != "input"})
        per_layer.reverse()
        into_input = received.pop(None, [])
        total = sum((g for _, g in into_input), np.zeros(values.input.shape))
        ordered = {"input": total}
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
            data["delta"] = np.zeros(self.network.batched(self.network.output_shape))
        return check_values(self.network, data, "arrays")

    def __call__(self, **arrays: Any) -> dict[str, np.ndarray]:
        """Gradients for the given arrays: ``{"input": …, "weight": …, "bias": …}``."""
        run = self.engine.run(self._values(arrays, True))
        return run.layers[0].grads | {}

    def forward(self, **arrays: Any) -> np.ndarray:
        """The layer output z for the given input (and weight, bias) arrays."""
        outputs, _ = self.engine.forward(self._values(arrays, False))
        return outputs[-1]

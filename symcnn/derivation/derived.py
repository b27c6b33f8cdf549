"""One derivation for a lone layer or a whole network: forward terms, δ links, gradients, proofs.

Every tensor has one name. For a lone layer (a network of one layer without a loss, whose δ
is given): its kind's input and output letters (``a`` and ``z`` for most), ``w``, ``b`` and
``d`` (δ, printed δ). In a network: ``x`` (the input), then the output of layer l is its
kind's letter and l (``z0``, ``p1``, ``a2`` …); its δ is ``d<l>`` (printed δˡ):
``δˡ = ∂E/∂(output of layer l)``; parameters ``w<l>``, ``b<l>``; the target ``t``, the loss
``E``; a layer's named quantities (batch norm's ``mu3``, ``var3``, ``xh3``) and their δ
(``dmu3`` …). With a mini-batch every tensor but the parameters gets a leading sample axis
(``x_n2_11``: entry 11 of sample 2). Each layer's own chain rule
(`symcnn.derivation.backprop`) gives ∂E/∂(each tensor it reads) as chain sums over its δ;
the δ of a tensor is the sum of those of every layer that reads it (paths merge by adding),
so each δ formula names where its δ symbols come from.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import symengine as se
import sympy

from ..core.functions import engine_form
from ..core.progress import report
from ..core.summands import Part
from ..core.symbols import Grid, Role, SymbolTable
from ..kinds.base import ClosedForm, Layer, TexNames, forward_terms
from ..kinds.loss import Loss
from . import naming
from .backprop import ChainSum, Forward, Stage, backprop_all, chains_of
from .proofs import Proof, prove, prove_by_monomials
from .substitute import DEFAULT_MAX_NODES, substituted

if TYPE_CHECKING:
    from ..graph.network import Network, Node


@dataclass
class DerivedLayer:
    """One layer of a derivation (or the loss, with ``node`` None).

    Attributes:
        node: the network's node (index, sized layer, what it reads); None for the loss.
        layer: the sized layer (or the loss).
        forward: grids by role (INPUT is what the layer reads; OUTPUT; DELTA; WEIGHT/BIAS;
            TARGET for the loss) and ``terms[idx]``, the summands of output entry idx.
        grads: role → object array of `ChainSum`, in this layer's δ symbols: INPUT is
            ∂E/∂(its input), i.e. the δ of the layer it reads; WEIGHT, BIAS its parameters.
        delta: `ChainSum` array (output shape): this layer's δ, in the δ symbols of the
            layers that read its output (None for a lone layer, whose δ is given, and the
            loss). When several layers read it, it is the sum of what each sends back.
        delta_from: index of the (first) layer whose δ symbols appear in ``delta`` (None:
            the loss).
        delta_sources: every layer whose δ appears in ``delta``, in order (None: the loss).
        params: role → parameter name (``0.weight``, or ``weight`` for a lone layer).
        proofs: the closed forms of the layer's gradients, proven against ``grads``.
        read_grads: ∂E/∂(each tensor it reads), aligned with ``forward.reads``.
        stage_deltas: the δ of each named quantity, aligned with ``forward.stages``.
    """

    node: Node | None
    layer: Layer  # the loss's own `Loss` for the loss (see `Derivation.loss`)
    forward: Forward
    grads: dict[Role, np.ndarray]
    params: dict[Role, str] = field(default_factory=dict)
    delta: np.ndarray | None = None
    delta_from: int | None = None
    proofs: list[Proof] = field(default_factory=list)
    delta_sources: tuple[int | None, ...] = ()
    read_grads: tuple[np.ndarray, ...] = ()
    stage_deltas: tuple[np.ndarray, ...] = ()

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The layer's named intermediate quantities (batch norm's μ, σ², x̂), in order."""
        return self.forward.stages

    @property
    def index(self) -> int | None:
        """Position in the network, from 0 (None for the loss)."""
        return None if self.node is None else self.node.index

    @property
    def kind(self) -> str:
        """The layer's ``type`` in a network file, or the loss's name (``mse``)."""
        return self.layer.kind

    @property
    def name(self) -> str:
        """``layer 0 (<type>)`` or ``loss (mse)``."""
        if self.node is None:
            return f"loss ({self.kind})"
        return self.node.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of the layer input."""
        return tuple(self.forward.grids[Role.INPUT].shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the layer output and of its δ (``()`` for the loss)."""
        return self.forward.shape

    @property
    def identities(self) -> list[Proof]:
        """The proven closed forms (also `proofs`)."""
        return self.proofs

    def grid(self, role: Role) -> Grid:
        """The grid of one tensor of this layer."""
        return self.forward.grids[role]


@dataclass
class Derivation:
    """Everything derived for a network or a lone layer: per-layer terms, δ links, gradients.

    ``layers[l]`` is a `DerivedLayer` per network layer; ``loss`` the loss as one whose
    ``grads[Role.INPUT]`` is the δ of the last layer (∂E/∂ŷ), None for a lone layer.
    ``table`` knows every symbol.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear, ReLU
        >>> net = Network([Linear(2), ReLU()], input=(3,))
        >>> derive(net).layers[0].delta[1].sympy()
        d1_2*step(z0_2)
    """

    network: Network
    layers: list[DerivedLayer]
    loss: DerivedLayer | None
    table: SymbolTable
    input_delta: np.ndarray | None = None
    input_sources: tuple[int, ...] = ()

    @property
    def lone(self) -> bool:
        """True for a lone layer: no loss, its δ is given."""
        return self.loss is None

    @property
    def input_grid(self) -> Grid:
        """The grid of the input (``x`` in a network, ``a`` or ``z`` for a lone layer)."""
        return self.layers[0].grid(Role.INPUT)

    @property
    def target_grid(self) -> Grid:
        """The grid ``t`` of the target (a network only)."""
        assert self.loss is not None, "a lone layer has no target"
        return self.loss.grid(Role.TARGET)

    @property
    def all_proven(self) -> bool:
        """True when every closed form of every layer was proven."""
        return all(p.proven for layer in self.layers for p in layer.proofs)

    def param_grads(self) -> dict[str, np.ndarray]:
        """``{"0.weight": ChainSum array, "0.bias": …}`` in layer order.

        Example:
            >>> from symcnn.graph.presets import preset
            >>> list(derive(preset("seed003")).param_grads())
            ['0.weight', '0.bias']
        """
        return {
            name: layer.grads[role] for layer in self.layers for role, name in layer.params.items()
        }

    def input_grad(self) -> np.ndarray:
        """∂E/∂(input) as ChainSum objects in the δ of the layers that read it (layer 0's,
        unless other layers read the input too: then the sum of theirs).

        Example:
            >>> from symcnn.graph.presets import preset
            >>> str(derive(preset("seed003")).input_grad()[0, 0, 0].sympy())
            'd0_11*w0_11'
        """
        if self.input_delta is not None:
            return self.input_delta
        return self.layers[0].grads[Role.INPUT]

    # --- a lone layer, as the layer API has it --------------------------------------------

    @property
    def spec(self) -> Any:
        """The (first) layer, sized."""
        return self.layers[0].layer

    @property
    def forward(self) -> Forward:
        """The (first) layer's forward terms and grids."""
        return self.layers[0].forward

    @property
    def grads(self) -> dict[Role, np.ndarray]:
        """The (first) layer's gradients, by role, as `ChainSum` arrays."""
        return self.layers[0].grads

    @property
    def identities(self) -> list[Proof]:
        """The proofs of every layer, in layer order."""
        return [p for layer in self.layers for p in layer.proofs]

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the (first) layer's output and of its δ."""
        return self.layers[0].output_shape

    def symbols(self, role: Role | str) -> np.ndarray:
        """The grid of symbols of one tensor of the (first) layer, as SymPy symbols."""
        grid = self.layers[0].grid(Role(role) if isinstance(role, str) else role)
        return _map(grid.symbols, lambda s: sympy.Symbol(str(s)))

    def substituted(
        self, forward: bool = False, max_nodes: int = DEFAULT_MAX_NODES
    ) -> dict[str, np.ndarray]:
        """Every gradient with the δ symbols replaced (see `symcnn.derivation.substitute`)."""
        return substituted(self, forward, max_nodes)

    def gradient(self, role: Role | str) -> np.ndarray:
        """∂E/∂(tensor) of the (first) layer as an object array of SymPy expressions.

        Example:
            >>> from symcnn.graph.network import Network
            >>> from symcnn import Linear
            >>> derive(Network.of(Linear(1, input=(2,)))).gradient("bias")[0]
            d_1
        """
        role = Role(role) if isinstance(role, str) else role
        return _map(self.layers[0].grads[role], lambda cs: cs.sympy())


def _map(arr: np.ndarray, fn: Callable[[Any], Any]) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    for index in np.ndindex(*arr.shape):
        out[index] = fn(arr[index])
    return out


@functools.lru_cache(maxsize=64)
def layer_parts(layer: Layer) -> tuple[Part, ...] | None:
    """A layer's forward rule as index arrays, built once per layer configuration (the
    layer's options and input shape) and reused by every derivation of it."""
    return layer.parts()


def _forward(
    node: Node, reads: tuple[Grid, ...], lone: bool, base: int, batch: int | None
) -> Forward:
    """Name the grids of one layer (and of its named quantities) and build its forward terms."""
    layer, i = node.layer, node.index
    out_letter = layer.lone[1] if lone else layer.letter
    out_stem = naming.plain(out_letter) if lone else naming.layer_stem(out_letter, i)
    delta_stem = naming.error_stem(out_letter, layer.nabla, None if lone else i)
    grids: dict[Role, Grid] = {Role.INPUT: reads[0]}
    for role, (shape, channels) in layer.param_shapes().items():
        stem = naming.param_stem(layer.param_stems.get(role), role, None if lone else i)
        grids[role] = naming.grid(stem, role, shape, channels, base)
    shape = layer.output_shape
    grids[Role.OUTPUT] = naming.activation_grid(out_stem, Role.OUTPUT, shape, base, batch)
    grids[Role.DELTA] = naming.activation_grid(delta_stem, Role.DELTA, shape, base, batch)
    wrt = (Role.INPUT, *layer.param_shapes())
    quantities = layer.quantities(batch)
    parts = layer_parts(layer) if len(reads) == 1 and not quantities else None
    if parts is not None:  # index arrays: summand objects are built only when printed
        if batch is not None:
            parts = batched(parts, batch, int(np.prod(reads[0].shape[1:])), int(np.prod(shape)))
        out_shape = (batch, *shape) if batch is not None else shape
        return Forward(grids, None, wrt, reads, (), parts=parts, shape=out_shape)
    named: list[tuple[Grid, Grid]] = []
    for q in quantities:
        stem, dstem = naming.quantity_stems(q.name, q.latex, q.text, None if lone else i)
        named.append(
            (
                naming.grid(stem, Role.OUTPUT, q.shape, q.channels, base, q.batch),
                naming.grid(dstem, Role.DELTA, q.shape, q.channels, base, q.batch),
            )
        )
    params = {role: grids[role].symbols for role in layer.param_shapes()}
    xs = tuple(r.symbols for r in reads)
    staged, terms = forward_terms(layer, xs, params, tuple(g.symbols for g, _ in named), batch)
    stages = tuple(Stage(g, dg, t, q.meaning) for (g, dg), t, q in zip(named, staged, quantities))
    return Forward(grids, terms, wrt, reads, stages)


def batched(parts: tuple[Part, ...], batch: int, size_in: int, size_out: int) -> tuple[Part, ...]:
    """The parts of one sample repeated for every sample of a mini-batch: sample n's summands
    feed output entry ``n·size_out + row`` and read input entry ``n·size_in + k``; the
    parameters are shared (as `~symcnn.kinds.base.forward_terms` applies a kind's rule).

    Example:
        >>> p = Part(np.array([0]), (Role.WEIGHT, Role.INPUT), np.array([[0, 1]]))
        >>> [q.index.tolist() for q in batched((p,), 2, 3, 1)]
        [[[0, 1], [0, 4]]]
    """
    out = []
    offsets = np.arange(batch, dtype=np.int64)
    for part in parts:
        index = np.repeat(part.index[None], batch, axis=0)
        for k, role in enumerate(part.roles):
            if role is Role.INPUT:
                index[:, :, k] += offsets[:, None] * size_in
        rows = (offsets[:, None] * size_out + part.rows[None]).reshape(-1)
        seq = None if part.seq is None else np.tile(part.seq, batch)
        out.append(replace(part, rows=rows, index=index.reshape(-1, len(part.roles)), seq=seq))
    return tuple(out)


def _loss_forward(loss: Loss, read: Grid, base: int, batch: int | None, reduction: str) -> Forward:
    """E over the batch: the loss of each sample, summed or averaged (``reduction``)."""
    shape = loss.input_shape
    target = naming.activation_grid(naming.TARGET, Role.TARGET, shape, base, batch)
    grids = {
        Role.INPUT: read,
        Role.TARGET: target,
        Role.OUTPUT: naming.grid(naming.LOSS, Role.OUTPUT, (), 0, base),
    }
    if batch is None:
        terms = loss.terms(read.symbols, target.symbols)
    else:
        summands: list[Any] = []
        for n in range(batch):
            summands += loss.terms(read.symbols[n], target.symbols[n])[()]
        if reduction == "mean":
            summands = [_scaled(s, batch) for s in summands]
        terms = np.empty((), dtype=object)
        terms[()] = tuple(summands)
    return Forward(grids, terms, (Role.INPUT,))


def _scaled(summand: Any, n: int) -> Any:
    """``summand / n``, in the summand's own algebra (SymPy functions stay SymPy)."""
    if isinstance(summand, sympy.Basic):
        return sympy.Rational(1, n) * summand
    return se.Rational(1, n) * summand


def prove_layer(layer: DerivedLayer) -> list[Proof]:
    """Build the layer's closed forms from its own grids and prove each against its gradients.

    With a mini-batch a per-sample form is built for every sample: the input gradient's
    forms side by side, a parameter's summed over the samples (the parameters are shared).

    Example:
        >>> from symcnn.graph.presets import preset
        >>> [p.proven for p in prove_layer(derive(preset("seed003"), False).layers[0])]
        [True, True, True]
    """
    grids = layer.forward.grids
    params = {role: grids[role].symbols for role in layer.layer.param_shapes()}
    x, delta = grids[Role.INPUT].symbols, grids[Role.DELTA].symbols
    if layer.stages:
        named = tuple(s.grid.symbols for s in layer.stages)
        named_deltas = tuple(s.delta.symbols for s in layer.stages)
        forms = layer.layer.staged_forms(x, params, delta, named, named_deltas)
        quantities = tuple(zip(named_deltas, layer.stage_deltas))
        return [prove(form, layer.grads[form.role], quantities) for form in forms]
    if layer.node is not None and layer.node.layer.arity != 1:
        return []
    if not grids[Role.INPUT].batch:
        chains = {role: chains_of(arr) for role, arr in layer.grads.items()}
        fast = prove_by_monomials(layer.layer, grids, chains)
        if fast is not None:
            return fast
        forms = layer.layer.closed_forms(x, params, delta)
    else:
        per_sample = [layer.layer.closed_forms(x[n], params, delta[n]) for n in range(x.shape[0])]
        forms = [_over_samples([p[k] for p in per_sample]) for k in range(len(per_sample[0]))]
    return [prove(form, layer.grads[form.role]) for form in forms]


def _over_samples(forms: list[ClosedForm]) -> ClosedForm:
    """One sample's closed form over the batch: stacked for the input, summed for a parameter."""
    first = forms[0]
    if first.role is Role.INPUT:
        value = np.stack([f.value for f in forms])
        return replace(first, value=value, statement=first.statement + ", for each sample")
    total = np.empty(first.value.shape, dtype=object)
    for idx in np.ndindex(*total.shape):
        total[idx] = se.Add(*[engine_form(f.value[idx]) for f in forms])

    def tex(names: TexNames) -> tuple[str, str]:  # one sample's form, summed over s
        lhs, rhs = first.tex(names)
        body = rhs if rhs.startswith(r"\sum") else rf"\Big({rhs}\Big)"
        return lhs, rf"\sum_{{s}} {body}"

    statement = first.statement + ", summed over the samples"
    return replace(first, value=total, statement=statement, tex=tex)


def merged(sums: list[np.ndarray]) -> np.ndarray:
    """The δ of a tensor read by several layers: entry by entry, the terms of every reader's
    chain sum, one after the other (one reader: its array itself).

    Example:
        >>> x, d1, d2 = se.symbols("x d1 d2")
        >>> a = np.array([ChainSum(x, ())], dtype=object)
        >>> from symcnn.derivation.backprop import Term
        >>> b = np.array([ChainSum(x, (Term(d1, 2, (0,)),))], dtype=object)
        >>> c = np.array([ChainSum(x, (Term(d2, 1, (0,)),))], dtype=object)
        >>> merged([b, c])[0].sympy()
        2*d1 + d2
    """
    if len(sums) == 1:
        return sums[0]
    out = np.empty(sums[0].shape, dtype=object)
    for idx in np.ndindex(*out.shape):
        parts: list[Any] = [s[idx] for s in sums]
        out[idx] = ChainSum(parts[0].wrt, tuple(t for cs in parts for t in cs.terms))
    return out


D = TypeVar("D", bound=Derivation)


def derive(network: Network, prove_forms: bool = True, cls: type[D] = Derivation) -> D:  # type: ignore[assignment]
    """Forward terms of every layer, then the chain rule layer by layer from the loss back,
    then the closed forms of each layer proven against its gradients.

    Each layer is differentiated on its own by `symcnn.derivation.backprop.backprop_all` (a
    sparse local Jacobian); the δ of a tensor is the sum of the gradients every layer that
    reads it sends back.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> d = derive(preset("seed003"))
        >>> str(d.layers[0].grads[Role.INPUT][0, 1, 1].sympy())
        'd0_11*w0_22 + d0_12*w0_21 + d0_21*w0_12 + d0_22*w0_11'
    """
    lone, base, batch = network.lone, network.index_base, network.batch
    first = network.nodes[0].layer
    in_stem = naming.plain(first.lone[0]) if lone else naming.INPUT
    input_grid = naming.activation_grid(in_stem, Role.INPUT, network.input, base, batch)
    tensors: dict[int | None, Grid] = {None: input_grid}
    forwards: list[Forward] = []
    for node in network.nodes:
        reads = tuple(tensors[r] for r in node.reads)
        forwards.append(_forward(node, reads, lone, base, batch))
        tensors[node.index] = forwards[-1].grids[Role.OUTPUT]
    grids: list[Grid] = [input_grid]
    order = (Role.WEIGHT, Role.BIAS)
    for fwd in forwards:
        grids += [fwd.grids[r] for r in order if r in fwd.grids]
        grids += [g for stage in fwd.stages for g in (stage.grid, stage.delta)]
        grids += [fwd.grids[Role.OUTPUT], fwd.grids[Role.DELTA]]
    loss: DerivedLayer | None = None
    last = forwards[-1].grids[Role.OUTPUT]
    if network.loss is not None:
        loss_fwd = _loss_forward(network.loss, last, base, batch, network.reduction)
        grids += [loss_fwd.grids[Role.TARGET], loss_fwd.grids[Role.OUTPUT]]
    table = SymbolTable(grids)
    # what each tensor (None: the network input) receives: (reader, its gradient), by reader
    received: dict[int | None, list[tuple[int | None, np.ndarray]]] = {}
    if network.loss is not None:
        one = np.full((), se.Integer(1), dtype=object)
        loss_grads = backprop_all(loss_fwd, table, deltas=one)
        loss = DerivedLayer(
            None, cast(Layer, network.loss), loss_fwd, loss_grads.roles, read_grads=loss_grads.reads
        )
        received[len(forwards) - 1] = [(None, loss_grads.roles[Role.INPUT])]

    layers: list[DerivedLayer] = []
    stage = "deriving and proving" if prove_forms else "deriving"
    for done, (node, fwd) in enumerate(reversed(list(zip(network.nodes, forwards)))):
        report(stage, done, len(forwards))
        grads = backprop_all(fwd, table)
        got = sorted(received.pop(node.index, []), key=lambda rg: -1 if rg[0] is None else rg[0])
        derived = DerivedLayer(
            node,
            node.layer,
            fwd,
            grads.roles,
            node.param_names(lone),
            merged([g for _, g in got]) if got else None,
            got[0][0] if got else None,
            delta_sources=tuple(r for r, _ in got),
            read_grads=grads.reads,
            stage_deltas=grads.stages,
        )
        seen: set[int | None] = set()
        for source, sums in zip(node.reads, grads.reads):
            if source not in seen:  # a tensor read twice: one array holds both paths
                seen.add(source)
                received.setdefault(source, []).append((node.index, sums))
        if prove_forms:
            derived.proofs = prove_layer(derived)
        layers.append(derived)
    layers.reverse()
    into_input = sorted(received.pop(None, []), key=lambda rg: rg[0] or 0)
    input_delta = merged([g for _, g in into_input])
    sources = tuple(r for r, _ in into_input if r is not None)
    return cls(network, layers, loss, table, input_delta, sources)


__all__ = ["ChainSum", "Derivation", "DerivedLayer", "derive"]

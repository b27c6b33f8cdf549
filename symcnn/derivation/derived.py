"""One derivation for a lone layer or a whole network: forward terms, δ links, gradients, proofs.

Every tensor has one name. For a lone layer (a network of one layer without a loss, whose δ
is given): its kind's input and output letters (``a`` and ``z`` for most), ``w``, ``b`` and
``d`` (δ, printed δ). In a network: ``x`` (the input), then the output of layer l is its
kind's letter and l (``z0``, ``p1``, ``a2`` …); its δ is ``d<l>`` (printed δˡ):
``δˡ = ∂E/∂(output of layer l)``; parameters ``w<l>``, ``b<l>``; the target ``t``, the loss
``E``. Each layer's own chain rule (`symcnn.derivation.backprop`) gives ∂E/∂(its input) as chain
sums over its δ: that is the δ of the layer it reads, so each δ formula names where its δ
symbols come from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import symengine as se
import sympy

from ..core.symbols import Grid, Role, SymbolTable
from ..kinds.base import Layer
from ..kinds.loss import Loss
from . import naming
from .backprop import ChainSum, Forward, backprop
from .proofs import Proof, prove
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
            layer ``delta_from`` (None for a lone layer, whose δ is given, and the loss).
        delta_from: index of the layer whose δ symbols appear in ``delta`` (None: the loss).
        params: role → parameter name (``0.weight``, or ``weight`` for a lone layer).
        proofs: the closed forms of the layer's gradients, proven against ``grads``.
    """

    node: Node | None
    layer: Layer  # the loss's own `Loss` for the loss (see `Derivation.loss`)
    forward: Forward
    grads: dict[Role, np.ndarray]
    params: dict[Role, str] = field(default_factory=dict)
    delta: np.ndarray | None = None
    delta_from: int | None = None
    proofs: list[Proof] = field(default_factory=list)

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
        return tuple(self.forward.terms.shape)

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
        """∂E/∂(input) as ChainSum objects in the δ of layer 0.

        Example:
            >>> from symcnn.graph.presets import preset
            >>> str(derive(preset("seed003")).input_grad()[0, 0, 0].sympy())
            'd0_11*w0_11'
        """
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


def _forward(node: Node, read: Grid, lone: bool, base: int) -> Forward:
    """Name the grids of one layer and build its forward terms."""
    layer, i = node.layer, node.index
    out_letter = layer.lone[1] if lone else layer.letter
    out_stem = naming.plain(out_letter) if lone else naming.layer_stem(out_letter, i)
    delta_stem = naming.error_stem(out_letter, layer.nabla, None if lone else i)
    grids: dict[Role, Grid] = {Role.INPUT: read}
    for role, (shape, channels) in layer.param_shapes().items():
        letter = role.value[0]
        stem = naming.plain(letter) if lone else naming.layer_stem(letter, i)
        grids[role] = naming.grid(stem, role, shape, channels, base)
    shape = layer.output_shape
    grids[Role.OUTPUT] = naming.activation_grid(out_stem, Role.OUTPUT, shape, base)
    grids[Role.DELTA] = naming.activation_grid(delta_stem, Role.DELTA, shape, base)
    params = {role: grids[role].symbols for role in layer.param_shapes()}
    terms = layer.terms(read.symbols, params)
    return Forward(grids, terms, (Role.INPUT, *layer.param_shapes()))


def _loss_forward(loss: Loss, read: Grid, base: int) -> Forward:
    shape = loss.input_shape
    grids = {
        Role.INPUT: read,
        Role.TARGET: naming.activation_grid(naming.TARGET, Role.TARGET, shape, base),
        Role.OUTPUT: naming.grid(naming.LOSS, Role.OUTPUT, (), 0, base),
    }
    terms = loss.terms(read.symbols, grids[Role.TARGET].symbols)
    return Forward(grids, terms, (Role.INPUT,))


def prove_layer(layer: DerivedLayer) -> list[Proof]:
    """Build the layer's closed forms from its own grids and prove each against its gradients.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> [p.proven for p in prove_layer(derive(preset("seed003"), False).layers[0])]
        [True, True, True]
    """
    grids = layer.forward.grids
    params = {role: grids[role].symbols for role in layer.layer.param_shapes()}
    forms = layer.layer.closed_forms(grids[Role.INPUT].symbols, params, grids[Role.DELTA].symbols)
    return [prove(form, layer.grads[form.role]) for form in forms]


D = TypeVar("D", bound=Derivation)


def derive(network: Network, prove_forms: bool = True, cls: type[D] = Derivation) -> D:  # type: ignore[assignment]
    """Forward terms of every layer, then the chain rule layer by layer from the loss back,
    then the closed forms of each layer proven against its gradients.

    Each layer is differentiated on its own by `symcnn.derivation.backprop.backprop` (a sparse
    local Jacobian); the δ of layer l is the input gradient of the layer that reads it.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> d = derive(preset("seed003"))
        >>> str(d.layers[0].grads[Role.INPUT][0, 1, 1].sympy())
        'd0_11*w0_22 + d0_12*w0_21 + d0_21*w0_12 + d0_22*w0_11'
    """
    lone, base = network.lone, network.index_base
    first = network.nodes[0].layer
    in_stem = naming.plain(first.lone[0]) if lone else naming.INPUT
    read = naming.activation_grid(in_stem, Role.INPUT, network.input, base)
    forwards: list[Forward] = []
    for node in network.nodes:
        forwards.append(_forward(node, read, lone, base))
        read = forwards[-1].grids[Role.OUTPUT]
    grids: list[Grid] = [forwards[0].grids[Role.INPUT]]
    order = (Role.WEIGHT, Role.BIAS, Role.OUTPUT, Role.DELTA)
    for fwd in forwards:
        grids += [fwd.grids[r] for r in order if r in fwd.grids]
    loss: DerivedLayer | None = None
    if network.loss is not None:
        loss_fwd = _loss_forward(network.loss, read, base)
        grids += [loss_fwd.grids[Role.TARGET], loss_fwd.grids[Role.OUTPUT]]
    table = SymbolTable(grids)
    if network.loss is not None:
        one = np.full((), se.Integer(1), dtype=object)
        grads = backprop(loss_fwd, table, deltas=one)
        loss = DerivedLayer(None, cast(Layer, network.loss), loss_fwd, grads)

    layers: list[DerivedLayer] = []
    reader: DerivedLayer | None = loss
    for node, fwd in reversed(list(zip(network.nodes, forwards))):
        grads = backprop(fwd, table)
        derived = DerivedLayer(
            node,
            node.layer,
            fwd,
            grads,
            node.param_names(lone),
            None if reader is None else reader.grads[Role.INPUT],
            None if reader is None else reader.index,
        )
        if prove_forms:
            derived.proofs = prove_layer(derived)
        layers.append(derived)
        reader = derived
    layers.reverse()
    return cls(network, layers, loss, table)


__all__ = ["ChainSum", "Derivation", "DerivedLayer", "derive"]

"""Backpropagation through a whole network, layer by layer: δ links and parameter gradients.

Every tensor between layers has one name: ``x`` (the input), then the output of layer l is
``z<l>`` (conv2d, dense), ``p<l>`` (pooling), ``a<l>`` (activations) or ``v<l>`` (flatten);
its δ is ``d<l>`` (printed δˡ): ``δˡ = ∂E/∂(output of layer l)``. Parameters are ``w<l>``,
``b<l>``; the target is ``t`` and the loss ``E``. Layer l's own backprop (in
`symcnn.derive.backprop`) gives ∂E/∂(its input) as chain sums over δˡ: that is δ of layer
l − 1. So each δ formula names the layer its δ symbols come from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import symengine as se
import sympy

from . import netforward  # noqa: F401  (registers the forward maths of the new layers)
from .derive import ChainSum, Derivation, backprop
from .errors import TooLargeError
from .layers import Forward, build_forward
from .netlayers import LayerKind
from .netspec import Activation, Dense, Flatten, LossKind, shape_text
from .network import Network
from .spec import AvgPool2D, Conv2D, MaxPool2D
from .symbols import Grid, Role, Stem, SymbolTable

if TYPE_CHECKING:
    from .identities import IdentityResult
    from .netnumeric import NetworkRun

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def superscript(n: int) -> str:
    """A layer index as superscript digits.

    Example:
        >>> superscript(12)
        '¹²'
    """
    return str(n).translate(_SUPERSCRIPT)


#: Default ceiling on the tree size of the fully substituted formulas.
DEFAULT_MAX_NODES = 200_000


def layer_stem(letter: str, index: int, latex: str | None = None) -> Stem:
    """The stem of a tensor of layer ``index``: ``w0`` / ``w^{(0)}`` / ``w⁰``.

    Example:
        >>> layer_stem("d", 1, r"\\delta")
        Stem(name='d1', latex='\\\\delta^{(1)}', text='δ¹')
    """
    text = {"d": "δ"}.get(letter, letter)
    return Stem(
        f"{letter}{index}",
        f"{latex or letter}^{{({index})}}",
        f"{text}{superscript(index)}",
    )


def output_letter(spec: Any) -> str:
    """Stem letter of a layer's output: z (conv2d, dense), p (pooling), a (activation), v.

    Example:
        >>> output_letter(Flatten((1, 2, 2)))
        'v'
    """
    if isinstance(spec, (Conv2D, Dense)):
        return "z"
    if isinstance(spec, (MaxPool2D, AvgPool2D)):
        return "p"
    if isinstance(spec, Activation):
        return "a"
    if isinstance(spec, Flatten):
        return "v"
    raise TypeError(f"no output name for {type(spec).__name__}")


INPUT_STEM = Stem("x", "x", "x")
TARGET_STEM = Stem("t", "t", "t")
LOSS_STEM = Stem("E", "E", "E")


@dataclass(frozen=True)
class NetLayer:
    """One layer of a derived network (or the loss, with ``index`` None).

    Attributes:
        index: position in the network, from 0 (None for the loss).
        kind: `LayerKind` (conv2d, maxpool2d, …, dense) or `LossKind` for the loss.
        spec: the sized spec (`Conv2D`, `MaxPool2D`, `AvgPool2D`, `Activation`, `Flatten`,
            `Dense`, or `Loss`).
        forward: the core `Forward`: ``grids`` by `Role` (INPUT is the previous layer's output
            grid, or ``x``; OUTPUT; DELTA; WEIGHT/BIAS for conv2d and dense; TARGET for the
            loss) and ``terms[idx]``, the summands of output entry idx.
        grads: `Role` → object array of `ChainSum`, in this layer's δ symbols: INPUT is ∂E/∂(its
            input), i.e. the δ of the layer before; WEIGHT, BIAS the parameter gradients.
        delta: object array (output shape) of `ChainSum`: δ of this layer, ∂E/∂(output entry),
            in the δ symbols of the layer ``delta_from`` (the same objects as that layer's
            ``grads[Role.INPUT]``). None for the loss.
        delta_from: index of the layer whose δ symbols appear in ``delta``; None: the loss.
        params: `Role` → parameter name (``{Role.WEIGHT: "0.weight", Role.BIAS: "0.bias"}``).
        identities: the closed matrix forms proven for conv and pooling layers.
    """

    index: int | None
    kind: LayerKind | LossKind
    spec: Any
    forward: Forward
    grads: dict[Role, np.ndarray]
    delta: np.ndarray | None
    delta_from: int | None
    params: dict[Role, str]
    identities: list[IdentityResult] = field(default_factory=list)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of the layer input."""
        return tuple(self.forward.grids[Role.INPUT].shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the layer output and of its δ (``()`` for the loss)."""
        return tuple(self.forward.terms.shape)

    @property
    def name(self) -> str:
        """``layer 0 (conv2d)`` or ``loss (mse)``."""
        if self.index is None:
            return f"loss ({self.kind.value})"
        return f"layer {self.index} ({self.kind.value})"

    def grid(self, role: Role) -> Grid:
        """The grid of one tensor of this layer."""
        return self.forward.grids[role]


@dataclass
class NetworkDerivation:
    """Everything derived for a network: per-layer forward terms, δ links, gradients.

    ``layers[l]`` is a `NetLayer` per network layer, ``loss`` the loss as a `NetLayer` whose
    ``grads[Role.INPUT]`` is δ of the last layer (∂E/∂ŷ). ``table`` knows every symbol.

    Example:
        >>> from symcnn.network import ConvLayer, ActivationLayer
        >>> net = Network([ConvLayer(kernel=2, bias="untied"), ActivationLayer("sigmoid")],
        ...               input=(1, 3, 3))
        >>> d = net.derive()
        >>> d.layers[0].delta[0, 0, 0].sympy()
        d1_11*(1 - Sigmoid(z0_11))*Sigmoid(z0_11)
    """

    network: Network
    layers: list[NetLayer]
    loss: NetLayer
    table: SymbolTable
    _numeric: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def input_grid(self) -> Grid:
        """The grid ``x`` of the network input."""
        return self.layers[0].grid(Role.INPUT)

    @property
    def target_grid(self) -> Grid:
        """The grid ``t`` of the target."""
        return self.loss.grid(Role.TARGET)

    @property
    def all_proven(self) -> bool:
        """True when every identity proven for a conv or pooling layer holds."""
        return all(r.proven for layer in self.layers for r in layer.identities)

    def param_grads(self) -> dict[str, np.ndarray]:
        """``{"0.weight": ChainSum array, "0.bias": …}`` in layer order.

        Example:
            >>> from symcnn.presets import preset
            >>> list(preset("seed003").derive().param_grads())
            ['0.weight', '0.bias']
        """
        return {
            name: layer.grads[role] for layer in self.layers for role, name in layer.params.items()
        }

    def input_grad(self) -> np.ndarray:
        """∂E/∂x as ChainSum objects in the δ of layer 0.

        Example:
            >>> from symcnn.presets import preset
            >>> str(preset("seed003").derive().input_grad()[0, 0, 0].sympy())
            'd0_11*w0_11'
        """
        return self.layers[0].grads[Role.INPUT]

    def substituted(
        self, forward: bool = False, max_nodes: int = DEFAULT_MAX_NODES
    ) -> dict[str, np.ndarray]:
        """Every gradient with all δ symbols replaced by their formulas (SymPy arrays).

        Keys: ``"delta<l>"`` for each layer's δ, ``"<l>.weight"``/``"<l>.bias"`` and ``"input"``.
        With ``forward=True`` the intermediate tensors are replaced by their forward
        expressions too, so only x, the parameters and t remain. Offered for small networks:
        raises `TooLargeError` when the formulas exceed ``max_nodes`` expression nodes.

        Example:
            >>> from symcnn.network import DenseLayer
            >>> d = Network([DenseLayer(1, bias=False)], input=(1,)).derive()
            >>> d.substituted()["0.weight"][0, 0]
            x_1*(-t_1 + z0_1)
        """
        budget = _Budget(max_nodes)
        fwd: dict[sympy.Symbol, sympy.Basic] = {}
        if forward:
            for layer in self.layers:
                out = layer.grid(Role.OUTPUT).symbols
                for idx in np.ndindex(*layer.output_shape):
                    expr = _sympy(layer.forward.expr(idx)).xreplace(fwd)
                    fwd[sympy.Symbol(str(out[idx]))] = budget.check(expr)
        known: dict[sympy.Symbol, sympy.Basic] = {}

        def sub(cs: ChainSum) -> sympy.Basic:
            expr = cs.sympy().xreplace(known)
            return budget.check(expr.xreplace(fwd) if fwd else expr)

        result: dict[str, np.ndarray] = {}
        for layer in reversed(self.layers):
            assert layer.delta is not None
            values = _map(layer.delta, sub)
            result[f"delta{layer.index}"] = values
            dsyms = layer.grid(Role.DELTA).symbols
            for idx in np.ndindex(*dsyms.shape):
                known[sympy.Symbol(str(dsyms[idx]))] = values[idx]
        for layer in self.layers:
            for role, name in layer.params.items():
                result[name] = _map(layer.grads[role], sub)
        result["input"] = _map(self.input_grad(), sub)
        return result

    def numeric(self) -> Any:
        """Compiled forward and backward passes (`symcnn.netnumeric.NetworkNumeric`), built once."""
        if self._numeric is None:
            from .netnumeric import NetworkNumeric

            self._numeric = NetworkNumeric(self)
        return self._numeric

    def evaluate(self, values: Any) -> NetworkRun:
        """Numbers for every layer from the formulas: a `symcnn.netnumeric.NetworkRun`.

        ``values`` is a `symcnn.netfile.NetworkValues` or a dict like the ``--values`` file.

        Example:
            >>> from symcnn.presets import preset
            >>> from symcnn.netfile import random_values
            >>> net = preset("seed003")
            >>> run = net.derive().evaluate(random_values(net, seed=0))
            >>> run.layers[0].delta.shape, run.grads["0.weight"].shape
            ((1, 2, 2), (1, 1, 2, 2))
        """
        return self.numeric().run(values)

    def text(self, unicode: bool = True, substitute: str | None = None) -> str:
        """The layer-by-layer formulas as plain text."""
        from .netprint import network_text

        return network_text(self, unicode=unicode, substitute=substitute)

    def latex(self) -> str:
        """``align*`` blocks per layer, ready to paste."""
        from .netprint import network_latex

        return network_latex(self)

    def to_json(self) -> dict[str, Any]:
        """The JSON contract of a network derivation (one entry per layer, δ links)."""
        from .netjson import network_json

        return network_json(self)


class _Budget:
    """Refuses substituted formulas whose expression trees grow past a limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def check(self, expr: sympy.Basic) -> sympy.Basic:
        for _ in sympy.preorder_traversal(expr):
            self.used += 1
            if self.used > self.limit:
                raise TooLargeError(
                    f"the fully substituted formulas would exceed {self.limit:,} expression "
                    "nodes; they are offered for small networks only (the per-layer formulas, "
                    "in δ of the next layer, are always available)"
                )
        return expr


def _sympy(expr: Any) -> sympy.Basic:
    return expr if isinstance(expr, sympy.Basic) else sympy.sympify(expr)


def _map(arr: np.ndarray, fn: Any) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    for index in np.ndindex(*arr.shape):
        out[index] = fn(arr[index])
    return out


def _names(index: int, spec: Any, input_stem: Stem) -> dict[Role, Stem]:
    return {
        Role.INPUT: input_stem,
        Role.OUTPUT: layer_stem(output_letter(spec), index),
        Role.DELTA: layer_stem("d", index, r"\delta"),
        Role.WEIGHT: layer_stem("w", index),
        Role.BIAS: layer_stem("b", index),
    }


def derive_network(network: Network, prove: bool = True) -> NetworkDerivation:
    """Forward terms of every layer, then the chain rule layer by layer from the loss back.

    Each layer is differentiated on its own by `symcnn.derive.backprop` (a sparse local
    Jacobian); the δ of layer l is the input gradient of layer l + 1, in that layer's δ.

    Example:
        >>> from symcnn.presets import preset
        >>> d = derive_network(preset("seed003"))
        >>> str(d.layers[0].grads[Role.INPUT][0, 1, 1].sympy())
        'd0_11*w0_22 + d0_12*w0_21 + d0_21*w0_12 + d0_22*w0_11'
    """
    forwards: list[Forward] = []
    stem = INPUT_STEM
    for index, spec in enumerate(network.specs):
        names = _names(index, spec, stem)
        forwards.append(build_forward(spec, names=names))
        stem = names[Role.OUTPUT]
    loss_fwd = build_forward(
        network.loss_spec,
        names={Role.INPUT: stem, Role.TARGET: TARGET_STEM, Role.OUTPUT: LOSS_STEM},
    )
    grids: list[Grid] = [forwards[0].grids[Role.INPUT]]
    order = (Role.WEIGHT, Role.BIAS, Role.OUTPUT, Role.DELTA)
    for fwd in forwards:
        grids += [fwd.grids[r] for r in order if r in fwd.grids]
    grids += [loss_fwd.grids[Role.TARGET], loss_fwd.grids[Role.OUTPUT]]
    for before, after in zip([*forwards[:-1]], [*forwards[1:], loss_fwd]):
        _check_same_names(before.grids[Role.OUTPUT], after.grids[Role.INPUT])
    table = SymbolTable(grids)

    loss_grads = backprop(loss_fwd, table, deltas=np.full((), se.Integer(1), dtype=object))
    loss = NetLayer(None, network.loss, network.loss_spec, loss_fwd, loss_grads, None, None, {})
    layers: list[NetLayer] = []
    next_grads, next_index = loss_grads, None
    for index in reversed(range(len(forwards))):
        spec, fwd = network.specs[index], forwards[index]
        grads = backprop(fwd, table)
        params: dict[Role, str] = {
            r: f"{index}.{r.value}" for r in (Role.WEIGHT, Role.BIAS) if r in fwd.grids
        }
        layer = NetLayer(
            index,
            network.layers[index].kind,
            spec,
            fwd,
            grads,
            next_grads[Role.INPUT],
            next_index,
            params,
        )
        if prove and isinstance(spec, (Conv2D, MaxPool2D, AvgPool2D)):
            from .identities import prove_identities

            layer.identities.extend(prove_identities(Derivation(spec, fwd, grads, table)))
        layers.append(layer)
        next_grads, next_index = grads, index
    layers.reverse()
    return NetworkDerivation(network, layers, loss, table)


def _check_same_names(output: Grid, following: Grid) -> None:
    """The grid a layer reads must be, name for name, the grid the layer before wrote."""
    a = [str(s) for s in output.symbols.ravel()]
    b = [str(s) for s in following.symbols.ravel()]
    if a != b:
        raise AssertionError(
            f"grid {output.name} ({shape_text(output.shape)}) named differently downstream"
        )


__all__ = ["ChainSum", "NetLayer", "NetworkDerivation", "derive_network"]

"""A network: layers reading named tensors, sized and shape-checked from the input to the loss."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..core.shapes import (
    DEFAULT_MAX_TERMS,
    Shape,
    check_index_base,
    check_max_terms,
    shape_of,
    shape_text,
)
from ..core.symbols import Role
from ..errors import LayerKeyError, NetworkShapeError, SpecError, TooLargeError
from ..kinds.base import Layer
from ..kinds.loss import Loss, MSELoss
from ..kinds.registry import LAYERS, layer_from_table, loss_from_name

#: The name of the network's input tensor.
INPUT = "input"


@dataclass(frozen=True)
class Node:
    """One layer of a network, sized: its position, the tensors it reads, the layer itself.

    ``reads`` holds the index of the node whose output it reads, None for the network input.
    """

    index: int
    layer: Layer
    reads: tuple[int | None, ...]

    @property
    def kind(self) -> str:
        """The layer's ``type`` in a network file."""
        return self.layer.kind

    @property
    def name(self) -> str:
        """``layer 0 (<type>)``."""
        return f"layer {self.index} ({self.layer.kind})"

    def param_names(self, lone: bool = False) -> dict[Role, str]:
        """``{Role.WEIGHT: "0.weight", Role.BIAS: "0.bias"}`` (``weight``, ``bias`` alone)."""
        return {
            role: role.value if lone else f"{self.index}.{role.value}"
            for role in self.layer.param_shapes()
        }


@dataclass(frozen=True)
class _Chain:
    """What the layer being sized receives: its input shape and where that shape came from."""

    index: int
    shape: Shape
    source: str

    @contextmanager
    def blame(self, kind: str) -> Iterator[None]:
        """Report a layer's own error (kernel too large …) with this layer's place."""
        try:
            yield
        except SpecError as err:
            raise NetworkShapeError(
                self.index,
                f"layer {self.index} ({kind}): {err}; its input {self.source}",
                getattr(err, "key", None),  # a key the error names (groups …): its line
            ) from None


def _to_layer(item: Any, index: int) -> Layer:
    if isinstance(item, Mapping):
        try:
            return layer_from_table(item)
        except LayerKeyError as err:
            raise NetworkShapeError(index, f"layer {index}: {err}", err.key) from None
    if not isinstance(item, Layer):
        raise SpecError(
            f"layer {index}: {type(item).__name__} is not a layer; use "
            + ", ".join(cls.__name__ for cls in LAYERS.values())
            + " or a dict"
        )
    return item


@dataclass(frozen=True)
class Network:
    """A list of layers on an input of shape [C, H, W] (or [N]), each reading the one before,
    ending in a loss (or in nothing: a lone layer, whose δ is given).

    Layers are numbered from 0; their parameters are named ``<index>.weight`` and
    ``<index>.bias``. Items may be layers or network-file tables. Shapes are checked when
    the network is built.

    Example:
        >>> from symcnn import Linear, ReLU
        >>> net = Network([Linear(3), ReLU()], input=(4,))
        >>> [node.layer.output_shape for node in net.nodes]
        [(3,), (3,)]
        >>> Network([{"type": "relu"}, Linear(2)], input=(4,)).param_shapes()
        {'1.weight': (2, 4), '1.bias': (2,)}
    """

    layers: tuple[Layer, ...]
    input: Shape
    loss: Loss | None = field(default_factory=MSELoss)
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)
    nodes: tuple[Node, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input", shape_of(self.input, "input"))
        check_index_base(self.index_base)
        check_max_terms(self.max_terms)
        loss = None if self.loss is None else loss_from_name(self.loss)
        if isinstance(self.layers, (str, bytes, Mapping)) or not isinstance(self.layers, Sequence):
            raise SpecError("layers must be a list of layer descriptions")
        if not self.layers:
            raise SpecError("a network needs at least one layer")
        set_(self, "layers", tuple(_to_layer(item, i) for i, item in enumerate(self.layers)))
        nodes: list[Node] = []
        shape, source = self.input, "is the network input"
        for index, layer in enumerate(self.layers):
            with _Chain(index, shape, source).blame(layer.kind):
                sized = layer.sized(shape)
            nodes.append(Node(index, sized, (index - 1 if index else None,)))
            shape = sized.output_shape
            source = (
                f"{shape_text(shape)} comes from layer {index} ({layer.kind}: {sized.arithmetic()})"
            )
        set_(self, "nodes", tuple(nodes))
        total = sum(n.layer.term_count for n in nodes)
        if total > self.max_terms:
            raise TooLargeError(
                f"this network would build about {total:,} product terms, more than the "
                f"limit of {self.max_terms:,}; use a smaller network, raise --max-terms, or "
                "print the size-independent formulas of every layer with --general"
            )
        if loss is not None:
            try:
                set_(self, "loss", loss.sized(shape))
            except SpecError as err:
                raise NetworkShapeError(len(self.layers), f"loss: {err}", "loss") from None

    @classmethod
    def of(cls, layer: Layer, index_base: int = 1, max_terms: int = DEFAULT_MAX_TERMS) -> Network:
        """A lone layer as a network of one layer without a loss: its δ is given, not derived.

        Example:
            >>> from symcnn import Tanh
            >>> Network.of(Tanh(input=(1, 4, 4))).describe()
            'input 1x4x4 → 0 tanh 1x4x4'
        """
        check_max_terms(max_terms)
        if layer.term_count > max_terms:
            raise TooLargeError(
                f"this derivation would build about {layer.term_count:,} product terms per "
                f"gradient tensor, more than the limit of {max_terms:,}; use a smaller "
                "configuration, raise --max-terms, or print the size-independent formulas "
                "with --general (any size)"
            )
        return cls((layer,), layer.input_shape, None, index_base, max_terms)

    @property
    def lone(self) -> bool:
        """True for a lone layer (no loss: its δ is given)."""
        return self.loss is None

    @property
    def output_shape(self) -> Shape:
        """Shape of the network output ŷ (and of the target)."""
        return self.nodes[-1].layer.output_shape

    @property
    def specs(self) -> tuple[Layer, ...]:
        """The layers, sized."""
        return tuple(node.layer for node in self.nodes)

    def param_shapes(self) -> dict[str, Shape]:
        """``{"0.weight": (O, C, KH, KW), "0.bias": (O,), …}`` in layer order."""
        return {
            name: node.layer.param_shapes()[role][0]
            for node in self.nodes
            for role, name in node.param_names(self.lone).items()
        }

    def describe(self) -> str:
        """One line: ``input 4 → 0 <type> 3 → 1 relu 3 → loss mse``."""
        parts = [f"input {shape_text(self.input)}"]
        for node in self.nodes:
            parts.append(f"{node.index} {node.kind} {shape_text(node.layer.output_shape)}")
        if self.loss is not None:
            parts.append(f"loss {self.loss.kind}")
        return " → ".join(parts)

    def config(self) -> dict[str, Any]:
        """The network as plain JSON-able values (the network file's content, resolved)."""
        layers = []
        for node in self.nodes:
            entry: dict[str, Any] = {"index": node.index, "type": node.kind}
            entry.update(node.layer.config())
            entry["index_base"] = self.index_base
            entry["output_shape"] = list(node.layer.output_shape)
            layers.append(entry)
        return {
            "input": list(self.input),
            "loss": None if self.loss is None else self.loss.kind,
            "index_base": self.index_base,
            "layers": layers,
        }

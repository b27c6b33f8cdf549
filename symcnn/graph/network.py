"""A network: layers reading named tensors, sized and shape-checked from the input to the loss."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..core.shapes import (
    DEFAULT_MAX_TERMS,
    Shape,
    check_index_base,
    check_max_terms,
    positive,
    shape_of,
    shape_text,
    suggest,
)
from ..core.symbols import Role
from ..errors import LayerKeyError, NetworkShapeError, SpecError, TooLargeError
from ..kinds.base import Layer
from ..kinds.loss import Loss, MSELoss
from ..kinds.registry import LAYERS, layer_from_table, loss_from_name

#: The name of the network's input tensor.
INPUT = "input"


#: The reductions of the loss over a mini-batch: the sum of the samples' losses, or their mean.
REDUCTIONS = ("sum", "mean")

#: Keys of a layer's table that wire it into the network (the rest are its kind's options).
WIRING_KEYS = ("id", "from", "inputs")


@dataclass(frozen=True)
class Wiring:
    """How a layer is wired into a network: its optional ``id`` and the ids it reads.

    ``reads`` empty means the previous layer's output (the network input for layer 0);
    ``"input"`` names the network input. A single-input kind reads one id (``from``), a
    merging kind two or more (``inputs``).

    Example:
        >>> Wiring.of({"id": "r", "from": "input"})
        Wiring(id='r', reads=('input',), key='from')
    """

    id: str | None = None
    reads: tuple[str, ...] = ()
    key: str | None = None  # the table key that gave ``reads``: "from" or "inputs"

    @classmethod
    def of(cls, table: Mapping[str, Any]) -> Wiring:
        """The wiring keys of a layer's table (``id``, ``from``, ``inputs``), checked."""
        ident = table.get("id")
        if ident is not None and (not isinstance(ident, str) or not _ID.match(ident)):
            raise LayerKeyError(
                "id", f'id must be a name like "res1" (letters, digits, _ and -), got {ident!r}'
            )
        if ident == INPUT:
            raise LayerKeyError("id", f'id "{INPUT}" is reserved for the network input')
        if "from" in table and "inputs" in table:
            raise LayerKeyError("inputs", "give from (one tensor) or inputs (several), not both")
        reads: tuple[str, ...] = ()
        key = None
        if "from" in table:
            key, value = "from", table["from"]
            if not isinstance(value, str):
                raise LayerKeyError(
                    "from", f'from names one earlier output, e.g. from = "{INPUT}", got {value!r}'
                )
            reads = (value,)
        elif "inputs" in table:
            key, value = "inputs", table["inputs"]
            if (
                isinstance(value, str)
                or not isinstance(value, (list, tuple))
                or not all(isinstance(v, str) for v in value)
            ):
                raise LayerKeyError(
                    "inputs",
                    f'inputs is a list of ids, e.g. inputs = ["{INPUT}", "r"], got {value!r}',
                )
            reads = tuple(value)
        return cls(ident, reads, key)


_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Node:
    """One layer of a network, sized: its position, the tensors it reads, the layer itself.

    ``reads`` holds, for each tensor it reads, the index of the node whose output it is, None
    for the network input (one entry for most kinds, two or more for a merging kind).
    ``id`` is its name in the network file, if it has one.
    """

    index: int
    layer: Layer
    reads: tuple[int | None, ...]
    id: str | None = None

    @property
    def kind(self) -> str:
        """The layer's ``type`` in a network file."""
        return self.layer.kind

    @property
    def name(self) -> str:
        """``layer 0 (<type>)``."""
        return f"layer {self.index} ({self.layer.kind})"

    @property
    def chained(self) -> bool:
        """True when it reads the previous output alone (the network input for layer 0)."""
        return self.reads == ((self.index - 1) if self.index else None,)

    def param_names(self, lone: bool = False) -> dict[Role, str]:
        """``{Role.WEIGHT: "0.weight", Role.BIAS: "0.bias"}`` (``weight``, ``bias`` alone)."""
        return {
            role: role.value if lone else f"{self.index}.{role.value}"
            for role in self.layer.param_shapes()
        }


def _source(index: int | None, nodes: Sequence[Node], shape: Shape) -> str:
    """``1x4x4 (the network input)`` or ``2x4x4 (layer 1 relu: …)``: where a shape came from."""
    if index is None:
        return f"{shape_text(shape)} (the network input)"
    node = nodes[index]
    return f"{shape_text(shape)} (layer {index} {node.kind}: {node.layer.arithmetic()})"


@contextmanager
def _blame(index: int, kind: str, source: str, key: str | None = None) -> Iterator[None]:
    """Report a layer's own error (kernel too large …) with this layer's place."""
    try:
        yield
    except SpecError as err:
        named = getattr(err, "key", None)  # a key the error names (groups …): its line
        raise NetworkShapeError(
            index, f"layer {index} ({kind}): {err}; {source}", named or key
        ) from None


def _to_layer(item: Any, index: int) -> tuple[Layer, Wiring | None]:
    """A layer and its wiring from a Layer, a network-file table, or ``{"layer": …, "id": …}``."""
    if isinstance(item, Mapping):
        try:
            wiring = Wiring.of(item)
            rest = {k: v for k, v in item.items() if k not in WIRING_KEYS}
            if "layer" in rest:
                layer = rest.pop("layer")
                if rest:
                    raise LayerKeyError(
                        next(iter(rest)),
                        "a table with a layer object takes only id, from and inputs besides it",
                    )
                return _to_layer(layer, index)[0], wiring
            return layer_from_table(rest), wiring
        except LayerKeyError as err:
            raise NetworkShapeError(index, f"layer {index}: {err}", err.key) from None
    if not isinstance(item, Layer):
        raise SpecError(
            f"layer {index}: {type(item).__name__} is not a layer; use "
            + ", ".join(cls.__name__ for cls in LAYERS.values())
            + " or a dict"
        )
    return item, None


def _resolve(wirings: Sequence[Wiring], layers: Sequence[Layer]) -> list[tuple[int | None, ...]]:
    """The node indices each layer reads; errors for unknown, later, repeated or missing ids."""
    ids: dict[str, int] = {}
    for index, w in enumerate(wirings):
        if w.id is None:
            continue
        if w.id in ids:
            raise NetworkShapeError(
                index, f'layer {index}: id "{w.id}" is already the id of layer {ids[w.id]}', "id"
            )
        ids[w.id] = index
    out: list[tuple[int | None, ...]] = []
    for index, (w, layer) in enumerate(zip(wirings, layers)):
        where = f"layer {index} ({layer.kind})"
        if layer.arity is None:
            if len(w.reads) < 2 or w.key != "inputs":
                raise NetworkShapeError(
                    index,
                    f'{where} reads two or more tensors: name them with inputs = ["{INPUT}", '
                    '"<id>"] (ids of earlier layers)',
                    w.key or "type",
                )
        elif w.key == "inputs":
            raise NetworkShapeError(
                index,
                f'{where} reads one tensor: name it with from = "<id>" (inputs is for the '
                "kinds that merge tensors)",
                "inputs",
            )
        if not w.reads:
            out.append(((index - 1) if index else None,))
            continue
        reads: list[int | None] = []
        for name in w.reads:
            if name == INPUT:
                reads.append(None)
                continue
            if name not in ids:
                known = [INPUT, *ids]
                raise NetworkShapeError(
                    index,
                    f"{where}: {w.key} names {name!r}, which is no layer's id"
                    f"{suggest(name, known)}; known: {', '.join(known)}",
                    w.key,
                )
            if ids[name] >= index:
                what = "its own id" if ids[name] == index else f"layer {ids[name]}, a later layer"
                raise NetworkShapeError(
                    index,
                    f"{where}: {w.key} names {name!r}, {what}; a layer reads only the input or "
                    "earlier layers (no cycles)",
                    w.key,
                )
            reads.append(ids[name])
        out.append(tuple(reads))
    return out


@dataclass(frozen=True)
class Network:
    """Layers on an input of shape [C, H, W] (or [N]), ending in a loss (or in nothing: a lone
    layer, whose δ is given).

    Each layer reads the previous layer's output, or the earlier outputs its wiring names
    (a table's ``id``, ``from`` and ``inputs``; ``"input"`` is the network input), so a
    network is a graph of named tensors; the last layer's output is the network's. Layers are
    numbered from 0; their parameters are named ``<index>.weight`` and ``<index>.bias``.
    Items may be layers, network-file tables, or ``{"layer": <Layer>, "id": …, "from": …}``.
    ``batch`` (None: one sample, no batch axis) gives every tensor a leading axis of that
    many samples, the parameters being shared; ``reduction`` is how the loss combines them:
    ``"sum"`` or ``"mean"``. Shapes are checked when the network is built.

    Example:
        >>> from symcnn import Linear, ReLU
        >>> net = Network([Linear(3), ReLU()], input=(4,))
        >>> [node.layer.output_shape for node in net.nodes]
        [(3,), (3,)]
        >>> Network([{"type": "relu"}, Linear(2)], input=(4,)).param_shapes()
        {'1.weight': (2, 4), '1.bias': (2,)}
        >>> Network([{"type": "relu", "id": "r"}, {"type": "tanh", "from": "input"},
        ...          {"type": "relu", "from": "r"}], input=(2,)).describe()
        Traceback (most recent call last):
        symcnn.errors.NetworkShapeError: layer 1 (tanh): its output is read by no later layer and is not the network output (the last layer's); read it with from or inputs, or remove it
    """

    layers: tuple[Layer, ...]
    input: Shape
    loss: Loss | None = field(default_factory=MSELoss)
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)
    batch: int | None = None
    reduction: str = "sum"
    wiring: tuple[Wiring, ...] = ()
    nodes: tuple[Node, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input", shape_of(self.input, "input"))
        check_index_base(self.index_base)
        check_max_terms(self.max_terms)
        if self.batch is not None:
            set_(self, "batch", positive(self.batch, "batch"))
        if self.reduction not in REDUCTIONS:
            raise SpecError(
                f"reduction must be one of {', '.join(REDUCTIONS)}, got {self.reduction!r}"
            )
        loss = None if self.loss is None else loss_from_name(self.loss)
        if isinstance(self.layers, (str, bytes, Mapping)) or not isinstance(self.layers, Sequence):
            raise SpecError("layers must be a list of layer descriptions")
        if not self.layers:
            raise SpecError("a network needs at least one layer")
        parsed = [_to_layer(item, i) for i, item in enumerate(self.layers)]
        wirings = tuple(w or Wiring() for _, w in parsed)
        if self.wiring:
            if any(w is not None for _, w in parsed) or len(self.wiring) != len(parsed):
                raise SpecError("give the wiring in the layer tables or as wiring, not both")
            wirings = tuple(self.wiring)
        set_(self, "layers", tuple(layer for layer, _ in parsed))
        set_(self, "wiring", wirings)
        reads = _resolve(wirings, self.layers)
        nodes: list[Node] = []
        for index, (layer, wire, read) in enumerate(zip(self.layers, wirings, reads)):
            shapes = tuple(self.input if r is None else nodes[r].layer.output_shape for r in read)
            parts = [_source(r, nodes, shape) for r, shape in zip(read, shapes)]
            if len(parts) == 1:
                source = f"its input {parts[0].replace(' (', ' comes from ', 1).rstrip(')')}"
                if read[0] is None:
                    source = "its input is the network input"
            else:
                named = [f"{n!r} is {p}" for n, p in zip(wire.reads, parts)]
                source = "its inputs: " + ", ".join(named)
            with _blame(index, layer.kind, source, wire.key):
                sized = layer.sized_reads(shapes)
            with _blame(index, layer.kind, f"the network has batch = {self.batch}"):
                sized.check_batch(self.batch)
            nodes.append(Node(index, sized, read, wire.id))
        read_by = {r for node in nodes for r in node.reads}
        for node in nodes[:-1]:
            if node.index not in read_by:
                raise NetworkShapeError(
                    node.index,
                    f"{node.name}: its output is read by no later layer and is not the network "
                    "output (the last layer's); read it with from or inputs, or remove it",
                )
        set_(self, "nodes", tuple(nodes))
        total = sum(n.layer.term_count for n in nodes) * (self.batch or 1)
        if total > self.max_terms:
            raise TooLargeError(
                f"this network would build about {total:,} product terms, more than the "
                f"limit of {self.max_terms:,}; use a smaller network, raise --max-terms, or "
                "print the size-independent formulas of every layer with --general"
            )
        if loss is not None:
            try:
                set_(self, "loss", loss.sized(nodes[-1].layer.output_shape))
            except SpecError as err:
                raise NetworkShapeError(len(self.layers), f"loss: {err}", "loss") from None

    @classmethod
    def of(
        cls,
        layer: Layer,
        index_base: int = 1,
        max_terms: int = DEFAULT_MAX_TERMS,
        batch: int | None = None,
    ) -> Network:
        """A lone layer as a network of one layer without a loss: its δ is given, not derived.

        Example:
            >>> from symcnn import Tanh
            >>> Network.of(Tanh(input=(1, 4, 4))).describe()
            'input 1x4x4 → 0 tanh 1x4x4'
        """
        check_max_terms(max_terms)
        if layer.arity != 1:
            raise SpecError(
                f"{layer.kind} reads several tensors, so it is derived inside a network "
                "(a network file with inputs = [...])"
            )
        layer.check_batch(batch)
        count = layer.term_count * (batch or 1)
        if count > max_terms:
            raise TooLargeError(
                f"this derivation would build about {count:,} product terms per "
                f"gradient tensor, more than the limit of {max_terms:,}; use a smaller "
                "configuration, raise --max-terms, or print the size-independent formulas "
                "with --general (any size)"
            )
        return cls((layer,), layer.input_shape, None, index_base, max_terms, batch)

    def replaced(self, **changes: Any) -> Network:
        """The same network with some fields changed (``index_base``, ``max_terms`` …).

        Example:
            >>> from symcnn import Tanh
            >>> Network.of(Tanh(input=(4,))).replaced(index_base=0).index_base
            0
        """
        return dataclasses.replace(self, **changes)

    @property
    def lone(self) -> bool:
        """True for a lone layer (no loss: its δ is given)."""
        return self.loss is None

    @property
    def output_shape(self) -> Shape:
        """Shape of the network output ŷ (and of the target), per sample."""
        return self.nodes[-1].layer.output_shape

    def batched(self, shape: Shape) -> Shape:
        """A per-sample shape with the batch axis in front when the network has a batch.

        Example:
            >>> from symcnn import Tanh
            >>> Network([Tanh()], input=(3,), batch=2).batched((3,))
            (2, 3)
        """
        return shape if self.batch is None else (self.batch, *shape)

    @property
    def specs(self) -> tuple[Layer, ...]:
        """The layers, sized."""
        return tuple(node.layer for node in self.nodes)

    @property
    def chained(self) -> bool:
        """True when every layer reads the previous layer's output (no branches, no merges)."""
        return all(node.chained for node in self.nodes)

    def readers(self, index: int | None) -> tuple[int, ...]:
        """The layers that read the output of layer ``index`` (None: the network input).

        Example:
            >>> from symcnn import Tanh
            >>> Network([Tanh()], input=(3,)).readers(None)
            (0,)
        """
        return tuple(node.index for node in self.nodes if index in node.reads)

    def param_shapes(self) -> dict[str, Shape]:
        """``{"0.weight": (O, C, KH, KW), "0.bias": (O,), …}`` in layer order."""
        return {
            name: node.layer.param_shapes()[role][0]
            for node in self.nodes
            for role, name in node.param_names(self.lone).items()
        }

    @property
    def loss_definition(self) -> str:
        """What E is: the loss's definition, and over a mini-batch the sum or the mean of the
        samples' losses.

        Example:
            >>> from symcnn import Tanh
            >>> Network([Tanh()], input=(3,), batch=2, reduction="mean").loss_definition[:34]
            'E = (1/2)·Σ_n E_n over the 2 sampl'
        """
        assert self.loss is not None, "a lone layer has no loss"
        text = self.loss.definition
        if self.batch is None:
            return text
        per_sample = "E_n" + text.removeprefix("E")
        scale = f"(1/{self.batch})·" if self.reduction == "mean" else ""
        return f"E = {scale}Σ_n E_n over the {self.batch} samples, {per_sample}"

    def describe(self) -> str:
        """One line: ``input 4 → 0 <type> 3 → 1 relu 3 → loss mse``; a layer that reads other
        tensors than the previous output names them: ``3 add(input, 1) 2x4x4``.

        Example:
            >>> from symcnn import Tanh
            >>> Network([Tanh()], input=(3,), batch=2, reduction="mean").describe()
            'input 3, batch 2 → 0 tanh 3 → loss mse (mean over the batch)'
        """
        head = f"input {shape_text(self.input)}"
        parts = [head + (f", batch {self.batch}" if self.batch is not None else "")]
        for node in self.nodes:
            reads = "" if node.chained else f"({', '.join(map(str, self._reads_of(node)))})"
            parts.append(f"{node.index} {node.kind}{reads} {shape_text(node.layer.output_shape)}")
        if self.loss is not None:
            mean = " (mean over the batch)" if self.reduction == "mean" else ""
            parts.append(f"loss {self.loss.kind}{mean}")
        return " → ".join(parts)

    def _reads_of(self, node: Node) -> list[str]:
        return [INPUT if r is None else str(r) for r in node.reads]

    def config(self) -> dict[str, Any]:
        """The network as plain JSON-able values (the network file's content, resolved).

        Each layer lists what it ``reads``: indices of earlier layers, ``"input"`` for the
        network input.
        """
        layers = []
        for node in self.nodes:
            entry: dict[str, Any] = {"index": node.index, "type": node.kind}
            if node.id is not None:
                entry["id"] = node.id
            entry.update(node.layer.config())
            entry["reads"] = [INPUT if r is None else r for r in node.reads]
            entry["index_base"] = self.index_base
            entry["output_shape"] = list(node.layer.output_shape)
            layers.append(entry)
        return {
            "input": list(self.input),
            "batch": self.batch,
            "loss": None if self.loss is None else self.loss.kind,
            "reduction": self.reduction,
            "index_base": self.index_base,
            "layers": layers,
        }

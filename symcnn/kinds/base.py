"""What every layer kind provides: the `Layer` base class, closed forms, mistakes and figures."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from ..core.indexed import General
from ..core.shapes import Shape, channel_axes, shape_of, shape_text, suggest
from ..core.symbols import Role, with_channels
from ..errors import LayerKeyError, SpecError

#: Arrays by role: the numbers (or symbols) of a layer's tensors.
Arrays = dict[Role, "np.ndarray | None"]


class Figure(enum.Enum):
    """The figures a sheet can draw for a layer (the sheet stage knows how to draw each)."""

    RECEPTIVE_FIELD = "receptive_field"  # the input cells one output entry reads
    WEIGHT_CELLS = "weight_cells"  # the inputs a weight multiplies and the δ they meet
    ROUTING = "routing"  # max pooling: which cell of each window receives its δ


@dataclass(frozen=True)
class Operand:
    """One operand of a closed form as it was built for the proof: a label and its entries."""

    latex: str
    cells: np.ndarray


@dataclass(frozen=True)
class Shown:
    """A closed form written out for the first channels: ``left ⋆ right``, then cropped; or,
    without ``right``, ``left`` (δ) spread back onto the input.

    ``full`` is the result as built for the proof (the correlation before cropping); ``crop``
    the (rows, cols) slices that keep the input's entries (None: nothing is cropped).
    """

    left: Operand
    right: Operand | None
    full: np.ndarray
    crop: tuple[slice, slice] | None = None


@dataclass(frozen=True)
class TexNames:
    r"""The LaTeX names a closed form is written with: a single layer's ``a, w, b, z, δ`` by
    default, a network layer's own (``z^{(0)}``, ``w^{(2)}``, ``\delta^{(1)}``) on its sheet.

    Example:
        >>> n = TexNames(a="z^{(0)}")
        >>> n.ch(n.a, "c"), n.ch(n.w, "o,c"), n.ch(n.d, "")
        ('z^{(0)(c)}', 'w^{(o,c)}', '\\delta')
    """

    a: str = "a"
    w: str = "w"
    b: str = "b"
    z: str = "z"
    d: str = r"\delta"

    @staticmethod
    def ch(stem: str, channels: str) -> str:
        """``stem`` with channel indices in its superscript (none: the stem itself)."""
        return with_channels(stem, channels) if channels else stem


#: The names of a layer alone.
SINGLE = TexNames()


@dataclass(frozen=True)
class ClosedForm:
    """A matrix identity of a layer: the gradient of one tensor in closed form.

    ``value`` holds the closed form entry by entry (shaped like the gradient), built with
    whole-array operations, independently of the chain rule; the derivation proves it equal
    to the per-entry gradients. ``shown`` is the same computation for the first channel pair,
    from the same operands, for a sheet to write out. ``tex`` writes the statement in LaTeX
    with the given names (a sheet passes a network layer's own).
    """

    role: Role
    name: str
    statement: str
    tex: Callable[[TexNames], str]
    value: np.ndarray
    shown: Shown | None = None

    @property
    def latex(self) -> str:
        """The statement in a single layer's names (``a``, ``w``, ``δ``)."""
        return self.tex(SINGLE)


@dataclass(frozen=True)
class Mistake:
    """A classic mistake of a hand-written backward pass of one gradient tensor.

    ``options`` are the knobs of the layer's model of a backward pass that reproduce it
    (`Layer.buggy` evaluates them); two mistakes with no knob in common can be combined.
    """

    role: Role
    name: str
    options: tuple[tuple[str, Any], ...]


def pair_tag(pair: tuple[int, int]) -> str:
    """``3`` for (3, 3), ``3x2`` for (3, 2): a size in a slug.

    Example:
        >>> pair_tag((3, 3)), pair_tag((3, 2))
        ('3', '3x2')
    """
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def spatial_axes(
    spatial: tuple[int, int],
    window: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    out: tuple[int, int],
) -> list[dict[str, int]]:
    """The output-size arithmetic of a sliding window, per axis, for a sheet's set-up.

    Example:
        >>> spatial_axes((5, 5), (3, 3), (2, 2), (1, 1), (1, 1), (3, 3))[0]["out"]
        3
    """
    return [
        {
            "size": spatial[ax],
            "k": window[ax],
            "stride": stride[ax],
            "pad": padding[ax],
            "dil": dilation[ax],
            "out": out[ax],
        }
        for ax in (0, 1)
    ]


def signed(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random values of magnitude 0.5–1.5 and random sign: never near 0, all distinct.

    Example:
        >>> bool(np.all(np.abs(signed(np.random.default_rng(0), (3,))) >= 0.5))
        True
    """
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


class Layer:
    """Base class of every layer kind: options, shapes, forward rule, closed forms, mistakes.

    A layer is a frozen dataclass of its options plus ``input``, the shape it reads: None in
    a network description (the network sizes it), given for a lone layer. Subclasses set the
    class attributes below and implement the methods that raise ``NotImplementedError``.
    """

    #: The ``type`` of the layer in a network file.
    kind: ClassVar[str]
    #: What a sheet calls it (a message to translate).
    title: ClassVar[str]
    #: The template of its part of a sheet.
    template: ClassVar[str]
    #: Stem of its output in a network: z (a weighted sum), p (pooling), a (activation), v.
    letter: ClassVar[str] = "z"
    #: Stems of its input and output when it is derived alone.
    lone: ClassVar[tuple[str, str]] = ("a", "z")
    #: The figures its sheet part draws.
    figures: ClassVar[tuple[Figure, ...]] = ()
    #: A key that must be given in a network file, with an example value (None: none).
    required: ClassVar[tuple[str, str] | None] = None
    #: True when its output is not a pre-activation (an activation's or flatten's): the
    #: error there is written ∇a, ∇v, keeping δ for ∂E/∂z as the seeds do.
    nabla: ClassVar[bool] = False
    #: What a reader must know to read its formulas (a function's derivative, a bracket).
    note: ClassVar[str] = ""
    #: What its tensors and operation mean where frameworks differ, for the JSON contract:
    #: ``shapes`` (its parameters' axes), ``convolution``, or a key of its own.
    conventions: ClassVar[dict[str, str]] = {}

    input: Any

    # --- options and shapes ------------------------------------------------------------

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The keys a network file may give this layer (its options, required one first)."""
        names = [f.name for f in dataclasses.fields(cls) if f.init and f.name != "input"]  # type: ignore[arg-type]
        if cls.required is not None:
            names.remove(cls.required[0])
            names.insert(0, cls.required[0])
        return tuple(names)

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Self:
        """The layer from a network file's table of options (without ``type``).

        Unknown keys and invalid values raise `LayerKeyError` naming the key.
        """
        allowed = cls.keys()
        for key in table:
            if key not in allowed:
                hint = f"valid keys: {', '.join(allowed)}" if allowed else "it takes no keys"
                raise LayerKeyError(
                    key, f"unknown key {key!r} for {cls.kind}{suggest(key, allowed)}; {hint}"
                )
        if cls.required is not None and cls.required[0] not in table:
            key, example = cls.required
            raise LayerKeyError(None, f"{cls.kind} needs {key}, e.g. {example}")
        required = (cls.required[0],) if cls.required else ()
        for key in table:  # validate each key alone (with the required one) to name it
            try:
                cls(**{k: v for k, v in table.items() if k == key or k in required})
            except SpecError as err:
                raise LayerKeyError(key, str(err)) from None
        return cls(**table)

    def sized(self, shape: Shape) -> Self:
        """This layer reading a tensor of ``shape``; a `SpecError` says why it cannot.

        Example:
            >>> from symcnn.kinds.activation import Tanh
            >>> Tanh().sized((2, 3, 3)).output_shape
            (2, 3, 3)
        """
        return dataclasses.replace(self, input=shape_of(shape, "input"))  # type: ignore[type-var]

    @property
    def input_shape(self) -> Shape:
        """The shape of the tensor the layer reads."""
        if self.input is None:
            raise SpecError(f"{self.kind} has no input shape yet: give input=(C, H, W)")
        return tuple(self.input)

    @property
    def output_shape(self) -> Shape:
        """The shape of the layer's output (and of its δ)."""
        return self.input_shape

    def param_shapes(self) -> dict[Role, tuple[Shape, int]]:
        """Shape and number of leading channel axes of each parameter tensor (none here)."""
        return {}

    @property
    def term_count(self) -> int:
        """An upper bound on the product terms of one gradient tensor (one per entry here)."""
        return math.prod(self.input_shape)

    def config(self) -> dict[str, Any]:
        """Every option, resolved, as plain JSON-able values."""
        raise NotImplementedError

    def summary(self) -> str:
        """Options worth naming in a one-line description (empty for none)."""
        return ""

    def describe(self) -> str:
        """One line: ``tanh: input 2x3x3 -> output 2x3x3``."""
        return (
            f"{self.kind}: input {shape_text(self.input_shape)}"
            f"{', ' + self.summary() if self.summary() else ''} -> output "
            f"{shape_text(self.output_shape)}"
        )

    def slug(self) -> str:
        """A short name of the layer and its options, for file names and test ids.

        Example:
            >>> from symcnn.kinds.activation import Tanh
            >>> Tanh(input=(2, 3, 3)).slug()
            'tanh-2x3x3'
        """
        return f"{self.kind}-{shape_text(self.input_shape)}"

    def arithmetic(self) -> str:
        """How the output shape follows from the input (for error messages and tables)."""
        return "same shape as its input"

    def axes(self, role: Role) -> str:
        """The axes of a tensor as a checked function receives it: ``[C, H, W]``."""
        shape = self.input_shape if role in (Role.INPUT,) else self.output_shape
        return "[C, H, W]" if channel_axes(shape) else "[N]"

    # --- maths ---------------------------------------------------------------------------

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        """The forward rule: for each output entry, the tuple of summands it adds up."""
        raise NotImplementedError

    def closed_forms(
        self, x: np.ndarray, params: dict[Role, np.ndarray], delta: np.ndarray
    ) -> list[ClosedForm]:
        """The matrix identities of the layer's gradients (none by default)."""
        return []

    def index_formula(self, base: int) -> General:
        """The forward rule as one index formula, for the size-independent chain rule."""
        raise NotImplementedError

    # --- checking ------------------------------------------------------------------------

    def mistakes(self) -> list[Mistake]:
        """The classic mistakes of a hand-written backward pass, as options of `buggy`."""
        return []

    def buggy(self, role: Role, arrays: Arrays, options: dict[str, Any]) -> np.ndarray | None:
        """The gradient of ``role`` as a backward pass with these mistakes computes it."""
        return None

    def wrong_results(self, role: Role, arrays: Arrays) -> list[tuple[str, np.ndarray]]:
        """Named wrong results of ``role`` that are not options of `buggy` (a bias summed
        over the wrong axes …); when there are some, they are the only ones tried."""
        return []

    def test_inputs(self, rng: np.random.Generator, ties: bool = False) -> Arrays | None:
        """Random arrays for a backward check: the input, the parameters and δ.

        With ``ties``, inputs full of ties where they matter (max pooling); None for a kind
        where ties change nothing.
        """
        if ties:
            return None
        arrays: Arrays = {Role.INPUT: signed(rng, self.input_shape)}
        for role, (shape, _) in self.param_shapes().items():
            arrays[role] = signed(rng, shape)
        arrays[Role.DELTA] = signed(rng, self.output_shape)
        return arrays

    # --- sheets --------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        """Sizes and options as numbers, for the sheet's set-up (the template writes them)."""
        return {"channels": self.input_shape[0] if len(self.input_shape) == 3 else 1}

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
from ..core.summands import Part, summand_array
from ..core.symbols import Role, with_channels
from ..errors import LayerKeyError, SpecError

#: Arrays by role: the numbers (or symbols) of a layer's tensors.
Arrays = dict[Role, "np.ndarray | None"]


class Figure(enum.Enum):
    """The figures a sheet can draw for a layer (the sheet stage knows how to draw each)."""

    RECEPTIVE_FIELD = "receptive_field"  # the input cells one output entry reads
    WEIGHT_CELLS = "weight_cells"  # the inputs a weight multiplies and the δ they meet
    ROUTING = "routing"  # max pooling: which cell of each window receives its δ
    READERS = "readers"  # the outputs that read one input cell, and the weight each used


@dataclass(frozen=True)
class Op:
    """One array operation of a closed form, as a sheet writes it: ``pad``, ``spread`` (s − 1
    zeros between neighbours), ``dil`` (the kernel dilated), ``rot180``, ``crop`` (drop the
    outer rows and columns), ``keep`` (the first k entries, every d-th); ``arg`` holds its
    parameter per axis (rows, columns)."""

    name: str
    arg: tuple[int, ...] = ()


@dataclass(frozen=True)
class Operand:
    """One operand of a closed form as it was built for the proof: the tensor it comes from
    (its role and the 0-based channels of the slice), its entries, the operations applied to
    them in order, and the result of those operations."""

    role: Role
    channels: tuple[int, ...]
    cells: np.ndarray
    ops: tuple[Op, ...] = ()
    prepared: np.ndarray | None = None

    @property
    def value(self) -> np.ndarray:
        """The entries after the operations."""
        return self.cells if self.prepared is None else self.prepared


@dataclass(frozen=True)
class Shown:
    """A closed form written out for the first channels, from the operands of the proof:
    ``left ⋆ right = full``, then ``after`` (a crop) gives ``result``; or, without ``right``,
    ``left`` (δ) spread back onto the input as ``full``.
    """

    left: Operand
    right: Operand | None
    full: np.ndarray
    after: tuple[Op, ...] = ()
    result: np.ndarray | None = None


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
    #: The layer's named quantities (batch norm's μ, σ², x̂) and their δ, in order.
    q: tuple[str, ...] = ()
    dq: tuple[str, ...] = ()

    @staticmethod
    def ch(stem: str, channels: str) -> str:
        """``stem`` with channel indices in its superscript (none: the stem itself)."""
        return with_channels(stem, channels) if channels else stem


#: The names of a layer alone.
SINGLE = TexNames()


@dataclass(frozen=True)
class NumpyCode:
    """NumPy/SciPy code that computes one gradient, as a sheet prints it (and the tests run it).

    It reads ``a`` (the layer's input), ``w``, ``b`` and ``delta`` (the error at the layer's
    output) and assigns ``grad_a``, ``grad_w`` or ``grad_b``; ``np`` is NumPy and
    ``correlate2d``, ``convolve2d`` come from ``scipy.signal``. ``planar``: the arrays are the
    2-D slices of one-channel tensors (the matrices of the sheet) rather than the layer's
    shapes with their channel axes.
    """

    text: str
    planar: bool = False


@dataclass(frozen=True)
class Lemma:
    """One step of a staged proof: the δ of the layer's named quantity number ``quantity``
    equals ``value`` (entry by entry), stated in the δ of the output and named batch sums.

    Before the comparison the atoms of ``value`` are expanded with ``expand`` (a batch sum by
    its terms), and ``define`` is substituted into the derived side (a quantity by its
    definition, e.g. μ by the mean it names, where the derivation needs that μ is the mean).
    Proven lemmas are substituted into later steps, so that each step stays linear.
    """

    quantity: int
    statement: str
    value: np.ndarray
    expand: dict[Any, Any] = dataclasses.field(default_factory=dict)
    define: dict[Any, Any] = dataclasses.field(default_factory=dict)
    #: The statement in LaTeX with the given names, as its two sides (None: none).
    tex: Callable[[TexNames], tuple[str, str]] | None = None


@dataclass(frozen=True)
class ClosedForm:
    """A matrix identity of a layer: the gradient of one tensor in closed form.

    ``value`` holds the closed form entry by entry (shaped like the gradient), built with
    whole-array operations, independently of the chain rule; the derivation proves it equal
    to the per-entry gradients. ``shown`` is the same computation for the first channel pair,
    from the same operands, for a sheet to write out. ``tex`` writes the statement in LaTeX
    with the given names (a sheet passes a network layer's own), as its two sides. A form of a
    layer with named quantities may be proven in ``lemmas`` (each quantity's δ first), its
    ``value`` then stated with the lemmas' atoms, which ``expand`` expands for the final
    comparison.
    """

    role: Role
    name: str
    statement: str
    tex: Callable[[TexNames], tuple[str, str]]
    value: np.ndarray
    shown: Shown | None = None
    lemmas: tuple[Lemma, ...] = ()
    expand: dict[Any, Any] = dataclasses.field(default_factory=dict)

    @property
    def latex(self) -> str:
        """The statement in a single layer's names (``a``, ``w``, ``δ``)."""
        return " = ".join(self.tex(SINGLE))


@dataclass(frozen=True)
class Quantity:
    """A named intermediate quantity a layer computes on the way to its output (batch norm's
    batch mean μ, variance σ² and normalised input x̂).

    The derivation gives it a grid of symbols and a δ of its own, so that formulas go
    through it instead of expanding it: each of its entries is a sum of terms, and a later
    quantity or the output refers to its symbols. ``name`` is the identifier stem (``mu``),
    ``latex`` and ``text`` its printed stems; ``channels`` counts the leading channel axes
    after the batch axis, which it has when ``batch``; ``meaning`` says what it is.
    """

    name: str
    latex: str
    text: str
    shape: Shape
    channels: int
    batch: bool = False
    meaning: str = ""


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


def torch_array(tensor: Any) -> np.ndarray:
    """A torch tensor (a module's weight …) as a float64 NumPy array."""
    return np.asarray(tensor.detach().cpu().double().numpy(), dtype=float)


def torch_pair(value: Any, what: str) -> tuple[int, int]:
    """A torch size option (an int or a pair) as a pair; a string option is refused."""
    if isinstance(value, str):
        raise SpecError(f"{what} = {value!r}: give it as numbers")
    if isinstance(value, int):
        return (value, value)
    return (int(value[0]), int(value[1]))


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
    #: How many tensors it reads: 1, or None for two or more (named by ``inputs``).
    arity: ClassVar[int | None] = 1
    #: True when its output mixes the samples of a mini-batch (batch norm): `batch_terms`
    #: then builds the whole batch; any other kind's `terms` is applied to each sample.
    couples_samples: ClassVar[bool] = False
    #: Stems (identifier, LaTeX, text) of its parameters where they are not w and b.
    param_stems: ClassVar[dict[Role, tuple[str, str, str]]] = {}
    #: The names of the torch.nn modules it stands for (`symcnn.pytorch.from_torch`).
    torch_modules: ClassVar[tuple[str, ...]] = ()

    input: Any

    # --- options and shapes ------------------------------------------------------------

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        """The layer (not sized) and its parameters from a torch.nn module of one of its
        `torch_modules`; a `SpecError` names a setting it does not derive. (Kinds without
        options or parameters: the layer itself.)"""
        return cls(), {}

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

    def sized_reads(self, shapes: tuple[Shape, ...]) -> Self:
        """This layer reading tensors of these shapes (one for most kinds).

        Example:
            >>> from symcnn.kinds.activation import Tanh
            >>> Tanh().sized_reads(((3,),)).output_shape
            (3,)
        """
        if len(shapes) != 1:
            raise SpecError(f"{self.kind} reads one tensor, not {len(shapes)}")
        return self.sized(shapes[0])

    @property
    def read_shapes(self) -> tuple[Shape, ...]:
        """The shapes of every tensor the layer reads, in order."""
        return (self.input_shape,)

    def check_batch(self, batch: int | None) -> None:
        """A `SpecError` when the layer cannot work on a mini-batch of this size (None: one
        sample without a batch axis)."""

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
    def fan_in(self) -> int:
        """How many inputs one output entry reads through the weight: the product of the
        weight's axes after the first (PyTorch's fan_in; the input size without a weight).

        Example:
            >>> from symcnn.kinds.dense import Linear
            >>> Linear(2, input=(5,)).fan_in
            5
        """
        weight = self.param_shapes().get(Role.WEIGHT)
        return math.prod(weight[0][1:]) if weight else math.prod(self.input_shape)

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

    def parts(self) -> tuple[Part, ...] | None:
        """The forward rule as index arrays (see `symcnn.core.summands.Part`); None when the
        kind gives only `terms`."""
        return None

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        """The forward rule: for each output entry, the tuple of summands it adds up.

        By default, the summands `parts` describes, built over the given symbols.
        """
        parts = self.parts()
        if parts is None:
            raise NotImplementedError
        return summand_array(parts, self.output_shape, {Role.INPUT: x, **params})

    def read_terms(self, xs: tuple[np.ndarray, ...], params: dict[Role, np.ndarray]) -> np.ndarray:
        """The forward rule over every tensor the layer reads (`terms` of the one it reads)."""
        return self.terms(xs[0], params)

    def quantities(self, batch: int | None) -> tuple[Quantity, ...]:
        """The named intermediate quantities of a layer that couples samples (none here)."""
        return ()

    def batch_terms(
        self,
        xs: tuple[np.ndarray, ...],
        params: dict[Role, np.ndarray],
        named: tuple[np.ndarray, ...],
        batch: int | None,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """A kind that couples samples: the terms of each of its `quantities` (whose symbols
        are ``named``) and of its output, over the whole batch (``xs`` have a leading batch
        axis when ``batch`` is not None)."""
        raise NotImplementedError

    def closed_forms(
        self, x: np.ndarray, params: dict[Role, np.ndarray], delta: np.ndarray
    ) -> list[ClosedForm]:
        """The matrix identities of the layer's gradients (none by default)."""
        return []

    def staged_forms(
        self,
        x: np.ndarray,
        params: dict[Role, np.ndarray],
        delta: np.ndarray,
        named: tuple[np.ndarray, ...],
        named_deltas: tuple[np.ndarray, ...],
    ) -> list[ClosedForm]:
        """The closed forms of a layer with named quantities, whose symbols (and the symbols
        of their δ) are ``named`` and ``named_deltas`` (none by default)."""
        return []

    def index_formula(self, base: int) -> General:
        """The forward rule as one index formula, for the size-independent chain rule."""
        raise NotImplementedError

    def stage_formulas(self, base: int, batch: int | None) -> list[tuple[str, General]]:
        """The index formula of each named quantity, in the order they are computed, named
        by the label of its tensor (``mean``, ``var``, ``xhat``); none by default."""
        return []

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

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """NumPy/SciPy code computing the gradient of ``role`` (None: the kind gives none)."""
        return None

    def operators(self) -> set[str]:
        """The operators its formulas use, for the sheet to define: ``star`` (⋆), ``pad``,
        ``spread``, ``dil``, ``rot180``, ``crop``, ``keep``, ``argmax``, ``up``, ``odot`` (⊙)."""
        return set()


def forward_terms(
    layer: Layer,
    xs: tuple[np.ndarray, ...],
    params: dict[Role, np.ndarray],
    named: tuple[np.ndarray, ...],
    batch: int | None,
) -> tuple[list[np.ndarray], np.ndarray]:
    """The terms of a layer's quantities and output over a mini-batch of ``batch`` samples.

    A kind that couples samples builds the whole batch itself; any other kind's per-sample
    rule is applied to each sample (the parameters are shared), so kinds need no batch code.

    Example:
        >>> from symcnn.kinds.activation import Tanh
        >>> from symcnn.core.symbols import Grid
        >>> x = Grid("x", Role.INPUT, (2, 3), (False, False), batch=True).symbols
        >>> forward_terms(Tanh(input=(3,)), (x,), {}, (), 2)[1][1, 0]
        (tanh(x_n2_1),)
    """
    if layer.couples_samples:
        return layer.batch_terms(xs, params, named, batch)
    if batch is None:
        return [], layer.read_terms(xs, params)
    out = np.empty((batch, *layer.output_shape), dtype=object)
    for n in range(batch):
        per_sample = layer.read_terms(tuple(x[n] for x in xs), params)
        for idx in np.ndindex(*per_sample.shape):
            out[(n, *idx)] = per_sample[idx]
    return [], out

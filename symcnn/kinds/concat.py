"""concat: two or more earlier tensors stacked along the channels (or a flat vector's entries)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from ..core.shapes import Shape, shape_text
from ..core.symbols import Role
from ..errors import SpecError
from .add import read_shapes
from .base import Layer, NumpyCode


@dataclass(frozen=True)
class Concat(Layer):
    """Tensors [C₁, H, W], [C₂, H, W] … stacked along the channels into [C₁ + C₂ + …, H, W]
    (``torch.cat(dim=1)`` with the batch axis), or flat vectors joined end to end.

    Each entry of the output is one entry of one input, so each input receives its own slice
    of δ.

    Example:
        >>> Concat(input=((1, 2, 2), (3, 2, 2))).output_shape
        (4, 2, 2)
    """

    input: tuple[Shape, ...] | None = field(default=None, kw_only=True)

    kind = "concat"
    title = "concatenation"
    template = "layer_concat.tex.j2"
    letter = "u"
    lone = ("a", "u")
    arity = None
    conventions: ClassVar[dict[str, str]] = {
        "concat": "u = the tensors named by inputs stacked along the channels, in that order "
        "(flat vectors: joined end to end)"
    }

    def __post_init__(self) -> None:
        if self.input is not None:
            shapes = read_shapes(self.input, self.kind)
            ranks = {len(s) for s in shapes}
            listed = " and ".join(shape_text(s) for s in shapes)
            if len(ranks) > 1:
                raise SpecError(f"concat needs all images [C, H, W] or all vectors, got {listed}")
            if ranks == {3} and len({s[1:] for s in shapes}) > 1:
                raise SpecError(f"concat needs one height and width for all inputs, got {listed}")
            object.__setattr__(self, "input", shapes)

    def sized(self, shape: Shape) -> Concat:
        raise SpecError("concat reads two or more tensors: name them with inputs = [...]")

    def sized_reads(self, shapes: tuple[Shape, ...]) -> Concat:
        return replace(self, input=tuple(shapes))

    @property
    def read_shapes(self) -> tuple[Shape, ...]:
        if self.input is None:
            raise SpecError("concat has no input shapes yet: give inputs = [...]")
        return tuple(self.input)

    @property
    def input_shape(self) -> Shape:
        return self.read_shapes[0]

    @property
    def output_shape(self) -> Shape:
        shapes = self.read_shapes
        return (sum(s[0] for s in shapes), *shapes[0][1:])

    @property
    def term_count(self) -> int:
        return math.prod(self.output_shape)

    def config(self) -> dict[str, Any]:
        return {
            "tensors": len(self.read_shapes),
            "channels": [s[0] for s in self.read_shapes],
            "shape": list(self.output_shape),
        }

    def describe(self) -> str:
        shapes = ", ".join(shape_text(s) for s in self.read_shapes)
        return f"concat: inputs {shapes} -> output {shape_text(self.output_shape)}"

    def slug(self) -> str:
        return "concat-" + "-".join(shape_text(s) for s in self.read_shapes)

    def arithmetic(self) -> str:
        return " + ".join(str(s[0]) for s in self.read_shapes) + f" = {self.output_shape[0]}"

    def read_terms(self, xs: tuple[np.ndarray, ...], params: dict[Role, np.ndarray]) -> np.ndarray:
        """``u[c, i, j] = a⁽ᵏ⁾[c − C₁ − … − Cₖ₋₁, i, j]`` for the input k holding channel c.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> a = Grid("a", Role.INPUT, (1,), (False,)).symbols
            >>> b = Grid("b", Role.INPUT, (2,), (False,)).symbols
            >>> Concat(input=((1,), (2,))).read_terms((a, b), {}).tolist()
            [(a_1,), (b_1,), (b_2,)]
        """
        stacked = np.concatenate(list(xs), axis=0)
        terms = np.empty(self.output_shape, dtype=object)
        for idx in np.ndindex(*self.output_shape):
            terms[idx] = (stacked[idx],)
        return terms

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        raise SpecError("concat reads two or more tensors (see read_terms)")

    # --- sheets --------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        counts = [s[0] for s in self.read_shapes]
        starts = [sum(counts[:k]) for k in range(len(counts))]
        return {
            "channels": self.output_shape[0],
            "tensors": len(counts),
            "parts": [{"count": n, "start": a} for n, a in zip(counts, starts)],
            "flat": len(self.output_shape) == 1,
        }

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """Each tensor gets back its own channels of δ (its entries, for vectors).

        Example:
            >>> print(Concat(input=((1, 2, 2), (3, 2, 2))).numpy_code(Role.INPUT).text)
            grad_a1, grad_a2 = np.split(delta, [1], axis=0)
        """
        if role is not Role.INPUT:
            return None
        counts = [s[0] for s in self.read_shapes]
        cuts = [sum(counts[: k + 1]) for k in range(len(counts) - 1)]
        names = ", ".join(f"grad_a{k + 1}" for k in range(len(counts)))
        return NumpyCode(f"{names} = np.split(delta, {cuts}, axis=0)")

"""add: the entry-by-entry sum of two or more earlier tensors of one shape (a residual connection)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from ..core import indexed as ix
from ..core.indexed import General
from ..core.shapes import Shape, shape_of, shape_text
from ..core.symbols import Role
from ..errors import SpecError
from .base import Layer, NumpyCode


def read_shapes(value: Any, kind: str) -> tuple[Shape, ...]:
    """Validate the shapes a merging layer reads: two or more tensor shapes.

    Example:
        >>> read_shapes([(2, 3, 3), [2, 3, 3]], "merge")
        ((2, 3, 3), (2, 3, 3))
    """
    if not isinstance(value, (tuple, list)) or len(value) < 2:
        raise SpecError(f"{kind} reads two or more tensors, got {value!r}")
    return tuple(shape_of(v, f"{kind} input") for v in value)


@dataclass(frozen=True)
class Add(Layer):
    """The sum of two or more tensors of one shape, entry by entry: ``s = a⁽¹⁾ + a⁽²⁾ + …``.

    In a network it reads the tensors named by ``inputs`` (ids of earlier layers, or
    ``"input"``); each of them receives the whole δ of the sum (∂s/∂a⁽ᵏ⁾ = 1), which adds to
    any δ it gets from its other readers.

    Example:
        >>> Add(input=((2, 3, 3), (2, 3, 3))).output_shape
        (2, 3, 3)
    """

    input: tuple[Shape, ...] | None = field(default=None, kw_only=True)

    kind = "add"
    title = "addition"
    template = "layer_add.tex.j2"
    letter = "s"
    lone = ("a", "s")
    arity = None
    note = "an addition hands its whole δ to every tensor it adds: ∂s/∂a = 1"
    conventions: ClassVar[dict[str, str]] = {
        "add": "s = the entry-by-entry sum of the tensors named by inputs (one shape)"
    }

    def __post_init__(self) -> None:
        if self.input is not None:
            shapes = read_shapes(self.input, self.kind)
            if len(set(shapes)) > 1:
                listed = " and ".join(shape_text(s) for s in shapes)
                raise SpecError(f"add needs tensors of one shape, got {listed}")
            object.__setattr__(self, "input", shapes)

    def sized(self, shape: Shape) -> Add:
        raise SpecError("add reads two or more tensors: name them with inputs = [...]")

    def sized_reads(self, shapes: tuple[Shape, ...]) -> Add:
        return replace(self, input=tuple(shapes))

    @property
    def read_shapes(self) -> tuple[Shape, ...]:
        if self.input is None:
            raise SpecError("add has no input shapes yet: give inputs = [...]")
        return tuple(self.input)

    @property
    def input_shape(self) -> Shape:
        return self.read_shapes[0]

    @property
    def term_count(self) -> int:
        return len(self.read_shapes) * math.prod(self.input_shape)

    def config(self) -> dict[str, Any]:
        return {"tensors": len(self.read_shapes), "shape": list(self.input_shape)}

    def describe(self) -> str:
        shapes = " + ".join(shape_text(s) for s in self.read_shapes)
        return f"add: inputs {shapes} -> output {shape_text(self.output_shape)}"

    def slug(self) -> str:
        return f"add{len(self.read_shapes)}-{shape_text(self.input_shape)}"

    def arithmetic(self) -> str:
        return "the shape of the tensors it adds"

    def read_terms(self, xs: tuple[np.ndarray, ...], params: dict[Role, np.ndarray]) -> np.ndarray:
        """``s[idx] = a⁽¹⁾[idx] + a⁽²⁾[idx] + …``.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> a = Grid("a", Role.INPUT, (2,), (False,)).symbols
            >>> b = Grid("b", Role.INPUT, (2,), (False,)).symbols
            >>> Add(input=((2,), (2,))).read_terms((a, b), {})[1]
            (a_2, b_2)
        """
        terms = np.empty(self.output_shape, dtype=object)
        for idx in np.ndindex(*self.output_shape):
            terms[idx] = tuple(x[idx] for x in xs)
        return terms

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        raise SpecError("add reads two or more tensors (see read_terms)")

    # --- sheets --------------------------------------------------------------------------

    def index_formula(self, base: int) -> General:
        """``s[c,i,j] = a[c,i,j] + a2[c,i,j] + …`` (the k-th tensor it reads is ``a``, ``a2`` …).

        Example:
            >>> Add(input=((2, 2, 2), (2, 2, 2))).index_formula(1).rhs
            a2[c, i, j] + a[c, i, j]
        """
        outer, rng, sizes = ix.elementwise(self.input_shape, base)
        rhs = sum(
            (ix.read_base(k + 1)[outer] for k in range(1, len(self.read_shapes))),
            ix.A[outer],
        )
        wrt = {Role.INPUT: ix.A[tuple(ix.primed(s) for s in outer)]}
        return General(ix.Z[outer], rhs, outer, rng, sizes, wrt)

    def facts(self) -> dict[str, Any]:
        shape = self.input_shape
        return {"channels": shape[0] if len(shape) == 3 else 1, "tensors": len(self.read_shapes)}

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """Every tensor it adds receives δ itself.

        Example:
            >>> print(Add(input=((2,), (2,), (2,))).numpy_code(Role.INPUT).text)
            grad_a1 = grad_a2 = grad_a3 = delta
        """
        if role is not Role.INPUT:
            return None
        names = " = ".join(f"grad_a{k + 1}" for k in range(len(self.read_shapes)))
        return NumpyCode(f"{names} = delta")

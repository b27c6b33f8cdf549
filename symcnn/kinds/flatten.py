"""flatten: a [C, H, W] tensor laid out as one vector, row-major over (C, H, W) as PyTorch does."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..core import indexed as ix
from ..core.indexed import General
from ..core.shapes import Shape, shape_of
from ..core.summands import Part
from ..core.symbols import Role
from ..errors import SpecError
from .base import Layer, NumpyCode


@dataclass(frozen=True)
class Flatten(Layer):
    """Row-major flattening of a [C, H, W] tensor into C·H·W entries; it only renames entries.

    Example:
        >>> Flatten(input=(2, 2, 3)).output_shape
        (12,)
    """

    input: Shape | None = field(default=None, kw_only=True)

    kind = "flatten"
    title = "flatten"
    template = "layer_flatten.tex.j2"
    letter = "v"
    lone = ("a", "v")
    nabla = True
    conventions: ClassVar[dict[str, str]] = {"flatten": "row-major over (C, H, W)"}
    torch_modules = ("Flatten",)

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        if (module.start_dim, module.end_dim) != (1, -1):
            raise SpecError(
                f"Flatten(start_dim={module.start_dim}, end_dim={module.end_dim}): symcnn "
                "flattens each sample whole (start_dim=1, end_dim=-1)"
            )
        return cls(), {}

    def __post_init__(self) -> None:
        if self.input is not None:
            object.__setattr__(self, "input", shape_of(self.input, "flatten input"))

    @property
    def output_shape(self) -> Shape:
        return (math.prod(self.input_shape),)

    def config(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "order": "row-major (C, H, W)"}

    def arithmetic(self) -> str:
        return f"{'·'.join(map(str, self.input_shape))} = {self.output_shape[0]} features"

    def parts(self) -> tuple[Part, ...]:
        """``v[k] = a[c, i, j]`` with k running row-major over (c, i, j).

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> a = Grid("a", Role.INPUT, (1, 2, 2), (True, False, False)).symbols
            >>> Flatten(input=(1, 2, 2)).terms(a, {})[3]
            (a_22,)
        """
        k = np.arange(math.prod(self.input_shape))
        return (Part(k, (Role.INPUT,), k),)

    def index_formula(self, base: int) -> General:
        """``z[(i − 1)W + j] = a[i,j]`` (row-major over channel, row, column).

        Example:
            >>> Flatten(input=(1, 2, 3)).index_formula(1).z
            z[W*(i - 1) + j]
        """
        outer, rng, sizes = ix.elementwise(self.input_shape, base)
        if len(outer) == 1:
            place: Any = outer[0]
        else:
            place = (ix.I_ - base) * ix.WD + ix.J_
            if ix.C_ in outer:
                place = (ix.C_ - base) * ix.H * ix.WD + place
        wrt = {Role.INPUT: ix.A[tuple(ix.primed(s) for s in outer)]}
        return General(ix.Z[place], ix.A[outer], outer, rng, sizes, wrt)

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """The error of the vector put back in the input's shape (row-major, as ``ravel``)."""
        return NumpyCode("grad_a = delta.reshape(a.shape)") if role is Role.INPUT else None

    def facts(self) -> dict[str, Any]:
        shape = self.input_shape
        return {
            "channels": shape[0] if len(shape) == 3 else 1,
            "product": shape,
            "size": math.prod(shape),
        }

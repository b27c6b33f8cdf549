"""dense: a fully connected layer, z_i = Σ_j W_ij·a_j + b_i, weight [out, in] as PyTorch's Linear."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import sympy
from sympy import Sum

from ..core import indexed as ix
from ..core.indexed import General
from ..core.shapes import Shape, positive, shape_of
from ..core.summands import Part
from ..core.symbols import Role
from ..errors import SpecError
from .base import Layer, NumpyCode, torch_array


@dataclass(frozen=True)
class Linear(Layer):
    """A fully connected layer with ``out_features`` neurons (type ``dense`` in network files).

    Example:
        >>> Linear(2, input=(4,)).param_shapes()[Role.WEIGHT]
        ((2, 4), 0)
    """

    out_features: int = field(metadata={"help": "neurons of the layer, e.g. 2", "example": "2"})
    bias: bool = field(default=True, metadata={"help": "true (default) or false"})
    in_features: int | None = field(
        default=None, metadata={"help": "inputs (checked against the input's size)"}
    )
    input: Shape | None = field(default=None, kw_only=True)

    kind = "dense"
    title = "dense"
    template = "layer_dense.tex.j2"
    required = ("out_features", "out_features = 2")
    conventions: ClassVar[dict[str, str]] = {"shapes": "dense weight [out, in], dense bias [out]"}
    torch_modules = ("Linear",)

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        params = {Role.WEIGHT: torch_array(module.weight)}
        if module.bias is not None:
            params[Role.BIAS] = torch_array(module.bias)
        layer = cls(
            module.out_features, bias=module.bias is not None, in_features=module.in_features
        )
        return layer, params

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_features", positive(self.out_features, "out_features"))
        flag = {"true": True, "false": False}.get(str(self.bias).lower(), self.bias)
        if not isinstance(flag, bool):
            raise SpecError(f"bias of a dense layer is true or false, got {self.bias!r}")
        object.__setattr__(self, "bias", flag)
        if self.in_features is not None:
            object.__setattr__(self, "in_features", positive(self.in_features, "in_features"))
        if self.input is not None:
            shape = shape_of(self.input, "input")
            if len(shape) != 1:
                n = "·".join(map(str, shape))
                raise SpecError(
                    f"needs a flat input, so put a flatten layer before it (it would give "
                    f"{n} = {int(np.prod(shape))} features)"
                )
            if self.in_features is not None and self.in_features != shape[0]:
                raise SpecError(
                    f"in_features = {self.in_features}, but its input has {shape[0]} features"
                )
            object.__setattr__(self, "input", shape)
            object.__setattr__(self, "in_features", shape[0])

    @property
    def output_shape(self) -> Shape:
        return (self.out_features,)

    @property
    def weight_shape(self) -> Shape:
        """(out_features, in_features), as PyTorch's ``nn.Linear``."""
        return (self.out_features, self.input_shape[0])

    def param_shapes(self) -> dict[Role, tuple[Shape, int]]:
        out = {Role.WEIGHT: (self.weight_shape, 0)}
        if self.bias:
            out[Role.BIAS] = ((self.out_features,), 0)
        return out

    @property
    def term_count(self) -> int:
        return self.input_shape[0] * self.out_features

    def config(self) -> dict[str, Any]:
        return {
            "in_features": self.input_shape[0],
            "out_features": self.out_features,
            "bias": self.bias,
        }

    def arithmetic(self) -> str:
        return f"out_features = {self.out_features}"

    def axes(self, role: Role) -> str:
        return {Role.WEIGHT: "[out, in]", Role.BIAS: "[out]", Role.INPUT: "[in]"}.get(role, "[out]")

    def parts(self) -> tuple[Part, ...]:
        """``z_i = Σ_j W_ij·a_j + b_i``: products ``W_ij·a_j``, then the bias entries.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> a = Grid("a", Role.INPUT, (2,), (False,)).symbols
            >>> w = Grid("w", Role.WEIGHT, (1, 2), (False, False)).symbols
            >>> Linear(1, bias=False, input=(2,)).terms(a, {Role.WEIGHT: w})[0]
            (a_1*w_11, a_2*w_12)
        """
        n_out, n_in = self.weight_shape
        rows = np.repeat(np.arange(n_out), n_in)
        index = np.stack([np.arange(n_out * n_in), np.tile(np.arange(n_in), n_out)], axis=1)
        parts = [Part(rows, (Role.WEIGHT, Role.INPUT), index)]
        if self.bias:
            parts.append(Part(np.arange(n_out), (Role.BIAS,), np.arange(n_out)))
        return tuple(parts)

    def index_formula(self, base: int) -> General:
        """``z[i] = Σ_j w[i,j] a[j] + b[i]`` (seed 004's ``FC_i = Σ_j W_ij P_j``).

        Example:
            >>> Linear(2, input=(4,)).index_formula(1).rhs
            b[i] + Sum(a[j]*w[i, j], (j, 1, N_in))
        """
        rng = ix.ranges(base, {ix.I_: ix.NOUT, ix.J_: ix.NIN})
        rhs: sympy.Expr = Sum(ix.W[ix.I_, ix.J_] * ix.A[ix.J_], (ix.J_, *rng[ix.J_]))
        wrt: dict[Role, Any] = {
            Role.INPUT: ix.A[ix.primed(ix.J_)],
            Role.WEIGHT: ix.W[ix.primed(ix.I_), ix.primed(ix.J_)],
        }
        if self.bias:
            rhs = rhs + ix.B[ix.I_]
            wrt[Role.BIAS] = ix.B[ix.primed(ix.I_)]
        sizes = {ix.NIN: self.input_shape[0], ix.NOUT: self.out_features}
        return General(ix.Z[ix.I_], rhs, (ix.I_,), rng, sizes, wrt)

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """``wᵀδ``, the outer product ``δ aᵀ`` and ``δ`` itself.

        Example:
            >>> print(Linear(2, input=(3,)).numpy_code(Role.WEIGHT).text)
            grad_w = np.outer(delta, a)
        """
        code = {
            Role.INPUT: "grad_a = w.T @ delta",
            Role.WEIGHT: "grad_w = np.outer(delta, a)",
            Role.BIAS: "grad_b = delta",
        }
        if role is Role.BIAS and not self.bias:
            return None
        return NumpyCode(code[role]) if role in code else None

    def facts(self) -> dict[str, Any]:
        return {
            "channels": 1,
            "in": self.input_shape[0],
            "out": self.out_features,
            "bias": self.bias,
        }

"""global_avgpool2d: each channel of a [C, H, W] input averaged to one entry, as AdaptiveAvgPool2d(1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import symengine as se
import sympy
from sympy import Sum

from ..core import indexed as ix
from ..core.indexed import General
from ..core.shapes import Shape, shape_of, shape_text
from ..core.symbols import Role
from ..errors import SpecError
from .base import Arrays, ClosedForm, Figure, Layer, NumpyCode, Operand, Shown, TexNames


@dataclass(frozen=True)
class GlobalAvgPool2d(Layer):
    """Global average pooling: output [C, 1, 1], each entry the mean of its channel.

    PyTorch's ``AdaptiveAvgPool2d(1)`` (the head of MobileNets and ResNets); every input cell
    of channel c receives δ[c]/(H·W).

    Example:
        >>> GlobalAvgPool2d(input=(3, 4, 5)).output_shape
        (3, 1, 1)
    """

    input: Shape | None = field(default=None, kw_only=True)

    kind = "global_avgpool2d"
    title = "global average pooling"
    template = "layer_global_avgpool2d.tex.j2"
    letter = "p"
    figures = (Figure.RECEPTIVE_FIELD,)
    conventions: ClassVar[dict[str, str]] = {
        "global_avgpool": "output [C, 1, 1], the mean of each channel (AdaptiveAvgPool2d(1))"
    }

    torch_modules = ("AdaptiveAvgPool2d",)

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        size = module.output_size
        if size not in (1, (1, 1), [1, 1]):
            raise SpecError(f"output_size = {size!r}: symcnn derives the global one, 1")
        return cls(), {}

    def __post_init__(self) -> None:
        if self.input is not None:
            shape = shape_of(self.input, "input")
            if len(shape) != 3:
                raise SpecError("needs a [C, H, W] input but gets a flat vector")
            object.__setattr__(self, "input", shape)

    # --- shapes --------------------------------------------------------------------------

    @property
    def cells(self) -> int:
        """H·W: how many entries each mean divides by."""
        return self.input_shape[1] * self.input_shape[2]

    @property
    def output_shape(self) -> Shape:
        return (self.input_shape[0], 1, 1)

    def config(self) -> dict[str, Any]:
        c, h, w = self.input_shape
        return {"input": [h, w], "channels": c}

    def arithmetic(self) -> str:
        return f"one mean per channel of {shape_text(self.input_shape[1:])} entries"

    def axes(self, role: Role) -> str:
        return "[C, H, W]" if role is Role.INPUT else "[C, 1, 1]"

    # --- maths ---------------------------------------------------------------------------

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        """``z[c] = Σ_{r,t} a[c,r,t]/(H·W)``.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> a = Grid("a", Role.INPUT, (1, 1, 2), (True, False, False)).symbols
            >>> GlobalAvgPool2d(input=(1, 1, 2)).terms(a, {})[0, 0, 0]
            ((1/2)*a_11, (1/2)*a_12)
        """
        share = se.Rational(1, self.cells)
        terms = np.empty(self.output_shape, dtype=object)
        for c in range(self.input_shape[0]):
            terms[c, 0, 0] = tuple(share * v for v in x[c].ravel())
        return terms

    def closed_forms(
        self, x: np.ndarray, params: dict[Role, np.ndarray], delta: np.ndarray
    ) -> list[ClosedForm]:
        """δ[c] spread over the whole channel and divided by H·W (a constant block per channel).

        Example:
            >>> d = np.array([[[se.Symbol("d")]]], dtype=object)
            >>> GlobalAvgPool2d(input=(1, 2, 2)).closed_forms(None, {}, d)[0].value[0].tolist()
            [[(1/4)*d, (1/4)*d], [(1/4)*d, (1/4)*d]]
        """
        _, h, w = self.input_shape
        share = se.Rational(1, self.cells)
        value = np.empty(self.input_shape, dtype=object)
        value[...] = (delta[:, :1, :1] * share) * np.ones((1, h, w), dtype=int)
        n, c = self.cells, "c" if self.input_shape[0] > 1 else ""

        def tex(names: TexNames) -> tuple[str, str]:
            a, d = names.ch(names.a, c), names.ch(names.d, c)
            return (
                rf"\frac{{\partial E}}{{\partial {a}}}",
                rf"\tfrac{{1}}{{{n}}} \operatorname{{up}}({d})",
            )

        return [
            ClosedForm(
                Role.INPUT,
                "global average pooling: δ of each channel spread over it, divided by H·W",
                f"∂E/∂a = up(δ)/{n}  (δ_c/{n} on every cell of channel c)",
                tex,
                value,
                Shown(Operand(Role.DELTA, (0,), delta[0]), None, value[0], (), value[0]),
            )
        ]

    def operators(self) -> set[str]:
        return {"up"}

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """Each channel's error divided by H·W, on every cell of the channel."""
        if role is not Role.INPUT:
            return None
        return NumpyCode(f"grad_a = np.ones_like(a) * delta / {self.cells}")

    def index_formula(self, base: int) -> General:
        """``z[c,1,1] = 1/(H·W) Σ_m Σ_n a[c,m,n]`` (its one output position is written out).

        Example:
            >>> GlobalAvgPool2d(input=(1, 2, 2)).index_formula(1).rhs
            Sum(a[m, n], (m, 1, H), (n, 1, W))/(H*W)
        """
        c_idx = (ix.C_,) if self.input_shape[0] > 1 else ()
        rng = ix.ranges(base, {ix.C_: ix.NC, ix.M_: ix.H, ix.N_: ix.WD})
        body = Sum(ix.A[(*c_idx, ix.M_, ix.N_)], (ix.M_, *rng[ix.M_]), (ix.N_, *rng[ix.N_]))
        one = sympy.Integer(base)
        _, h, w = self.input_shape
        sizes = {ix.H: h, ix.WD: w, ix.NC: self.input_shape[0]}
        primed = (*(ix.primed(ix.C_) for _ in c_idx), ix.primed(ix.M_), ix.primed(ix.N_))
        wrt = {Role.INPUT: ix.A[primed]}
        z = ix.Z[(*c_idx, one, one)]
        return General(z, body / (ix.H * ix.WD), c_idx, rng, sizes, wrt)

    # --- checking ------------------------------------------------------------------------

    def wrong_results(self, role: Role, arrays: Arrays) -> list[tuple[str, np.ndarray]]:
        delta = arrays.get(Role.DELTA)
        if role is not Role.INPUT or delta is None:
            return []
        c, h, w = self.input_shape
        spread = np.broadcast_to(delta, self.input_shape).astype(float)
        n = self.cells
        out = [(f"gradient not divided by H·W = {n} (δ copied to every cell)", spread.copy())]
        if h > 1 and w > 1:
            out.append((f"divided by H = {h} only, not H·W = {n}", spread / h))
            if w != h:
                out.append((f"divided by W = {w} only, not H·W = {n}", spread / w))
        if c > 1:
            out.append(
                (
                    f"divided by C·H·W = {c * n} (the mean over every entry, not per channel)",
                    spread / (c * n),
                )
            )
            mixed = np.broadcast_to(delta.sum(axis=0), self.input_shape) / n
            out.append(("channels mixed: every cell receives Σ_c δ[c]/(H·W)", mixed.copy()))
        if n > 1:
            first = np.zeros(self.input_shape)
            first[:, 0, 0] = delta[:, 0, 0]
            out.append(("δ placed in the first cell only, not spread over the channel", first))
            out.append(("δ placed in the first cell only, divided by H·W", first / n))
        return out

    # --- sheets --------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        c, h, w = self.input_shape
        return {"channels": c, "rows": h, "cols": w, "cells": self.cells, "padded": False}

"""conv_transpose2d: the transposed convolution (PyTorch's ConvTranspose2d): its index formula
and its checks, on top of its spec, identities and sheet parts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import sympy
from sympy import Sum

from ...core import indexed as ix
from ...core.indexed import General
from ...core.symbols import Role
from ..base import Arrays, Mistake
from .identities import ConvTranspose2dIdentities
from .mistakes import TransposedModel, _input_model, _mistakes, _weight_model
from .sheet import ConvTranspose2dSheet


class ConvTranspose2d(ConvTranspose2dIdentities, ConvTranspose2dSheet):
    """A transposed convolution, as PyTorch's ``ConvTranspose2d``: weight [C, O, KH, KW].

    Input entry a[c,i,j] adds a[c,i,j]·w[c,o,m,n] to output entry z[o, i·s − p + m·d,
    j·s − p + n·d] (entries that land outside the output are dropped); ``output_padding``
    adds rows and columns at the end. Gathered per output entry, z[o,r,t] sums w[c,o,m,n]·
    a[c, (r + p − m·d)/s, (t + p − n·d)/s] over the (m, n) where both are whole numbers in
    range. Its input gradient is an ordinary (strided) convolution of δ with w.

    Example:
        >>> ConvTranspose2d(kernel=3, stride=2, padding=1, output_padding=1, input=(3, 3)).output_shape
        (1, 6, 6)
    """

    def index_formula(self, base: int) -> General:
        """``z[o,i,j] = Σ_c Σ_m Σ_n w[c,o,m,n] a[c, (i − 1 + p − d(m − 1))/s + 1, …] + b``,
        a being 0 at an index that is not a whole number or out of range.

        Example:
            >>> ConvTranspose2d(kernel=2, stride=2, bias="none", input=(2, 2)).index_formula(1).rhs
            Sum(a[i/2 - m/2 + 1, j/2 - n/2 + 1]*w[m, n], (m, 1, k_1), (n, 1, k_2))
        """
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        o_idx = (ix.O_,) if self.out_channels > 1 else ()
        c_idx = (ix.C_,) if self.input_shape[0] > 1 else ()
        row = (ix.I_ - base + ph - dh * (ix.M_ - base)) / sympy.Integer(sh) + base
        col = (ix.J_ - base + pw - dw * (ix.N_ - base)) / sympy.Integer(sw) + base
        rng = ix.ranges(
            base,
            {
                ix.I_: ix.HOUT,
                ix.J_: ix.WOUT,
                ix.M_: ix.KH,
                ix.N_: ix.KW,
                ix.O_: ix.NO,
                ix.C_: ix.NC,
            },
        )
        limits = [(ix.C_, *rng[ix.C_])] if c_idx else []
        limits += [(ix.M_, *rng[ix.M_]), (ix.N_, *rng[ix.N_])]
        rhs: sympy.Expr = Sum(
            ix.W[(*c_idx, *o_idx, ix.M_, ix.N_)] * ix.A[(*c_idx, row, col)], *limits
        )
        primed_c = tuple(ix.primed(ix.C_) for _ in c_idx)
        primed_o = tuple(ix.primed(ix.O_) for _ in o_idx)
        wrt: dict[Role, Any] = {
            Role.INPUT: ix.A[(*primed_c, ix.U_, ix.V_)],
            Role.WEIGHT: ix.W[(*primed_c, *primed_o, ix.primed(ix.M_), ix.primed(ix.N_))],
        }
        rhs = self.with_bias(rhs, wrt, o_idx)
        sizes = ix.spatial_sizes(self.spatial, self.kernel, self.output_size)
        sizes.update({ix.NC: self.input_shape[0], ix.NO: self.out_channels})
        return General(ix.Z[(*o_idx, ix.I_, ix.J_)], rhs, (*o_idx, ix.I_, ix.J_), rng, sizes, wrt)

    # --- checking ------------------------------------------------------------------------

    def mistakes(self) -> list[Mistake]:
        return list(_mistakes(self))

    def buggy(self, role: Role, arrays: Arrays, options: dict[str, Any]) -> np.ndarray | None:
        model = replace(TransposedModel(), **options)
        if role is Role.INPUT:
            return _input_model(self, arrays, model)
        if role is Role.WEIGHT:
            return _weight_model(self, arrays, model)
        return None

"""conv2d: a 2-D convolution (cross-correlation) with stride, padding, dilation, channels, groups
and bias: its options, shapes and forward rule, its index formula, its checks."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import sympy
from sympy import Sum

from ...core import indexed as ix
from ...core.indexed import General
from ...core.symbols import Role
from ..base import (
    Arrays,
    Mistake,
)
from .identities import Conv2dIdentities
from .mistakes import ConvModel, _input_model, _mistakes, _weight_model
from .sheet import Conv2dSheet


class Conv2d(Conv2dIdentities, Conv2dSheet):
    """A 2-D convolution (cross-correlation, as in every framework) with zero padding.

    ``input`` is the shape it reads, (C, H, W) or (H, W) with ``in_channels``; in a network
    the layer before sizes it. Weight ``[O, C/groups, KH, KW]``; bias ``[O]`` (shared), ``[O,
    OH, OW]`` (untied, as in seeds 001 and 003) or none. With ``groups`` G (dividing C and O),
    output channel o reads only the C/G input channels of its group, ⌊o/(O/G)⌋: a grouped
    convolution is G convolutions side by side (depthwise when G = C).

    Example:
        >>> Conv2d(kernel=2, bias="untied", input=(3, 3)).output_shape
        (1, 2, 2)
    """

    def index_formula(self, base: int) -> General:
        """``z[o,i,j] = Σ_c Σ_m Σ_n w[o,c,m,n] a[c, s(i−1) + d(m−1) − p + 1, …] + b``.

        With groups, c runs over the C/G channels of o's group g = ⌊(o − 1)/(O/G)⌋ and the
        input channel read is g·C/G + c.

        Example:
            >>> Conv2d(kernel=2, bias="untied", input=(3, 3)).index_formula(1).rhs
            b[i, j] + Sum(a[i + m - 1, j + n - 1]*w[m, n], (m, 1, k_1), (n, 1, k_2))
            >>> Conv2d(kernel=1, out_channels=2, groups=2, bias="none", input=(2, 1, 1)).index_formula(1).rhs
            Sum(a[o, i + m - 1, j + n - 1]*w[o, m, n], (m, 1, k_1), (n, 1, k_2))
        """
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        o_idx = (ix.O_,) if self.out_channels > 1 else ()
        c_idx = (ix.C_,) if self.group_in > 1 else ()  # the weight's channel, within the group
        row = ix.position(ix.I_, ix.M_, sh, dh, ph, base)
        col = ix.position(ix.J_, ix.N_, sw, dw, pw, base)
        rng = ix.ranges(
            base,
            {
                ix.I_: ix.HOUT,
                ix.J_: ix.WOUT,
                ix.M_: ix.KH,
                ix.N_: ix.KW,
                ix.O_: ix.NO,
                ix.C_: ix.NC if self.groups == 1 else ix.NC / ix.NG,
            },
        )
        read = self._channel_read(base)
        limits = [(ix.C_, *rng[ix.C_])] if c_idx else []
        limits += [(ix.M_, *rng[ix.M_]), (ix.N_, *rng[ix.N_])]
        rhs: sympy.Expr = Sum(
            ix.W[(*o_idx, *c_idx, ix.M_, ix.N_)] * ix.A[(*read, row, col)], *limits
        )
        a_c = (ix.primed(ix.C_),) if self.input_shape[0] > 1 else ()
        primed_c = tuple(ix.primed(ix.C_) for _ in c_idx)
        primed_o = tuple(ix.primed(ix.O_) for _ in o_idx)
        wrt: dict[Role, Any] = {
            Role.INPUT: ix.A[(*a_c, ix.U_, ix.V_)],
            Role.WEIGHT: ix.W[(*primed_o, *primed_c, ix.primed(ix.M_), ix.primed(ix.N_))],
        }
        rhs = self.with_bias(rhs, wrt, o_idx)
        sizes = ix.spatial_sizes(self.spatial, self.kernel, self.output_size)
        sizes.update({ix.NC: self.input_shape[0], ix.NO: self.out_channels})
        if self.groups > 1:
            sizes[ix.NG] = self.groups
        return General(ix.Z[(*o_idx, ix.I_, ix.J_)], rhs, (*o_idx, ix.I_, ix.J_), rng, sizes, wrt)

    def _channel_read(self, base: int) -> tuple[sympy.Expr, ...]:
        """The input channel index of the forward formula: c, or g(o)·C/G + c with groups
        (g(o) = ⌊(o − base)/(O/G)⌋, `GroupOf`; o − base when every group has one output)."""
        if self.groups == 1:
            return (ix.C_,) if self.input_shape[0] > 1 else ()
        if self.group_out == 1:
            group: sympy.Expr = ix.O_ - base
        else:
            group = ix.GroupOf(ix.O_, ix.NO / ix.NG, base)
        if self.group_in == 1:
            return (group + base,)
        return (group * (ix.NC / ix.NG) + ix.C_,)

    # --- checking ------------------------------------------------------------------------

    def mistakes(self) -> list[Mistake]:
        return list(_mistakes(self))

    def buggy(self, role: Role, arrays: Arrays, options: dict[str, Any]) -> np.ndarray | None:
        model = replace(ConvModel(), **options)
        if role is Role.INPUT:
            return _input_model(self, arrays, model)
        if role is Role.WEIGHT:
            return _weight_model(self, arrays, model)
        return None

"""conv_transpose2d's matrix identities: the closed forms of its gradients."""

from __future__ import annotations

import numpy as np

from ...core.arrays import correlate_valid, zero_insert, zero_pad, zeros
from ...core.symbols import Role
from ..base import (
    ClosedForm,
    Op,
    Operand,
    Shown,
    TexNames,
)
from .spec import ConvTranspose2dSpec


class ConvTranspose2dIdentities(ConvTranspose2dSpec):
    """The closed forms of a transposed convolution's gradients, from its own grids."""

    def closed_forms(
        self, x: np.ndarray, params: dict[Role, np.ndarray], delta: np.ndarray
    ) -> list[ClosedForm]:
        """∂E/∂a: padded δ ⋆ (dilated) w read every s-th entry, a plain strided convolution of
        δ with the kernel, not rotated; ∂E/∂w: padded δ ⋆ zero-inserted a read every d-th
        entry; the bias: Σδ or δ."""
        gx, shown_x = self._input_grad(delta, params[Role.WEIGHT])
        gw, shown_w = self._weight_grad(x, delta)
        forms = [
            ClosedForm(
                Role.INPUT,
                "input gradient: correlation of δ with the kernel (a convolution, no rotation)",
                self._input_statement(),
                self._input_tex,
                gx,
                shown_x,
            ),
            ClosedForm(
                Role.WEIGHT,
                "weight gradient: correlation of δ with the input",
                self._weight_statement(),
                self._weight_tex,
                gw,
                shown_w,
            ),
        ]
        forms.extend(self.bias_forms(delta))
        return forms

    def _input_statement(self) -> str:
        d = "δ_o" if self._o else "δ"
        w = "w_" + self._co if self._co else "w"
        if self.dilation != (1, 1):
            w = f"dil_d({w})"
        body = f"pad_p({d}) ⋆ {w}"
        if self.stride != (1, 1):
            body = f"keep_s({body})"
        if self._o:
            body = "Σ_o " + body
        return (
            f"∂E/∂a{'_c' if self._c else ''} = {body}: conv2d's forward pass on δ (keep_s: every "
            "s-th entry; no rotation)"
            if self.stride != (1, 1)
            else f"∂E/∂a{'_c' if self._c else ''} = {body}: conv2d's forward pass on δ"
        )

    def _input_tex(self, n: TexNames) -> tuple[str, str]:
        w = n.ch(n.w, self._co)
        if self.dilation != (1, 1):
            w = rf"\operatorname{{dil}}_{{d}}({w})"
        d = n.ch(n.d, self._o)
        body = (
            rf"\operatorname{{pad}}_{{p}}({d}) \star {w}"
            if any(self.padding)
            else rf"{d} \star {w}"
        )
        if self.stride != (1, 1):
            body = rf"\operatorname{{keep}}_{{H,s}}\big({body}\big)"
        if self._o:
            body = rf"\sum_{{o}} {body}"
        return rf"\frac{{\partial E}}{{\partial {n.ch(n.a, self._c)}}}", body

    def _weight_statement(self) -> str:
        a = "a_c" if self._c else "a"
        if self.stride != (1, 1):
            a = f"spread_s({a})"
        d = "δ_o" if self._o else "δ"
        w = "w_" + self._co if self._co else "w"
        return (
            f"∂E/∂{w} = keep_(k,d)(pad_p({d}) ⋆ {a}): conv2d's weight gradient, a and δ exchanged"
        )

    def _weight_tex(self, n: TexNames) -> tuple[str, str]:
        a = n.ch(n.a, self._c)
        if self.stride != (1, 1):
            a = rf"\operatorname{{spread}}_{{s}}({a})"
        d = n.ch(n.d, self._o)
        body = (
            rf"\operatorname{{pad}}_{{p}}({d}) \star {a}"
            if any(self.padding)
            else rf"{d} \star {a}"
        )
        if self._weight_kept():
            body = rf"\operatorname{{keep}}_{{k,d}}\big({body}\big)"
        return rf"\frac{{\partial E}}{{\partial {n.ch(n.w, self._co)}}}", body

    def _input_grad(self, delta: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, Shown]:
        """∂E/∂a[c] = Σ_o (pad_p(δ_o) ⋆ dilate_d(w[c,o])) at rows i·s, columns j·s."""
        (sh, sw), (h, w) = self.stride, self.spatial
        out = zeros(self.input_shape)
        shown: Shown | None = None
        for c in range(self.input_shape[0]):
            acc = zeros((h, w))
            for o in range(self.out_channels):
                k = zero_insert(weight[c, o], self.dilation)
                padded = zero_pad(delta[o], self.padding, self.padding)
                full = correlate_valid(padded, k)
                acc = acc + full[: (h - 1) * sh + 1 : sh, : (w - 1) * sw + 1 : sw]
                if shown is None:
                    d_ops = (Op("pad", self.padding),) if any(self.padding) else ()
                    w_ops = (Op("dil", self.dilation),) if self.dilation != (1, 1) else ()
                    after = (Op("keep", (h, w, sh, sw)),) if (sh, sw) != (1, 1) else ()
                    shown = Shown(
                        Operand(Role.DELTA, (o,), delta[o], d_ops, padded),
                        Operand(Role.WEIGHT, (c, o), weight[c, o], w_ops, k),
                        full,
                        after,
                        full[: (h - 1) * sh + 1 : sh, : (w - 1) * sw + 1 : sw],
                    )
            out[c] = acc
        assert shown is not None
        return out, shown

    def _weight_grad(self, x: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, Shown]:
        """∂E/∂w[c,o] = (pad_p(δ_o) ⋆ zero_insert_s(a_c)) at rows m·d, columns n·d."""
        (dh, dw), (kh, kw) = self.dilation, self.kernel
        out = zeros(self.weight_shape)
        shown: Shown | None = None
        for o in range(self.out_channels):
            padded = zero_pad(delta[o], self.padding, self.padding)
            for c in range(self.input_shape[0]):
                spread = zero_insert(x[c], self.stride)
                corr = correlate_valid(padded, spread)
                out[c, o] = corr[: (kh - 1) * dh + 1 : dh, : (kw - 1) * dw + 1 : dw]
                if shown is None:
                    d_ops = (Op("pad", self.padding),) if any(self.padding) else ()
                    a_ops = (Op("spread", self.stride),) if self.stride != (1, 1) else ()
                    after = (Op("keep", (kh, kw, dh, dw)),) if self._weight_kept() else ()
                    shown = Shown(
                        Operand(Role.DELTA, (o,), delta[o], d_ops, padded),
                        Operand(Role.INPUT, (c,), x[c], a_ops, spread),
                        corr,
                        after,
                        out[c, o],
                    )
        assert shown is not None
        return out, shown

"""conv2d's matrix identities: the closed forms of its gradients, proven against the derivation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...core.arrays import correlate_valid, rot180, zero_insert, zero_pad, zeros
from ...core.symbols import Role
from ..base import (
    ClosedForm,
    Op,
    Operand,
    Shown,
    TexNames,
)
from .options import Bias
from .spec import Conv2dSpec


class Conv2dIdentities(Conv2dSpec):
    """The closed forms of a conv2d's gradients, built from its own grids."""

    def closed_forms(
        self, x: np.ndarray, params: dict[Role, np.ndarray], delta: np.ndarray
    ) -> list[ClosedForm]:
        """∂E/∂a as δ (zero-inserted, zero-padded) ⋆ rot180(w), cropped; ∂E/∂w as a ⋆ δ; Σδ.

        With groups, both are built group by group, each group an ordinary convolution of its
        own channels, and the groups' results laid side by side.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> from symcnn import Conv2d
            >>> layer = Conv2d(kernel=1, bias="none", input=(1, 1))
            >>> def g(name, shape, channels=1):
            ...     flags = tuple(k < channels for k in range(len(shape)))
            ...     return Grid(name, Role.INPUT, shape, flags).symbols
            >>> forms = layer.closed_forms(g("a", (1, 1, 1)), {Role.WEIGHT: g("w", (1, 1, 1, 1), 2)},
            ...                            g("d", (1, 1, 1)))
            >>> [sorted(str(f.value.ravel()[0]).split("*")) for f in forms]
            [['d_11', 'w_11'], ['a_11', 'd_11']]
        """
        gx, shown_x, gw, shown_w = self._side_by_side(x, params[Role.WEIGHT], delta)
        forms = [
            ClosedForm(
                Role.INPUT,
                "input gradient: full convolution with the rotated kernel" + self._per_group,
                self._input_statement() + self._group_statement,
                self._grouped(self._input_tex),
                gx,
                shown_x,
            ),
            ClosedForm(
                Role.WEIGHT,
                "weight gradient: correlation of the input with δ" + self._per_group,
                self._weight_statement() + self._group_statement,
                self._grouped(self._weight_tex),
                gw,
                shown_w,
            ),
        ]
        forms.extend(self.bias_forms(delta))
        return forms

    def _side_by_side(
        self, x: np.ndarray, weight: np.ndarray, delta: np.ndarray
    ) -> tuple[np.ndarray, Shown, np.ndarray, Shown]:
        """Both closed forms; with groups, each group's own ungrouped convolution (its C/G
        input and O/G output channels), the results laid side by side."""
        if self.groups == 1:
            return (*self._input_grad(delta, weight), *self._weight_grad(x, delta))
        gx, gw = zeros(self.input_shape), zeros(self.weight_shape)
        (ci, co), shown = (self.group_in, self.group_out), None
        part = type(self)(
            self.kernel, co, self.stride, self.padding, self.dilation, Bias.NONE,
            input=(ci, *self.spatial),
        )  # fmt: skip
        for g in range(self.groups):
            ins, outs = slice(g * ci, (g + 1) * ci), slice(g * co, (g + 1) * co)
            gx[ins], sx = part._input_grad(delta[outs], weight[outs])
            gw[outs], sw = part._weight_grad(x[ins], delta[outs])
            shown = shown or (sx, sw)
        assert shown is not None
        return gx, shown[0], gw, shown[1]

    # groups: the closed forms are built group by group and say so
    @property
    def _per_group(self) -> str:
        return ", per group" if self.groups > 1 else ""

    @property
    def _group_statement(self) -> str:
        if self.groups == 1:
            return ""
        return f", group by group (the {self.groups} groups side by side)"

    def _grouped(
        self, tex: Callable[[TexNames], tuple[str, str]]
    ) -> Callable[[TexNames], tuple[str, str]]:
        """``tex``, its right-hand side followed with groups by ``g = 1, …, G`` (each group its
        own convolution, in no language)."""
        if self.groups == 1:
            return tex
        return lambda n: (tex(n)[0], tex(n)[1] + r"\qquad (g = 1, \dots, G)")

    # the channel indices a name carries (only the axes of size > 1 are printed)
    @property
    def _oc(self) -> str:
        return ",".join(x for x in (self._o, self._c) if x)

    def _input_statement(self) -> str:
        d = "δ_o" if self.out_channels > 1 else "δ"
        if self.stride != (1, 1):
            d = f"spread_s({d})"
        w = "w_" + self._oc if self._oc else "w"
        if self.dilation != (1, 1):
            w = f"dil_d({w})"
        # the rows and columns a stride leaves unread get q more zeros after δ (see _input_grad)
        pad = "k−1" if not any(self._unread()) else "k−1,k−1+q"
        body = f"pad_({pad})({d}) ⋆ rot180({w})"
        if self.out_channels > 1:
            body = "Σ_o " + body
        if self.padding != (0, 0):
            body = f"crop_p({body})"
        return f"∂E/∂a{'_c' if self._c else ''} = {body}"

    def _input_tex(self, n: TexNames) -> tuple[str, str]:
        d = n.ch(n.d, self._o)
        if self.stride != (1, 1):
            d = rf"\operatorname{{spread}}_{{s}}({d})"
        w = n.ch(n.w, self._oc)
        if self.dilation != (1, 1):
            w = rf"\operatorname{{dil}}_{{d}}({w})"
        pad = r"k-1" if not any(self._unread()) else r"k-1,\,k-1+q"
        body = rf"\operatorname{{pad}}_{{{pad}}}({d}) \star \operatorname{{rot180}}({w})"
        if self.out_channels > 1:
            body = rf"\sum_{{o}} {body}"
        if self.padding != (0, 0):
            body = rf"\operatorname{{crop}}_{{p}}\Big({body}\Big)"
        return rf"\frac{{\partial E}}{{\partial {n.ch(n.a, self._c)}}}", body

    def _weight_statement(self) -> str:
        a = "a_c" if self._c else "a"
        if self.padding != (0, 0):
            a = f"pad_p({a})"
        d = "δ_o" if self._o else "δ"
        if self.stride != (1, 1):
            d = f"spread_s({d})"
        body = f"{a} ⋆ {d}"
        if self.dilation != (1, 1) or self._weight_cropped():
            body = f"keep_(k,d)({body})"
        w = "w_" + self._oc if self._oc else "w"
        return f"∂E/∂{w} = {body}"

    def _weight_tex(self, n: TexNames) -> tuple[str, str]:
        a = n.ch(n.a, self._c)
        if self.padding != (0, 0):
            a = rf"\operatorname{{pad}}_{{p}}({a})"
        d = n.ch(n.d, self._o)
        if self.stride != (1, 1):
            d = rf"\operatorname{{spread}}_{{s}}({d})"
        body = rf"{a} \star {d}"
        if self.dilation != (1, 1) or self._weight_cropped():
            body = rf"\operatorname{{keep}}_{{k,d}}\big({body}\big)"
        return rf"\frac{{\partial E}}{{\partial {n.ch(n.w, self._oc)}}}", body

    def _input_grad(self, delta: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, Shown]:
        """Σ_o crop_p( pad(zero_insert_s(δ_o)) ⋆ rot180(dilate_d(w_oc)) ), as arrays."""
        (sh, sw), (ph, pw) = self.stride, self.padding
        h, w = self.spatial
        out = zeros(self.input_shape)
        shown: Shown | None = None
        for c in range(self.input_shape[0]):
            acc = zeros((h, w))
            for o in range(self.out_channels):
                k = zero_insert(weight[o, c], self.dilation)
                kr, kc = k.shape
                spread = zero_insert(delta[o], (sh, sw))
                # the outputs read padded-input rows 0 … (OH−1)s + kr − 1; the rows a stride
                # leaves unread at the end get no gradient: zeros after δ, beyond the k − 1
                g1, g2 = self._unread()
                padded = zero_pad(spread, (kr - 1, kc - 1), (kr - 1 + g1, kc - 1 + g2))
                full = correlate_valid(padded, rot180(k))
                crop = (slice(ph, ph + h), slice(pw, pw + w))
                acc = acc + full[crop]
                if shown is None:
                    d_ops = (Op("spread", (sh, sw)),) if (sh, sw) != (1, 1) else ()
                    w_ops = (Op("dil", self.dilation),) if self.dilation != (1, 1) else ()
                    pads = (kr - 1, kc - 1) + ((kr - 1 + g1, kc - 1 + g2) if g1 or g2 else ())
                    shown = Shown(
                        Operand(Role.DELTA, (o,), delta[o], (*d_ops, Op("pad", pads)), padded),
                        Operand(
                            Role.WEIGHT, (o, c), weight[o, c], (*w_ops, Op("rot180")), rot180(k)
                        ),
                        full,
                        (Op("crop", (ph, pw)),) if (ph or pw) else (),
                        full[crop],
                    )
            out[c] = acc
        assert shown is not None
        return out, shown

    def _weight_grad(self, x: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, Shown]:
        """∂E/∂w[o,c] = (pad_p(a_c) ⋆ zero_insert_s(δ_o)) read every d-th entry."""
        (dh, dw), (kh, kw) = self.dilation, self.kernel
        out = zeros(self.weight_shape)
        shown: Shown | None = None
        for o in range(self.out_channels):
            spread = zero_insert(delta[o], self.stride)
            for c in range(self.input_shape[0]):
                padded = zero_pad(x[c], self.padding, self.padding)
                corr = correlate_valid(padded, spread)
                out[o, c] = corr[: (kh - 1) * dh + 1 : dh, : (kw - 1) * dw + 1 : dw]
                if shown is None:
                    a_ops = (Op("pad", self.padding),) if any(self.padding) else ()
                    d_ops = (Op("spread", self.stride),) if self.stride != (1, 1) else ()
                    kept = self._weight_cropped() or self.dilation != (1, 1)
                    shown = Shown(
                        Operand(Role.INPUT, (c,), x[c], a_ops, padded),
                        Operand(Role.DELTA, (o,), delta[o], d_ops, spread),
                        corr,
                        (Op("keep", (kh, kw, dh, dw)),) if kept else (),
                        out[o, c],
                    )
        assert shown is not None
        return out, shown

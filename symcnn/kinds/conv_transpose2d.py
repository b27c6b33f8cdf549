"""conv_transpose2d: a transposed convolution (PyTorch's ConvTranspose2d), each input entry
spreading the kernel onto a larger output; stride, padding, output_padding, dilation, bias."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import symengine as se
import sympy
from sympy import Sum

from ..core import indexed as ix
from ..core.arrays import correlate_valid, zero_insert, zero_pad, zeros
from ..core.indexed import General
from ..core.shapes import Pair, Shape, parse_size, positive
from ..core.symbols import Role
from ..errors import LayerKeyError, SpecError
from .base import (
    Arrays,
    ClosedForm,
    Figure,
    Layer,
    Mistake,
    NumpyCode,
    Op,
    Operand,
    Shown,
    TexNames,
    pair_tag,
    torch_array,
    torch_pair,
)
from .conv2d import Bias, bias_variants, spatial_input

#: Options checked together with others (the stride, the dilation): validated last.
_TOGETHER = ("output_padding",)


def transposed_size(size: int, k: int, stride: int, pad: int, dil: int, out_pad: int) -> int:
    """Output length of a transposed convolution: (in − 1)·s − 2p + d·(k − 1) + op + 1.

    Example:
        >>> transposed_size(3, 3, 2, 1, 1, 1)
        6
    """
    return (size - 1) * stride - 2 * pad + dil * (k - 1) + out_pad + 1


@dataclass(frozen=True)
class ConvTranspose2d(Layer):
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

    kernel: Pair = field(metadata={"help": "kernel size KHxKW, e.g. 2x2", "example": "2x2"})
    out_channels: int = field(default=1, metadata={"help": "output channels (default 1)"})
    stride: Pair = field(default=(1, 1), metadata={"help": "stride S or SHxSW (default 1)"})
    padding: Pair = field(default=(0, 0), metadata={"help": "zero padding P or PHxPW (default 0)"})
    output_padding: Pair = field(
        default=(0, 0),
        metadata={"help": "rows/columns added at the end of a transposed conv's output "
                  "(default 0; below the stride or the dilation)"},
    )  # fmt: skip
    dilation: Pair = field(default=(1, 1), metadata={"help": "kernel dilation (default 1)"})
    bias: Bias = field(
        default=Bias.SHARED,
        metadata={"help": "none, shared (one per output channel, default) or untied (one per "
                  "output entry)"},
    )  # fmt: skip
    in_channels: int | None = field(default=None, metadata={"help": "input channels (default 1)"})
    input: Shape | None = field(default=None, kw_only=True)

    kind = "conv_transpose2d"
    title = "transposed convolution"
    template = "layer_conv_transpose2d.tex.j2"
    figures = (Figure.RECEPTIVE_FIELD, Figure.WEIGHT_CELLS)
    required = ("kernel", "kernel = [2, 2]")
    conventions: ClassVar[dict[str, str]] = {
        "shapes": "conv_transpose2d weight [C, O, KH, KW] (as ConvTranspose2d), bias [O] "
        "(shared) or [O, OH, OW] (untied)",
        "transposed": "z[o, i·s − p + m·d, j·s − p + n·d] += a[c,i,j]·w[c,o,m,n], as PyTorch",
    }

    torch_modules = ("ConvTranspose2d",)

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        if module.groups != 1:
            raise SpecError(f"groups = {module.groups}: symcnn derives groups = 1 only")
        if module.padding_mode != "zeros":
            raise SpecError(f"padding_mode = {module.padding_mode!r}: symcnn pads with zeros")
        layer = cls(
            kernel=torch_pair(module.kernel_size, "kernel_size"),
            out_channels=module.out_channels,
            stride=torch_pair(module.stride, "stride"),
            padding=torch_pair(module.padding, "padding"),
            output_padding=torch_pair(module.output_padding, "output_padding"),
            dilation=torch_pair(module.dilation, "dilation"),
            bias=Bias.SHARED if module.bias is not None else Bias.NONE,
            in_channels=module.in_channels,
        )
        params = {Role.WEIGHT: torch_array(module.weight)}
        if module.bias is not None:
            params[Role.BIAS] = torch_array(module.bias)
        return layer, params

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "kernel", parse_size(self.kernel, "kernel"))
        set_(self, "out_channels", positive(self.out_channels, "out_channels"))
        set_(self, "stride", parse_size(self.stride, "stride"))
        set_(self, "padding", parse_size(self.padding, "padding", minimum=0))
        set_(self, "output_padding", parse_size(self.output_padding, "output_padding", minimum=0))
        set_(self, "dilation", parse_size(self.dilation, "dilation"))
        set_(self, "bias", Bias.parse(self.bias))
        if self.in_channels is not None:
            set_(self, "in_channels", positive(self.in_channels, "in_channels"))
        for axis, name in enumerate(("rows", "columns")):
            op, s, d = self.output_padding[axis], self.stride[axis], self.dilation[axis]
            if op >= s and op >= d:
                raise SpecError(
                    f"output_padding {op} along {name} must be smaller than the stride ({s}) "
                    f"or the dilation ({d}), as in PyTorch"
                )
        if self.input is not None:
            shape = spatial_input(self.input, self.in_channels)
            set_(self, "input", shape)
            set_(self, "in_channels", shape[0])
            self._check_size()

    @classmethod
    def from_table(cls, table: Any) -> ConvTranspose2d:
        """As `Layer.from_table`; ``output_padding`` is checked with the stride and dilation."""
        layer = super().from_table({k: v for k, v in table.items() if k not in _TOGETHER})
        for key in _TOGETHER:
            if key in table:
                try:
                    layer = replace(layer, **{key: table[key]})
                except SpecError as err:
                    raise LayerKeyError(key, str(err)) from None
        return layer

    def sized(self, shape: Shape) -> ConvTranspose2d:
        return replace(self, input=shape if isinstance(shape, str) else tuple(shape))

    def _check_size(self) -> None:
        for axis, name in enumerate(("rows", "columns")):
            if self.output_size[axis] < 1:
                raise SpecError(
                    f"the output would have no {name}: {self._axis_sum(axis)} "
                    "(the padding crops more than the transposed convolution spreads)"
                )

    # --- shapes --------------------------------------------------------------------------

    @property
    def spatial(self) -> Pair:
        """The input's (H, W)."""
        return (self.input_shape[1], self.input_shape[2])

    @property
    def output_size(self) -> Pair:
        """Spatial output size (OH, OW)."""
        h, w = self.spatial
        k, s, p, d, op = self.kernel, self.stride, self.padding, self.dilation, self.output_padding
        return (
            transposed_size(h, k[0], s[0], p[0], d[0], op[0]),
            transposed_size(w, k[1], s[1], p[1], d[1], op[1]),
        )

    @property
    def output_shape(self) -> Shape:
        return (self.out_channels, *self.output_size)

    @property
    def weight_shape(self) -> Shape:
        """(C, O, KH, KW), as PyTorch's ConvTranspose2d."""
        return (self.input_shape[0], self.out_channels, *self.kernel)

    @property
    def bias_shape(self) -> Shape | None:
        """(O,) for a shared bias, (O, OH, OW) for an untied one, None without bias."""
        if self.bias is Bias.SHARED:
            return (self.out_channels,)
        if self.bias is Bias.UNTIED:
            return self.output_shape
        return None

    def param_shapes(self) -> dict[Role, tuple[Shape, int]]:
        out = {Role.WEIGHT: (self.weight_shape, 2)}
        if self.bias_shape is not None:
            out[Role.BIAS] = (self.bias_shape, 1)
        return out

    @property
    def term_count(self) -> int:
        c, h, w = self.input_shape
        return c * self.out_channels * h * w * self.kernel[0] * self.kernel[1]

    def config(self) -> dict[str, Any]:
        return {
            "input": list(self.spatial),
            "kernel": list(self.kernel),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "output_padding": list(self.output_padding),
            "dilation": list(self.dilation),
            "in_channels": self.input_shape[0],
            "out_channels": self.out_channels,
            "bias": self.bias.value,
        }

    def summary(self) -> str:
        def pair(p: Pair) -> str:
            return f"{p[0]}x{p[1]}"

        return (
            f"kernel {pair(self.kernel)}, {self.out_channels} output channel(s), stride "
            f"{pair(self.stride)}, padding {pair(self.padding)}, output_padding "
            f"{pair(self.output_padding)}, dilation {pair(self.dilation)}, bias {self.bias.value}"
        )

    def slug(self) -> str:
        """``…-5x5-k3-s2-p1-op1-d2-c2o3-untied`` (defaults left out).

        Example:
            >>> ConvTranspose2d(kernel=3, stride=2, output_padding=1, input=(3, 3)).slug()[-13:]
            '3x3-k3-s2-op1'
        """
        h, w = self.spatial
        parts = [self.kind, f"{h}x{w}", f"k{pair_tag(self.kernel)}"]
        for tag, pair, default in (
            ("s", self.stride, 1),
            ("p", self.padding, 0),
            ("op", self.output_padding, 0),
            ("d", self.dilation, 1),
        ):
            if pair != (default, default):
                parts.append(f"{tag}{pair_tag(pair)}")
        if (self.input_shape[0], self.out_channels) != (1, 1):
            parts.append(f"c{self.input_shape[0]}o{self.out_channels}")
        if self.bias is not Bias.SHARED:
            parts.append(self.bias.value)
        return "-".join(parts)

    def _axis_sum(self, axis: int) -> str:
        n, k, s = self.spatial[axis], self.kernel[axis], self.stride[axis]
        p, d, op = self.padding[axis], self.dilation[axis], self.output_padding[axis]
        return f"({n} − 1)·{s} − 2·{p} + {d}·({k} − 1) + {op} + 1 = {self.output_size[axis]}"

    def arithmetic(self) -> str:
        return ", ".join(f"{name} {self._axis_sum(a)}" for a, name in enumerate(("rows", "cols")))

    def axes(self, role: Role) -> str:
        if role is Role.WEIGHT:
            return "[C, O, KH, KW]"
        if role is Role.BIAS:
            return "[O]" if self.bias is Bias.SHARED else "[O, OH, OW]"
        return "[C, H, W]" if role is Role.INPUT else "[O, OH, OW]"

    # --- maths ---------------------------------------------------------------------------

    def sources(self, r: int, m: int, axis: int) -> int | None:
        """The input row (axis 0) or column read by output position r through kernel tap m:
        (r + p − m·d)/s when that is a whole number in range, else None.

        Example:
            >>> ConvTranspose2d(kernel=3, stride=2, padding=1, input=(3, 3)).sources(3, 0, 0)
            2
        """
        q = r + self.padding[axis] - m * self.dilation[axis]
        s = self.stride[axis]
        if q % s or not 0 <= q // s < self.spatial[axis]:
            return None
        return q // s

    def terms(self, x: np.ndarray, params: dict[Role, np.ndarray]) -> np.ndarray:
        """``z[o,r,t] = Σ_c Σ_m Σ_n w[c,o,m,n]·a[c, (r + p − m·d)/s, (t + p − n·d)/s] + b``,
        over whole, in-range input positions only.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> layer = ConvTranspose2d(kernel=(1, 2), bias="none", input=(1, 2))
            >>> a = Grid("a", Role.INPUT, (1, 1, 2), (True, False, False)).symbols
            >>> w = Grid("w", Role.WEIGHT, (1, 1, 1, 2), (True, True, False, False)).symbols
            >>> [t for t in layer.terms(a, {Role.WEIGHT: w})[0, 0]]
            [(a_11*w_11,), (a_12*w_11, a_11*w_12), (a_12*w_12,)]
        """
        (kh, kw), w = self.kernel, params[Role.WEIGHT]
        bias = params.get(Role.BIAS)
        rows = [[self.sources(r, m, 0) for m in range(kh)] for r in range(self.output_size[0])]
        cols = [[self.sources(t, n, 1) for n in range(kw)] for t in range(self.output_size[1])]
        terms = np.empty(self.output_shape, dtype=object)
        for o, r, t in np.ndindex(*self.output_shape):
            row: list[Any] = []
            for c in range(self.input_shape[0]):
                for m, q in enumerate(rows[r]):
                    if q is None:
                        continue
                    for n, u in enumerate(cols[t]):
                        if u is not None:
                            row.append(w[c, o, m, n] * x[c, q, u])
            if self.bias is Bias.SHARED:
                row.append(bias[o])  # type: ignore[index]
            elif self.bias is Bias.UNTIED:
                row.append(bias[o, r, t])  # type: ignore[index]
            terms[o, r, t] = tuple(row)
        return terms

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
        if self.bias is Bias.SHARED:
            total = np.empty((self.out_channels,), dtype=object)
            for o in range(self.out_channels):
                total[o] = se.Add(*delta[o].ravel())
            forms.append(
                ClosedForm(
                    Role.BIAS,
                    "bias gradient: sum of δ",
                    "∂E/∂b_o = Σ_ij δ_o,ij" if self._o else "∂E/∂b = Σ_ij δ_ij",
                    lambda n: (
                        rf"\frac{{\partial E}}{{\partial {n.ch(n.b, self._o)}}}",
                        rf"\sum_{{i,j}} {n.ch(n.d, self._o)}_{{ij}}",
                    ),
                    total,
                )
            )
        elif self.bias is Bias.UNTIED:
            forms.append(
                ClosedForm(
                    Role.BIAS,
                    "bias gradient: δ itself (untied bias)",
                    "∂E/∂b_o,ij = δ_o,ij" if self._o else "∂E/∂b_ij = δ_ij",
                    lambda n: (
                        rf"\frac{{\partial E}}{{\partial {n.ch(n.b, self._o)}_{{ij}}}}",
                        rf"{n.ch(n.d, self._o)}_{{ij}}",
                    ),
                    delta.copy(),
                )
            )
        return forms

    # the channel indices a name carries (only the axes of size > 1 are printed)
    @property
    def _o(self) -> str:
        return "o" if self.out_channels > 1 else ""

    @property
    def _c(self) -> str:
        return "c" if self.input_shape[0] > 1 else ""

    @property
    def _co(self) -> str:
        return ",".join(x for x in (self._c, self._o) if x)

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

    def _weight_kept(self) -> bool:
        """Whether ``pad(δ) ⋆ spread(a)`` is larger than the (dilated) kernel and is cut to it."""
        (h, w), (oh, ow) = self.spatial, self.output_size
        (sh, sw), (ph, pw) = self.stride, self.padding
        rows = oh + 2 * ph - (h - 1) * sh
        cols = ow + 2 * pw - (w - 1) * sw
        return self.dilation != (1, 1) or (rows, cols) != self.kernel

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """The gradients with SciPy's ``correlate2d``: δ (padded) against the kernel, no
        rotation, every s-th entry; the kernel's from δ against the input spread by the stride.

        Example:
            >>> print(ConvTranspose2d(kernel=2, stride=2, input=(2, 2)).numpy_code(Role.INPUT).text)
            grad_a = correlate2d(delta, w, mode="valid")[:3:2, :3:2]
        """
        planar = self.input_shape[0] == self.out_channels == 1
        (s1, s2), (p1, p2), (d1, d2), (k1, k2) = (
            self.stride,
            self.padding,
            self.dilation,
            self.kernel,
        )
        (h, w) = self.spatial
        ch = "" if planar else ":, "
        lines: list[str] = []
        d = "delta"
        if any(self.padding):
            pads = (
                f"({p1}, {p1}), ({p2}, {p2})" if planar else f"(0, 0), ({p1}, {p1}), ({p2}, {p2})"
            )
            lines.append(f"dp = np.pad(delta, ({pads}))")
            d = "dp"
        if role is Role.BIAS:
            if self.bias is Bias.NONE:
                return None
            if self.bias is Bias.UNTIED:
                return NumpyCode("grad_b = delta", planar)
            return NumpyCode(
                "grad_b = delta.sum()" if planar else "grad_b = delta.sum(axis=(1, 2))", planar
            )
        if role is Role.INPUT:
            kernel = "w"
            if self.dilation != (1, 1):
                kshape = f"{(k1 - 1) * d1 + 1}, {(k2 - 1) * d2 + 1}"
                lead = "" if planar else f"{self.input_shape[0]}, {self.out_channels}, "
                lines.append(f"wd = np.zeros(({lead}{kshape})); wd[{ch}{ch}::{d1}, ::{d2}] = w")
                kernel = "wd"
            every = (
                f"[{ch}:{(h - 1) * s1 + 1}:{s1}, :{(w - 1) * s2 + 1}:{s2}]"
                if (s1, s2) != (1, 1)
                else ""
            )
            if planar:
                lines.append(f'grad_a = correlate2d({d}, {kernel}, mode="valid"){every}')
            else:
                lines.append(
                    f'grad_a = np.array([sum(correlate2d({d}[o], {kernel}[c, o], mode="valid")\n'
                    f"                       for o in range({self.out_channels}))\n"
                    f"                   for c in range({self.input_shape[0]})]){every}"
                )
            return NumpyCode("\n".join(lines), planar)
        if role is not Role.WEIGHT:
            return None
        a = "a"
        if (s1, s2) != (1, 1):
            lead = "" if planar else f"{self.input_shape[0]}, "
            lines.append(
                f"as_ = np.zeros(({lead}{(h - 1) * s1 + 1}, {(w - 1) * s2 + 1})); as_[{ch}::{s1}, ::{s2}] = a"
            )
            a = "as_"
        if planar:
            lines.append(f'grad_w = correlate2d({d}, {a}, mode="valid")')
        else:
            lines.append(
                f'grad_w = np.array([[correlate2d({d}[o], {a}[c], mode="valid")\n'
                f"                    for o in range({self.out_channels})]\n"
                f"                   for c in range({self.input_shape[0]})])"
            )
        if self._weight_kept():
            lines.append(
                f"grad_w = grad_w[{ch}{ch}:{(k1 - 1) * d1 + 1}:{d1}, :{(k2 - 1) * d2 + 1}:{d2}]"
            )
        return NumpyCode("\n".join(lines), planar)

    def operators(self) -> set[str]:
        ops = {"star"}
        if any(self.padding):
            ops.add("pad")
        if self.stride != (1, 1):
            ops |= {"spread", "keep"}
        if self.dilation != (1, 1):
            ops.add("dil")
        if self._weight_kept():
            ops.add("keep")
        return ops

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
        if self.bias is Bias.SHARED:
            rhs = rhs + (ix.B[ix.O_] if o_idx else ix.BIAS)
            wrt[Role.BIAS] = ix.B[ix.primed(ix.O_)] if o_idx else ix.BIAS
        elif self.bias is Bias.UNTIED:
            rhs = rhs + ix.B[(*o_idx, ix.I_, ix.J_)]
            wrt[Role.BIAS] = ix.B[(*primed_o, ix.primed(ix.I_), ix.primed(ix.J_))]
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

    def wrong_results(self, role: Role, arrays: Arrays) -> list[tuple[str, np.ndarray]]:
        delta = arrays[Role.DELTA]
        if role is not Role.BIAS or delta is None:
            return []
        return list(bias_variants(self, delta))

    # --- sheets --------------------------------------------------------------------------

    def facts(self) -> dict[str, Any]:
        return {
            "channels": self.input_shape[0],
            "out_channels": self.out_channels,
            "sizes": [
                {
                    "size": self.spatial[a],
                    "k": self.kernel[a],
                    "stride": self.stride[a],
                    "pad": self.padding[a],
                    "outpad": self.output_padding[a],
                    "dil": self.dilation[a],
                    "out": self.output_size[a],
                }
                for a in (0, 1)
            ],
            "padded": False,  # the input is not padded: the padding crops the output
            "cropped": any(self.padding),
            "strided": self.stride != (1, 1),
            "dilated": self.dilation != (1, 1),
            "bias": self.bias.value,
        }


# --- the classic mistakes ---------------------------------------------------------------


@dataclass(frozen=True)
class TransposedModel:
    """The index formulas of a transposed conv's backward pass, with a buggy one's knobs.

    δ is read at ``i·s + m·d − p + shift`` (per axis) for input entry i and kernel tap m;
    ``flip`` reads kernel tap ``KH−1−m`` (rotated as in conv2d's input gradient),
    ``swap_channels`` reads ``w[o, c]`` (input gradient) or returns ``[O, C, KH, KW]``
    (weight gradient), ``no_extra`` drops the output_padding rows and columns of δ,
    ``flip_delta`` reads δ rotated by 180°, ``rotate_result`` rotates the weight gradient.
    """

    flip: tuple[bool, bool] = (False, False)
    unit_stride: tuple[bool, bool] = (False, False)
    unit_dilation: tuple[bool, bool] = (False, False)
    shift: tuple[int, int] = (0, 0)
    swap_channels: bool = False
    no_extra: bool = False
    flip_delta: bool = False
    rotate_result: bool = False


def _index(layer: ConvTranspose2d, model: TransposedModel) -> tuple[np.ndarray, ...]:
    """Index arrays (c, o, i, j, m, n, r, t, keep): input entry (i, j), kernel tap (m, n),
    the δ entry (r, t) they meet, and whether it lies in δ."""
    (h, w), (kh, kw) = layer.spatial, layer.kernel
    c, o, i, j, m, n = (
        a.ravel() for a in np.indices((layer.input_shape[0], layer.out_channels, h, w, kh, kw))
    )
    s = [1 if u else v for u, v in zip(model.unit_stride, layer.stride)]
    d = [1 if u else v for u, v in zip(model.unit_dilation, layer.dilation)]
    r = i * s[0] + m * d[0] - layer.padding[0] + model.shift[0]
    t = j * s[1] + n * d[1] - layer.padding[1] + model.shift[1]
    oh, ow = layer.output_size
    if model.no_extra:
        oh, ow = oh - layer.output_padding[0], ow - layer.output_padding[1]
    keep = (r >= 0) & (r < oh) & (t >= 0) & (t < ow)
    return c, o, i, j, m, n, np.clip(r, 0, oh - 1), np.clip(t, 0, ow - 1), keep


def _input_model(
    layer: ConvTranspose2d, arrays: Arrays, model: TransposedModel
) -> np.ndarray | None:
    """∂E/∂x as the model computes it: Σ δ[o, r, t]·w[c, o, m, n] over the taps of (i, j).

    Example:
        >>> layer = ConvTranspose2d(kernel=2, input=(1, 1))
        >>> a = {Role.WEIGHT: np.ones((1, 1, 2, 2)), Role.DELTA: np.arange(4.0).reshape(1, 2, 2)}
        >>> _input_model(layer, a, TransposedModel()).tolist()
        [[[6.0]]]
    """
    w, delta = arrays[Role.WEIGHT], arrays[Role.DELTA]
    assert w is not None and delta is not None
    if model.swap_channels and layer.out_channels != layer.input_shape[0]:
        return None
    c, o, i, j, m, n, r, t, keep = _index(layer, model)
    kh, kw = layer.kernel
    km = kh - 1 - m if model.flip[0] else m
    kn = kw - 1 - n if model.flip[1] else n
    weights = w[o, c, km, kn] if model.swap_channels else w[c, o, km, kn]
    out = np.zeros(layer.input_shape)
    np.add.at(out, (c, i, j), delta[o, r, t] * weights * keep)
    return out


def _weight_model(layer: ConvTranspose2d, arrays: Arrays, model: TransposedModel) -> np.ndarray:
    """∂E/∂w as the model computes it: Σ x[c, i, j]·δ[o, r, t] over the input entries."""
    x, delta = arrays[Role.INPUT], arrays[Role.DELTA]
    assert x is not None and delta is not None
    c, o, i, j, m, n, r, t, keep = _index(layer, model)
    oh, ow = layer.output_size
    if model.flip_delta:
        r, t = oh - 1 - r, ow - 1 - t
    out = np.zeros(layer.weight_shape)
    np.add.at(out, (c, o, m, n), x[c, i, j] * delta[o, r, t] * keep)
    if model.rotate_result:
        out = out[..., ::-1, ::-1]
    return out.transpose(1, 0, 2, 3) if model.swap_channels else out


def _axis_variants(
    key: str, active: tuple[bool, bool], what: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    if all(active):
        yield what, {key: (True, True)}
        yield f"{what} along the rows only", {key: (True, False)}
        yield f"{what} along the columns only", {key: (False, True)}
    elif any(active):
        yield what, {key: active}


def _mistakes(layer: ConvTranspose2d) -> Iterator[Mistake]:
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel, layer.stride, layer.dilation
    (ph, pw), (oh, ow) = layer.padding, layer.output_size
    common: list[tuple[str, dict[str, Any]]] = []
    common += _axis_variants(
        "unit_stride", (sh > 1, sw > 1), "stride ignored (δ read at i + m·d − p, not i·s + m·d − p)"
    )
    common += _axis_variants(
        "unit_dilation",
        (dh > 1, dw > 1),
        "dilation ignored (δ read at i·s + m − p, not i·s + m·d − p)",
    )
    if ph or pw:
        common.append(
            ("padding ignored (δ read at i·s + m·d, not i·s + m·d − p)", {"shift": (ph, pw)})
        )
    for k in (-1, 1):
        common.append(
            (f"δ window off by {k:+d} (δ read at i·s + m·d − p {k:+d})", {"shift": (k, k)})
        )
    if any(layer.output_padding):
        common.append(
            (
                "output_padding ignored (the last rows/columns of δ, which the output_padding "
                "added, left out)",
                {"no_extra": True},
            )
        )
    gx = list(common)
    gx += _axis_variants(
        "flip",
        (kh > 1, kw > 1),
        "kernel rotated by 180° (δ convolved with w, as in conv2d's input gradient; a "
        "transposed convolution's input gradient correlates δ with w)",
    )
    if layer.out_channels == layer.input_shape[0] > 1:
        gx.append(
            (
                "weight axes swapped (w[o, c] read as if the weight were [O, C, KH, KW]; "
                "ConvTranspose2d's is [C, O, KH, KW])",
                {"swap_channels": True},
            )
        )
    for name, opts in gx:
        yield Mistake(Role.INPUT, name, tuple(opts.items()))
    gw = list(common)
    if oh * ow > 1:
        gw.append(
            ("δ rotated by 180° (the weight gradient is a correlation)", {"flip_delta": True})
        )
    if kh * kw > 1:
        gw.append(
            (
                "kernel not flipped back (rot180 of ∂E/∂w: the gradient of the rotated kernel of "
                "the equivalent convolution)",
                {"rotate_result": True},
            )
        )
    if layer.out_channels > 1 or layer.input_shape[0] > 1:
        gw.append(
            (
                "weight axes swapped (gradient in [O, C, KH, KW] layout, not ConvTranspose2d's "
                "[C, O, KH, KW])",
                {"swap_channels": True},
            )
        )
    for name, opts in gw:
        yield Mistake(Role.WEIGHT, name, tuple(opts.items()))

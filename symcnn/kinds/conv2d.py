"""conv2d: a 2-D convolution (cross-correlation) with stride, padding, dilation, channels, groups
and bias."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import sympy
from sympy import Sum

from ..core import indexed as ix
from ..core.arrays import add_all, correlate_valid, rot180, zero_insert, zero_pad, zeros
from ..core.indexed import General
from ..core.shapes import (
    Pair,
    Shape,
    conv_out_size,
    parse_enum,
    parse_size,
    positive,
    shape_of,
    shape_text,
)
from ..core.summands import Part
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
    spatial_axes,
    torch_array,
    torch_pair,
)


class Bias(enum.Enum):
    """How a conv layer's bias is shared: not at all, per output channel, or per output entry."""

    NONE = "none"
    SHARED = "shared"
    UNTIED = "untied"

    @classmethod
    def parse(cls, value: Bias | str) -> Bias:
        """Accept a `Bias` or its name: ``Bias.parse("untied") is Bias.UNTIED``."""
        return parse_enum(cls, value, "bias mode")


def spatial_input(value: Any, channels: int | None) -> Shape:
    """(C, H, W) from (C, H, W), or from (H, W) / ``"HxW"`` and the channel count."""
    if isinstance(value, (tuple, list)) and len(value) == 3:
        c, h, w = (positive(v, "input") for v in value)
        if channels is not None and channels != c:
            raise SpecError(f"in_channels = {channels}, but the input has {c}")
        return (c, h, w)
    if isinstance(value, (tuple, list)) and len(value) == 1:
        raise SpecError("needs a [C, H, W] input but gets a flat vector")
    if isinstance(value, str) and value.lower().count("x") == 2:
        return spatial_input(shape_of(value, "input"), channels)
    return (channels or 1, *parse_size(value, "input"))


@dataclass(frozen=True)
class Conv2d(Layer):
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

    kernel: Pair = field(metadata={"help": "kernel size KHxKW, e.g. 2x2", "example": "2x2"})
    out_channels: int = field(default=1, metadata={"help": "output channels (default 1)"})
    stride: Pair = field(default=(1, 1), metadata={"help": "stride S or SHxSW (default 1)"})
    padding: Pair = field(default=(0, 0), metadata={"help": "zero padding P or PHxPW (default 0)"})
    dilation: Pair = field(default=(1, 1), metadata={"help": "kernel dilation (default 1)"})
    bias: Bias = field(
        default=Bias.SHARED,
        metadata={"help": "none, shared (one per output channel, default) or untied (one per "
                  "output entry)"},
    )  # fmt: skip
    in_channels: int | None = field(default=None, metadata={"help": "input channels (default 1)"})
    groups: int = field(
        default=1,
        metadata={"help": "channel groups, dividing both channel counts (default 1; depthwise: C)"},
    )
    input: Shape | None = field(default=None, kw_only=True)

    kind = "conv2d"
    title = "convolution"
    template = "layer_conv2d.tex.j2"
    figures = (Figure.RECEPTIVE_FIELD, Figure.WEIGHT_CELLS, Figure.READERS)
    required = ("kernel", "kernel = [2, 2]")
    conventions: ClassVar[dict[str, str]] = {
        "shapes": "conv2d weight [O, C, KH, KW], bias [O] (shared) or [O, OH, OW] (untied)",
        "convolution": "cross-correlation, as in PyTorch",
    }

    torch_modules = ("Conv2d",)

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        if getattr(module, "groups", 1) != 1 and "groups" not in set(cls.keys()):
            raise SpecError(f"groups = {module.groups}: symcnn derives groups = 1 only")
        if module.padding_mode != "zeros":
            raise SpecError(f"padding_mode = {module.padding_mode!r}: symcnn pads with zeros")
        kernel = torch_pair(module.kernel_size, "kernel_size")
        dilation = torch_pair(module.dilation, "dilation")
        padding: Any = module.padding
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            spans = [d * (k - 1) for d, k in zip(dilation, kernel)]
            if any(s % 2 for s in spans):
                raise SpecError("padding = 'same' pads unevenly for this kernel; give numbers")
            padding = tuple(s // 2 for s in spans)
        options: dict[str, Any] = {}
        if getattr(module, "groups", 1) != 1:
            options["groups"] = module.groups
        layer = cls(
            kernel=kernel,
            out_channels=module.out_channels,
            stride=torch_pair(module.stride, "stride"),
            padding=torch_pair(padding, "padding"),
            dilation=dilation,
            bias=Bias.SHARED if module.bias is not None else Bias.NONE,
            in_channels=module.in_channels,
            **options,
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
        set_(self, "dilation", parse_size(self.dilation, "dilation"))
        set_(self, "bias", Bias.parse(self.bias))
        if self.in_channels is not None:
            set_(self, "in_channels", positive(self.in_channels, "in_channels"))
        set_(self, "groups", positive(self.groups, "groups"))
        if self.out_channels % self.groups:
            raise SpecError(
                f"groups = {self.groups} does not divide out_channels = {self.out_channels}: "
                "every group needs as many output channels"
            )
        if self.input is not None:
            shape = spatial_input(self.input, self.in_channels)
            set_(self, "input", shape)
            set_(self, "in_channels", shape[0])
            self._check_fit()
        if self.in_channels is not None and self.in_channels % self.groups:
            raise LayerKeyError(
                "groups",
                f"groups = {self.groups} does not divide the {self.in_channels} input channels: "
                "every group needs as many input channels",
            )

    @classmethod
    def from_table(cls, table: Any) -> Conv2d:
        """As `Layer.from_table`; ``groups`` is checked with the channel counts it must divide."""
        layer = super().from_table({k: v for k, v in table.items() if k != "groups"})
        if "groups" not in table:
            return layer
        try:
            return replace(layer, groups=table["groups"])
        except SpecError as err:
            raise LayerKeyError("groups", str(err)) from None

    def sized(self, shape: Shape) -> Conv2d:
        return replace(self, input=shape if isinstance(shape, str) else tuple(shape))

    def _check_fit(self) -> None:
        _, h, w = self.input_shape
        for axis, name in enumerate(("rows", "cols")):
            size, k = (h, w)[axis], self.kernel[axis]
            p, d = self.padding[axis], self.dilation[axis]
            span = d * (k - 1) + 1
            if span > size + 2 * p:
                dil = f" (dilation {d} makes it span {span})" if d > 1 else ""
                raise SpecError(
                    f"kernel {self.kernel[0]}x{self.kernel[1]}{dil} does not fit the input "
                    f"{h}x{w} padded by {p} along {name}: need {span} ≤ {size} + 2·{p}"
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
        k, s, p, d = self.kernel, self.stride, self.padding, self.dilation
        return (
            conv_out_size(h, k[0], s[0], p[0], d[0]),
            conv_out_size(w, k[1], s[1], p[1], d[1]),
        )

    @property
    def output_shape(self) -> Shape:
        return (self.out_channels, *self.output_size)

    @property
    def group_in(self) -> int:
        """Input channels per group, C/G (C without groups)."""
        return self.input_shape[0] // self.groups

    @property
    def group_out(self) -> int:
        """Output channels per group, O/G."""
        return self.out_channels // self.groups

    def group_of(self, o: int) -> int:
        """The group of output channel o: ⌊o/(O/G)⌋; it reads input channels g·C/G + c."""
        return o // self.group_out

    @property
    def weight_shape(self) -> Shape:
        """(O, C/G, KH, KW)."""
        return (self.out_channels, self.group_in, *self.kernel)

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
        oh, ow = self.output_size
        kh, kw = self.kernel
        return self.out_channels * self.group_in * oh * ow * kh * kw

    def config(self) -> dict[str, Any]:
        out = {
            "input": list(self.spatial),
            "kernel": list(self.kernel),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "dilation": list(self.dilation),
            "in_channels": self.input_shape[0],
            "out_channels": self.out_channels,
            "bias": self.bias.value,
        }
        return out if self.groups == 1 else {**out, "groups": self.groups}

    def describe(self) -> str:
        def pair(p: Pair) -> str:
            return f"{p[0]}x{p[1]}"

        return (
            f"conv2d: input {shape_text(self.input_shape)}, kernel {pair(self.kernel)}, "
            f"{self.out_channels} output channel(s), stride {pair(self.stride)}, padding "
            f"{pair(self.padding)}, dilation {pair(self.dilation)}, bias {self.bias.value}"
            f"{f', groups {self.groups}' if self.groups > 1 else ''} "
            f"-> output {shape_text(self.output_shape)}"
        )

    def slug(self) -> str:
        """``conv2d-5x5-k3-s2-p1-d2-c2o4-g2-untied`` (defaults left out).

        Example:
            >>> Conv2d(kernel=3, stride=2, padding=1, input=(5, 5)).slug()
            'conv2d-5x5-k3-s2-p1'
        """
        h, w = self.spatial
        parts = [self.kind, f"{h}x{w}", f"k{pair_tag(self.kernel)}"]
        for tag, pair, default in (
            ("s", self.stride, 1),
            ("p", self.padding, 0),
            ("d", self.dilation, 1),
        ):
            if pair != (default, default):
                parts.append(f"{tag}{pair_tag(pair)}")
        if (self.input_shape[0], self.out_channels) != (1, 1):
            parts.append(f"c{self.input_shape[0]}o{self.out_channels}")
        if self.groups > 1:
            parts.append(f"g{self.groups}")
        if self.bias is not Bias.SHARED:
            parts.append(self.bias.value)
        return "-".join(parts)

    def arithmetic(self) -> str:
        parts = []
        for axis, name in enumerate(("rows", "cols")):
            n, k, s = self.spatial[axis], self.kernel[axis], self.stride[axis]
            p, d = self.padding[axis], self.dilation[axis]
            out = self.output_size[axis]
            parts.append(f"{name} ⌊({n} + 2·{p} − {d}·({k} − 1) − 1)/{s}⌋ + 1 = {out}")
        return ", ".join(parts)

    def axes(self, role: Role) -> str:
        if role is Role.WEIGHT:
            return "[O, C, KH, KW]" if self.groups == 1 else "[O, C/groups, KH, KW]"
        if role is Role.BIAS:
            return "[O]" if self.bias is Bias.SHARED else "[O, OH, OW]"
        return "[C, H, W]" if role is Role.INPUT else "[O, OH, OW]"

    # --- maths ---------------------------------------------------------------------------

    def parts(self) -> tuple[Part, ...]:
        """``z[o,i,j] = Σ_c Σ_m Σ_n w[o,c,m,n]·a[g·C/G + c, i·s + m·d − p, j·s + n·d − p] + b``,
        c over the C/G channels of o's group g (all C, g = 0, without groups).

        One part of products ``w·a`` (taps that fall on the padding are left out), one of
        bias entries.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> layer = Conv2d(kernel=2, bias="none", input=(2, 2))
            >>> a = Grid("a", Role.INPUT, (1, 2, 2), (True, False, False)).symbols
            >>> w = Grid("w", Role.WEIGHT, (1, 1, 2, 2), (True, True, False, False)).symbols
            >>> layer.terms(a, {Role.WEIGHT: w})[0, 0, 0]
            (a_11*w_11, a_12*w_12, a_21*w_21, a_22*w_22)
        """
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        (kh, kw), (h, wd), (oh, ow) = self.kernel, self.spatial, self.output_size
        cin = self.group_in
        o, i, j, c, m, n = np.ogrid[: self.out_channels, :oh, :ow, :cin, :kh, :kw]
        r, t = i * sh + m * dh - ph, j * sw + n * dw - pw
        full = (self.out_channels, oh, ow, cin, kh, kw)
        keep = np.broadcast_to((r >= 0) & (r < h) & (t >= 0) & (t < wd), full)
        rows = np.broadcast_to((o * oh + i) * ow + j, full)[keep]
        w_idx = np.broadcast_to(((o * cin + c) * kh + m) * kw + n, full)[keep]
        channel = (o // self.group_out) * cin + c  # input channel c of o's group
        a_idx = np.broadcast_to((channel * h + r) * wd + t, full)[keep]
        parts = [Part(rows, (Role.WEIGHT, Role.INPUT), np.stack([w_idx, a_idx], axis=1))]
        out = np.arange(int(np.prod(self.output_shape)))
        if self.bias is Bias.SHARED:
            parts.append(Part(out, (Role.BIAS,), out // (oh * ow)))
        elif self.bias is Bias.UNTIED:
            parts.append(Part(out, (Role.BIAS,), out))
        return tuple(parts)

    def closed_forms(
        self, x: np.ndarray, params: dict[Role, np.ndarray], delta: np.ndarray
    ) -> list[ClosedForm]:
        """∂E/∂a as δ (zero-inserted, zero-padded) ⋆ rot180(w), cropped; ∂E/∂w as a ⋆ δ; Σδ.

        With groups, both are built group by group, each group an ordinary convolution of its
        own channels, and the groups' results laid side by side.

        Example:
            >>> from symcnn.core.symbols import Grid
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
        if self.bias is Bias.SHARED:
            total = np.empty((self.out_channels,), dtype=object)
            for o in range(self.out_channels):
                total[o] = add_all(list(delta[o].ravel()))
            forms.append(
                ClosedForm(
                    Role.BIAS,
                    "bias gradient: sum of δ",
                    "∂E/∂b_o = Σ_ij δ_o,ij" if self.out_channels > 1 else "∂E/∂b = Σ_ij δ_ij",
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
                    "∂E/∂b_o,ij = δ_o,ij" if self.out_channels > 1 else "∂E/∂b_ij = δ_ij",
                    lambda n: (
                        rf"\frac{{\partial E}}{{\partial {n.ch(n.b, self._o)}_{{ij}}}}",
                        rf"{n.ch(n.d, self._o)}_{{ij}}",
                    ),
                    delta.copy(),
                )
            )
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
        part = Conv2d(
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
    def _o(self) -> str:
        return "o" if self.out_channels > 1 else ""

    @property
    def _c(self) -> str:
        return "c" if self.input_shape[0] > 1 else ""

    @property
    def _oc(self) -> str:
        return ",".join(x for x in (self._o, self._c) if x)

    def _unread(self) -> tuple[int, int]:
        """Rows and columns at the end of the padded input that no output reads (a stride
        that does not divide): their gradient is 0."""
        return tuple(
            n + 2 * p - ((o - 1) * s + d * (k - 1) + 1)
            for n, p, o, s, d, k in zip(
                self.spatial,
                self.padding,
                self.output_size,
                self.stride,
                self.dilation,
                self.kernel,
            )
        )

    def _weight_cropped(self) -> bool:
        """Whether ``pad(a) ⋆ spread(δ)`` is larger than the (dilated) kernel and is cut to it."""
        return any(
            (n + 2 * p - d * (k - 1) - 1) % s != 0
            for n, p, d, k, s in zip(
                self.spatial, self.padding, self.dilation, self.kernel, self.stride
            )
        )

    def _input_statement(self) -> str:
        d = "δ_o" if self.out_channels > 1 else "δ"
        if self.stride != (1, 1):
            d = f"spread_s({d})"
        w = "w_o,c" if self._oc == "o,c" else ("w_" + self._oc if self._oc else "w")
        if self.dilation != (1, 1):
            w = f"dil_d({w})"
        body = f"pad_(k−1)({d}) ⋆ rot180({w})"
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
        w = "w_o,c" if self._oc == "o,c" else ("w_" + self._oc if self._oc else "w")
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
        if self.bias is Bias.SHARED:
            rhs = rhs + (ix.B[ix.O_] if o_idx else ix.BIAS)
            wrt[Role.BIAS] = ix.B[ix.primed(ix.O_)] if o_idx else ix.BIAS
        elif self.bias is Bias.UNTIED:
            rhs = rhs + ix.B[(*o_idx, ix.I_, ix.J_)]
            wrt[Role.BIAS] = ix.B[(*primed_o, ix.primed(ix.I_), ix.primed(ix.J_))]
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

    def wrong_results(self, role: Role, arrays: Arrays) -> list[tuple[str, np.ndarray]]:
        delta = arrays[Role.DELTA]
        if role is not Role.BIAS or delta is None:
            return []
        return list(bias_variants(self, delta))

    # --- sheets --------------------------------------------------------------------------

    def operators(self) -> set[str]:
        ops = {"star", "pad", "rot180"}
        if self.stride != (1, 1):
            ops.add("spread")
        if self.dilation != (1, 1):
            ops.add("dil")
        if any(self.padding):
            ops.add("crop")
        if self.dilation != (1, 1) or self._weight_cropped():
            ops.add("keep")
        if any(self._unread()):
            ops.add("padends")
        return ops

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """The gradient with SciPy: ``correlate2d`` for the weights, ``convolve2d`` (a correlation
        with the kernel rotated by 180°) for the input, after the stride's zeros are spread in.

        Example:
            >>> print(Conv2d(kernel=2, input=(3, 3)).numpy_code(Role.INPUT).text)
            grad_a = convolve2d(delta, w, mode="full")
        """
        planar = self.input_shape[0] == self.out_channels == 1
        (s1, s2), (p1, p2), (d1, d2), (k1, k2) = (
            self.stride,
            self.padding,
            self.dilation,
            self.kernel,
        )
        (h, w), (oh, ow) = self.spatial, self.output_size
        lines: list[str] = []
        ch = "" if planar else ":, "
        lead = "" if planar else f"{self.out_channels}, "
        d = "delta"
        if (s1, s2) != (1, 1):
            lines.append(
                f"ds = np.zeros(({lead}{s1 * (oh - 1) + 1}, {s2 * (ow - 1) + 1})); "
                f"ds[{ch}::{s1}, ::{s2}] = delta"
            )
            d = "ds"
        if role is Role.BIAS:
            if self.bias is Bias.NONE:
                return None
            if self.bias is Bias.UNTIED:
                return NumpyCode("grad_b = delta", planar)
            return NumpyCode(
                "grad_b = delta.sum()" if planar else "grad_b = delta.sum(axis=(1, 2))", planar
            )
        if role is Role.WEIGHT:
            a = "a"
            if any(self.padding):
                pads = (
                    f"({p1}, {p1}), ({p2}, {p2})"
                    if planar
                    else f"(0, 0), ({p1}, {p1}), ({p2}, {p2})"
                )
                lines.insert(0, f"ap = np.pad(a, ({pads}))")
                a = "ap"
            if planar:
                lines.append(f'grad_w = correlate2d({a}, {d}, mode="valid")')
            elif self.groups > 1:
                ci, co = self.group_in, self.group_out
                lines.append(
                    f'grad_w = np.array([[correlate2d({a}[(o // {co}) * {ci} + c], {d}[o], mode="valid")\n'
                    f"                    for c in range({ci})]\n"
                    f"                   for o in range({self.out_channels})])"
                )
            else:
                lines.append(
                    f'grad_w = np.array([[correlate2d({a}[c], {d}[o], mode="valid")\n'
                    f"                    for c in range({self.input_shape[0]})]\n"
                    f"                   for o in range({self.out_channels})])"
                )
            if self.dilation != (1, 1) or self._weight_cropped():
                keep = f"{ch}{ch}:{(k1 - 1) * d1 + 1}:{d1}, :{(k2 - 1) * d2 + 1}:{d2}"
                lines.append(f"grad_w = grad_w[{keep}]")
            return NumpyCode("\n".join(lines), planar)
        if role is not Role.INPUT:
            return None
        kernel = "w"
        if self.dilation != (1, 1):
            kshape = f"{(k1 - 1) * d1 + 1}, {(k2 - 1) * d2 + 1}"
            wlead = "" if planar else f"{self.out_channels}, {self.weight_shape[1]}, "
            lines.append(f"wd = np.zeros(({wlead}{kshape})); wd[{ch}{ch}::{d1}, ::{d2}] = w")
            kernel = "wd"
        if planar:
            lines.append(f'grad_a = convolve2d({d}, {kernel}, mode="full")')
        elif self.groups > 1:
            ci, co = self.group_in, self.group_out
            lines.append(
                f'grad_a = np.array([sum(convolve2d({d}[o], {kernel}[o, c % {ci}], mode="full")\n'
                f"                       for o in range((c // {ci}) * {co}, (c // {ci} + 1) * {co}))\n"
                f"                   for c in range({self.input_shape[0]})])"
            )
        else:
            lines.append(
                f'grad_a = np.array([sum(convolve2d({d}[o], {kernel}[o, c], mode="full")\n'
                f"                       for o in range({self.out_channels}))\n"
                f"                   for c in range({self.input_shape[0]})])"
            )
        kr, kc = (k1 - 1) * d1 + 1, (k2 - 1) * d2 + 1
        grow = (h + 2 * p1 - (s1 * (oh - 1) + kr), w + 2 * p2 - (s2 * (ow - 1) + kc))
        if any(g > 0 for g in grow):
            pads = f"(0, {max(grow[0], 0)}), (0, {max(grow[1], 0)})"
            lines.append(f"grad_a = np.pad(grad_a, ({'' if planar else '(0, 0), '}{pads}))")
        if any(self.padding):
            lines.append(f"grad_a = grad_a[{ch}{p1}:{p1 + h}, {p2}:{p2 + w}]")
        return NumpyCode("\n".join(lines), planar)

    def facts(self) -> dict[str, Any]:
        h, w = self.spatial
        return {
            "channels": self.input_shape[0],
            "axes": spatial_axes(
                (h, w), self.kernel, self.stride, self.padding, self.dilation, self.output_size
            ),
            "padded": any(self.padding),
            "strided": self.stride != (1, 1),
            "dilated": self.dilation != (1, 1),
            "bias": self.bias.value,
            "out_channels": self.out_channels,
            "groups": self.groups,
            "group_in": self.group_in,
            "group_out": self.group_out,
            "plain": self.input_shape[0] == self.out_channels == 1
            and (self.stride, self.padding, self.dilation) == ((1, 1), (0, 0), (1, 1)),
        }


# --- the classic mistakes ---------------------------------------------------------------


@dataclass(frozen=True)
class ConvModel:
    """The index formulas of a conv backward pass, with the knobs a buggy implementation turns.

    Rows of the input are read at ``i·s + m·d − p + shift`` (per axis); ``flip`` reads kernel
    entry ``KH−1−m`` (the kernel not rotated in the input gradient), ``uncropped`` returns the
    gradient of the padded input, ``swap_channels`` uses ``w[c, o]`` (input gradient) or
    returns ``[C, O, KH, KW]`` (weight gradient), ``flip_delta`` reads δ rotated by 180°,
    ``rotate_result`` rotates the weight gradient by 180°; ``cross_groups`` (grouped
    convolutions) sends every output channel's δ to every input channel through
    ``w[o, c mod C/G]`` (input gradient) or reads channel c of the first group for every group
    (weight gradient).
    """

    flip: tuple[bool, bool] = (False, False)
    unit_stride: tuple[bool, bool] = (False, False)
    unit_dilation: tuple[bool, bool] = (False, False)
    shift: tuple[int, int] = (0, 0)
    uncropped: bool = False
    swap_channels: bool = False
    flip_delta: bool = False
    rotate_result: bool = False
    cross_groups: bool = False


def _index(layer: Conv2d, model: ConvModel, every_channel: bool = False) -> tuple[np.ndarray, ...]:
    """Index arrays of every product δ[o,i,j]·w[o,c,m,n]·x[ch,r,t] the model visits.

    ``c`` indexes the weight's channel axis and ``ch`` the input channel (g·C/G + c); with
    ``every_channel`` ``ch`` runs over all input channels and c = ch mod C/G.
    """
    oh, ow = layer.output_size
    kh, kw = layer.kernel
    channels = layer.input_shape[0] if every_channel else layer.group_in
    o, c, i, j, m, n = (
        a.ravel() for a in np.indices((layer.out_channels, channels, oh, ow, kh, kw))
    )
    if every_channel:
        ch, c = c, c % layer.group_in
    elif model.cross_groups:
        ch = c
    else:
        ch = (o // layer.group_out) * layer.group_in + c
    s = [1 if u else v for u, v in zip(model.unit_stride, layer.stride)]
    d = [1 if u else v for u, v in zip(model.unit_dilation, layer.dilation)]
    p = [0 if model.uncropped else v for v in layer.padding]
    r = i * s[0] + m * d[0] - p[0] + model.shift[0]
    t = j * s[1] + n * d[1] - p[1] + model.shift[1]
    return o, c, i, j, m, n, r, t, ch


def _input_model(layer: Conv2d, arrays: Arrays, model: ConvModel) -> np.ndarray | None:
    """∂E/∂x as the model computes it: δ[o,i,j]·w[o,c,m,n] added at the model's (row, col).

    Example:
        >>> layer = Conv2d(kernel=2, input=(3, 3))
        >>> a = {Role.WEIGHT: np.ones((1, 1, 2, 2)), Role.DELTA: np.ones((1, 2, 2))}
        >>> _input_model(layer, a, ConvModel())[0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    w, delta = arrays[Role.WEIGHT], arrays[Role.DELTA]
    assert w is not None and delta is not None
    channels = layer.input_shape[0]
    if model.swap_channels and layer.out_channels != channels:
        return None
    o, c, i, j, m, n, r, t, ch = _index(layer, model, every_channel=model.cross_groups)
    (h, wd), (kh, kw) = layer.spatial, layer.kernel
    if model.uncropped:
        h, wd = h + 2 * layer.padding[0], wd + 2 * layer.padding[1]
    km = kh - 1 - m if model.flip[0] else m
    kn = kw - 1 - n if model.flip[1] else n
    weights = w[c, o, km, kn] if model.swap_channels else w[o, c, km, kn]  # c: within the group
    values = delta[o, i, j] * weights
    keep = (r >= 0) & (r < h) & (t >= 0) & (t < wd)
    out = np.zeros((channels, h, wd))
    np.add.at(out, (ch[keep], r[keep], t[keep]), values[keep])
    return out


def _weight_model(layer: Conv2d, arrays: Arrays, model: ConvModel) -> np.ndarray:
    """∂E/∂w as the model computes it: Σ δ[o,i,j]·x[c, row, col] at the model's (row, col)."""
    x, delta = arrays[Role.INPUT], arrays[Role.DELTA]
    assert x is not None and delta is not None
    o, c, i, j, m, n, r, t, ch = _index(layer, model)
    (h, wd), (oh, ow) = layer.spatial, layer.output_size
    keep = (r >= 0) & (r < h) & (t >= 0) & (t < wd)
    di = oh - 1 - i if model.flip_delta else i
    dj = ow - 1 - j if model.flip_delta else j
    values = delta[o, di, dj] * x[ch, np.clip(r, 0, h - 1), np.clip(t, 0, wd - 1)] * keep
    out = np.zeros(layer.weight_shape)
    np.add.at(out, (o, c, m, n), values)
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


def _shift_name(axis: str, k: int, pad: int) -> str:
    start = pad - k
    if start == 0:
        return f"padding cropped at one side only ({axis} start at 0 of the padded gradient, not {pad})"
    off = "off by one" if abs(k) == 1 else f"off by {abs(k)}"
    return f"padding crop {off} ({axis} start at {start} of the padded gradient, not {pad})"


def _mistakes(layer: Conv2d) -> Iterator[Mistake]:
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel, layer.stride, layer.dilation
    (ph, pw), (oh, ow) = layer.padding, layer.output_size
    gx: list[tuple[str, dict[str, Any]]] = []
    gx += _axis_variants(
        "flip", (kh > 1, kw > 1), "kernel not rotated by 180° (δ correlated with w, not convolved)"
    )
    gx += _axis_variants(
        "unit_stride",
        (sh > 1, sw > 1),
        "stride ignored in the input gradient (δ[i] placed at i + m·d − p, not i·s + m·d − p)",
    )
    gx += _axis_variants(
        "unit_dilation", (dh > 1, dw > 1), "dilation ignored (kernel tap m at offset m, not m·d)"
    )
    if ph or pw:
        gx.append(
            ("padding not cropped (gradient of the padded input returned)", {"uncropped": True})
        )
    for k in sorted({-1, 1, ph, -ph, pw, -pw} - {0}):  # crop start p − k: off by one, or 0 / 2p
        if ph and abs(k) in (1, ph):
            gx.append((_shift_name("rows", k, ph), {"shift": (k, 0)}))
        if pw and abs(k) in (1, pw):
            gx.append((_shift_name("columns", k, pw), {"shift": (0, k)}))
        if ph == pw and ph and abs(k) in (1, ph):
            gx.append((_shift_name("rows and columns", k, ph), {"shift": (k, k)}))
    if layer.out_channels == layer.input_shape[0] > 1 and layer.groups == 1:
        gx.append(
            ("channels transposed (w[c, o] used instead of w[o, c])", {"swap_channels": True})
        )
    if layer.groups > 1:
        gx.append(
            (
                "channels read across groups (every output channel's δ sent to every input "
                "channel through w[o, c mod C/G], as if groups = 1)",
                {"cross_groups": True},
            )
        )
    for name, opts in gx:
        yield Mistake(Role.INPUT, name, tuple(opts.items()))

    gw: list[tuple[str, dict[str, Any]]] = []
    gw += _axis_variants(
        "unit_stride",
        (sh > 1, sw > 1),
        "stride ignored in the weight gradient (x read at i + m·d − p, not i·s + m·d − p)",
    )
    gw += _axis_variants(
        "unit_dilation",
        (dh > 1, dw > 1),
        "dilation ignored (x read at i·s + m − p, not i·s + m·d − p)",
    )
    if ph or pw:
        gw.append(
            ("input not padded (x read at i·s + m·d, not i·s + m·d − p)", {"shift": (ph, pw)})
        )
    for k in (-1, 1):
        gw.append(
            (f"input window off by {k:+d} (x read at i·s + m·d − p {k:+d})", {"shift": (k, k)})
        )
    if oh * ow > 1:
        gw.append(
            (
                "δ rotated by 180° (x convolved with δ; the weight gradient is a correlation)",
                {"flip_delta": True},
            )
        )
    if kh * kw > 1:
        gw.append(("weight gradient rotated by 180°", {"rotate_result": True}))
    if layer.groups > 1:
        gw.append(
            (
                "every group reads the first group's input channels (x[c], not x[g·C/G + c])",
                {"cross_groups": True},
            )
        )
        gw.append(
            (
                "channels transposed (gradient in [C/G, O, KH, KW] layout, not [O, C/G, KH, KW])",
                {"swap_channels": True},
            )
        )
    elif layer.out_channels > 1 or layer.input_shape[0] > 1:
        gw.append(
            (
                "channels transposed (gradient in [C, O, KH, KW] layout, not [O, C, KH, KW])",
                {"swap_channels": True},
            )
        )
    for name, opts in gw:
        yield Mistake(Role.WEIGHT, name, tuple(opts.items()))


def bias_variants(layer: Any, delta: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """Wrong bias gradients of a layer with a `Bias` (``layer.bias``), named; δ is [O, OH, OW]."""
    right = (1, 2) if layer.bias is Bias.SHARED else ()
    if layer.bias is Bias.SHARED:
        yield (
            "bias gradient not summed (δ returned as it is; shared bias needs Σ_ij δ[o,i,j])",
            delta,
        )
    for count in (1, 2, 3):
        for axes in itertools.combinations((0, 1, 2), count):
            if axes == right:
                continue
            if layer.bias is Bias.UNTIED and axes == (1, 2):
                name = "bias gradient summed, but untied bias has one entry per output (∂E/∂b[o,i,j] = δ[o,i,j])"
            else:
                want = "(1, 2)" if layer.bias is Bias.SHARED else "none (untied: ∂E/∂b = δ)"
                name = (
                    f"bias gradient summed over the wrong axes: {axes} of δ [O, OH, OW], not {want}"
                )
            yield name, delta.sum(axis=axes)
    if layer.bias is Bias.SHARED:
        yield "bias gradient averaged (mean over positions), not summed", delta.mean(axis=(1, 2))
        yield (
            "bias gradient summed with keepdims: shape [O, 1, 1], not [O]",
            delta.sum(axis=(1, 2), keepdims=True),
        )

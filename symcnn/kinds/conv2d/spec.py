"""conv2d's options, shapes and forward rule (the index arrays of its products)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Self

import numpy as np

from ...core.shapes import (
    Pair,
    Shape,
    conv_out_size,
    positive,
    shape_text,
)
from ...core.summands import Part
from ...core.symbols import Role
from ...errors import LayerKeyError, SpecError
from ..base import (
    Figure,
    Layer,
    pair_tag,
    torch_pair,
)
from .options import Bias, Convolutional, spatial_input


@dataclass(frozen=True)
class Conv2dSpec(Convolutional):
    """A conv2d's options, shapes and forward rule; `Conv2d` adds the rest."""

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
        return layer, cls.torch_params(module)

    def __post_init__(self) -> None:
        self._parse_options()
        set_ = object.__setattr__
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
    def from_table(cls, table: Any) -> Self:
        """As `Layer.from_table`; ``groups`` is checked with the channel counts it must divide."""
        layer = super().from_table({k: v for k, v in table.items() if k != "groups"})
        if "groups" not in table:
            return layer
        try:
            return replace(layer, groups=table["groups"])
        except SpecError as err:
            raise LayerKeyError("groups", str(err)) from None

    def sized(self, shape: Shape) -> Self:
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
    def output_size(self) -> Pair:
        """Spatial output size (OH, OW)."""
        h, w = self.spatial
        k, s, p, d = self.kernel, self.stride, self.padding, self.dilation
        return (
            conv_out_size(h, k[0], s[0], p[0], d[0]),
            conv_out_size(w, k[1], s[1], p[1], d[1]),
        )

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
            >>> from symcnn import Conv2d
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
            return self._bias_axes()
        return "[C, H, W]" if role is Role.INPUT else "[O, OH, OW]"

    # --- maths ---------------------------------------------------------------------------

    def parts(self) -> tuple[Part, ...]:
        """``z[o,i,j] = Σ_c Σ_m Σ_n w[o,c,m,n]·a[g·C/G + c, i·s + m·d − p, j·s + n·d − p] + b``,
        c over the C/G channels of o's group g (all C, g = 0, without groups).

        One part of products ``w·a`` (taps that fall on the padding are left out), one of
        bias entries.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> from symcnn import Conv2d
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

"""conv_transpose2d's options, shapes and forward rule (which input entry lands where)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Self

import numpy as np

from ...core.shapes import Pair, Shape, parse_size, positive
from ...core.symbols import Role
from ...errors import LayerKeyError, SpecError
from ..base import (
    Figure,
    Layer,
    pair_tag,
    torch_pair,
)
from ..conv2d.options import Bias, Convolutional, spatial_input

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
class ConvTranspose2dSpec(Convolutional):
    """A conv_transpose2d's options, shapes and forward rule; `ConvTranspose2d` adds the rest."""

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
        return layer, cls.torch_params(module)

    def __post_init__(self) -> None:
        self._parse_options()
        set_ = object.__setattr__
        set_(self, "output_padding", parse_size(self.output_padding, "output_padding", minimum=0))
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
    def from_table(cls, table: Any) -> Self:
        """As `Layer.from_table`; ``output_padding`` is checked with the stride and dilation."""
        layer = super().from_table({k: v for k, v in table.items() if k not in _TOGETHER})
        for key in _TOGETHER:
            if key in table:
                try:
                    layer = replace(layer, **{key: table[key]})
                except SpecError as err:
                    raise LayerKeyError(key, str(err)) from None
        return layer

    def sized(self, shape: Shape) -> Self:
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
    def output_size(self) -> Pair:
        """Spatial output size (OH, OW)."""
        h, w = self.spatial
        k, s, p, d, op = self.kernel, self.stride, self.padding, self.dilation, self.output_padding
        return (
            transposed_size(h, k[0], s[0], p[0], d[0], op[0]),
            transposed_size(w, k[1], s[1], p[1], d[1], op[1]),
        )

    @property
    def weight_shape(self) -> Shape:
        """(C, O, KH, KW), as PyTorch's ConvTranspose2d."""
        return (self.input_shape[0], self.out_channels, *self.kernel)

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
            >>> from symcnn import ConvTranspose2d
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
            return self._bias_axes()
        return "[C, H, W]" if role is Role.INPUT else "[O, OH, OW]"

    # --- maths ---------------------------------------------------------------------------

    def sources(self, r: int, m: int, axis: int) -> int | None:
        """The input row (axis 0) or column read by output position r through kernel tap m:
        (r + p − m·d)/s when that is a whole number in range, else None.

        Example:
            >>> from symcnn import ConvTranspose2d
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
            >>> from symcnn import ConvTranspose2d
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

    # the channel indices a name carries (only the axes of size > 1 are printed)
    @property
    def _co(self) -> str:
        return ",".join(x for x in (self._c, self._o) if x)

    def _weight_kept(self) -> bool:
        """Whether ``pad(δ) ⋆ spread(a)`` is larger than the (dilated) kernel and is cut to it."""
        (h, w), (oh, ow) = self.spatial, self.output_size
        (sh, sw), (ph, pw) = self.stride, self.padding
        rows = oh + 2 * ph - (h - 1) * sh
        cols = ow + 2 * pw - (w - 1) * sw
        return self.dilation != (1, 1) or (rows, cols) != self.kernel

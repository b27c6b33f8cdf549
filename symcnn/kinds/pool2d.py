"""maxpool2d and avgpool2d: windows of a [C, H, W] input reduced to their maximum or their mean."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np
import symengine as se
import sympy
from sympy import Sum

from ..core import indexed as ix
from ..core.arrays import zeros
from ..core.functions import WindowMax
from ..core.indexed import General
from ..core.shapes import Pair, Shape, conv_out_size, parse_size, positive, shape_of, shape_text
from ..core.summands import Part
from ..core.symbols import Role
from ..errors import SpecError
from .base import (
    Arrays,
    ClosedForm,
    Figure,
    Layer,
    Mistake,
    NumpyCode,
    Operand,
    Shown,
    TexNames,
    pair_tag,
    signed,
    spatial_axes,
    torch_pair,
)


@dataclass(frozen=True)
class _Pool2d(Layer):
    """The fields and rules pooling layers share: a window, a stride (default: the window)."""

    window: Pair = field(metadata={"help": "window size KHxKW, e.g. 2x2", "example": "2x2"})
    stride: Pair = field(  # None: the window
        default=None,  # type: ignore[assignment]
        metadata={"help": "stride S or SHxSW (default: the window)"},
    )
    channels: int | None = field(default=None, metadata={"help": "channels (default 1)"})
    input: Shape | None = field(default=None, kw_only=True)

    letter = "p"
    required = ("window", "window = [2, 2]")

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        checks = {
            "padding": (getattr(module, "padding", 0), (0, (0, 0))),
            "dilation": (getattr(module, "dilation", 1), (1, (1, 1))),
            "ceil_mode": (getattr(module, "ceil_mode", False), (False,)),
            "return_indices": (getattr(module, "return_indices", False), (False,)),
            "divisor_override": (getattr(module, "divisor_override", None), (None,)),
        }
        for name, (value, fine) in checks.items():
            if value not in fine:
                raise SpecError(f"{name} = {value!r}: symcnn pools without it")
        window = torch_pair(module.kernel_size, "kernel_size")
        stride = window if module.stride is None else torch_pair(module.stride, "stride")
        return cls(window=window, stride=stride), {}

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "window", parse_size(self.window, "window"))
        stride = self.window if self.stride is None else self.stride
        set_(self, "stride", parse_size(stride, "stride"))
        if self.channels is not None:
            set_(self, "channels", positive(self.channels, "channels"))
        if self.input is not None:
            value = self.input
            if isinstance(value, (tuple, list)) and len(value) == 3:
                shape: Shape = tuple(positive(v, "input") for v in value)
                if self.channels is not None and self.channels != shape[0]:
                    raise SpecError(f"channels = {self.channels}, but the input has {shape[0]}")
            elif isinstance(value, (tuple, list)) and len(value) == 1:
                raise SpecError("needs a [C, H, W] input but gets a flat vector")
            elif isinstance(value, str) and value.lower().count("x") == 2:
                shape = shape_of(value, "input")
                if self.channels is not None and self.channels != shape[0]:
                    raise SpecError(f"channels = {self.channels}, but the input has {shape[0]}")
            else:
                shape = (self.channels or 1, *parse_size(value, "input"))
            set_(self, "input", shape)
            set_(self, "channels", shape[0])
            for axis, name in enumerate(("rows", "cols")):
                if self.window[axis] > shape[1 + axis]:
                    raise SpecError(
                        f"window {self.window[0]}x{self.window[1]} is larger than the input "
                        f"{shape[1]}x{shape[2]} along {name}"
                    )

    def sized(self, shape: Shape) -> Any:
        return replace(self, input=shape if isinstance(shape, str) else tuple(shape))

    # --- shapes --------------------------------------------------------------------------

    @property
    def spatial(self) -> Pair:
        """The input's (H, W)."""
        return (self.input_shape[1], self.input_shape[2])

    @property
    def output_size(self) -> Pair:
        """Spatial output size (OH, OW)."""
        (h, w), (kh, kw), (sh, sw) = self.spatial, self.window, self.stride
        return conv_out_size(h, kh, sh, 0, 1), conv_out_size(w, kw, sw, 0, 1)

    @property
    def output_shape(self) -> Shape:
        return (self.input_shape[0], *self.output_size)

    @property
    def term_count(self) -> int:
        oh, ow = self.output_size
        return self.input_shape[0] * oh * ow * self.window[0] * self.window[1]

    def config(self) -> dict[str, Any]:
        return {
            "input": list(self.spatial),
            "window": list(self.window),
            "stride": list(self.stride),
            "channels": self.input_shape[0],
        }

    def describe(self) -> str:
        (kh, kw), (sh, sw) = self.window, self.stride
        return (
            f"{self.kind}: input {shape_text(self.input_shape)}, window {kh}x{kw}, "
            f"stride {sh}x{sw} -> output {shape_text(self.output_shape)}"
        )

    def slug(self) -> str:
        """``maxpool2d-4x4-w2-s1-c2`` (defaults left out).

        Example:
            >>> MaxPool2d(window=2, stride=1, channels=2, input=(4, 4)).slug()
            'maxpool2d-4x4-w2-s1-c2'
        """
        h, w = self.spatial
        parts = [self.kind, f"{h}x{w}", f"w{pair_tag(self.window)}"]
        if self.stride != self.window:
            parts.append(f"s{pair_tag(self.stride)}")
        if self.input_shape[0] != 1:
            parts.append(f"c{self.input_shape[0]}")
        return "-".join(parts)

    def arithmetic(self) -> str:
        return ", ".join(
            f"{name} ⌊({self.spatial[a]} − {self.window[a]})/{self.stride[a]}⌋ + 1 "
            f"= {self.output_size[a]}"
            for a, name in enumerate(("rows", "cols"))
        )

    def axes(self, role: Role) -> str:
        return "[C, H, W]" if role is Role.INPUT else "[C, OH, OW]"

    def windows(self) -> np.ndarray:
        """For each output entry (c, i, j), the input indices of its window in row-major order.

        Example:
            >>> MaxPool2d(window=2, input=(2, 2)).windows()[0, 0, 0]
            ((0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1))
        """
        (sh, sw), (kh, kw) = self.stride, self.window
        out = np.empty(self.output_shape, dtype=object)
        for c, i, j in np.ndindex(*self.output_shape):
            out[c, i, j] = tuple((c, i * sh + m, j * sw + n) for m in range(kh) for n in range(kw))
        return out

    def window_index(self) -> np.ndarray:
        """Flat input indices of every window's cells: one row per output entry, row-major.

        Example:
            >>> MaxPool2d(window=2, input=(2, 4)).window_index().tolist()
            [[0, 1, 4, 5], [2, 3, 6, 7]]
        """
        (sh, sw), (kh, kw), (h, w) = self.stride, self.window, self.spatial
        (oh, ow), channels = self.output_size, self.input_shape[0]
        c, i, j, m, n = np.ogrid[:channels, :oh, :ow, :kh, :kw]
        cells = (c * h + i * sh + m) * w + j * sw + n
        return np.broadcast_to(cells, (channels, oh, ow, kh, kw)).reshape(-1, kh * kw)

    # --- maths ---------------------------------------------------------------------------

    def _weight(self, window: list[Any], k: int) -> Any:
        """The share of cell k of a window in the window's δ (1/(kh·kw), or the max mask)."""
        raise NotImplementedError

    @property
    def tiles(self) -> bool:
        """Whether the windows tile the input: they neither overlap nor leave cells out."""
        return self.stride == self.window and all(
            n % k == 0 for n, k in zip(self.spatial, self.window)
        )

    @property
    def _c(self) -> str:
        return "c" if self.input_shape[0] > 1 else ""

    @property
    def _names(self) -> tuple[str, str]:
        """The input's and δ's names in a text statement, with the channel when there are
        several (``a_c``, ``δ_c``)."""
        return ("a_c", "δ_c") if self._c else ("a", "δ")

    def _entry(self, name: str, index: str) -> str:
        """An entry in a text statement: ``a_uv``, or ``a_c,uv`` with channels."""
        return f"{name},{index}" if self._c else f"{name}_{index}"

    def closed_forms(
        self, x: np.ndarray, params: dict[Role, np.ndarray], delta: np.ndarray
    ) -> list[ClosedForm]:
        """Upsampling: each window hands its δ to its cells, times its share of the output."""
        out = zeros(self.input_shape)
        windows = self.windows()
        for idx in np.ndindex(*self.output_shape):
            cells = windows[idx]
            window = [x[cell] for cell in cells]
            for k, cell in enumerate(cells):
                out[cell] = out[cell] + delta[idx] * self._weight(window, k)
        shown = Shown(Operand(Role.DELTA, (0,), delta[0]), None, out[0], (), out[0])
        return [self._form(out, shown)]

    def _form(self, value: np.ndarray, shown: Shown) -> ClosedForm:
        raise NotImplementedError

    def _pool_formula(self, body: sympy.Expr, base: int) -> General:
        c_idx = (ix.C_,) if self.input_shape[0] > 1 else ()
        rng = ix.ranges(
            base, {ix.I_: ix.HOUT, ix.J_: ix.WOUT, ix.M_: ix.KH, ix.N_: ix.KW, ix.C_: ix.NC}
        )
        rhs = Sum(body, (ix.M_, *rng[ix.M_]), (ix.N_, *rng[ix.N_]))
        sizes = ix.spatial_sizes(self.spatial, self.window, self.output_size)
        sizes[ix.NC] = self.input_shape[0]
        wrt = {Role.INPUT: ix.A[(*(ix.primed(ix.C_) for _ in c_idx), ix.U_, ix.V_)]}
        return General(ix.Z[(*c_idx, ix.I_, ix.J_)], rhs, (*c_idx, ix.I_, ix.J_), rng, sizes, wrt)

    def _read(self, base: int) -> tuple[tuple[Any, ...], sympy.Expr, sympy.Expr]:
        c_idx = (ix.C_,) if self.input_shape[0] > 1 else ()
        row = ix.position(ix.I_, ix.M_, self.stride[0], 1, 0, base)
        col = ix.position(ix.J_, ix.N_, self.stride[1], 1, 0, base)
        return c_idx, row, col

    # --- checking ------------------------------------------------------------------------

    def _right_route(self) -> Route:
        raise NotImplementedError

    def _routes(self) -> dict[Route, str]:
        raise NotImplementedError

    def mistakes(self) -> list[Mistake]:
        out = [Mistake(Role.INPUT, name, (("route", r),)) for r, name in self._routes().items()]
        if self.stride != (1, 1):
            out.append(
                Mistake(
                    Role.INPUT,
                    "stride ignored (windows at i + m, not i·s + m)",
                    (("unit_stride", True),),
                )
            )
        if any(s < k for s, k in zip(self.stride, self.window)):
            out.append(
                Mistake(
                    Role.INPUT,
                    "window blocks assigned (=), not added (+=): overlapping windows overwrite "
                    "each other",
                    (("write", Write.BLOCK),),
                )
            )
            if self._right_route() is not Route.AVERAGE:
                out.append(
                    Mistake(
                        Role.INPUT,
                        "gradient assigned (=) to the maximum's cell, not added (+=): a cell "
                        "that is the maximum of several overlapping windows receives the sum "
                        "of their δ",
                        (("write", Write.CELL),),
                    )
                )
        return out

    def buggy(self, role: Role, arrays: Arrays, options: dict[str, Any]) -> np.ndarray | None:
        if role is not Role.INPUT:
            return None
        return _pool_model(self, arrays, replace(PoolModel(self._right_route()), **options))

    # --- sheets --------------------------------------------------------------------------

    def operators(self) -> set[str]:
        ops = {"up"} if self.tiles else {"window"}
        return ops | self._own_operators

    #: Operators of the kind itself (max pooling's argmax).
    _own_operators: ClassVar[frozenset[str]] = frozenset()

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """A loop over the windows, each handing its δ to its cells (``+=``: windows may overlap).

        Example:
            >>> print(AvgPool2d(window=2, input=(4, 4)).numpy_code(Role.INPUT).text)
            grad_a = np.zeros_like(a)
            for i in range(2):
                for j in range(2):
                    grad_a[2*i:2*i + 2, 2*j:2*j + 2] += delta[i, j] / 4
        """
        if role is not Role.INPUT:
            return None
        planar = self.input_shape[0] == 1
        (s1, s2), (k1, k2), (oh, ow) = self.stride, self.window, self.output_size
        ch, loop, pad = (
            ("", "", "") if planar else ("c, ", f"for c in range({self.input_shape[0]}):\n", "    ")
        )
        rows, cols = f"{s1}*i:{s1}*i + {k1}", f"{s2}*j:{s2}*j + {k2}"
        head = (
            f"grad_a = np.zeros_like(a)\n{loop}{pad}for i in range({oh}):\n"
            f"{pad}    for j in range({ow}):\n{pad}        "
        )
        return NumpyCode(head + self._numpy_window(ch, rows, cols, pad + "        "), planar)

    def _numpy_window(self, ch: str, rows: str, cols: str, indent: str) -> str:
        """The body of the loop over windows (i, j), as NumPy code."""
        raise NotImplementedError

    def facts(self) -> dict[str, Any]:
        return {
            "channels": self.input_shape[0],
            "axes": spatial_axes(
                self.spatial, self.window, self.stride, (0, 0), (1, 1), self.output_size
            ),
            "padded": False,
            "strided": self.stride != (1, 1),
            "dilated": False,
            "overlap": any(s < k for s, k in zip(self.stride, self.window)),
        }


@dataclass(frozen=True)
class MaxPool2d(_Pool2d):
    """Max pooling; the gradient goes to the first maximum of each window (PyTorch's tie rule).

    Example:
        >>> MaxPool2d(window=2, input=(4, 4)).output_shape
        (1, 2, 2)
    """

    kind = "maxpool2d"
    torch_modules = ("MaxPool2d",)
    _own_operators = frozenset({"argmax"})

    def operators(self) -> set[str]:
        return super().operators() | ({"mask"} if self.tiles else set())

    title = "max pooling"
    template = "layer_maxpool2d.tex.j2"
    figures = (Figure.RECEPTIVE_FIELD, Figure.ROUTING)
    note = (
        "[x = argmax(...)] is 1 when x is the cell holding the largest value of its window, "
        "the first one in row-major order on ties (PyTorch's rule), else 0"
    )
    conventions: ClassVar[dict[str, str]] = {
        "max": "Piecewise conditions select the first maximum of a window (PyTorch's tie rule)"
    }

    def parts(self) -> tuple[Part, ...]:
        """``z[c,i,j] = max`` of the window, one `WindowMax` summand.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> a = Grid("a", Role.INPUT, (1, 2, 2), (True, False, False)).symbols
            >>> MaxPool2d(window=2, input=(2, 2)).terms(a, {})[0, 0, 0]
            (WindowMax(a_11, a_12, a_21, a_22),)
        """
        cells = self.window_index()
        return (Part(np.arange(len(cells)), (Role.INPUT,) * cells.shape[1], cells, WindowMax),)

    def _weight(self, window: list[Any], k: int) -> Any:
        # the mask written directly as comparisons: above every earlier cell, at least every
        # later one (independent of the derivative rule of WindowMax)
        wins = [window[k] > v for v in window[:k]] + [window[k] >= v for v in window[k + 1 :]]
        return se.Piecewise((1, se.And(*wins)), (0, True)) if wins else se.Integer(1)

    def _form(self, value: np.ndarray, shown: Shown) -> ClosedForm:
        a, d = self._names
        if self.tiles:
            statement = f"∂E/∂{a} = up({d}) ⊙ M  (M: 1 at the first maximum of each window)"
        else:
            au, dij = self._entry(a, "uv"), self._entry(d, "ij")
            statement = f"∂E/∂{au} = Σ_ij {dij} · [{au} = argmax of window ij]"

        def tex(n: TexNames) -> tuple[str, str]:
            a, d = n.ch(n.a, self._c), n.ch(n.d, self._c)
            if self.tiles:
                return rf"\frac{{\partial E}}{{\partial {a}}}", rf"\operatorname{{up}}({d}) \odot M"
            return (
                rf"\frac{{\partial E}}{{\partial {a}_{{uv}}}}",
                rf"\sum_{{i,j}} {d}_{{ij}}"
                rf"\left[{a}_{{uv}} = \operatorname{{argmax}} \mathcal{{W}}_{{ij}}\right]",
            )

        return ClosedForm(
            Role.INPUT,
            "max pooling: δ routed to the first maximum of each window",
            statement,
            tex,
            value,
            shown,
        )

    def _numpy_window(self, ch: str, rows: str, cols: str, indent: str) -> str:
        (s1, s2), k2 = self.stride, self.window[1]
        return (
            f"window = a[{ch}{rows}, {cols}]\n"
            f"{indent}m = np.argmax(window)\n"
            f"{indent}grad_a[{ch}{s1}*i + m // {k2}, {s2}*j + m % {k2}] += delta[{ch}i, j]"
        )

    def index_formula(self, base: int) -> General:
        """``z = Σ μ·a`` with μ = 1 at the window's first maximum (piecewise linear)."""
        c_idx, row, col = self._read(base)
        return self._pool_formula(
            ix.MU[(*c_idx, ix.I_, ix.J_, ix.M_, ix.N_)] * ix.A[(*c_idx, row, col)], base
        )

    def _right_route(self) -> Route:
        return Route.FIRST_MAX

    def _routes(self) -> dict[Route, str]:
        return {
            Route.LAST_MAX: "ties sent to the last maximum of the window (the rule is the first "
            "maximum in row-major order, as np.argmax and PyTorch do)",
            Route.EVERY_MAX: "δ sent to every tied maximum (mask x == max); on ties only the "
            "first maximum in row-major order receives it",
            Route.EVERY_CELL: "max-pool gradient sent to every cell of the window, not only to "
            "its maximum",
            Route.AVERAGE: "max-pool gradient spread like average pooling (δ/(KH·KW) to every cell)",
        }

    def test_inputs(self, rng: np.random.Generator, ties: bool = False) -> Arrays | None:
        """Distinct inputs at least 1.5/n apart (no near-ties); or, with ``ties``, many ties."""
        shape = self.input_shape
        n = int(np.prod(shape))
        if ties:
            x = rng.integers(-1, 2, size=shape).astype(float)
            if not self._has_tied_max(x):
                kh, kw = self.window
                x[0, :kh, :kw] = 1.0  # the first window: every cell a maximum
        else:
            x = ((rng.permutation(n) + rng.uniform(0.25, 0.75, n)) * (3.0 / n) - 1.5).reshape(shape)
        return {Role.INPUT: x, Role.DELTA: signed(rng, self.output_shape)}

    def _has_tied_max(self, x: np.ndarray) -> bool:
        for window in self.windows().ravel():
            values = np.array([x[cell] for cell in window])
            if np.count_nonzero(values == values.max()) > 1:
                return True
        return False


@dataclass(frozen=True)
class AvgPool2d(_Pool2d):
    """Average pooling; each window cell receives δ divided by the window size.

    Example:
        >>> AvgPool2d(window=2, stride=1, input=(4, 4)).output_shape
        (1, 3, 3)
    """

    kind = "avgpool2d"
    torch_modules = ("AvgPool2d",)
    title = "average pooling"
    template = "layer_avgpool2d.tex.j2"
    figures = (Figure.RECEPTIVE_FIELD,)

    def parts(self) -> tuple[Part, ...]:
        """``z[c,i,j] = Σ a/(kh·kw)`` over the window."""
        cells = self.window_index()
        rows = np.repeat(np.arange(len(cells)), cells.shape[1])
        share = se.Rational(1, self.window[0] * self.window[1])
        return (Part(rows, (Role.INPUT,), cells.reshape(-1), coeff=share),)

    def _weight(self, window: list[Any], k: int) -> Any:
        return se.Rational(1, len(window))

    def _form(self, value: np.ndarray, shown: Shown) -> ClosedForm:
        size = self.window[0] * self.window[1]
        a, d = self._names
        if self.tiles:
            statement = f"∂E/∂{a} = up({d})/{size}"
        else:
            au, dij = self._entry(a, "uv"), self._entry(d, "ij")
            statement = f"∂E/∂{au} = Σ over the windows ij holding {au} of {dij}/{size}"

        def tex(n: TexNames) -> tuple[str, str]:
            a, d = n.ch(n.a, self._c), n.ch(n.d, self._c)
            if self.tiles:
                return (
                    rf"\frac{{\partial E}}{{\partial {a}}}",
                    rf"\tfrac{{1}}{{{size}}} \operatorname{{up}}({d})",
                )
            return (
                rf"\frac{{\partial E}}{{\partial {a}_{{uv}}}}",
                rf"\tfrac{{1}}{{{size}}}"
                rf"\sum_{{(i,j)\,:\,{a}_{{uv}} \in \mathcal{{W}}_{{ij}}}} {d}_{{ij}}",
            )

        return ClosedForm(
            Role.INPUT,
            "average pooling: δ upsampled over each window, divided by its size",
            statement,
            tex,
            value,
            shown,
        )

    def _numpy_window(self, ch: str, rows: str, cols: str, indent: str) -> str:
        size = self.window[0] * self.window[1]
        return f"grad_a[{ch}{rows}, {cols}] += delta[{ch}i, j] / {size}"

    def index_formula(self, base: int) -> General:
        """A per-channel correlation with the constant kernel ω = 1/(k_1 k_2)."""
        c_idx, row, col = self._read(base)
        return self._pool_formula(ix.OMEGA[ix.M_, ix.N_] * ix.A[(*c_idx, row, col)], base)

    def _right_route(self) -> Route:
        return Route.AVERAGE

    def _routes(self) -> dict[Route, str]:
        k = self.window[0] * self.window[1]
        return {Route.EVERY_CELL: f"avg-pool gradient not divided by the window size KH·KW = {k}"}


# --- the classic mistakes ---------------------------------------------------------------


class Route(enum.Enum):
    """Where a pooling window sends its δ."""

    FIRST_MAX = "the first maximum"
    LAST_MAX = "the last maximum"
    EVERY_MAX = "every maximum"
    EVERY_CELL = "every cell"
    AVERAGE = "every cell, divided by the window size"


class Write(enum.Enum):
    """How a window's contribution is written into the input gradient."""

    ADD = "+="
    BLOCK = "window block assigned"
    CELL = "receiving cells assigned"


@dataclass(frozen=True)
class PoolModel:
    """A pooling backward pass: the routing rule, the stride, and ``+=`` or ``=`` writes."""

    route: Route
    unit_stride: bool = False
    write: Write = Write.ADD


def _pool_model(layer: _Pool2d, arrays: Arrays, model: PoolModel) -> np.ndarray:
    """∂E/∂x of a pooling layer as the model computes it, windows visited in row-major order.

    Example:
        >>> layer = AvgPool2d(window=2, input=(2, 2))
        >>> a = {Role.INPUT: np.zeros((1, 2, 2)), Role.DELTA: np.ones((1, 1, 1))}
        >>> _pool_model(layer, a, PoolModel(Route.AVERAGE))[0].tolist()
        [[0.25, 0.25], [0.25, 0.25]]
    """
    x, delta = arrays[Role.INPUT], arrays[Role.DELTA]
    assert x is not None and delta is not None
    (kh, kw) = layer.window
    sh, sw = (1, 1) if model.unit_stride else layer.stride
    out = np.zeros(x.shape)
    for c, i, j in np.ndindex(*delta.shape):
        rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
        win = x[c, rows, cols]
        share = _route(model.route, win)
        part = delta[c, i, j] * share
        if model.write is Write.ADD:
            out[c, rows, cols] += part
        elif model.write is Write.BLOCK:
            out[c, rows, cols] = part
        else:
            block = out[c, rows, cols]
            block[share != 0] = part[share != 0]
    return out


def _route(route: Route, win: np.ndarray) -> np.ndarray:
    share = np.zeros(win.shape)
    if route is Route.EVERY_CELL:
        share[:] = 1.0
    elif route is Route.AVERAGE:
        share[:] = 1.0 / win.size
    elif route is Route.EVERY_MAX:
        share[win == win.max()] = 1.0
    else:
        flat = win.ravel()
        k = (
            int(np.argmax(flat))
            if route is Route.FIRST_MAX
            else flat.size - 1 - int(np.argmax(flat[::-1]))
        )
        share.flat[k] = 1.0
    return share

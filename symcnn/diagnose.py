"""Name the likely mistake in a wrong backward pass: a catalogue of common bugs, evaluated and matched.

Each mistake is a small model of what a buggy implementation computes (the kernel not
rotated, the stride ignored, the padding cropped one row off, ...). `explain` evaluates every
model that applies to the layer at the trial's numbers and keeps those equal to what the user
returned but different from the right answer; pairs of mistakes are tried when no single one
fits. These models only *describe* wrong code: the right answer always comes from the
derivation.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import singledispatch
from typing import Any

import numpy as np

from .spec import AvgPool2D, Bias, Conv2D, MaxPool2D, _Pool2D
from .symbols import Role

Arrays = dict[Role, "np.ndarray | None"]


@dataclass(frozen=True)
class Mistake:
    """One named mistake: the model options that reproduce it, for one gradient tensor."""

    role: Role
    name: str
    options: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Match:
    """A mistake whose numbers equal what the user's function returned."""

    name: str
    values: np.ndarray


def close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    """Same shape and every entry within tolerance (NaN never matches)."""
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


# --- conv2d --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConvModel:
    """The index formulas of a conv backward pass, with the knobs a buggy implementation turns.

    Rows of the input are read at ``i·s + m·d − p + shift`` (per axis); ``flip`` reads kernel
    entry ``KH−1−m`` (the kernel not rotated in the input gradient), ``uncropped`` returns the
    gradient of the padded input, ``swap_channels`` uses ``w[c, o]`` (input gradient) or
    returns ``[C, O, KH, KW]`` (weight gradient), ``flip_delta`` reads δ rotated by 180°,
    ``rotate_result`` rotates the weight gradient by 180°.
    """

    flip: tuple[bool, bool] = (False, False)
    unit_stride: tuple[bool, bool] = (False, False)
    unit_dilation: tuple[bool, bool] = (False, False)
    shift: tuple[int, int] = (0, 0)
    uncropped: bool = False
    swap_channels: bool = False
    flip_delta: bool = False
    rotate_result: bool = False


def _conv_index(spec: Conv2D, model: ConvModel) -> tuple[np.ndarray, ...]:
    oh, ow = spec.output_size
    kh, kw = spec.kernel
    o, c, i, j, m, n = (
        a.ravel() for a in np.indices((spec.out_channels, spec.in_channels, oh, ow, kh, kw))
    )
    s = [1 if u else v for u, v in zip(model.unit_stride, spec.stride)]
    d = [1 if u else v for u, v in zip(model.unit_dilation, spec.dilation)]
    p = [0 if model.uncropped else v for v in spec.padding]
    r = i * s[0] + m * d[0] - p[0] + model.shift[0]
    t = j * s[1] + n * d[1] - p[1] + model.shift[1]
    return o, c, i, j, m, n, r, t


def conv_input_model(spec: Conv2D, arrays: Arrays, model: ConvModel) -> np.ndarray | None:
    """∂E/∂x as the model computes it: δ[o,i,j]·w[o,c,m,n] added at the model's (row, col).

    Example:
        >>> spec = Conv2D(input=(3, 3), kernel=(2, 2))
        >>> a = {Role.WEIGHT: np.ones((1, 1, 2, 2)), Role.DELTA: np.ones((1, 2, 2))}
        >>> conv_input_model(spec, a, ConvModel())[0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """
    w, delta = arrays[Role.WEIGHT], arrays[Role.DELTA]
    assert w is not None and delta is not None
    channels = spec.in_channels
    if model.swap_channels and spec.out_channels != channels:
        return None
    o, c, i, j, m, n, r, t = _conv_index(spec, model)
    (h, wd), (kh, kw) = spec.input, spec.kernel
    if model.uncropped:
        h, wd = h + 2 * spec.padding[0], wd + 2 * spec.padding[1]
    km = kh - 1 - m if model.flip[0] else m
    kn = kw - 1 - n if model.flip[1] else n
    weights = w[c, o, km, kn] if model.swap_channels else w[o, c, km, kn]
    values = delta[o, i, j] * weights
    keep = (r >= 0) & (r < h) & (t >= 0) & (t < wd)
    out = np.zeros((channels, h, wd))
    np.add.at(out, (c[keep], r[keep], t[keep]), values[keep])
    return out


def conv_weight_model(spec: Conv2D, arrays: Arrays, model: ConvModel) -> np.ndarray | None:
    """∂E/∂w as the model computes it: Σ δ[o,i,j]·x[c, row, col] at the model's (row, col)."""
    x, delta = arrays[Role.INPUT], arrays[Role.DELTA]
    assert x is not None and delta is not None
    o, c, i, j, m, n, r, t = _conv_index(spec, model)
    (h, wd), (oh, ow) = spec.input, spec.output_size
    keep = (r >= 0) & (r < h) & (t >= 0) & (t < wd)
    di = oh - 1 - i if model.flip_delta else i
    dj = ow - 1 - j if model.flip_delta else j
    values = delta[o, di, dj] * x[c, np.clip(r, 0, h - 1), np.clip(t, 0, wd - 1)] * keep
    out = np.zeros(spec.weight_shape)
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


def _conv_mistakes(spec: Conv2D) -> Iterator[Mistake]:
    (kh, kw), (sh, sw), (dh, dw) = spec.kernel, spec.stride, spec.dilation
    (ph, pw), (oh, ow) = spec.padding, spec.output_size
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
    if spec.out_channels == spec.in_channels > 1:
        gx.append(
            ("channels transposed (w[c, o] used instead of w[o, c])", {"swap_channels": True})
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
    if spec.out_channels > 1 or spec.in_channels > 1:
        gw.append(
            (
                "channels transposed (gradient in [C, O, KH, KW] layout, not [O, C, KH, KW])",
                {"swap_channels": True},
            )
        )
    for name, opts in gw:
        yield Mistake(Role.WEIGHT, name, tuple(opts.items()))


def _bias_variants(spec: Conv2D, delta: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    right = (1, 2) if spec.bias is Bias.SHARED else ()
    if spec.bias is Bias.SHARED:
        yield (
            "bias gradient not summed (δ returned as it is; shared bias needs Σ_ij δ[o,i,j])",
            delta,
        )
    for size in (1, 2, 3):
        for axes in itertools.combinations((0, 1, 2), size):
            if axes == right:
                continue
            if spec.bias is Bias.UNTIED and axes == (1, 2):
                name = "bias gradient summed, but untied bias has one entry per output (∂E/∂b[o,i,j] = δ[o,i,j])"
            else:
                want = "(1, 2)" if spec.bias is Bias.SHARED else "none (untied: ∂E/∂b = δ)"
                name = (
                    f"bias gradient summed over the wrong axes: {axes} of δ [O, OH, OW], not {want}"
                )
            yield name, delta.sum(axis=axes)
    if spec.bias is Bias.SHARED:
        yield "bias gradient averaged (mean over positions), not summed", delta.mean(axis=(1, 2))
        yield (
            "bias gradient summed with keepdims: shape [O, 1, 1], not [O]",
            delta.sum(axis=(1, 2), keepdims=True),
        )


# --- pooling -------------------------------------------------------------------------------


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


def pool_model(spec: _Pool2D, arrays: Arrays, model: PoolModel) -> np.ndarray:
    """∂E/∂x of a pooling layer as the model computes it, windows visited in row-major order.

    Example:
        >>> spec = AvgPool2D(input=(2, 2), window=(2, 2))
        >>> a = {Role.INPUT: np.zeros((1, 2, 2)), Role.DELTA: np.ones((1, 1, 1))}
        >>> pool_model(spec, a, PoolModel(Route.AVERAGE))[0].tolist()
        [[0.25, 0.25], [0.25, 0.25]]
    """
    x, delta = arrays[Role.INPUT], arrays[Role.DELTA]
    assert x is not None and delta is not None and spec.stride is not None
    (kh, kw) = spec.window
    sh, sw = (1, 1) if model.unit_stride else spec.stride
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


_ROUTE_NAMES = {
    Route.LAST_MAX: "ties sent to the last maximum of the window (the rule is the first maximum "
    "in row-major order, as np.argmax and PyTorch do)",
    Route.EVERY_MAX: "δ sent to every tied maximum (mask x == max); on ties only the first "
    "maximum in row-major order receives it",
    Route.EVERY_CELL: "max-pool gradient sent to every cell of the window, not only to its maximum",
    Route.AVERAGE: "max-pool gradient spread like average pooling (δ/(KH·KW) to every cell)",
}


def _pool_mistakes(spec: _Pool2D, right: Route, routes: dict[Route, str]) -> Iterator[Mistake]:
    assert spec.stride is not None
    for route, name in routes.items():
        yield Mistake(Role.INPUT, name, (("route", route),))
    if spec.stride != (1, 1):
        yield Mistake(
            Role.INPUT, "stride ignored (windows at i + m, not i·s + m)", (("unit_stride", True),)
        )
    if any(s < k for s, k in zip(spec.stride, spec.window)):
        yield Mistake(
            Role.INPUT,
            "window blocks assigned (=), not added (+=): overlapping windows overwrite each other",
            (("write", Write.BLOCK),),
        )
        if right is not Route.AVERAGE:
            yield Mistake(
                Role.INPUT,
                "gradient assigned (=) to the maximum's cell, not added (+=): a cell that is the "
                "maximum of several overlapping windows receives the sum of their δ",
                (("write", Write.CELL),),
            )


# --- the catalogue -------------------------------------------------------------------------


@singledispatch
def mistakes(spec: object) -> list[Mistake]:
    """The catalogue of plausible mistakes for a layer (bias variants are handled apart)."""
    return []


@mistakes.register
def _(spec: Conv2D) -> list[Mistake]:
    return list(_conv_mistakes(spec))


@mistakes.register
def _(spec: MaxPool2D) -> list[Mistake]:
    return list(_pool_mistakes(spec, Route.FIRST_MAX, _ROUTE_NAMES))


@mistakes.register
def _(spec: AvgPool2D) -> list[Mistake]:
    k = spec.window[0] * spec.window[1]
    names = {Route.EVERY_CELL: f"avg-pool gradient not divided by the window size KH·KW = {k}"}
    return list(_pool_mistakes(spec, Route.AVERAGE, names))


def _evaluate(
    spec: object, role: Role, arrays: Arrays, options: dict[str, Any]
) -> np.ndarray | None:
    if isinstance(spec, Conv2D):
        model = replace(ConvModel(), **options)
        if role is Role.INPUT:
            return conv_input_model(spec, arrays, model)
        return conv_weight_model(spec, arrays, model)
    assert isinstance(spec, _Pool2D)
    right = Route.FIRST_MAX if isinstance(spec, MaxPool2D) else Route.AVERAGE
    return pool_model(spec, arrays, replace(PoolModel(right), **options))


def _generic(
    role: Role, expected: dict[Role, np.ndarray], got: np.ndarray
) -> Iterator[tuple[str, np.ndarray]]:
    exp = expected[role]
    yield "sign flipped (the negative of the gradient)", -exp
    if exp.ndim >= 2 and exp.shape[-1] == exp.shape[-2]:
        yield "rows and columns swapped (last two axes transposed)", np.swapaxes(exp, -1, -2)
    big = np.abs(exp) > 1e-9
    if got.shape == exp.shape and np.count_nonzero(big) >= 3:
        ratio = float(np.median(got[big] / exp[big]))
        if np.isfinite(ratio) and min(abs(ratio), abs(ratio - 1), abs(ratio + 1)) > 1e-6:
            yield f"off by a constant factor {ratio:.6g}", ratio * exp
    names = {Role.INPUT: "input", Role.WEIGHT: "weight", Role.BIAS: "bias"}
    for other, values in expected.items():
        if other is not role:
            yield (
                f"this is the {names[other]} gradient: results returned in the wrong order?",
                values,
            )


def explain(
    spec: object,
    role: Role,
    got: np.ndarray,
    arrays: Arrays,
    expected: dict[Role, np.ndarray],
    rtol: float,
    atol: float,
) -> list[str]:
    """Names of the catalogued mistakes whose numbers equal ``got`` (but not the right answer).

    Example:
        >>> spec = AvgPool2D(input=(2, 2), window=(2, 2))
        >>> a = {Role.INPUT: np.zeros((1, 2, 2)), Role.DELTA: np.full((1, 1, 1), 2.0)}
        >>> right = {Role.INPUT: np.full((1, 2, 2), 0.5)}
        >>> explain(spec, Role.INPUT, np.full((1, 2, 2), 2.0), a, right, 1e-6, 1e-9)
        ['avg-pool gradient not divided by the window size KH·KW = 4']
    """
    exp = expected[role]

    def fits(values: np.ndarray | None) -> bool:
        return (
            values is not None
            and close(values, got, rtol, atol)
            and not close(values, exp, rtol, atol)
        )

    found: list[str] = []
    if isinstance(spec, Conv2D) and role is Role.BIAS:
        delta = arrays[Role.DELTA]
        assert delta is not None
        found = [name for name, values in _bias_variants(spec, delta) if fits(values)]
    else:
        singles = [m for m in mistakes(spec) if m.role is role]
        found = [m.name for m in singles if fits(_evaluate(spec, role, arrays, dict(m.options)))]
        if not found:
            for a, b in itertools.combinations(singles, 2):
                oa, ob = dict(a.options), dict(b.options)
                if oa.keys() & ob.keys():
                    continue
                if fits(_evaluate(spec, role, arrays, {**oa, **ob})):
                    found.append(f"{a.name}, and {b.name}")
    if not found:
        found = [name for name, values in _generic(role, expected, got) if fits(values)]
    return found

"""The classic mistakes of a conv2d backward pass, as index models the checker evaluates."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...core.symbols import Role
from ..base import Arrays, Mistake

if TYPE_CHECKING:
    from .layer import Conv2d


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
        >>> from symcnn import Conv2d
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


def axis_variants(
    key: str, active: tuple[bool, bool], what: str
) -> Iterator[tuple[str, dict[str, Any]]]:
    """A mistake made along both axes, then along one of them only (shared with
    conv_transpose2d's catalogue)."""
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
    gx += axis_variants(
        "flip", (kh > 1, kw > 1), "kernel not rotated by 180° (δ correlated with w, not convolved)"
    )
    gx += axis_variants(
        "unit_stride",
        (sh > 1, sw > 1),
        "stride ignored in the input gradient (δ[i] placed at i + m·d − p, not i·s + m·d − p)",
    )
    gx += axis_variants(
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
    gw += axis_variants(
        "unit_stride",
        (sh > 1, sw > 1),
        "stride ignored in the weight gradient (x read at i + m·d − p, not i·s + m·d − p)",
    )
    gw += axis_variants(
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

"""The classic mistakes of a conv_transpose2d backward pass, as index models."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...core.symbols import Role
from ..base import Arrays, Mistake
from ..conv2d.mistakes import axis_variants

if TYPE_CHECKING:
    from .layer import ConvTranspose2d


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
        >>> from symcnn import ConvTranspose2d
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


def _mistakes(layer: ConvTranspose2d) -> Iterator[Mistake]:
    (kh, kw), (sh, sw), (dh, dw) = layer.kernel, layer.stride, layer.dilation
    (ph, pw), (oh, ow) = layer.padding, layer.output_size
    common: list[tuple[str, dict[str, Any]]] = []
    common += axis_variants(
        "unit_stride", (sh > 1, sw > 1), "stride ignored (δ read at i + m·d − p, not i·s + m·d − p)"
    )
    common += axis_variants(
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
    gx += axis_variants(
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

"""Backward implementations written for the tests of symcnn.testing: right ones and buggy ones.

Nothing here uses symcnn's formulas: plain loops over the index formula of the forward pass,
scipy.signal, and (when importable) PyTorch autograd. Each buggy function reproduces one
mistake people make when writing a backward pass by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import signal

from symcnn import Conv2d, MaxPool2d
from symcnn.kinds.pool2d import _Pool2d

Fn = Callable[..., Any]


def conv_loops(layer: Conv2d, bug: str = "") -> Fn:
    """Plain loops over z[o,i,j] = Σ w[o,c,m,n]·x[c, i·s + m·d − p, j·s + n·d − p] + b.

    ``bug`` (for the catalogue of mistakes): "stride-gx" (stride ignored in the input
    gradient), "stride-gw", "dilation" (dilation ignored everywhere), "swap" (w[c, o] in the
    input gradient, weight gradient in [C, O] layout), "swap-gw" (only the latter), "bias-not-summed", "bias-axes-02",
    "bias-summed-untied", "sign-gx".
    """
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation

    def backward(x: np.ndarray, w: np.ndarray, b: Any, delta: np.ndarray) -> Any:
        c_in, h, wd = x.shape
        c_out, _, kh, kw = w.shape
        _, oh, ow = delta.shape
        gx = np.zeros_like(x)
        swap_gw = bug in ("swap", "swap-gw")
        gw = np.zeros((c_in, c_out, kh, kw)) if swap_gw else np.zeros_like(w)
        for o in range(c_out):
            for i in range(oh):
                for j in range(ow):
                    for c in range(c_in):
                        for m in range(kh):
                            for n in range(kw):
                                md, nd = (m, n) if bug == "dilation" else (m * dh, n * dw)
                                r, t = i * sh + md - ph, j * sw + nd - pw
                                if 0 <= r < h and 0 <= t < wd:
                                    wv = w[c, o, m, n] if bug == "swap" else w[o, c, m, n]
                                    if bug != "stride-gx":
                                        gx[c, r, t] += delta[o, i, j] * wv
                                    if swap_gw:
                                        gw[c, o, m, n] += delta[o, i, j] * x[c, r, t]
                                    elif bug != "stride-gw":
                                        gw[o, c, m, n] += delta[o, i, j] * x[c, r, t]
                                r1, t1 = i + md - ph, j + nd - pw  # as if the stride were 1
                                if 0 <= r1 < h and 0 <= t1 < wd:
                                    if bug == "stride-gx":
                                        gx[c, r1, t1] += delta[o, i, j] * w[o, c, m, n]
                                    if bug == "stride-gw":
                                        gw[o, c, m, n] += delta[o, i, j] * x[c, r1, t1]
        if bug == "sign-gx":
            gx = -gx
        if b is None:
            gb = None
        elif bug == "bias-not-summed":
            gb = delta.copy()
        elif bug == "bias-axes-02":
            gb = delta.sum(axis=(0, 2))
        elif b.ndim == 1 or bug == "bias-summed-untied":
            gb = delta.sum(axis=(1, 2))
        else:
            gb = delta.copy()
        return gx, gw, gb

    return backward


def conv_scipy(
    layer: Conv2d, rotate: bool = True, crop: int | None = None, w_conv: bool = False
) -> Fn:
    """Stride 1, dilation 1: gx = Σ_o full convolution of δ with w, padding cropped;
    gw = valid correlation of the padded input with δ (seed 000's recipe).

    Mistakes: ``rotate=False`` uses correlate2d for gx (kernel not rotated); ``crop`` is the
    first row/column kept of the full result (the padding is ``p``; ``-1`` keeps everything);
    ``w_conv=True`` convolves instead of correlating in gw.
    """
    assert layer.stride == (1, 1) and layer.dilation == (1, 1)
    ph, pw = layer.padding

    def backward(x: np.ndarray, w: np.ndarray, b: Any, delta: np.ndarray) -> Any:
        c_in, h, wd = x.shape
        c_out = w.shape[0]
        xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw)))
        full = np.zeros(xp.shape)
        gw = np.zeros_like(w)
        for o in range(c_out):
            for c in range(c_in):
                op = signal.convolve2d if rotate else signal.correlate2d
                full[c] += op(delta[o], w[o, c], mode="full")
                wop = signal.convolve2d if w_conv else signal.correlate2d
                gw[o, c] = wop(xp[c], delta[o], mode="valid")
        if crop == -1:
            gx = full
        else:
            r0, c0 = (ph, pw) if crop is None else (crop, crop)
            gx = full[:, r0 : r0 + h, c0 : c0 + wd]
        gb = None if b is None else delta.sum(axis=(1, 2)) if b.ndim == 1 else delta.copy()
        return gx, gw, gb

    return backward


def pool_loops(layer: _Pool2d, bug: str = "") -> Fn:
    """Max or average pooling backward with loops; max goes to np.argmax (the first maximum).

    ``bug``: "every-cell", "last-max" (a loop with >=), "every-max" (mask x == max),
    "no-divide", "assign" (window block assigned with = instead of +=), "stride".
    """
    is_max = isinstance(layer, MaxPool2d)
    assert layer.stride is not None
    kh, kw = layer.window
    sh, sw = (1, 1) if bug == "stride" else layer.stride

    def backward(x: np.ndarray, delta: np.ndarray) -> np.ndarray:
        gx = np.zeros_like(x)
        for c, i, j in np.ndindex(*delta.shape):
            win = x[c, i * sh : i * sh + kh, j * sw : j * sw + kw]
            share = np.zeros_like(win)
            if not is_max:
                share[:] = 1.0 if bug == "no-divide" else 1.0 / (kh * kw)
            elif bug == "every-cell":
                share[:] = 1.0
            elif bug == "every-max":
                share[win == win.max()] = 1.0
            elif bug == "last-max":
                best = (0, 0)
                for m in range(kh):
                    for n in range(kw):
                        if win[m, n] >= win[best]:
                            best = (m, n)
                share[best] = 1.0
            else:
                share.flat[np.argmax(win)] = 1.0
            if bug == "assign":
                gx[c, i * sh : i * sh + kh, j * sw : j * sw + kw] = delta[c, i, j] * share
            else:
                gx[c, i * sh : i * sh + kh, j * sw : j * sw + kw] += delta[c, i, j] * share
        return gx

    return backward


def torch_conv(layer: Conv2d) -> Fn:
    """PyTorch autograd on F.conv2d (takes and returns tensors: wrap with torch_fn)."""
    import torch
    import torch.nn.functional as F

    def backward(x: Any, w: Any, b: Any, delta: Any) -> Any:
        x, w = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
        leaves = [x, w]
        z = F.conv2d(x[None], w, None, layer.stride, layer.padding, layer.dilation)[0]
        if b is not None:
            b = b.clone().requires_grad_(True)
            leaves.append(b)
            z = z + (b[:, None, None] if b.ndim == 1 else b)
        grads = torch.autograd.grad((z * delta).sum(), leaves)
        return grads[0], grads[1], grads[2] if b is not None else None

    return backward


def torch_pool(layer: _Pool2d) -> Fn:
    """PyTorch autograd on F.max_pool2d / F.avg_pool2d."""
    import torch
    import torch.nn.functional as F

    pool = F.max_pool2d if isinstance(layer, MaxPool2d) else F.avg_pool2d

    def backward(x: Any, delta: Any) -> Any:
        x = x.clone().requires_grad_(True)
        z = pool(x[None], layer.window, layer.stride)[0]
        return torch.autograd.grad((z * delta).sum(), [x])[0]

    return backward

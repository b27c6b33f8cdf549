"""Plain-loop NumPy references for conv2d and pooling, written from the textbook definitions.

Nothing here imports symcnn: these loops are the independent yardstick the tests compare the
derived formulas against. Shapes follow the layer contract (no batch axis):
input ``[C, H, W]``, weight ``[O, C, KH, KW]``, bias ``[O]`` (shared) or ``[O, OH, OW]``
(untied) or None, delta and output ``[O, OH, OW]``. Sizes, strides, paddings and dilations
are (rows, cols) pairs.

Example:
    >>> a = np.arange(9.0).reshape(1, 3, 3)
    >>> w = np.ones((1, 1, 2, 2))
    >>> conv2d_forward(a, w, None, "none").tolist()
    [[[8.0, 12.0], [20.0, 24.0]]]
"""

from __future__ import annotations

import numpy as np

Pair = tuple[int, int]
BIAS_MODES = ("none", "shared", "untied")


def out_size(size: int, k: int, stride: int, pad: int, dil: int) -> int:
    """Output length along one axis: floor((in + 2·pad − dil·(k − 1) − 1) / stride) + 1."""
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def _conv_dims(
    a: np.ndarray, w: np.ndarray, stride: Pair, padding: Pair, dilation: Pair
) -> tuple[int, int, int, int, int, int, int, int]:
    c_in, h, wd = a.shape
    c_out, c_w, kh, kw = w.shape
    assert c_w == c_in, "weight and input disagree on the number of input channels"
    oh = out_size(h, kh, stride[0], padding[0], dilation[0])
    ow = out_size(wd, kw, stride[1], padding[1], dilation[1])
    return c_in, h, wd, c_out, kh, kw, oh, ow


def _source(i: int, m: int, stride: int, pad: int, dil: int) -> int:
    """Input coordinate read by output position i through kernel tap m (may fall in padding)."""
    return i * stride + m * dil - pad


def conv2d_forward(
    a: np.ndarray,
    w: np.ndarray,
    b: np.ndarray | None,
    bias_mode: str,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
) -> np.ndarray:
    """z[o,i,j] = Σ_c Σ_m Σ_n w[o,c,m,n] · a[c, i·s + m·d − p, j·s + n·d − p] + bias.

    Entries of ``a`` outside the input (the zero padding) contribute nothing.
    """
    c_in, h, wd, c_out, kh, kw, oh, ow = _conv_dims(a, w, stride, padding, dilation)
    z = np.zeros((c_out, oh, ow))
    for o in range(c_out):
        for i in range(oh):
            for j in range(ow):
                total = 0.0
                for c in range(c_in):
                    for m in range(kh):
                        for n in range(kw):
                            r = _source(i, m, stride[0], padding[0], dilation[0])
                            t = _source(j, n, stride[1], padding[1], dilation[1])
                            if 0 <= r < h and 0 <= t < wd:
                                total += w[o, c, m, n] * a[c, r, t]
                if bias_mode == "shared":
                    assert b is not None
                    total += b[o]
                elif bias_mode == "untied":
                    assert b is not None
                    total += b[o, i, j]
                z[o, i, j] = total
    return z


def conv2d_backward(
    a: np.ndarray,
    w: np.ndarray,
    delta: np.ndarray,
    bias_mode: str,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
) -> dict[str, np.ndarray | None]:
    """Gradients of E given δ = ∂E/∂z, by the chain rule applied term by term.

    Every product ``w[o,c,m,n] · a[c,r,t]`` inside z[o,i,j] sends ``δ[o,i,j] · w[o,c,m,n]`` to
    ∂E/∂a[c,r,t] and ``δ[o,i,j] · a[c,r,t]`` to ∂E/∂w[o,c,m,n]; the bias receives δ (untied)
    or Σ_ij δ[o,i,j] (shared). Returns ``{"input", "weight", "bias"}`` (bias None for "none").
    """
    c_in, h, wd, c_out, kh, kw, oh, ow = _conv_dims(a, w, stride, padding, dilation)
    assert delta.shape == (c_out, oh, ow), f"delta has shape {delta.shape}"
    ga = np.zeros_like(a, dtype=float)
    gw = np.zeros_like(w, dtype=float)
    for o in range(c_out):
        for i in range(oh):
            for j in range(ow):
                for c in range(c_in):
                    for m in range(kh):
                        for n in range(kw):
                            r = _source(i, m, stride[0], padding[0], dilation[0])
                            t = _source(j, n, stride[1], padding[1], dilation[1])
                            if 0 <= r < h and 0 <= t < wd:
                                ga[c, r, t] += delta[o, i, j] * w[o, c, m, n]
                                gw[o, c, m, n] += delta[o, i, j] * a[c, r, t]
    gb: np.ndarray | None
    if bias_mode == "shared":
        gb = np.array(
            [sum(delta[o, i, j] for i in range(oh) for j in range(ow)) for o in range(c_out)]
        )
    elif bias_mode == "untied":
        gb = delta.astype(float).copy()
    elif bias_mode == "none":
        gb = None
    else:
        raise ValueError(f"unknown bias mode {bias_mode!r}")
    return {"input": ga, "weight": gw, "bias": gb}


def _windows(h: int, wd: int, window: Pair, stride: Pair) -> list[tuple[int, int, list[Pair]]]:
    """Every pooling window: (i, j, cells in row-major order), no padding."""
    kh, kw = window
    oh = (h - kh) // stride[0] + 1
    ow = (wd - kw) // stride[1] + 1
    out = []
    for i in range(oh):
        for j in range(ow):
            cells = [(i * stride[0] + m, j * stride[1] + n) for m in range(kh) for n in range(kw)]
            out.append((i, j, cells))
    return out


def pool_output_size(size: Pair, window: Pair, stride: Pair) -> Pair:
    """Spatial output size of a pooling layer without padding."""
    return ((size[0] - window[0]) // stride[0] + 1, (size[1] - window[1]) // stride[1] + 1)


def maxpool2d_forward(a: np.ndarray, window: Pair, stride: Pair) -> np.ndarray:
    """z[c,i,j] = max of the window of a[c] at (i·sh, j·sw)."""
    ch, h, wd = a.shape
    z = np.zeros((ch, *pool_output_size((h, wd), window, stride)))
    for c in range(ch):
        for i, j, cells in _windows(h, wd, window, stride):
            z[c, i, j] = max(a[c, r, t] for r, t in cells)
    return z


def maxpool2d_backward(a: np.ndarray, delta: np.ndarray, window: Pair, stride: Pair) -> np.ndarray:
    """Each window's δ goes to its first maximum in row-major order; overlapping windows add."""
    ch, h, wd = a.shape
    ga = np.zeros_like(a, dtype=float)
    for c in range(ch):
        for i, j, cells in _windows(h, wd, window, stride):
            best = cells[0]
            for cell in cells[1:]:
                if a[c, cell[0], cell[1]] > a[c, best[0], best[1]]:  # strict: ties keep the first
                    best = cell
            ga[c, best[0], best[1]] += delta[c, i, j]
    return ga


def avgpool2d_forward(a: np.ndarray, window: Pair, stride: Pair) -> np.ndarray:
    """z[c,i,j] = mean of the window of a[c] at (i·sh, j·sw)."""
    ch, h, wd = a.shape
    z = np.zeros((ch, *pool_output_size((h, wd), window, stride)))
    for c in range(ch):
        for i, j, cells in _windows(h, wd, window, stride):
            z[c, i, j] = sum(a[c, r, t] for r, t in cells) / len(cells)
    return z


def avgpool2d_backward(a: np.ndarray, delta: np.ndarray, window: Pair, stride: Pair) -> np.ndarray:
    """Every cell of a window receives δ/(kh·kw); overlapping windows add."""
    ch, h, wd = a.shape
    ga = np.zeros_like(a, dtype=float)
    share = 1.0 / (window[0] * window[1])
    for c in range(ch):
        for i, j, cells in _windows(h, wd, window, stride):
            for r, t in cells:
                ga[c, r, t] += delta[c, i, j] * share
    return ga


# --- issue 12's single-input kinds --------------------------------------------------------


def grouped_conv2d_backward(
    a: np.ndarray,
    w: np.ndarray,
    delta: np.ndarray,
    groups: int,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
) -> dict[str, np.ndarray]:
    """Input and weight gradients of a grouped convolution, weight [O, C/groups, KH, KW].

    Output channel o belongs to group g = o // (O/groups) and reads input channels
    g·C/groups … (g + 1)·C/groups − 1 only; every product w[o,c,m,n]·a[g·C/groups + c, r, t]
    sends δ[o,i,j]·w[o,c,m,n] to that input entry and δ[o,i,j]·a[…] to the weight.
    """
    c_in, h, wd = a.shape
    c_out, per_group, kh, kw = w.shape
    assert per_group * groups == c_in and c_out % groups == 0
    _, oh, ow = delta.shape
    ga, gw = np.zeros_like(a, dtype=float), np.zeros_like(w, dtype=float)
    for o in range(c_out):
        first = (o // (c_out // groups)) * per_group
        for i in range(oh):
            for j in range(ow):
                for c in range(per_group):
                    for m in range(kh):
                        for n in range(kw):
                            r = _source(i, m, stride[0], padding[0], dilation[0])
                            t = _source(j, n, stride[1], padding[1], dilation[1])
                            if 0 <= r < h and 0 <= t < wd:
                                ga[first + c, r, t] += delta[o, i, j] * w[o, c, m, n]
                                gw[o, c, m, n] += delta[o, i, j] * a[first + c, r, t]
    return {"input": ga, "weight": gw}


def transposed_out_size(size: int, k: int, stride: int, pad: int, dil: int, out_pad: int) -> int:
    """Output length of a transposed convolution, PyTorch's formula."""
    return (size - 1) * stride - 2 * pad + dil * (k - 1) + out_pad + 1


def conv_transpose2d_backward(
    a: np.ndarray,
    w: np.ndarray,
    delta: np.ndarray,
    stride: Pair = (1, 1),
    padding: Pair = (0, 0),
    output_padding: Pair = (0, 0),
    dilation: Pair = (1, 1),
) -> dict[str, np.ndarray]:
    """Input and weight gradients of a transposed convolution, weight [C, O, KH, KW].

    The forward pass scatters a[c,i,j]·w[c,o,m,n] onto z[o, i·s − p + m·d, j·s − p + n·d]
    (dropped outside the output); each such product sends δ at that output entry times the
    weight to ∂E/∂a[c,i,j], and times the input entry to ∂E/∂w[c,o,m,n].
    """
    c_in, h, wd = a.shape
    _, c_out, kh, kw = w.shape
    oh = transposed_out_size(h, kh, stride[0], padding[0], dilation[0], output_padding[0])
    ow = transposed_out_size(wd, kw, stride[1], padding[1], dilation[1], output_padding[1])
    assert delta.shape == (c_out, oh, ow), f"delta has shape {delta.shape}"
    ga, gw = np.zeros_like(a, dtype=float), np.zeros_like(w, dtype=float)
    for c in range(c_in):
        for i in range(h):
            for j in range(wd):
                for o in range(c_out):
                    for m in range(kh):
                        for n in range(kw):
                            r = i * stride[0] - padding[0] + m * dilation[0]
                            t = j * stride[1] - padding[1] + n * dilation[1]
                            if 0 <= r < oh and 0 <= t < ow:
                                ga[c, i, j] += delta[o, r, t] * w[c, o, m, n]
                                gw[c, o, m, n] += delta[o, r, t] * a[c, i, j]
    return {"input": ga, "weight": gw}


def leaky_relu_backward(x: np.ndarray, delta: np.ndarray, slope: float) -> np.ndarray:
    """δ times the derivative: 1 where x > 0, the slope elsewhere (x = 0 included, as PyTorch)."""
    out = np.zeros_like(x, dtype=float)
    for idx in np.ndindex(*x.shape):
        out[idx] = delta[idx] * (1.0 if x[idx] > 0 else slope)
    return out


def global_avgpool2d_backward(x: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Every entry of channel c counts 1/(H·W) in its mean: it receives δ[c, 0, 0]/(H·W)."""
    ch, h, wd = x.shape
    out = np.zeros_like(x, dtype=float)
    for c in range(ch):
        for r in range(h):
            for t in range(wd):
                out[c, r, t] = delta[c, 0, 0] / (h * wd)
    return out


# --- the array operations the sheets write (pad, spread, dil, crop, keep, rot180) ---------


def pad(x: np.ndarray, n: tuple[int, ...]) -> np.ndarray:
    """pad_n, pad_{r,c} or pad_{top,left,bottom,right}."""
    if len(n) == 4:
        return np.pad(x, ((n[0], n[2]), (n[1], n[3])))
    return np.pad(x, ((n[0], n[0]), (n[-1], n[-1])))


def spread(x: np.ndarray, s: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(((x.shape[0] - 1) * s[0] + 1, (x.shape[1] - 1) * s[-1] + 1))
    out[:: s[0], :: s[-1]] = x
    return out


def crop(x: np.ndarray, p: tuple[int, ...]) -> np.ndarray:
    r, c = p[0], p[-1]
    return x[r : x.shape[0] - r, c : x.shape[1] - c]


def keep(x: np.ndarray, a: tuple[int, ...]) -> np.ndarray:
    (k1, k2, d1, d2) = a if len(a) == 4 else (a[0], a[0], a[1], a[1])
    return x[: (k1 - 1) * d1 + 1 : d1, : (k2 - 1) * d2 + 1 : d2]


OPS = {
    "pad": pad,
    "spread": spread,
    "dil": spread,
    "crop": crop,
    "keep": keep,
    "rot180": lambda x, _: x[::-1, ::-1],
}

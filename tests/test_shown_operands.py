"""What a sheet writes out of an identity (`Shown`: the operands of the first channel pair,
the operations applied to each, their correlation and the crop) against independent NumPy,
SciPy and the plain-loop gradients of tests/reference.py: the worked example displays the
computation that was proven, so each piece of it must be the right one.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import symengine as se
from reference import (
    OPS,
    avgpool2d_backward,
    conv2d_backward,
    grouped_conv2d_backward,
    maxpool2d_backward,
)

from symcnn import AvgPool2d, Conv2d, MaxPool2d, Role


def applied(cells: np.ndarray, ops) -> np.ndarray:
    out = np.asarray(cells, dtype=float)
    for op in ops:
        out = OPS[op.name](out, op.arg)
    return out


def f(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


#: (options, input shape): every option that adds an operation, and one of each at a time
CONV = [
    (dict(kernel=2), (1, 3, 3)),
    (dict(kernel=3, stride=2, padding=1), (1, 5, 5)),
    (dict(kernel=2, dilation=2), (1, 5, 5)),
    (dict(kernel=3, stride=2), (1, 6, 6)),  # the last row and column unread
    (dict(kernel=(2, 3), stride=(2, 1), padding=(0, 1), dilation=(1, 2), out_channels=2),
     (2, 5, 6)),
    # stride 3: whether δ spread and correlated overshoots the kernel depends on n + 2p − k mod 3
    (dict(kernel=2, stride=3), (1, 5, 5)),  # 5 − 2 = 3: it does not, nothing to keep
    (dict(kernel=2, stride=3, padding=1), (1, 4, 4)),  # 4 + 2 − 2 = 4: it does
    (dict(kernel=2, out_channels=4, groups=2), (2, 3, 3)),  # the first group's pair
]  # fmt: skip


@pytest.mark.parametrize(
    ("options", "shape"), CONV, ids=["plain", "s2p1", "d2", "cut", "all", "s3", "s3p1", "groups"]
)
def test_a_convolutions_written_out_identities_are_the_proven_computation(options, shape):
    layer = Conv2d(**options, input=shape)
    rng = np.random.default_rng(7)
    x = rng.normal(size=layer.input_shape)
    w = rng.normal(size=layer.weight_shape)
    d = rng.normal(size=layer.output_shape)
    forms = layer.closed_forms(x, {Role.WEIGHT: w, Role.BIAS: np.zeros(layer.out_channels)}, d)
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    (kh, kw) = layer.kernel
    kr, kc = (kh - 1) * dh + 1, (kw - 1) * dw + 1  # the dilated kernel
    # the rows a stride leaves unread: q more zeros after δ
    q = [(n + 2 * p - k) % s for n, p, k, s in zip(shape[1:], (ph, pw), (kr, kc), (sh, sw))]
    strided, padded = (sh, sw) != (1, 1), (ph, pw) != (0, 0)

    # ∂E/∂a: pad(spread(δ_0)) ⋆ rot180(dil(w_00)), cropped by the padding
    form = forms[0]
    assert form.role is Role.INPUT
    s = form.shown
    assert (s.left.role, s.left.channels) == (Role.DELTA, (0,))
    assert (s.right.role, s.right.channels) == (Role.WEIGHT, (0, 0))
    np.testing.assert_array_equal(f(s.left.cells), d[0])
    np.testing.assert_array_equal(f(s.right.cells), w[0, 0])
    pads = (kr - 1, kc - 1) + ((kr - 1 + q[0], kc - 1 + q[1]) if any(q) else ())
    left_ops = [("spread", (sh, sw))] * strided + [("pad", pads)]
    right_ops = [("dil", (dh, dw))] * ((dh, dw) != (1, 1)) + [("rot180", ())]
    assert [(op.name, op.arg) for op in s.left.ops] == left_ops
    assert [(op.name, op.arg) for op in s.right.ops] == right_ops
    np.testing.assert_allclose(f(s.left.value), applied(d[0], s.left.ops))
    np.testing.assert_allclose(f(s.right.value), applied(w[0, 0], s.right.ops))
    full = scipy.signal.correlate2d(f(s.left.value), f(s.right.value), mode="valid")
    np.testing.assert_allclose(f(s.full), full)
    assert [(op.name, op.arg) for op in s.after] == [("crop", (ph, pw))] * padded
    # the result is δ_0's share of ∂E/∂a_0 through w_00 alone, by plain loops
    one = conv2d_backward(x[:1], w[:1, :1], d[:1], "none", layer.stride, layer.padding,
                          layer.dilation)["input"]  # fmt: skip
    np.testing.assert_allclose(f(s.result), one[0], atol=1e-12)
    if layer.groups > 1:
        grads = grouped_conv2d_backward(x, w, d, layer.groups, layer.stride, layer.padding,
                                        layer.dilation)  # fmt: skip
    else:
        grads = conv2d_backward(x, w, d, "none", layer.stride, layer.padding, layer.dilation)
    np.testing.assert_allclose(f(form.value), grads["input"], atol=1e-12)

    # ∂E/∂w: keep(pad(a_0) ⋆ spread(δ_0))
    form = forms[1]
    assert form.role is Role.WEIGHT
    s = form.shown
    assert (s.left.role, s.left.channels, s.right.role, s.right.channels) == (
        Role.INPUT, (0,), Role.DELTA, (0,))  # fmt: skip
    np.testing.assert_array_equal(f(s.left.cells), x[0])
    np.testing.assert_array_equal(f(s.right.cells), d[0])
    assert [(op.name, op.arg) for op in s.left.ops] == [("pad", (ph, pw))] * padded
    assert [(op.name, op.arg) for op in s.right.ops] == [("spread", (sh, sw))] * strided
    np.testing.assert_allclose(f(s.left.value), applied(x[0], s.left.ops))
    np.testing.assert_allclose(f(s.right.value), applied(d[0], s.right.ops))
    full = scipy.signal.correlate2d(f(s.left.value), f(s.right.value), mode="valid")
    np.testing.assert_allclose(f(s.full), full)
    kept = (dh, dw) != (1, 1) or full.shape != (kh, kw)
    assert [(op.name, op.arg) for op in s.after] == [("keep", (kh, kw, dh, dw))] * kept
    np.testing.assert_allclose(f(s.result), applied(full, s.after))
    np.testing.assert_allclose(f(s.result), grads["weight"][0, 0], atol=1e-12)
    np.testing.assert_allclose(f(form.value), grads["weight"], atol=1e-12)


@pytest.mark.parametrize(
    "layer",
    [MaxPool2d(window=2, input=(2, 4, 4)), MaxPool2d(window=(2, 3), stride=1, input=(3, 4)),
     AvgPool2d(window=2, input=(2, 4, 4)), AvgPool2d(window=(3, 2), stride=(1, 2), input=(4, 5))],
    ids=["max-tiles", "max-overlap", "avg-tiles", "avg-overlap"],
)  # fmt: skip
def test_a_poolings_written_out_identity_is_delta_handed_to_the_cells(layer):
    rng = np.random.default_rng(3)
    x = rng.permutation(np.prod(layer.input_shape)).reshape(layer.input_shape) / 10.0
    d = rng.normal(size=layer.output_shape)
    # the max bracket is built from comparisons of the entries: numbers of the symbolic kind
    numbers = np.vectorize(se.Float, otypes=[object])(x)
    (form,) = layer.closed_forms(numbers, {}, d)
    if layer.kind == "maxpool2d":
        expected = maxpool2d_backward(x, d, layer.window, layer.stride)
    else:
        expected = avgpool2d_backward(x, d, layer.window, layer.stride)
    assert form.role is Role.INPUT
    np.testing.assert_allclose(f(form.value), expected, atol=1e-12)
    s = form.shown
    assert (s.left.role, s.left.channels, s.left.ops, s.right) == (Role.DELTA, (0,), (), None)
    np.testing.assert_array_equal(f(s.left.cells), d[0])
    np.testing.assert_allclose(f(s.full), expected[0], atol=1e-12)
    np.testing.assert_allclose(f(s.result), expected[0], atol=1e-12)
    assert s.after == ()

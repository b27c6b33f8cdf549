"""The size-independent chain rule (symcnn.derivation.index) against plain-loop NumPy references."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from sympy import Indexed, KroneckerDelta

from symcnn import AvgPool2d, Conv2d, LeakyReLU, MaxPool2d, ReLU, Role, Sigmoid, Tanh
from symcnn.core.indexed import StepKind
from symcnn.derivation.index import derive_general, output_delta_steps

RNG = np.random.default_rng(7)


# --- independent references (plain loops, 0-based arrays) --------------------------------


def conv_reference(a, w, delta, stride, pad, dil):
    """Forward read positions and both gradients of a conv, by loops over every product."""
    _, c_in, kh, kw = w.shape
    o_n, oh, ow = delta.shape
    grad_a, grad_w = np.zeros_like(a), np.zeros_like(w)
    for o in range(o_n):
        for i in range(oh):
            for j in range(ow):
                for c in range(c_in):
                    for m in range(kh):
                        for n in range(kw):
                            r = i * stride[0] + m * dil[0] - pad[0]
                            t = j * stride[1] + n * dil[1] - pad[1]
                            if 0 <= r < a.shape[1] and 0 <= t < a.shape[2]:
                                grad_a[c, r, t] += delta[o, i, j] * w[o, c, m, n]
                                grad_w[o, c, m, n] += delta[o, i, j] * a[c, r, t]
    return grad_a, grad_w


def pool_reference(a, delta, window, stride, kind):
    """Input gradient of max (first maximum wins) or average pooling, by loops."""
    grad = np.zeros_like(a)
    for c in range(delta.shape[0]):
        for i in range(delta.shape[1]):
            for j in range(delta.shape[2]):
                cells = [
                    (i * stride[0] + m, j * stride[1] + n)
                    for m in range(window[0])
                    for n in range(window[1])
                ]
                if kind == "max":
                    best = cells[0]
                    for cell in cells:
                        if a[c, cell[0], cell[1]] > a[c, best[0], best[1]]:
                            best = cell
                    grad[c, best[0], best[1]] += delta[c, i, j]
                else:
                    for r, t in cells:
                        grad[c, r, t] += delta[c, i, j] / len(cells)
    return grad


# --- evaluating a general formula at concrete numbers ------------------------------------


def evaluate(expr, point, arrays, base):
    """Substitute a generic index, expand the sums, look every entry up.

    ``arrays`` maps a base name to (array, number of leading channel axes); a channel axis
    of size 1 is not written in the formulas. Entries outside an array or at a non-whole
    index are 0, the convention the sheet states.
    """
    e = expr.subs(point).doit()

    def value(x: Indexed):
        arr, leading = arrays[str(x.base)]
        idx = iter(x.indices)
        full = [
            0 if ax < leading and arr.shape[ax] == 1 else sympy.nsimplify(next(idx)) - base
            for ax in range(arr.ndim)
        ]
        if any(not k.is_integer for k in full if isinstance(k, sympy.Basic)):
            return sympy.Integer(0)
        full = [int(k) for k in full]
        if any(not 0 <= k < n for k, n in zip(full, arr.shape)):
            return sympy.Integer(0)
        return sympy.Float(arr[tuple(full)], 30)

    return float(e.replace(lambda x: isinstance(x, Indexed), value))


CONVS = [
    (Conv2d(kernel=(2, 2), bias="untied", input=(3, 3)), 1),
    (Conv2d(kernel=(2, 2), input=(5, 5)), 0),
    (Conv2d(kernel=(3, 2), stride=(2, 1), padding=(1, 0), input=(5, 4)), 1),
    (Conv2d(kernel=(2, 2), dilation=2, input=(5, 5)), 1),
    (Conv2d(kernel=(2, 2), out_channels=2, bias="none", input=(2, 3, 3)), 1),
]


@pytest.mark.parametrize(
    ("spec", "base"), CONVS, ids=["x".join(map(str, s.spatial)) + str(s.kernel) for s, _ in CONVS]
)
def test_general_conv_gradients_match_loops(spec: Conv2d, base: int) -> None:
    general, rules = derive_general(spec, base)
    a = RNG.normal(size=spec.input_shape)
    w = RNG.normal(size=spec.weight_shape)
    delta = RNG.normal(size=spec.output_shape)
    ref_a, ref_w = conv_reference(a, w, delta, spec.stride, spec.padding, spec.dilation)
    arrays = {"a": (a, 1), "w": (w, 2), "delta": (delta, 1)}
    by_role = {r.role: r for r in rules}
    result_w = by_role[Role.WEIGHT].steps[-1].rhs.subs(general.sizes)
    x_w = general.wrt[Role.WEIGHT]
    for idx in np.ndindex(*spec.weight_shape):
        shown = [i for i, n in zip(idx, spec.weight_shape[:2]) if n > 1] + list(idx[2:])
        point = dict(zip(x_w.indices, [i + base for i in shown]))
        got = evaluate(result_w, point, arrays, base)
        assert got == pytest.approx(ref_w[idx], abs=1e-9), idx
    result_a = by_role[Role.INPUT].steps[-1].rhs.subs(general.sizes)
    x_a = general.wrt[Role.INPUT]
    for idx in np.ndindex(*spec.input_shape):
        shown = ([idx[0]] if spec.in_channels > 1 else []) + list(idx[1:])
        point = dict(zip(x_a.indices, [i + base for i in shown]))
        got = evaluate(result_a, point, arrays, base)
        assert got == pytest.approx(ref_a[idx], abs=1e-9), idx


def test_general_bias_gradients() -> None:
    for bias, expected in (("untied", "delta[i', j']"), ("shared", "Sum(delta[i, j]")):
        _, rules = derive_general(Conv2d(kernel=(2, 2), bias=bias, input=(3, 3)), 1)
        rule = next(r for r in rules if r.role is Role.BIAS)
        assert str(rule.steps[-1].rhs).startswith(expected)


@pytest.mark.parametrize(
    ("spec", "base"),
    [
        (MaxPool2d(window=(2, 2), stride=1, input=(4, 4)), 1),
        (MaxPool2d(window=(2, 2), stride=(2, 1), input=(2, 4, 3)), 1),
        (AvgPool2d(window=(2, 2), input=(4, 4)), 1),
        (AvgPool2d(window=(3, 3), stride=1, input=(4, 4)), 0),
    ],
    ids=str,
)
def test_general_pool_gradients_match_loops(spec, base: int) -> None:
    general, rules = derive_general(spec, base)
    (rule,) = rules
    kind = "max" if isinstance(spec, MaxPool2d) else "avg"
    # small integers make ties likely: the first maximum must win
    a = RNG.integers(0, 3, size=spec.input_shape).astype(float)
    delta = RNG.normal(size=spec.output_shape)
    ref = pool_reference(a, delta, spec.window, spec.stride, kind)
    kh, kw = spec.window
    mu = np.zeros((*spec.output_shape, kh, kw))
    for c, i, j in np.ndindex(*spec.output_shape):
        win = a[c, i * spec.stride[0] : i * spec.stride[0] + kh, j * spec.stride[1] :][:, :kw]
        m, n = np.unravel_index(int(np.argmax(win)), win.shape)  # argmax: first maximum
        mu[c, i, j, m, n] = 1
    omega = np.full((kh, kw), 1 / (kh * kw))
    arrays = {"a": (a, 1), "delta": (delta, 1), "mu": (mu, 1), "omega": (omega, 0)}
    x = general.wrt[Role.INPUT]
    result = rule.steps[-1].rhs.subs(general.sizes)
    for idx in np.ndindex(*spec.input_shape):
        shown = ([idx[0]] if spec.channels > 1 else []) + list(idx[1:])
        point = dict(zip(x.indices, [i + base for i in shown]))
        got = evaluate(result, point, arrays, base)
        assert got == pytest.approx(ref[idx], abs=1e-9), idx


def test_steps_are_derived_not_typed() -> None:
    _, rules = derive_general(Conv2d(kernel=(2, 2), input=(3, 3)), 1)
    weight = next(r for r in rules if r.role is Role.WEIGHT)
    steps = {s.kind: s for s in weight.steps}
    assert [s.kind for s in weight.steps] == list(StepKind)
    # the derivative of the Sum carries Kronecker deltas; the collapsed step none
    assert steps[StepKind.DIFF].rhs.atoms(KroneckerDelta)
    assert not steps[StepKind.SURVIVES].rhs.atoms(KroneckerDelta)
    assert str(steps[StepKind.SURVIVES].rhs) == "a[i + m' - 1, j + n' - 1]"


def test_output_delta_matches_finite_differences() -> None:
    forward, _, result = output_delta_steps()
    z, y = sympy.Symbol("z"), sympy.Symbol("t")
    sigma = sympy.Function("sigma")
    logistic = sympy.Lambda(z, 1 / (1 + sympy.exp(-z)))
    loss = sympy.lambdify((z, y), forward.rhs.replace(sigma, logistic))
    delta = sympy.lambdify((z, y), result.rhs.replace(sigma, logistic))
    for zv, yv in ((0.3, 0.8), (-1.2, 0.1), (2.0, 1.0)):
        h = 1e-6
        fd = (loss(zv + h, yv) - loss(zv - h, yv)) / (2 * h)
        assert delta(zv, yv) == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize(
    ("spec", "base"),
    [
        (Sigmoid(input=(4,)), 0),
        (Tanh(input=(2, 3, 3)), 1),
        (ReLU(input=(1, 2, 3)), 1),
        (LeakyReLU(0.2, input=(2, 2, 2)), 0),
    ],
    ids=["sigmoid", "tanh", "relu", "leaky"],
)
def test_general_activation_formulas_match_numpy(spec, base: int) -> None:
    """z[idx] = f(a[idx]) over the ranges of every axis, and ∂E/∂a = δ·f'(a) entry by entry."""
    general, (rule,) = derive_general(spec, base)
    shape = spec.input_shape
    a = RNG.normal(size=shape)
    a.flat[0] = 0.0  # the kink: relu'(0) = 0, leaky_relu'(0) = the slope (PyTorch's)
    delta = RNG.normal(size=shape)
    f = {
        "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "tanh": np.tanh,
        "relu": lambda x: np.maximum(x, 0),
        "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    }[spec.kind]
    prime = {
        "sigmoid": lambda x: f(x) * (1 - f(x)),
        "tanh": lambda x: 1 - np.tanh(x) ** 2,
        "relu": lambda x: (x > 0) * 1.0,
        "leaky_relu": lambda x: np.where(x > 0, 1.0, 0.2),
    }[spec.kind]
    written = [i for i, n in enumerate(shape) if not (len(shape) == 3 and i == 0 and n == 1)]
    sizes = [shape[i] for i in written]
    ranges = [tuple(sympy.sympify(r).subs(general.sizes) for r in general.ranges[s])
              for s in general.outer]  # fmt: skip
    assert ranges == [(base, base + n - 1) for n in sizes]
    leading = 1 if len(shape) == 3 and shape[0] == 1 else 0
    arrays = {"a": (a, leading), "delta": (delta, leading)}
    x = general.wrt[Role.INPUT]
    gradient = rule.steps[-1].rhs.subs(general.sizes)
    for idx in np.ndindex(*shape):
        shown = [idx[i] + base for i in written]
        out = evaluate(general.rhs, dict(zip(general.outer, shown)), arrays, base)
        assert out == pytest.approx(f(a[idx]), abs=1e-12), idx
        got = evaluate(gradient, dict(zip(x.indices, shown)), arrays, base)
        assert got == pytest.approx(delta[idx] * prime(a[idx]), abs=1e-12), idx

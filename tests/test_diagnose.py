"""The checker names the mistake of a wrong backward pass, on one sample and on a mini-batch.

Each buggy backward below is written by hand with NumPy and SciPy (the mistake is known
because it was made on purpose); the tests check that the report names it, and only it.
Mutation testing (issue 14) found the mini-batch diagnoses and the generic ones untested.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

from symcnn import Conv2d, LeakyReLU, Linear, Sigmoid
from symcnn.checking.diagnose import close, explain
from symcnn.core.symbols import Role
from symcnn.testing import compare_layer_backward


def conv_backward(flip_delta: bool = False, bias: str = "sum"):
    """A single-channel conv2d backward over a mini-batch [N, 1, H, W], right unless told:
    ``flip_delta`` convolves x with δ (δ rotated) for the weight; ``bias="mean"`` averages δ
    over the positions of each sample instead of summing."""

    def fn(x, w, b, d):
        n = x.shape[0]
        gx = np.stack([[scipy.signal.convolve2d(d[s, 0], w[0, 0], "full")] for s in range(n)])
        weight = scipy.signal.convolve2d if flip_delta else scipy.signal.correlate2d
        gw = np.sum([weight(x[s, 0], d[s, 0], "valid") for s in range(n)], axis=0)[None, None]
        per_position = d.mean(axis=(2, 3)) if bias == "mean" else d.sum(axis=(2, 3))
        return gx, gw, per_position.sum(axis=0)

    return fn


def mistakes(report: str, name: str) -> list[str]:
    """The likely mistakes the report gives for one result (``gx``, ``gw`` …)."""
    lines = report.splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip().startswith(f"{name}:"))
    found = []
    for line in lines[start + 1 :]:
        text = line.strip()
        if text.startswith("likely mistake: "):
            found.append(text.removeprefix("likely mistake: "))
        elif text.startswith("- "):
            found.append(text[2:])
        elif text and not text.startswith("likely mistake"):
            break
    return found


LAYER = Conv2d(kernel=2, input=(1, 4, 4))


def test_a_right_backward_over_a_batch_passes() -> None:
    assert compare_layer_backward(LAYER, conv_backward(), batch=2)


def test_a_weight_mistake_is_named_over_a_batch() -> None:
    """Each sample's mistaken weight gradient, summed over the samples as a parameter's is."""
    report = str(compare_layer_backward(LAYER, conv_backward(flip_delta=True), batch=2))
    assert mistakes(report, "gw") == [
        "δ rotated by 180° (x convolved with δ; the weight gradient is a correlation)"
    ]
    assert mistakes(report, "gx") == []  # gx: ok


def test_a_bias_mistake_is_named_over_a_batch() -> None:
    report = str(compare_layer_backward(LAYER, conv_backward(bias="mean"), batch=3))
    assert mistakes(report, "gb") == ["bias gradient averaged (mean over positions), not summed"]


def test_an_activation_mistake_is_named_over_a_batch() -> None:
    """leaky_relu's derivative taken as relu's, sample by sample (the input's gradient is
    stacked over the samples)."""
    layer = LeakyReLU(negative_slope=0.1, input=(2, 3, 3))
    report = str(compare_layer_backward(layer, lambda x, d: d * (x > 0), batch=2))
    (found,) = mistakes(report, "gx")
    assert found.startswith("negative slope ignored")


def test_a_transposed_gradient_is_named() -> None:
    layer = Sigmoid(input=(1, 3, 3))

    def fn(x, d):
        s = 1 / (1 + np.exp(-x))
        return np.swapaxes(d * s * (1 - s), -1, -2)

    report = str(compare_layer_backward(layer, fn))
    assert mistakes(report, "gx") == ["rows and columns swapped (last two axes transposed)"]


RIGHT = np.array([[[1.0, -2.0], [3.0, 0.5]]])


def test_a_flipped_sign_is_one_mistake_not_also_a_factor_of_minus_one() -> None:
    expected = {Role.INPUT: RIGHT}
    assert explain(Sigmoid(input=(1, 2, 2)), Role.INPUT, -RIGHT, {}, expected, 1e-6, 1e-9) == [
        "sign flipped (the negative of the gradient)"
    ]


def test_a_constant_factor_is_named_but_zero_is_not_a_factor() -> None:
    expected = {Role.INPUT: RIGHT}
    layer = Sigmoid(input=(1, 2, 2))
    assert explain(layer, Role.INPUT, 0.5 * RIGHT, {}, expected, 1e-6, 1e-9) == [
        "off by a constant factor 0.5"
    ]
    assert explain(layer, Role.INPUT, 0 * RIGHT, {}, expected, 1e-6, 1e-9) == []


def test_another_results_gradient_is_named_as_the_wrong_order() -> None:
    other = np.array([[[0.25, 4.0], [-1.0, 2.0]]])
    expected = {Role.INPUT: RIGHT, Role.WEIGHT: other}
    found = explain(Sigmoid(input=(1, 2, 2)), Role.INPUT, other, {}, expected, 1e-6, 1e-9)
    assert found == ["this is the weight gradient: results returned in the wrong order?"]


def test_close_uses_both_tolerances() -> None:
    assert close(np.array([100.0]), np.array([100.005]), rtol=1e-4, atol=0.0)
    assert not close(np.array([100.0]), np.array([100.005]), rtol=1e-6, atol=0.0)
    assert close(np.array([0.0]), np.array([5e-7]), rtol=0.0, atol=1e-6)
    assert not close(np.array([0.0]), np.array([5e-7]), rtol=0.0, atol=1e-8)
    assert not close(np.ones(2), np.ones(3), rtol=1.0, atol=1.0)


def test_a_transposed_weight_gradient_of_a_dense_layer_is_named() -> None:
    """outer(a, δ) for outer(δ, a): the classic slip of a square dense layer (2-D gradient)."""
    layer = Linear(out_features=3, input=(3,))

    def fn(a, w, b, d):
        return w.T @ d, np.outer(a, d), d

    report = str(compare_layer_backward(layer, fn))
    assert mistakes(report, "gw") == ["rows and columns swapped (last two axes transposed)"]


def test_a_constant_factor_is_not_named_from_fewer_than_three_entries() -> None:
    """Two entries are too few to call a ratio a constant factor (any wrong pair has one);
    the entry-by-entry explanation still shows ``2·δ_1``. Three or more are named
    (tests/test_mutation_gaps.py)."""
    from symcnn.testing import BackwardMismatch, check_layer_backward

    layer = Linear(2, input=(3,))
    with pytest.raises(BackwardMismatch) as info:
        check_layer_backward(layer, lambda x, w, b, d: (w.T @ d, np.outer(d, x), 2 * d))
    text = str(info.value)
    assert "gb: 2 of 2 entries wrong" in text and "yours:   2·δ_1" in text
    assert "constant factor" not in text

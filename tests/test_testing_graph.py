"""symcnn.testing on mini-batches, batch norm and whole networks: right code passes, the classic
mistakes are named (batch norm's mean path dropped, unbiased variance, γ forgotten in ∂E/∂x;
a δ left out where paths merge)."""

from __future__ import annotations

import numpy as np
import pytest
from testing_refs import conv_scipy

import symcnn
from symcnn import BatchNorm1d, BatchNorm2d, Conv2d
from symcnn.testing import (
    check_batchnorm1d_backward,
    check_batchnorm2d_backward,
    check_layer_backward,
    check_network_backward,
    compare_layer_backward,
    compare_network_backward,
)


def bn_backward(eps=1e-5, mean_path=True, unbiased=False, gamma=True):
    """A batch norm backward pass as people write it (Kratzert's staged graph), with a knob for
    each classic mistake; x and delta are [N, C, …]."""

    def fn(x, w, b, delta):
        axes = (0, *range(2, x.ndim))
        shape = [1, x.shape[1]] + [1] * (x.ndim - 2)
        m = x.size // x.shape[1]
        mu = x.sum(axes, keepdims=True) / m
        xmu = x - mu
        var = (xmu**2).sum(axes, keepdims=True) / (m - 1 if unbiased else m)
        ivar = 1.0 / np.sqrt(var + eps)
        xhat = xmu * ivar
        dxhat = delta * (w.reshape(shape) if gamma else 1.0)
        divar = (dxhat * xmu).sum(axes, keepdims=True)
        dxmu1 = dxhat * ivar
        dsqrtvar = -1.0 / (np.sqrt(var + eps) ** 2) * divar
        dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
        dsq = np.ones_like(x) * dvar / (m - 1 if unbiased else m)
        dxmu2 = 2 * xmu * dsq
        dx1 = dxmu1 + dxmu2
        dmu = -(dx1.sum(axes, keepdims=True))
        dx2 = np.ones_like(x) * dmu / m
        gx = dx1 + dx2 if mean_path else dx1
        return gx, (delta * xhat).sum(axes), delta.sum(axes)

    return fn


def test_a_right_batch_norm_passes_both_kinds():
    assert check_batchnorm2d_backward(bn_backward(), (3, 2, 2, 3))
    assert check_batchnorm1d_backward(bn_backward(eps=1e-3), (4, 3), eps=1e-3)


@pytest.mark.parametrize(
    "knob, name",
    [
        ({"mean_path": False}, "the path through the batch mean dropped"),
        ({"unbiased": True}, "unbiased variance (÷ (M − 1)"),
        ({"gamma": False}, "γ forgotten in ∂E/∂x (the δ of x̂ is γ·δ, not δ)"),
    ],
)
def test_batch_norm_mistakes_are_named(knob, name):
    result = compare_layer_backward(
        BatchNorm2d(input=(2, 2, 2)), bn_backward(**knob), batch=3, probe=False
    )
    assert not result
    gx = next(line for line in result.message.splitlines() if line.startswith("  gx: "))
    assert "entries wrong" in gx
    assert f"likely mistake: {name}" in result.message, result.message


def test_batch_norm_report_shows_the_formula_in_the_quantities_deltas():
    result = compare_layer_backward(
        BatchNorm1d(input=(2,)), bn_backward(mean_path=False), batch=3, max_entries=1
    )
    assert not result
    formula = "∂E/∂x_n1_1 = δx̂_n1_1/√(1/100000 + σ²_1) + 2/3·δσ²_1·(x_n1_1 - μ_1) + δμ_1/3"
    assert f"    formula: {formula}" in result.message.splitlines()
    assert "a mini-batch of 3 samples" in result.message


def test_any_layer_is_checked_on_a_mini_batch_and_its_mistakes_named_per_sample():
    layer = Conv2d(kernel=(3, 3), out_channels=2, padding=1, input=(2, 4, 5))

    def batched(fn):
        def run(x, w, b, delta):
            parts = [fn(x[n], w, b, delta[n]) for n in range(x.shape[0])]
            gx = np.stack([p[0] for p in parts])
            return gx, sum(p[1] for p in parts), sum(p[2] for p in parts)

        return run

    assert check_layer_backward(layer, batched(conv_scipy(layer)), batch=2)
    result = compare_layer_backward(layer, batched(conv_scipy(layer, rotate=False)), batch=2)
    assert not result
    assert "likely mistake: kernel not rotated by 180°" in result.message
    assert "contract: fn(x, w, b, delta) -> (gx, gw, gb)" in result.message
    assert "gx: wrong shape" not in result.message


RESIDUAL = symcnn.Network(
    [
        {"type": "dense", "out_features": 3, "id": "fc"},
        {"type": "tanh", "id": "t"},
        {"type": "add", "inputs": ["input", "t"]},
    ],
    input=(3,),
    batch=2,
)


def residual_backward(skip=True):
    def fn(x, params, delta):
        w, b = params["0.weight"], params["0.bias"]
        z = x @ w.T + b
        dz = delta * (1 - np.tanh(z) ** 2)
        gx = dz @ w + (delta if skip else 0)
        return {"input": gx, "0.weight": dz.T @ x, "0.bias": dz.sum(0)}

    return fn


def test_a_residual_block_with_its_skip_summed_passes():
    assert check_network_backward(RESIDUAL, residual_backward())


def test_a_residual_block_that_forgot_the_skip_delta_is_named():
    result = compare_network_backward(RESIDUAL, residual_backward(skip=False))
    assert not result
    assert "  input: 6 of 6 entries wrong" in result.message
    assert "  0.weight: ok" in result.message
    assert (
        "δ not summed where paths merge: the network input x is read by layers 0, 2, but the δ "
        "that layer 2 (add) sends back is missing"
    ) in result.message
    with pytest.raises(AssertionError, match="network backward does not match"):
        check_network_backward(RESIDUAL, residual_backward(skip=False))

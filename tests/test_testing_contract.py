"""Wrong return types and shapes are named; inputs, fixtures and parametrize helpers behave."""

from __future__ import annotations

import json

import numpy as np
import pytest
from testing_refs import conv_loops, pool_loops

from symcnn import AvgPool2d, Conv2d, MaxPool2d, Role, SymcnnError
from symcnn.testing import (
    BackwardMismatch,
    check_conv2d_backward,
    check_layer_backward,
    compare_layer_backward,
    configurations,
    fixture_arrays,
    parametrize,
    spec_id,
    trial_inputs,
)

CONV = Conv2d(kernel=(2, 2), out_channels=2, input=(4, 4))
RIGHT = conv_loops(CONV)


def _last_line(layer, fn) -> str:
    result = compare_layer_backward(layer, fn)
    assert not result.ok
    return result.message.splitlines()[-1].strip()


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (
            lambda x, w, b, d: RIGHT(x, w, b, d)[0],
            "fn returned one array; expected a tuple of 3 (gx, gw, gb)",
        ),
        (lambda x, w, b, d: RIGHT(x, w, b, d)[:2], "fn returned 2 values; expected 3 (gx, gw, gb)"),
        (lambda x, w, b, d: {"gx": 1}, "fn returned a dict; expected a tuple of 3 (gx, gw, gb)"),
        (lambda x, w, b, d: None, "fn returned a NoneType; expected a tuple of 3"),
        (
            lambda x, w, b, d: (RIGHT(x, w, b, d)[0].tolist(), w, b),
            "gx is a list, not an array; expected an array of shape (1, 4, 4) = [C, H, W]",
        ),
        (
            lambda x, w, b, d: (x, None, b),
            "gw is None; expected an array of shape (2, 1, 2, 2) = [O, C, KH, KW]",
        ),
        (
            lambda x, w, b, d: (x, w, 1.5),
            "gb is a float, not an array; expected an array of shape (2,) = [O]",
        ),
        (
            lambda x, w, b, d: (x.astype(complex), w, b),
            "gx has dtype complex128; expected real numbers",
        ),
        (lambda x, w, b, d: (x > 0, w, b), "gx has dtype bool; expected real numbers"),
        (lambda x, w, b, d: ("gx", w, b), "gx is a str, not an array"),
    ],
)
def test_wrong_types_are_named(fn, message: str) -> None:
    result = compare_layer_backward(CONV, fn)
    assert result.message.startswith(
        "conv2d backward returned something its contract does not allow"
    )
    assert message in result.message.splitlines()[-1]
    with pytest.raises(BackwardMismatch, match="contract does not allow"):
        check_layer_backward(CONV, fn)


def test_a_function_with_the_wrong_arguments_is_named() -> None:
    def pool_backward(x, delta):
        return x

    text = compare_layer_backward(CONV, pool_backward).message
    assert text.startswith("conv2d backward cannot be called")
    assert text.splitlines()[-1] == (
        "  pool_backward(x, delta) cannot be called as fn(x, w, b, delta) -> (gx, gw, gb) "
        "(too many positional arguments)"
    )


def test_bias_gradient_must_be_none_without_bias() -> None:
    layer = Conv2d(kernel=(2, 2), bias="none", input=(3, 3))
    assert _last_line(layer, lambda x, w, b, d: (x, w, np.zeros(1))) == (
        "gb should be None: this layer has no bias (got an ndarray)"
    )
    assert check_layer_backward(layer, conv_loops(layer))


def test_pooling_returns_one_array() -> None:
    layer = MaxPool2d(window=(2, 2), input=(4, 4))
    ref = pool_loops(layer)
    assert _last_line(layer, lambda x, d: (ref(x, d),)) == (
        "fn returned a tuple of 1; expected one array gx (fn(x, delta) -> gx)"
    )


def test_wrong_shapes_are_named_with_the_contract_axes() -> None:
    text = compare_layer_backward(
        CONV, lambda x, w, b, d: (RIGHT(x, w, b, d)[0][0], w[:1], b)
    ).message
    assert "  gx: wrong shape (4, 4); expected (1, 4, 4) = [C, H, W]" in text
    assert (
        "the same entries without/with size-1 axes; the values are right: return it with shape (1, 4, 4)"
        in text
    )
    assert "  gw: wrong shape (1, 1, 2, 2); expected (2, 1, 2, 2) = [O, C, KH, KW]" in text


def test_swapped_results_are_recognised_by_shape() -> None:
    def swapped(x, w, b, d):
        gx, gw, gb = RIGHT(x, w, b, d)
        return gw, gx, gb

    text = compare_layer_backward(CONV, swapped).message
    assert "  gx: wrong shape (2, 1, 2, 2); expected (1, 4, 4) = [C, H, W]" in text
    assert "that is the shape of gw: results in the wrong order?" in text


def test_bad_layers_and_functions_are_user_errors() -> None:
    with pytest.raises(SymcnnError, match=r"expected a sized layer \(Conv2d, "):
        compare_layer_backward("conv2d", RIGHT)  # type: ignore[arg-type]
    with pytest.raises(SymcnnError, match="not callable"):
        compare_layer_backward(CONV, 42)  # type: ignore[arg-type]
    with pytest.raises(SymcnnError, match="trials must be a whole number"):
        compare_layer_backward(CONV, RIGHT, trials=0)
    with pytest.raises(SymcnnError, match="in_channels given twice"):
        check_conv2d_backward(RIGHT, (2, 4, 4), (2, 3, 2, 2))


def test_random_inputs_are_reproducible_and_avoid_near_ties() -> None:
    layer = MaxPool2d(window=(3, 3), stride=1, input=(2, 6, 6))
    a, b = trial_inputs(layer, trials=3, seed=5), trial_inputs(layer, trials=3, seed=5)
    assert [t.label for t in a] == ["trial 1 of 3", "trial 2 of 3", "trial 3 of 3", "tie trial"]
    for ta, tb in zip(a, b):
        assert all(np.array_equal(ta.arrays[r], tb.arrays[r]) for r in ta.arrays)
    for t in a[:-1]:
        x = np.sort(t.arrays[Role.INPUT].ravel())
        assert np.min(np.diff(x)) > 0.01  # no near-ties anywhere
        assert np.min(np.abs(t.arrays[Role.DELTA])) >= 0.5  # no δ close to 0 hides a term
    x = a[-1].arrays[Role.INPUT]
    assert any(
        np.count_nonzero(w == w.max()) > 1
        for w in (x[c, i : i + 3, j : j + 3] for c in range(2) for i in range(4) for j in range(4))
    )
    assert not np.array_equal(
        trial_inputs(layer, seed=6)[0].arrays[Role.INPUT], a[0].arrays[Role.INPUT]
    )


def test_fixture_arrays_hold_inputs_and_right_gradients() -> None:
    layer = Conv2d(kernel=(2, 2), out_channels=2, stride=2, padding=1, bias="untied", input=(5, 4))
    f = fixture_arrays(layer, trials=2, seed=3)
    assert (
        f["x"].shape == (2, 1, 5, 4)
        and f["b"].shape == (2, 2, 3, 3)
        and f["gb"].shape == (2, 2, 3, 3)
    )
    ref = conv_loops(layer)
    for k in range(2):
        gx, gw, gb = ref(f["x"][k], f["w"][k], f["b"][k], f["delta"][k])
        np.testing.assert_allclose(f["gx"][k], gx, atol=1e-12)
        np.testing.assert_allclose(f["gw"][k], gw, atol=1e-12)
        np.testing.assert_allclose(f["gb"][k], gb, atol=1e-12)
    assert json.loads(str(f["config"]))["stride"] == [2, 2]
    assert str(f["contract"]) == "fn(x, w, b, delta) -> (gx, gw, gb)"
    assert str(f["formula_gb"][1, 2, 2]) == "∂E/∂b_2_33 = δ_2_33"
    assert all(v.dtype != object for v in f.values())


def test_configurations_skip_what_does_not_fit() -> None:
    specs = configurations("conv2d", input=["3x3", "6x6"], kernel=[2, 5], padding=[0, 1])
    assert sorted(spec_id(s) for s in specs) == sorted(
        ["conv2d-3x3-k2", "conv2d-3x3-k2-p1", "conv2d-3x3-k5-p1", "conv2d-6x6-k2", "conv2d-6x6-k2-p1",
         "conv2d-6x6-k5", "conv2d-6x6-k5-p1"]
    )  # fmt: skip
    with pytest.raises(SymcnnError, match="unknown layer"):
        configurations("dense2d", input=3)
    with pytest.raises(SymcnnError, match="dense needs out_features"):
        configurations("dense", input=3)
    with pytest.raises(SymcnnError, match="Conv2d"):
        configurations(Conv2d, input=3, kernel=2, kernal=3)
    assert spec_id(Conv2d(kernel=(3, 2), out_channels=3, stride=2, padding=1, dilation=(1, 2),
                          bias="untied", input=(2, 5, 4))) == (
        "conv2d-5x4-k3x2-s2-p1-d1x2-c2o3-untied"
    )  # fmt: skip
    assert spec_id(AvgPool2d(window=(2, 3), input=(4, 6))) == "avgpool2d-4x6-w2x3"


@parametrize(AvgPool2d, input=["4x4", "6x4"], window=2, stride=[None, 1])
def test_parametrize_is_one_line(layer: AvgPool2d, request: pytest.FixtureRequest) -> None:
    assert request.node.callspec.id == spec_id(layer)
    assert check_layer_backward(layer, pool_loops(layer), trials=1)


def test_torch_fn_without_torch_is_a_user_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch":
            raise ImportError("no torch here")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    from symcnn.testing import torch_fn

    with pytest.raises(SymcnnError, match="torch_fn needs PyTorch"):
        torch_fn(RIGHT)

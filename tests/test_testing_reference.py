"""Right backward implementations (plain loops, scipy.signal, PyTorch) pass symcnn.testing."""

from __future__ import annotations

import numpy as np
import pytest
from testing_refs import conv_loops, conv_scipy, pool_loops, torch_conv, torch_pool

from symcnn import AvgPool2d, Conv2d, MaxPool2d
from symcnn.testing import (
    check_avgpool2d_backward,
    check_conv2d_backward,
    check_layer_backward,
    check_maxpool2d_backward,
    parametrize,
    spec_id,
    torch_fn,
)


@parametrize(
    Conv2d,
    input=["5x5", "7x6"],
    kernel=["2x2", "3x2"],
    stride=[1, (2, 3)],
    padding=[0, (2, 1)],
    dilation=[1, (1, 2)],
)
def test_plain_loops_pass_geometry(layer: Conv2d) -> None:
    assert check_layer_backward(layer, conv_loops(layer))


@parametrize(
    Conv2d,
    input="5x4",
    kernel="2x3",
    stride=[1, 2],
    in_channels=[1, 3],
    out_channels=[1, 2],
    bias=["none", "shared", "untied"],
)
def test_plain_loops_pass_channels_and_bias(layer: Conv2d) -> None:
    assert check_layer_backward(layer, conv_loops(layer), trials=2)


@parametrize(
    Conv2d, input=["4x4", "6x5"], kernel=["2x2", "3x3"], padding=[0, 1, 2], in_channels=[1, 2]
)
def test_scipy_signal_passes(layer: Conv2d) -> None:
    assert check_layer_backward(layer, conv_scipy(layer), trials=2)


@parametrize(MaxPool2d, input=["4x4", "5x7"], window=[2, "3x2"], stride=[None, 1], channels=[1, 2])
def test_max_pool_loops_pass_with_ties(layer: MaxPool2d) -> None:
    result = check_layer_backward(layer, pool_loops(layer), trials=2)
    assert "tie trial" in result.message


@parametrize(
    AvgPool2d, input=["4x4", "5x7"], window=[2, "3x2"], stride=[None, 1, (1, 2)], channels=[1, 2]
)
def test_avg_pool_loops_pass(layer: AvgPool2d) -> None:
    assert check_layer_backward(layer, pool_loops(layer), trials=2)


def test_keyword_entry_points_accept_shapes() -> None:
    layer = Conv2d(kernel=(3, 2), out_channels=3, stride=2, padding=1, input=(2, 5, 6))
    fn = conv_loops(layer)
    assert check_conv2d_backward(fn, (2, 5, 6), (3, 2, 3, 2), stride=2, padding=1)
    assert check_conv2d_backward(fn, "5x6", "3x2", 2, 1, in_channels=2, out_channels=3, seed=7)
    pool = MaxPool2d(window=(2, 3), input=(2, 4, 6))
    assert check_maxpool2d_backward(pool_loops(pool), (2, 4, 6), (2, 3))
    avg = AvgPool2d(window=3, stride=1, input=(6, 6))
    assert check_avgpool2d_backward(pool_loops(avg), "6x6", 3, stride=1, trials=1)


def test_float32_code_passes_the_default_tolerance() -> None:
    layer = Conv2d(kernel=(3, 3), out_channels=2, padding=1, input=(3, 8, 8))
    ref = conv_loops(layer)

    def float32(x, w, b, delta):
        out = ref(
            x.astype(np.float32),
            w.astype(np.float32),
            b.astype(np.float32),
            delta.astype(np.float32),
        )
        return tuple(g.astype(np.float32) for g in out)

    assert check_layer_backward(layer, float32)


CONV_TORCH = [
    Conv2d(kernel=(2, 2), input=(5, 5)),
    Conv2d(kernel=(3, 2), stride=(2, 1), padding=(1, 2), dilation=(2, 1), input=(7, 6)),
    Conv2d(kernel=(3, 3), out_channels=3, stride=3, padding=2, input=(2, 6, 6)),
    Conv2d(kernel=(2, 2), out_channels=2, bias="untied", input=(2, 5, 4)),
    Conv2d(kernel=(3, 3), padding=1, dilation=2, bias="none", input=(5, 5)),
]


@pytest.mark.parametrize("layer", CONV_TORCH, ids=spec_id)
def test_pytorch_autograd_conv_passes(layer: Conv2d) -> None:
    pytest.importorskip("torch")
    assert check_layer_backward(layer, torch_fn(torch_conv(layer)), trials=2)


POOL_TORCH = [
    MaxPool2d(window=(2, 2), input=(4, 4)),
    MaxPool2d(window=(3, 2), stride=1, input=(2, 5, 6)),
    AvgPool2d(window=(2, 2), stride=1, input=(5, 5)),
    AvgPool2d(window=(3, 2), stride=(3, 1), input=(2, 6, 4)),
]


@pytest.mark.parametrize("layer", POOL_TORCH, ids=spec_id)
def test_pytorch_autograd_pooling_passes(layer: MaxPool2d | AvgPool2d) -> None:
    pytest.importorskip("torch")
    assert check_layer_backward(layer, torch_fn(torch_pool(layer)), trials=2)


def test_pytorch_tensors_returned_from_numpy_code_are_converted() -> None:
    torch = pytest.importorskip("torch")
    layer = AvgPool2d(window=(2, 2), input=(4, 4))
    ref = pool_loops(layer)
    assert check_layer_backward(layer, lambda x, d: torch.tensor(ref(x, d), requires_grad=True))

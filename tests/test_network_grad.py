"""Whole-network gradients from symcnn's formulas against finite differences and torch.autograd."""

from __future__ import annotations

import numpy as np
import pytest
from netref import finite_differences, forward, random_network

import symcnn
from symcnn.numeric.values import check_values

SEEDS = range(36)


def _case(seed):
    rng = np.random.default_rng(1000 + seed)
    layers, shape, loss = random_network(rng)
    net = symcnn.Network(layers, input=shape, loss=loss)
    x = rng.uniform(-1, 1, shape)
    params = {name: rng.uniform(-1, 1, s) for name, s in net.param_shapes().items()}
    if loss == "cross_entropy":
        target = rng.uniform(0, 1, net.output_shape)
        target /= target.sum()
    else:
        target = rng.uniform(-1, 1, net.output_shape)
    return layers, net, x, params, target


@pytest.mark.parametrize("seed", SEEDS)
def test_gradients_equal_finite_differences_of_the_loss(seed):
    layers, net, x, params, target = _case(seed)
    values = check_values(net, {"input": x, "target": target, "params": params})
    run = net.derive(prove=False).evaluate(values)

    ref_loss, ref_outs = forward(layers, x, params, net.loss.kind, target)
    assert run.loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    for lv in run.layers:
        np.testing.assert_allclose(lv.output, ref_outs[lv.index + 1], rtol=1e-12, atol=1e-12)

    fd = finite_differences(layers, x, params, net.loss.kind, target)
    assert set(fd) == set(run.grads)
    for name, expected in fd.items():
        np.testing.assert_allclose(run.grads[name], expected, rtol=1e-5, atol=1e-7, err_msg=name)


def test_random_networks_cover_every_layer_kind_and_option():
    kinds, strides, channels, losses, biases = set(), set(), set(), set(), set()
    groups, depthwise, out_padding, tbiases = set(), False, set(), set()
    for seed in SEEDS:
        layers, net, *_ = _case(seed)
        kinds |= {layer["type"] for layer in layers}
        strides |= {tuple(layer["stride"]) for layer in layers if "stride" in layer}
        channels |= {net.input[0]} | {layer.get("out_channels", 1) for layer in layers}
        biases |= {str(layer.get("bias")) for layer in layers if layer["type"] == "conv2d"}
        losses.add(net.loss.kind)
        for node in net.nodes:
            layer = node.layer
            if layer.kind == "conv2d":
                groups.add(layer.groups)
                depthwise |= layer.groups == layer.input_shape[0] == layer.out_channels > 1
            if layer.kind == "conv_transpose2d":
                out_padding.add(tuple(layer.output_padding))
                tbiases.add(layer.bias.value)
    assert kinds == {
        "conv2d",
        "conv_transpose2d",
        "maxpool2d",
        "avgpool2d",
        "global_avgpool2d",
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "identity",
        "flatten",
        "dense",
    }
    assert {(1, 1), (2, 1), (1, 2), (2, 2)} <= strides
    assert channels == {1, 2, 4}
    assert losses == {"mse", "cross_entropy"}
    assert biases == {"none", "shared", "untied"}
    assert groups == {1, 2} and depthwise
    assert len(out_padding) > 1 and len(tbiases) > 1


@pytest.mark.parametrize("seed", SEEDS[:18])
def test_gradients_equal_torch_autograd(seed):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    layers, net, x, params, target = _case(seed)
    values = check_values(net, {"input": x, "target": target, "params": params})
    run = net.derive(prove=False).evaluate(values)

    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    a = tx
    for index, layer in enumerate(layers):
        kind = layer["type"]
        if kind == "conv2d":
            shared = tp.get(f"{index}.bias") if layer["bias"] == "shared" else None
            a = tf.conv2d(
                a[None],
                tp[f"{index}.weight"],
                shared,
                tuple(layer["stride"]),
                tuple(layer["padding"]),
                tuple(layer["dilation"]),
                layer["groups"],
            )[0]
            if layer["bias"] == "untied":
                a = a + tp[f"{index}.bias"]
        elif kind == "conv_transpose2d":
            shared = tp.get(f"{index}.bias") if layer["bias"] == "shared" else None
            a = tf.conv_transpose2d(
                a[None],
                tp[f"{index}.weight"],
                shared,
                tuple(layer["stride"]),
                tuple(layer["padding"]),
                tuple(layer["output_padding"]),
                1,
                tuple(layer["dilation"]),
            )[0]
            if layer["bias"] == "untied":
                a = a + tp[f"{index}.bias"]
        elif kind == "global_avgpool2d":
            a = tf.adaptive_avg_pool2d(a[None], 1)[0]
        elif kind == "leaky_relu":
            a = tf.leaky_relu(a, layer["negative_slope"])
        elif kind == "maxpool2d":
            a = tf.max_pool2d(a[None], tuple(layer["window"]), tuple(layer["stride"]))[0]
        elif kind == "avgpool2d":
            a = tf.avg_pool2d(a[None], tuple(layer["window"]), tuple(layer["stride"]))[0]
        elif kind == "flatten":
            a = torch.flatten(a)
        elif kind == "dense":
            a = tf.linear(a, tp[f"{index}.weight"], tp.get(f"{index}.bias"))
        else:
            a = {
                "sigmoid": torch.sigmoid,
                "tanh": torch.tanh,
                "relu": torch.relu,
                "identity": lambda v: v,
            }[kind](a)
    tt = torch.tensor(target, dtype=torch.float64)
    if net.loss.kind == "mse":
        loss = 0.5 * ((a - tt) ** 2).sum()
    else:
        loss = tf.cross_entropy(a[None], tt[None], reduction="sum")
    loss.backward()
    assert run.loss == pytest.approx(float(loss.detach()), rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(run.grads["input"], tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, tensor in tp.items():
        np.testing.assert_allclose(run.grads[name], tensor.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_sgd_step_moves_every_parameter_against_its_gradient_and_lowers_the_loss():
    # a network whose loss can move (not cross-entropy over a single output, always 0)
    seed = next(
        k for k in SEEDS if _case(k)[1].output_shape != (1,) or _case(k)[1].loss.kind == "mse"
    )
    layers, net, x, params, target = _case(seed)
    d = net.derive(prove=False)
    num = d.numeric()
    values = check_values(net, {"input": x, "target": target, "params": params})
    run = num.run(values)
    step = num.sgd(run, 1e-3)
    for name, p in params.items():
        np.testing.assert_allclose(step.params[name], p - 1e-3 * run.grads[name], rtol=1e-14)
    after, _ = forward(layers, x, step.params, net.loss.kind, target)
    assert step.loss_after == pytest.approx(after, rel=1e-12)
    assert step.loss_after < step.loss_before

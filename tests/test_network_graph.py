"""Networks with branches, merges, mini-batches and batch norm against plain loops and torch.

Random networks (tests/netref.py's `random_graph_network`) with residual additions, channel
concatenations, batch norms, a mini-batch and a sum or mean reduction: symcnn's numbers from
its formulas against central differences of a plain-loop forward pass, and against PyTorch
autograd in float64.
"""

from __future__ import annotations

import numpy as np
import pytest
from netref import finite_differences, forward, random_graph_network, reads_of

import symcnn
from symcnn.core.symbols import Role
from symcnn.numeric.compile import compile_terms
from symcnn.numeric.values import check_values

SEEDS = range(16)


def _case(seed):
    rng = np.random.default_rng(5000 + seed)
    layers, shape, loss, batch, reduction = random_graph_network(rng)
    net = symcnn.Network(layers, input=shape, loss=loss, batch=batch, reduction=reduction)
    x = rng.uniform(-1, 1, net.batched(shape))
    params = {name: rng.uniform(-1, 1, s) for name, s in net.param_shapes().items()}
    if loss == "cross_entropy":
        target = rng.uniform(0, 1, net.batched(net.output_shape))
        target /= target.sum(axis=-1, keepdims=True)
    else:
        target = rng.uniform(-1, 1, net.batched(net.output_shape))
    return layers, net, x, params, target


@pytest.mark.parametrize("seed", SEEDS)
def test_graph_gradients_equal_finite_differences(seed):
    layers, net, x, params, target = _case(seed)
    values = check_values(net, {"input": x, "target": target, "params": params})
    run = net.derive(prove=False).evaluate(values)
    kind, batch, reduction = net.loss.kind, net.batch, net.reduction
    ref_loss, ref_outs = forward(layers, x, params, kind, target, batch, reduction)
    assert run.loss == pytest.approx(ref_loss, rel=1e-12, abs=1e-12)
    for lv in run.layers:
        np.testing.assert_allclose(lv.output, ref_outs[lv.index + 1], rtol=1e-10, atol=1e-12)
    fd = finite_differences(layers, x, params, kind, target, batch=batch, reduction=reduction)
    assert set(fd) == set(run.grads)
    for name, expected in fd.items():
        np.testing.assert_allclose(run.grads[name], expected, rtol=1e-5, atol=1e-7, err_msg=name)


def _evaluate(sums, numbers):
    """Chain sums evaluated at the run's numbers (every symbol of the derivation has one)."""
    names = list(numbers)
    fn = compile_terms(names, [[[t.delta, t.partial] for t in cs.terms] for cs in sums.ravel()])
    return fn(np.array([numbers[n] for n in names])).reshape(sums.shape)


@pytest.mark.parametrize("seed", SEEDS[:8])
def test_merged_delta_formulas_give_the_numbers(seed):
    """The δ formulas (a sum over every reader where paths merge), the quantities' δ and the
    input gradient, evaluated at the run's numbers, equal the plain-loop gradients."""
    layers, net, x, params, target = _case(seed)
    d = net.derive(prove=False)
    run = d.evaluate(check_values(net, {"input": x, "target": target, "params": params}))
    numbers = {}

    def put(grid, arr):
        numbers.update(zip(map(str, grid.symbols.ravel()), np.ravel(arr)))

    put(d.input_grid, x)
    put(d.target_grid, target)
    for layer, lv in zip(d.layers, run.layers):
        put(layer.grid(Role.OUTPUT), lv.output)
        put(layer.grid(Role.DELTA), lv.delta)
        for role, name in layer.params.items():
            put(layer.grid(role), params[name])
        for stage, value, delta in zip(layer.stages, lv.stages, lv.stage_deltas):
            put(stage.grid, value)
            put(stage.delta, delta)
    kind, batch, reduction = net.loss.kind, net.batch, net.reduction
    fd = finite_differences(layers, x, params, kind, target, batch=batch, reduction=reduction)
    np.testing.assert_allclose(
        _evaluate(d.input_grad(), numbers), fd["input"], rtol=1e-5, atol=1e-7
    )
    for layer, lv in zip(d.layers, run.layers):
        np.testing.assert_allclose(_evaluate(layer.delta, numbers), lv.delta, rtol=1e-9, atol=1e-12)
        for sums, delta in zip(layer.stage_deltas, lv.stage_deltas):
            np.testing.assert_allclose(_evaluate(sums, numbers), delta, rtol=1e-9, atol=1e-12)


def test_random_graphs_cover_merges_batches_and_batch_norm():
    kinds, batches, reductions, shared = set(), set(), set(), False
    for seed in SEEDS:
        layers, net, *_ = _case(seed)
        kinds |= {layer["type"] for layer in layers}
        batches.add(net.batch)
        reductions.add(net.reduction)
        reads = [r for node in net.nodes for r in set(node.reads)]
        shared |= len(reads) > len(set(reads))
    assert {"add", "concat", "batchnorm2d", "batchnorm1d"} <= kinds
    assert {"conv_transpose2d", "global_avgpool2d", "leaky_relu"} <= kinds
    assert any(layer.get("groups", 1) > 1 for seed in SEEDS for layer in _case(seed)[0])
    assert batches == {None, 2, 3}
    assert reductions == {"sum", "mean"}
    assert shared  # some tensor is read by two layers: its δ is a sum


def _torch_forward(torch, layers, x, params):
    tf = torch.nn.functional
    outs = [x]
    for index, (layer, reads) in enumerate(zip(layers, reads_of(layers))):
        inputs = [outs[r + 1] for r in reads]
        kind = layer["type"]
        a = inputs[0]
        if kind == "add":
            out = sum(inputs[1:], inputs[0])
        elif kind == "concat":
            out = torch.cat(inputs, dim=1)
        elif kind in ("conv2d", "conv_transpose2d"):
            shared = params.get(f"{index}.bias") if layer["bias"] == "shared" else None
            options = (tuple(layer["stride"]), tuple(layer["padding"]))
            if kind == "conv2d":
                out = tf.conv2d(
                    a, params[f"{index}.weight"], shared, *options, tuple(layer["dilation"]),
                    layer["groups"],
                )  # fmt: skip
            else:
                out = tf.conv_transpose2d(
                    a, params[f"{index}.weight"], shared, *options,
                    tuple(layer["output_padding"]), 1, tuple(layer["dilation"]),
                )  # fmt: skip
            if layer["bias"] == "untied":
                out = out + params[f"{index}.bias"]
        elif kind == "leaky_relu":
            out = tf.leaky_relu(a, layer["negative_slope"])
        elif kind == "global_avgpool2d":
            out = a.mean(dim=(2, 3), keepdim=True)
        elif kind in ("batchnorm2d", "batchnorm1d"):
            w, b = params.get(f"{index}.weight"), params.get(f"{index}.bias")
            out = tf.batch_norm(a, None, None, w, b, training=True, eps=layer["eps"])
        elif kind == "flatten":
            out = torch.flatten(a, 1)
        elif kind == "dense":
            out = tf.linear(a, params[f"{index}.weight"], params.get(f"{index}.bias"))
        else:
            out = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}.get(
                kind, lambda v: v
            )(a)
        outs.append(out)
    return outs[-1]


@pytest.mark.parametrize("seed", SEEDS)
def test_graph_gradients_equal_torch_autograd(seed):
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    layers, net, x, params, target = _case(seed)
    values = check_values(net, {"input": x, "target": target, "params": params})
    run = net.derive(prove=False).evaluate(values)
    batched = net.batch is not None
    tx = torch.tensor(x if batched else x[None], dtype=torch.float64, requires_grad=True)
    tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    y = _torch_forward(torch, layers, tx, tp)
    tt = torch.tensor(target if batched else target[None], dtype=torch.float64)
    if net.loss.kind == "mse":
        per_sample = 0.5 * ((y - tt) ** 2).flatten(1).sum(1)
        loss = per_sample.mean() if net.reduction == "mean" else per_sample.sum()
    else:
        loss = tf.cross_entropy(y, tt, reduction=net.reduction)
    loss.backward()
    assert run.loss == pytest.approx(float(loss.detach()), rel=1e-10, abs=1e-12)
    gx = tx.grad.numpy() if batched else tx.grad.numpy()[0]
    np.testing.assert_allclose(run.grads["input"], gx, rtol=1e-9, atol=1e-12)
    for name, tensor in tp.items():
        np.testing.assert_allclose(
            run.grads[name], tensor.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name
        )

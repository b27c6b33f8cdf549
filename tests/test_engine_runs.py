"""The numbers path end to end: a backward pass started at a given layer, an SGD step, plain
dicts of numbers, batch norm's intermediate δ and max pooling's winners, against the
plain-loop network of tests/netref.py, central differences and PyTorch (float64).
"""

from __future__ import annotations

import numpy as np
import pytest
from netref import finite_differences, forward

import symcnn
from symcnn.errors import ValuesError
from symcnn.numeric.engine import Engine
from symcnn.numeric.values import check_values

#: conv → sigmoid → max pool → flatten → dense, squared error (netref reads the same dicts)
LAYERS = [
    {"type": "conv2d", "kernel": [2, 2], "out_channels": 2, "stride": [1, 1],
     "padding": [0, 0], "dilation": [1, 1], "bias": "shared", "groups": 1},
    {"type": "sigmoid"},
    {"type": "maxpool2d", "window": [2, 2], "stride": [1, 1]},
    {"type": "flatten"},
    {"type": "dense", "out_features": 2, "bias": True},
]  # fmt: skip
SHAPE = [1, 4, 4]


def _network() -> symcnn.Network:
    lines = [f"input = {SHAPE}", 'loss = "mse"']
    for layer in LAYERS:
        lines.append("[[layer]]")
        lines += [
            f"{k} = {v!r}".replace("'", '"').replace("True", "true") for k, v in layer.items()
        ]
    return symcnn.parse_network("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def case():
    net = _network()
    rng = np.random.default_rng(11)
    x = rng.normal(size=SHAPE)
    params = {name: rng.uniform(-1, 1, s) for name, s in net.param_shapes().items()}
    target = rng.uniform(-1, 1, net.output_shape)
    return net, Engine(net.derive(prove=False)), {"input": x, "target": target, "params": params}


def test_a_plain_dict_of_numbers_gives_the_gradients_of_the_loss(case) -> None:
    _net, engine, data = case
    run = engine.run(data)  # not a Values: checked on the way in
    loss, outs = forward(LAYERS, data["input"], data["params"], "mse", data["target"])
    assert run.loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(run.output, outs[-1], rtol=1e-12)
    fd = finite_differences(LAYERS, data["input"], data["params"], "mse", data["target"])
    for name, expected in fd.items():
        np.testing.assert_allclose(run.grads[name], expected, rtol=1e-5, atol=1e-8, err_msg=name)
    with pytest.raises(ValuesError, match="target"):
        engine.run({"input": data["input"], "params": data["params"]})


def test_each_layers_numbers_say_where_they_come_from(case) -> None:
    """What a worked example prints of each layer: its kind, its input and output, and which
    layer its δ came from (the next one; the loss for the last)."""
    _, engine, data = case
    run = engine.run(data)
    assert run.delta_at is None
    _, outs = forward(LAYERS, data["input"], data["params"], "mse", data["target"])
    for lv, spec in zip(run.layers, LAYERS, strict=True):
        assert lv.kind == spec["type"]
        np.testing.assert_allclose(lv.input, outs[lv.index], rtol=1e-12)
        np.testing.assert_allclose(lv.output, outs[lv.index + 1], rtol=1e-12)
        last = lv.index == len(LAYERS) - 1
        assert lv.delta_from == (None if last else lv.index + 1)
        assert lv.delta_sources == ((None,) if last else (lv.index + 1,))
    started = engine.run(data, delta_at=(2, np.ones(run.layers[2].output.shape)))
    assert started.delta_at == 2
    assert (started.layers[2].delta_from, started.layers[2].delta_sources) == (None, ())
    assert started.layers[1].delta_sources == (2,)


def test_a_delta_left_out_gives_zero_gradients_before_it(case) -> None:
    """``ignore`` models a backward pass that forgot a δ: with layer 1 not sending its δ to
    layer 0, layer 0 and the input get zeros of their own shapes, the rest is unchanged."""
    _, engine, data = case
    full = engine.run(data)
    cut = engine.run(data, ignore=frozenset({(1, 0)}))
    np.testing.assert_array_equal(cut.layers[0].delta, np.zeros(full.layers[0].delta.shape))
    for name in ("input", "0.weight", "0.bias"):
        assert cut.grads[name].shape == full.grads[name].shape
        assert not cut.grads[name].any(), name
    np.testing.assert_array_equal(cut.grads["4.weight"], full.grads["4.weight"])
    alone = engine.run(data, ignore=frozenset({(0, None)}))  # the input's only reader
    assert alone.grads["input"].shape == tuple(SHAPE) and not alone.grads["input"].any()


def test_max_pools_winners_are_the_first_maximum_of_each_window(case) -> None:
    _net, engine, data = case
    run = engine.run(data)
    pool = run.layers[2]
    a = pool.input
    for c, i, j in np.ndindex(*pool.output.shape):
        window = a[c, i : i + 2, j : j + 2]
        m, n = np.unravel_index(int(np.argmax(window)), window.shape)  # the first maximum
        assert pool.winners[c, i, j] == (c, i + m, j + n)
    assert run.layers[0].winners is None


def test_a_backward_pass_started_at_a_layer_with_a_given_delta(case) -> None:
    """δ given at layer l (seed 000's "suppose I already have δ"): layers after it are left
    out, and the gradients are those of E' = Σ δ·(layer l's output)."""
    net, engine, data = case
    rng = np.random.default_rng(2)
    delta = rng.normal(size=net.nodes[1].layer.output_shape)
    run = engine.run(data, delta_at=(1, delta.tolist()))  # a nested list, as JSON gives it
    assert [lv.index for lv in run.layers] == [0, 1] and run.delta_at == 1
    head = LAYERS[:2]
    params = {k: v for k, v in data["params"].items() if k.startswith("0.")}

    def e_prime(x, p):
        return float(np.sum(delta * forward(head, x, p, "mse", np.zeros(1))[1][-1]))

    h, x = 1e-6, data["input"]
    for name, arr in [("input", x), *params.items()]:
        expected = np.zeros_like(arr)
        for idx in np.ndindex(*arr.shape):
            up, down = arr.copy(), arr.copy()
            up[idx] += h
            down[idx] -= h
            if name == "input":
                expected[idx] = (e_prime(up, params) - e_prime(down, params)) / (2 * h)
            else:
                expected[idx] = (
                    e_prime(x, {**params, name: up}) - e_prime(x, {**params, name: down})
                ) / (2 * h)
        np.testing.assert_allclose(run.grads[name], expected, rtol=1e-5, atol=1e-8)
    assert set(run.grads) == {"input", *params}
    run0 = engine.run(data, delta_at=(0, np.ones(net.nodes[0].layer.output_shape)))
    assert [lv.index for lv in run0.layers] == [0]


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (5, r"^no layer 5; layers are 0 … 4$"),
        (-1, r"^no layer -1; layers are 0 … 4$"),
    ],
)
def test_a_delta_at_a_layer_that_does_not_exist_is_refused(case, at, message) -> None:
    _, engine, data = case
    with pytest.raises(ValuesError, match=message):
        engine.run(data, delta_at=(at, [0.0]))


def test_a_delta_of_the_wrong_shape_is_refused(case) -> None:
    _, engine, data = case
    with pytest.raises(
        ValuesError, match=r"^δ of layer 1 has shape \[3, 3\], expected \[2, 3, 3\]$"
    ):
        engine.run(data, delta_at=(1, np.zeros((3, 3))))


def test_one_sgd_step_moves_every_parameter_against_its_gradient(case) -> None:
    _net, engine, data = case
    run = engine.run(data)
    step = engine.sgd(run, 0.1)
    assert step.lr == 0.1 and step.loss_before == run.loss
    for name, p in data["params"].items():
        np.testing.assert_allclose(step.params[name], p - 0.1 * run.grads[name], rtol=1e-15)
    after, _ = forward(LAYERS, data["input"], step.params, "mse", data["target"])
    assert step.loss_after == pytest.approx(after, rel=1e-12)
    assert step.loss_after < step.loss_before  # a small step downhill


def test_sgd_after_a_pass_started_at_a_layer_leaves_the_later_parameters(case) -> None:
    net, engine, data = case
    run = engine.run(data, delta_at=(1, np.ones(net.nodes[1].layer.output_shape)))
    step = engine.sgd(run, 0.5)
    np.testing.assert_array_equal(step.params["4.weight"], data["params"]["4.weight"])
    np.testing.assert_allclose(
        step.params["0.weight"], data["params"]["0.weight"] - 0.5 * run.grads["0.weight"]
    )


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_a_learning_rate_that_is_not_positive_is_refused(case, lr) -> None:
    _, engine, data = case
    with pytest.raises(ValuesError, match=rf"^--lr must be a positive number, got {lr}$"):
        engine.sgd(engine.run(data), lr)


def test_batch_norms_intermediate_deltas_are_torchs() -> None:
    """The δ of μ, σ² and x̂ (shown on batch-norm sheets) against torch autograd, float64."""
    torch = pytest.importorskip("torch")
    net = symcnn.parse_network(
        'input = [2, 2, 2]\nbatch = 3\nloss = "mse"\n[[layer]]\ntype = "batchnorm2d"\n'
    )
    rng = np.random.default_rng(4)
    x = rng.normal(size=(3, 2, 2, 2))
    params = {"0.weight": rng.uniform(0.5, 1.5, 2), "0.bias": rng.normal(size=2)}
    target = rng.normal(size=(3, 2, 2, 2))
    run = Engine(net.derive(prove=False)).run(
        check_values(net, {"input": x, "target": target, "params": params})
    )
    tx = torch.tensor(x, requires_grad=True)
    mu = tx.mean(dim=(0, 2, 3))
    var = ((tx - mu[None, :, None, None]) ** 2).mean(dim=(0, 2, 3))
    xh = (tx - mu[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 1e-5)
    for t in (mu, var, xh):
        t.retain_grad()
    gamma, beta = (torch.tensor(params[k]) for k in ("0.weight", "0.bias"))
    y = gamma[None, :, None, None] * xh + beta[None, :, None, None]
    (0.5 * ((y - torch.tensor(target)) ** 2).sum()).backward()
    (bn,) = run.layers
    np.testing.assert_allclose(bn.output, y.detach().numpy(), rtol=1e-10)
    for got, value, t in zip(bn.stage_deltas, bn.stages, (mu, var, xh), strict=True):
        np.testing.assert_allclose(value, t.detach().numpy(), rtol=1e-10)
        np.testing.assert_allclose(got, t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_compiling_reports_each_layer_to_the_progress_hook() -> None:
    """The command line's progress line for long compiles reads these reports."""
    from symcnn.core.progress import reporting

    calls: list[tuple[str, int, int]] = []
    with reporting(lambda stage, done, total: calls.append((stage, done, total))):
        Engine(_network().derive(prove=False))
    assert [c for c in calls if c[0] == "compiling"] == [("compiling", k, 5) for k in range(5)]


def test_a_layers_flat_passes_are_the_plain_loops() -> None:
    """``LayerEngine.forward``/``backward`` on flat vectors, as a sheet's figures call them."""
    from reference import conv2d_backward, conv2d_forward

    from symcnn.numeric.engine import LayerEngine

    layer = symcnn.Conv2d(kernel=2, out_channels=2, stride=(1, 2), input=(2, 3, 4))
    comp = LayerEngine(symcnn.derive(layer, prove=False).layers[0])
    rng = np.random.default_rng(9)
    x, w = rng.normal(size=layer.input_shape), rng.normal(size=layer.weight_shape)
    b, d = rng.normal(size=2), rng.normal(size=layer.output_shape)
    z = comp.forward(np.concatenate([x.ravel(), w.ravel(), b]))
    np.testing.assert_allclose(z, conv2d_forward(x, w, b, "shared", (1, 2)).ravel(), rtol=1e-12)
    grads = conv2d_backward(x, w, d, "shared", (1, 2))
    flat = comp.backward(np.concatenate([x.ravel(), w.ravel(), b, d.ravel()]))
    want = np.concatenate([grads["input"].ravel(), grads["weight"].ravel(), grads["bias"]])
    np.testing.assert_allclose(flat, want, rtol=1e-12, atol=1e-12)

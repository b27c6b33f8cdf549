"""symcnn.from_torch on models built in torch: the network, its weights, the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

import symcnn

torch = pytest.importorskip("torch")
nn = torch.nn


def _numbers(model, shape, classes, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
    logits = torch.randn((shape[0], classes), generator=gen, dtype=torch.float64)
    return x, torch.softmax(logits, 1)


def test_a_sequential_becomes_a_network_with_the_same_gradients():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, stride=2, padding=1),
        nn.BatchNorm2d(3, eps=1e-3),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(3, 2, 1, bias=False, padding="same"),
        nn.Sigmoid(),
        nn.MaxPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 5),
        nn.BatchNorm1d(5),
        nn.Tanh(),
        nn.Sequential(nn.Identity(), nn.Linear(5, 4)),
    ).double()
    x, target = _numbers(model, (3, 2, 8, 8), 4, seed=1)
    net, values = symcnn.from_torch(
        model, (3, 2, 8, 8), loss="cross_entropy", reduction="mean", x=x, target=target
    )
    assert net.batch == 3 and net.input == (2, 8, 8)
    assert [n.kind for n in net.nodes] == [
        "conv2d", "batchnorm2d", "relu", "avgpool2d", "conv2d", "sigmoid", "maxpool2d",
        "flatten", "dense", "batchnorm1d", "tanh", "identity", "dense",
    ]  # fmt: skip
    assert net.nodes[1].layer.eps == 1e-3 and net.nodes[4].layer.bias.value == "none"
    assert sorted(values.params) == sorted(net.param_shapes())
    np.testing.assert_array_equal(values.params["0.weight"], model[0].weight.detach().numpy())
    loss = nn.functional.cross_entropy(model(x), target)
    loss.backward()
    run = net.derive(prove=False).evaluate(values)
    assert run.loss == pytest.approx(float(loss.detach()), rel=1e-10)
    np.testing.assert_allclose(run.grads["input"], x.grad.numpy(), rtol=1e-8, atol=1e-12)
    torch_params = {  # model[11] is the nested Sequential: its Linear is layer 12
        "0.weight": model[0].weight, "0.bias": model[0].bias, "1.weight": model[1].weight,
        "1.bias": model[1].bias, "4.weight": model[4].weight, "8.weight": model[8].weight,
        "8.bias": model[8].bias, "9.weight": model[9].weight, "9.bias": model[9].bias,
        "12.weight": model[11][1].weight, "12.bias": model[11][1].bias,
    }  # fmt: skip
    assert set(torch_params) == set(run.grads) - {"input"}
    for name, tensor in torch_params.items():
        np.testing.assert_allclose(
            run.grads[name], tensor.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name
        )


def test_grouped_and_transposed_convolutions_leaky_relu_and_global_pooling():
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1, groups=2),
        nn.LeakyReLU(0.2),
        nn.ConvTranspose2d(4, 2, 2, stride=2),
        nn.BatchNorm2d(2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(2, 3),
    ).double()
    x, target = _numbers(model, (2, 2, 3, 3), 3, seed=3)
    net, values = symcnn.from_torch(
        model, (2, 2, 3, 3), loss="cross_entropy", reduction="sum", x=x, target=target
    )
    assert net.nodes[0].layer.groups == 2 and net.nodes[1].layer.negative_slope == 0.2
    assert net.nodes[2].layer.output_shape == (2, 6, 6)
    loss = nn.functional.cross_entropy(model(x), target, reduction="sum")
    loss.backward()
    run = net.derive(prove=False).evaluate(values)
    assert run.loss == pytest.approx(float(loss.detach()), rel=1e-10)
    np.testing.assert_allclose(run.grads["input"], x.grad.numpy(), rtol=1e-8, atol=1e-12)
    for name, tensor in {
        "0.weight": model[0].weight, "2.weight": model[2].weight, "2.bias": model[2].bias,
        "3.weight": model[3].weight, "6.weight": model[6].weight,
    }.items():  # fmt: skip
        np.testing.assert_allclose(run.grads[name], tensor.grad.numpy(), rtol=1e-8, atol=1e-12)
    with pytest.raises(symcnn.SymcnnError, match="output_size = 2: symcnn derives the global"):
        symcnn.from_torch(nn.Sequential(nn.AdaptiveAvgPool2d(2)), (1, 4, 4))


def test_one_sample_and_zeros_for_the_numbers_not_given():
    model = nn.Sequential(nn.Linear(4, 2), nn.Tanh())
    net, values = symcnn.from_torch(model, (4,))
    assert net.batch is None and net.describe() == "input 4 → 0 dense 2 → 1 tanh 2 → loss mse"
    assert values.input.shape == (4,) and values.target.shape == (2,)
    assert values.params["0.weight"].dtype == np.float64


@pytest.mark.parametrize(
    "model, message",
    [
        (nn.Sequential(nn.Linear(3, 2), nn.Dropout()),
         "model[1] is Dropout, which symcnn does not derive; supported modules: Conv2d,"),
        (nn.Sequential(nn.Conv2d(1, 1, 2, padding_mode="reflect")),
         "model[0] (Conv2d): padding_mode = 'reflect': symcnn pads with zeros"),
        (nn.Sequential(nn.MaxPool2d(2, padding=1)),
         "model[0] (MaxPool2d): padding = 1: symcnn pools without it"),
        (nn.Sequential(nn.Flatten(0)), "model[0] (Flatten): Flatten(start_dim=0, end_dim=-1)"),
        (nn.Sequential(nn.BatchNorm1d(3).eval()),
         "model[0] (BatchNorm1d): it is in eval mode (running statistics)"),
        (nn.Linear(3, 2), "from_torch takes a torch.nn.Sequential, got Linear"),
    ],
)  # fmt: skip
def test_unsupported_modules_are_named(model, message):
    with pytest.raises(symcnn.SymcnnError) as err:
        symcnn.from_torch(model, (2, 3))
    assert str(err.value).startswith(message), str(err.value)


def test_shapes_that_do_not_fit_are_the_network_error():
    with pytest.raises(symcnn.SymcnnError, match="in_features = 5, but its input has 3 features"):
        symcnn.from_torch(nn.Sequential(nn.Linear(5, 2)), (3,))

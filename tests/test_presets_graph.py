"""The presets with batches, batch norm and a skip connection, against PyTorch autograd in float64.

The pedestrians' LeNet-5 ("Deep learning for pedestrians: backpropagation in CNNs",
arXiv:1811.11987, whose own PyTorch code checks every hand-derived gradient) is built in torch
layer for layer as the paper's code builds it (conv → tanh → batch norm → max-pool, …), its
weights copied into symcnn's parameters by layer index.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import symcnn
from symcnn.graph.presets import preset_text


def _lenet_torch(torch, size):
    nn = torch.nn
    flat = 16 * (((size - 4) // 2 - 4) // 2) ** 2
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.BatchNorm2d(6),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.BatchNorm2d(16),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(flat, 120),
        nn.Tanh(),
        nn.BatchNorm1d(120),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.BatchNorm1d(84),
        nn.Linear(84, 10),
    ).double()


def _compare(torch, net, model, seed):
    """symcnn's loss and gradients against torch's for the same weights, input and target."""
    gen = torch.Generator().manual_seed(seed)
    for p in model.parameters():  # γ, β away from their initial 1, 0
        with torch.no_grad():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64) - 0.5)
    x = torch.randn(net.batched(net.input), generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    logits = torch.randn(net.batched(net.output_shape), generator=gen, dtype=torch.float64)
    target = torch.softmax(logits, 1)
    loss = torch.nn.functional.cross_entropy(model(x), target, reduction=net.reduction)
    loss.backward()
    params = {}
    for index, module in enumerate(model):
        for name in ("weight", "bias"):
            tensor = getattr(module, name, None)
            if tensor is not None:
                params[f"{index}.{name}"] = tensor.detach().numpy()
    assert set(params) == set(net.param_shapes())
    values = {"input": x.detach().numpy(), "target": target.numpy(), "params": params}
    start = time.perf_counter()
    d = net.derive()
    run = d.evaluate(values)
    elapsed = time.perf_counter() - start
    assert d.all_proven
    assert run.loss == pytest.approx(float(loss.detach()), rel=1e-10)
    np.testing.assert_allclose(run.grads["input"], x.grad.numpy(), rtol=1e-8, atol=1e-12)
    for index, module in enumerate(model):
        for name in ("weight", "bias"):
            tensor = getattr(module, name, None)
            if tensor is not None:
                np.testing.assert_allclose(
                    run.grads[f"{index}.{name}"],
                    tensor.grad.numpy(),
                    rtol=1e-8,
                    atol=1e-12,
                    err_msg=f"{index}.{name}",
                )
    return elapsed


def test_lenet5_preset_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    net = symcnn.preset("lenet5-bn")
    assert (net.input, net.batch, net.reduction) == ((1, 16, 16), 2, "mean")
    _compare(torch, net, _lenet_torch(torch, 16), seed=1)


@pytest.mark.slow
def test_lenet5_on_28x28_inputs_in_a_batch_of_2_equals_torch_autograd():
    """The paper's own size: 28x28 digits, 256 features after the second pooling."""
    torch = pytest.importorskip("torch")
    text = preset_text("lenet5-bn").replace("input = [1, 16, 16]", "input = [1, 28, 28]")
    net = symcnn.parse_network(text)
    assert net.nodes[8].layer.output_shape == (256,)
    elapsed = _compare(torch, net, _lenet_torch(torch, 28), seed=2)
    print(f"LeNet-5, 28x28, batch 2: derive, prove, compile and run in {elapsed:.1f} s")


def test_residual_preset_equals_torch_autograd_and_sums_the_skip():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = symcnn.preset("residual")
    convs = [nn.Conv2d(2, 2, 3, padding=1, bias=False) for _ in range(2)]
    bns = [nn.BatchNorm2d(2) for _ in range(2)]
    head = nn.Linear(32, 3)
    modules = [convs[0], bns[0], None, convs[1], bns[1], None, None, None, head]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.parts = nn.ModuleList([m for m in modules if m is not None])

        def forward(self, x):
            branch = bns[1](convs[1](torch.relu(bns[0](convs[0](x)))))
            return head(torch.flatten(torch.relu(x + branch), 1))

        def __iter__(self):
            return iter(nn.Identity() if m is None else m for m in modules)

    model = Block().double()
    _compare(torch, net, model, seed=3)
    d = net.derive(prove=False)
    assert d.input_sources == (0, 5)  # the input's δ: from the first conv and from the skip


def test_upsampler_preset_equals_torch_autograd():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    net = symcnn.preset("upsampler")
    model = nn.Sequential(
        nn.ConvTranspose2d(2, 2, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.ConvTranspose2d(2, 1, 4, stride=2, padding=1),
        nn.Tanh(),
    ).double()
    gen = torch.Generator().manual_seed(4)
    for p in model.parameters():
        with torch.no_grad():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=torch.float64) - 0.5)
    x = torch.randn((2, 2, 3, 3), generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.rand((2, 1, 12, 12), generator=gen, dtype=torch.float64) * 2 - 1
    loss = 0.5 * ((model(x) - target) ** 2).sum() / 2  # the README's mse, mean over N = 2
    loss.backward()
    params = {
        f"{i}.{name}": getattr(m, name).detach().numpy()
        for i, m in enumerate(model)
        for name in ("weight", "bias")
        if getattr(m, name, None) is not None
    }
    d = net.derive()
    run = d.evaluate({"input": x.detach().numpy(), "target": target.numpy(), "params": params})
    assert d.all_proven
    assert run.loss == pytest.approx(float(loss.detach()), rel=1e-10)
    np.testing.assert_allclose(run.grads["input"], x.grad.numpy(), rtol=1e-8, atol=1e-12)
    for i, m in enumerate(model):
        for name in ("weight", "bias"):
            tensor = getattr(m, name, None)
            if tensor is not None:
                np.testing.assert_allclose(
                    run.grads[f"{i}.{name}"], tensor.grad.numpy(), rtol=1e-8, atol=1e-12
                )

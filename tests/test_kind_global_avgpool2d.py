"""global_avgpool2d against PyTorch's AdaptiveAvgPool2d(1) (float64) and plain loops; its proof,
index formula, the checker's named mistakes and bad input."""

from __future__ import annotations

import re

import numpy as np
import pytest
from reference import global_avgpool2d_backward
from test_sheet_indexed import evaluate

import symcnn
from symcnn import GlobalAvgPool2d, Role
from symcnn.cli import main
from symcnn.derivation.index import derive_general
from symcnn.errors import SpecError
from symcnn.testing import BackwardMismatch, check_layer_backward, compiled

SHAPES = [(1, 1, 1), (1, 3, 3), (2, 4, 3), (3, 2, 5), (4, 1, 6)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_matches_torch_and_plain_loops(shape) -> None:
    torch = pytest.importorskip("torch")
    layer = GlobalAvgPool2d(input=shape)
    assert layer.output_shape == (shape[0], 1, 1)
    rng = np.random.default_rng(sum(shape))
    x, delta = rng.normal(size=shape), rng.normal(size=layer.output_shape)
    _, num = compiled(layer)
    tx = torch.tensor(x[None], requires_grad=True)
    z = torch.nn.AdaptiveAvgPool2d(1)(tx)[0]
    (z * torch.tensor(delta)).sum().backward()
    np.testing.assert_allclose(num.forward(input=x), z.detach().numpy(), rtol=1e-14)
    grad = num(input=x, delta=delta)["input"]
    np.testing.assert_allclose(grad, tx.grad.numpy()[0], rtol=1e-14)
    np.testing.assert_allclose(grad, global_avgpool2d_backward(x, delta), rtol=1e-14)


@pytest.mark.parametrize("shape", SHAPES[1:], ids=str)
def test_the_closed_form_is_proven(shape) -> None:
    d = symcnn.derive(GlobalAvgPool2d(input=shape))
    assert d.all_proven
    (proof,) = d.identities
    assert proof.entries == int(np.prod(shape))
    assert f"up(δ)/{shape[1] * shape[2]}" in proof.statement


@pytest.mark.parametrize(("shape", "base"), [((1, 3, 2), 1), ((3, 2, 4), 0)], ids=str)
def test_index_formula_gradient_matches_plain_loops(shape, base: int) -> None:
    layer = GlobalAvgPool2d(input=shape)
    general, (rule,) = derive_general(layer, base)
    rng = np.random.default_rng(2)
    a, delta = rng.normal(size=shape), rng.normal(size=layer.output_shape)
    ref = global_avgpool2d_backward(a, delta)
    result = rule.steps[-1].rhs.subs(general.sizes)
    x = general.wrt[Role.INPUT]
    for idx in np.ndindex(*shape):
        shown = ([idx[0]] if shape[0] > 1 else []) + list(idx[1:])
        point = dict(zip(x.indices, [i + base for i in shown]))
        got = evaluate(result, point, {"a": (a, 1), "delta": (delta, 1)}, base)
        assert got == pytest.approx(ref[idx], abs=1e-12), idx


def test_a_right_backward_passes() -> None:
    layer = GlobalAvgPool2d(input=(3, 4, 2))
    assert check_layer_backward(layer, lambda x, d: np.broadcast_to(d, x.shape) / 8)


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda x, d: np.broadcast_to(d, x.shape).copy(), "gradient not divided by H·W = 8"),
        (lambda x, d: np.broadcast_to(d, x.shape) / 4, "divided by H = 4 only, not H·W = 8"),
        (lambda x, d: np.broadcast_to(d, x.shape) / 24, "divided by C·H·W = 24"),
        (
            lambda x, d: np.broadcast_to(d.sum(axis=0), x.shape) / 8,
            "channels mixed: every cell receives Σ_c δ[c]/(H·W)",
        ),
    ],
    ids=["not-divided", "by-H", "by-CHW", "channels-mixed"],
)
def test_classic_mistakes_are_named(fn, name: str) -> None:
    with pytest.raises(BackwardMismatch) as info:
        check_layer_backward(GlobalAvgPool2d(input=(3, 4, 2)), fn)
    text = str(info.value)
    found = re.search(r"^  gx: .*\n      likely mistake: (.*)$", text, re.M)
    assert found and found.group(1).startswith(name), text


def test_a_flat_input_is_refused(tmp_path, capsys) -> None:
    with pytest.raises(SpecError, match="needs a \\[C, H, W\\] input but gets a flat vector"):
        GlobalAvgPool2d(input=(6,))
    path = tmp_path / "net.toml"
    path.write_text(
        'input = [4]\nloss = "mse"\n[[layer]]\ntype = "dense"\nout_features = 2\n'
        '[[layer]]\ntype = "global_avgpool2d"\n'
    )
    code = main(["grad", "--network", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "line 6" in err and "layer 1 (global_avgpool2d)" in err
    code = main(["grad", "global_avgpool2d", "--input", "3x3", "--window", "2"])
    out, err = capsys.readouterr()
    assert code == 2 and "--window does not apply to global_avgpool2d" in err

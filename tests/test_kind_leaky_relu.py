"""leaky_relu against PyTorch's leaky_relu (float64, the kink at 0 included) and plain loops;
its printed forms, the checker's named mistakes and bad options."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import sympy
from reference import leaky_relu_backward

import symcnn
from symcnn import LeakyReLU, Role
from symcnn.cli import main
from symcnn.errors import SpecError
from symcnn.testing import BackwardMismatch, check_layer_backward, compiled, trial_inputs

SLOPES = [0.01, 0.2, 1.5, -0.3, 0.0]
SHAPES = [(5,), (1, 2, 3), (2, 3, 2)]


def _input(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Random entries, a third of them exactly 0 (the kink, where the rule is a choice)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=shape)
    x[rng.random(shape) < 1 / 3] = 0.0
    x.flat[0] = 0.0
    return x


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("slope", SLOPES, ids=str)
def test_forward_and_gradient_match_torch_at_the_kink_too(slope: float, shape) -> None:
    torch = pytest.importorskip("torch")
    layer = LeakyReLU(slope, input=shape)
    x = _input(shape, 3)
    delta = np.random.default_rng(4).normal(size=shape)
    _, num = compiled(layer)
    tx = torch.tensor(x, requires_grad=True)
    z = torch.nn.functional.leaky_relu(tx, slope)
    (z * torch.tensor(delta)).sum().backward()
    np.testing.assert_allclose(num.forward(input=x), z.detach().numpy(), rtol=1e-15, atol=0)
    grad = num(input=x, delta=delta)["input"]
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-15, atol=0)
    np.testing.assert_allclose(grad, leaky_relu_backward(x, delta, slope), rtol=1e-15, atol=0)


def test_default_slope_is_pytorchs() -> None:
    torch = pytest.importorskip("torch")
    assert LeakyReLU().negative_slope == torch.nn.LeakyReLU().negative_slope == 0.01


def test_printed_forms_carry_the_slope() -> None:
    d = symcnn.derive(LeakyReLU(0.2, input=(2,)))
    text, latex = d.text(), d.latex()
    assert "a_1 = leaky_relu(z_1, 0.2)" in text
    assert "∂E/∂z_1 = ∇a_1·([z_1 > 0] + 0.2·[z_1 ≤ 0])" in text
    assert r"\operatorname{lrelu}_{0.2}\left(z_{1}\right)" in latex
    assert "dE/dz_1 = grad_a_1*([z_1 > 0] + 0.2*[z_1 <= 0])" in d.text(unicode=False)


def test_json_formulas_evaluate_to_the_right_numbers() -> None:
    slope = 0.3
    data = symcnn.derive(LeakyReLU(slope, input=(4,))).to_json()
    x = np.array([-1.5, 0.0, 0.25, 2.0])
    delta = np.array([0.5, -2.0, 1.5, -1.0])
    names = {**dict(zip(data["symbols"]["input"], x)), **dict(zip(data["symbols"]["delta"], delta))}
    local = {n: sympy.Symbol(n) for n in names}
    subs = {local[n]: v for n, v in names.items()}
    forward = [float(sympy.parse_expr(f, local_dict=local).xreplace(subs)) for f in data["forward"]]
    grad = [
        float(sympy.parse_expr(f, local_dict=local).xreplace(subs)) for f in data["grad"]["input"]
    ]
    np.testing.assert_allclose(forward, np.where(x > 0, x, slope * x))
    np.testing.assert_allclose(grad, leaky_relu_backward(x, delta, slope))


def test_a_right_backward_passes_and_the_kink_trial_has_zeros() -> None:
    layer = LeakyReLU(0.1, input=(2, 3, 3))
    tie = trial_inputs(layer)[-1]
    assert tie.label == "tie trial" and np.any(tie.arrays[Role.INPUT] == 0)
    assert check_layer_backward(layer, lambda x, d: d * np.where(x > 0, 1.0, 0.1))


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (lambda x, d: d * (x > 0), "negative slope ignored: relu's derivative [x > 0]"),
        (
            lambda x, d: d * np.where(x >= 0, 1.0, 0.1),
            "derivative 1 at x = 0 (the bracket [x ≥ 0])",
        ),
        (lambda x, d: d * np.where(x > 0, 0.1, 1.0), "slope on the wrong side"),
        (lambda x, d: d.copy(), "δ passed through unchanged"),
    ],
    ids=["relu-derivative", "one-at-zero", "wrong-side", "no-derivative"],
)
def test_classic_mistakes_are_named(fn, name: str) -> None:
    with pytest.raises(BackwardMismatch) as info:
        check_layer_backward(LeakyReLU(0.1, input=(2, 3, 3)), fn)
    text = str(info.value)
    found = re.search(r"^  gx: .*\n      likely mistake: (.*)$", text, re.M)
    assert found and found.group(1).startswith(name), text


@pytest.mark.parametrize("value", ["steep", float("inf"), float("nan"), True, [0.1]], ids=str)
def test_a_bad_slope_is_refused(value) -> None:
    with pytest.raises(SpecError, match="negative_slope must be a finite number"):
        LeakyReLU(value)


def test_command_line_and_network_file(tmp_path, capsys) -> None:
    code = main(
        ["grad", "leaky_relu", "--input", "2", "--negative-slope", "0.25", "--format", "json"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["config"]["negative_slope"] == 0.25
    code = main(["grad", "leaky_relu", "--input", "2", "--negative-slope", "abc"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and "negative_slope" in err
    path = tmp_path / "net.toml"
    path.write_text(
        'input = [3]\nloss = "mse"\n[[layer]]\ntype = "leaky_relu"\nnegative_slope = "x"\n'
    )
    code = main(["grad", "--network", str(path)])
    out, err = capsys.readouterr()
    assert code == 2 and "line 5" in err and err.count("\n") == 1

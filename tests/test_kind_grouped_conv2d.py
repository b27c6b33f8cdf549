"""conv2d with groups (grouped and depthwise convolutions) against PyTorch (float64) and plain
loops (tests/reference.py): numbers, proofs, index formulas, the checker, bad options."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from reference import grouped_conv2d_backward
from test_sheet_indexed import evaluate

import symcnn
from symcnn import Conv2d, Role
from symcnn.cli import main
from symcnn.derivation.index import derive_general
from symcnn.errors import SpecError
from symcnn.testing import (
    BackwardMismatch,
    check_conv2d_backward,
    check_layer_backward,
    compiled,
    configurations,
    spec_id,
)

#: Groups (grouped, depthwise, depthwise with a channel multiplier) over strides, paddings,
#: dilations and bias modes.
SWEEP = [
    *configurations(
        Conv2d,
        input=[(4, 4, 5)],
        kernel=[2, (3, 2)],
        out_channels=[4, 8],
        groups=[2, 4],
        stride=[1, (2, 1)],
        padding=[0, 1],
        dilation=[1, 2],
    ),
    *configurations(
        Conv2d,
        input=[(3, 4, 4), (6, 3, 3)],
        kernel=2,
        out_channels=[3, 6],
        groups=3,
        bias=["none", "shared", "untied"],
    ),
]


def _arrays(layer: Conv2d, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {
        "input": rng.normal(size=layer.input_shape),
        "weight": rng.normal(size=layer.weight_shape),
        "delta": rng.normal(size=layer.output_shape),
    }
    if layer.bias_shape is not None:
        out["bias"] = rng.normal(size=layer.bias_shape)
    return out


def test_the_sweep_covers_grouped_and_depthwise_convolutions() -> None:
    kinds = {
        "depthwise" if c.groups == c.input_shape[0] == c.out_channels
        else "multiplier" if c.groups == c.input_shape[0]
        else "grouped"
        for c in SWEEP
    }  # fmt: skip
    assert kinds == {"depthwise", "multiplier", "grouped"}
    assert {c.bias.value for c in SWEEP} == {"none", "shared", "untied"}
    assert all(c.weight_shape[1] == c.input_shape[0] // c.groups for c in SWEEP)


@pytest.mark.parametrize("layer", SWEEP, ids=spec_id)
def test_formulas_match_torch_autograd(layer: Conv2d) -> None:
    torch = pytest.importorskip("torch")
    arrays = _arrays(layer, 5)
    _, num = compiled(layer)
    grads = num(**arrays)
    x = torch.tensor(arrays["input"][None], requires_grad=True)
    w = torch.tensor(arrays["weight"], requires_grad=True)
    b = torch.tensor(arrays["bias"], requires_grad=True) if "bias" in arrays else None
    shared = b if layer.bias.value == "shared" else None
    z = torch.nn.functional.conv2d(
        x, w, shared, layer.stride, layer.padding, layer.dilation, layer.groups
    )[0]
    if layer.bias.value == "untied":
        z = z + b
    np.testing.assert_allclose(num.forward(**arrays), z.detach().numpy(), rtol=1e-12, atol=1e-12)
    (z * torch.tensor(arrays["delta"])).sum().backward()
    np.testing.assert_allclose(grads["input"], x.grad.numpy()[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["weight"], w.grad.numpy(), rtol=1e-12, atol=1e-12)
    if b is not None:
        np.testing.assert_allclose(grads["bias"], b.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer", SWEEP[::5], ids=spec_id)
def test_plain_loops_and_the_groups_side_by_side_are_proven(layer: Conv2d) -> None:
    arrays = _arrays(layer, 2)
    _, num = compiled(layer)
    grads = num(**arrays)
    ref = grouped_conv2d_backward(
        arrays["input"], arrays["weight"], arrays["delta"], layer.groups, layer.stride,
        layer.padding, layer.dilation,
    )  # fmt: skip
    np.testing.assert_allclose(grads["input"], ref["input"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["weight"], ref["weight"], rtol=1e-12, atol=1e-12)
    d = symcnn.derive(layer)
    assert d.all_proven
    grouped = [p for p in d.identities if p.role in (Role.INPUT, Role.WEIGHT)]
    assert len(grouped) == 2
    assert all("groups side by side" in p.statement for p in grouped)


def test_a_channel_of_another_group_has_no_term() -> None:
    """Input channel 0 feeds only the outputs of group 0: its gradient names no other δ."""
    layer = Conv2d(kernel=1, out_channels=4, groups=2, bias="none", input=(2, 1, 1))
    text = symcnn.derive(layer, index_base=0).text()
    row = next(line for line in text.splitlines() if line.strip().startswith("∂E/∂a_0"))
    assert "δ_0" in row and "δ_1" in row and "δ_2" not in row and "δ_3" not in row


@pytest.mark.parametrize(
    ("layer", "base"),
    [
        (Conv2d(kernel=2, out_channels=4, groups=2, stride=2, padding=1, input=(4, 4, 4)), 1),
        (Conv2d(kernel=(2, 3), out_channels=3, groups=3, dilation=2, input=(3, 5, 5)), 0),
        (Conv2d(kernel=2, out_channels=6, groups=3, bias="untied", input=(3, 4, 3)), 1),
    ],
    ids=["grouped", "depthwise", "multiplier"],
)
def test_index_formula_gradients_match_plain_loops(layer: Conv2d, base: int) -> None:
    general, rules = derive_general(layer, base)
    rng = np.random.default_rng(4)
    a = rng.normal(size=layer.input_shape)
    w = rng.normal(size=layer.weight_shape)
    delta = rng.normal(size=layer.output_shape)
    ref = grouped_conv2d_backward(
        a, w, delta, layer.groups, layer.stride, layer.padding, layer.dilation
    )
    arrays = {"a": (a, 1), "w": (w, 2), "delta": (delta, 1)}
    by_role = {r.role: r for r in rules}
    for role, shape, lead in ((Role.INPUT, a.shape, 1), (Role.WEIGHT, w.shape, 2)):
        result = by_role[role].steps[-1].rhs.subs(general.sizes)
        x = general.wrt[role]
        for idx in np.ndindex(*shape):
            shown = [i for i, n in zip(idx, shape[:lead]) if n > 1] + list(idx[lead:])
            point = dict(zip(x.indices, [i + base for i in shown]))
            got = evaluate(result, point, arrays, base)
            assert got == pytest.approx(ref[role.value][idx], abs=1e-9), (role, idx)


def test_depthwise_input_gradient_reads_its_own_channel_only() -> None:
    layer = Conv2d(kernel=2, out_channels=3, groups=3, input=(3, 4, 4))
    _, rules = derive_general(layer, 1)
    rule = next(r for r in rules if r.role is Role.INPUT)
    assert str(rule.steps[-1].rhs) == (
        "Sum(delta[c', i, j]*w[c', -i + u + 1, -j + v + 1], (i, 1, H_out), (j, 1, W_out))"
    )


# --- the checker ---------------------------------------------------------------------------


def grouped_loops(layer: Conv2d, bug: str = ""):
    """A grouped conv's backward pass by plain loops, right or with one bug: "dense" (the input
    gradient computed as if groups were 1, every output channel reaching every input channel
    through w[o, c mod C/G]) or "first-group" (every group's weight gradient reads the first
    group's input channels)."""
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation

    def backward(x, w, b, delta):
        c_in, h, wd = x.shape
        c_out, per, kh, kw = w.shape
        _, oh, ow = delta.shape
        gx, gw = np.zeros_like(x), np.zeros_like(w)
        for o in range(c_out):
            first = (o // (c_out // layer.groups)) * per
            for i in range(oh):
                for j in range(ow):
                    for m in range(kh):
                        for n in range(kw):
                            r, t = i * sh + m * dh - ph, j * sw + n * dw - pw
                            if not (0 <= r < h and 0 <= t < wd):
                                continue
                            for c in range(per):
                                read = c if bug == "first-group" else first + c
                                gw[o, c, m, n] += delta[o, i, j] * x[read, r, t]
                                if bug != "dense":
                                    gx[first + c, r, t] += delta[o, i, j] * w[o, c, m, n]
                            if bug == "dense":
                                for c in range(c_in):
                                    gx[c, r, t] += delta[o, i, j] * w[o, c % per, m, n]
        gb = None if b is None else delta.sum(axis=(1, 2))
        return gx, gw, gb

    return backward


def test_a_right_grouped_backward_passes_the_check() -> None:
    for layer in SWEEP[::9]:
        assert check_layer_backward(layer, grouped_loops(layer))


def test_check_conv2d_backward_takes_groups_and_a_grouped_weight_shape() -> None:
    layer = Conv2d(kernel=2, out_channels=4, groups=2, input=(4, 3, 3))
    fn = grouped_loops(layer)
    assert check_conv2d_backward(fn, (4, 3, 3), 2, out_channels=4, groups=2)
    assert check_conv2d_backward(fn, (3, 3), (4, 2, 2, 2), groups=2)


@pytest.mark.parametrize(
    ("bug", "slot", "name"),
    [
        ("dense", "gx", "channels read across groups"),
        ("first-group", "gw", "every group reads the first group's input channels"),
    ],
)
def test_group_mistakes_are_named(bug: str, slot: str, name: str) -> None:
    layer = Conv2d(kernel=2, out_channels=4, groups=2, padding=1, input=(4, 3, 3))
    with pytest.raises(BackwardMismatch) as info:
        check_layer_backward(layer, grouped_loops(layer, bug))
    text = str(info.value)
    found = re.search(rf"^  {slot}: .*\n      likely mistake: (.*)$", text, re.M)
    assert found and found.group(1).startswith(name), text


# --- options, errors and output ------------------------------------------------------------


def test_groups_must_divide_both_channel_counts() -> None:
    with pytest.raises(SpecError, match="groups = 3 does not divide out_channels = 4"):
        Conv2d(kernel=2, out_channels=4, groups=3)
    with pytest.raises(SpecError, match="groups = 2 does not divide the 3 input channels"):
        Conv2d(kernel=2, out_channels=4, groups=2, input=(3, 4, 4))
    with pytest.raises(SpecError, match="groups must be a whole number ≥ 1"):
        Conv2d(kernel=2, groups=0)


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_groups_errors_in_a_network_file_name_the_line(tmp_path, capsys) -> None:
    path = tmp_path / "net.toml"
    text = (
        'input = [4, 4, 4]\nloss = "mse"\n[[layer]]\ntype = "conv2d"\nkernel = [3, 3]\n'
        "groups = 3\nout_channels = 6\n"
    )
    path.write_text(text)
    code, out, err = _run(capsys, "grad", "--network", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "line 6" in err and "groups = 3 does not divide the 4 input channels" in err
    path.write_text(text.replace("groups = 3", "groups = 4").replace("= 6", "= 5"))
    code, out, err = _run(capsys, "grad", "--network", str(path))
    assert code == 2 and "line 6" in err and "does not divide out_channels = 5" in err
    # keys in any order: out_channels after groups is read before groups is checked
    path.write_text(text.replace("groups = 3", "groups = 2"))
    code, out, err = _run(capsys, "grad", "--network", str(path), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["layers"][0]["config"]["groups"] == 2


def test_the_command_line_takes_groups(capsys) -> None:
    code, out, _ = _run(
        capsys, "grad", "conv2d", "--input", "2x3x3", "--kernel", "2", "--out-channels", "2",
        "--groups", "2", "--format", "json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert data["config"]["groups"] == 2
    assert np.shape(data["symbols"]["weight"]) == (2, 1, 2, 2)
    code, _, err = _run(
        capsys, "grad", "conv2d", "--input", "3x3x3", "--kernel", "2", "--groups", "2"
    )
    assert code == 2 and err.count("\n") == 1 and "does not divide out_channels = 1" in err


def test_without_groups_the_configuration_has_no_groups_key(capsys) -> None:
    code, out, _ = _run(capsys, "grad", "conv2d", "--input", "3x3", "--kernel", "2", "--format",
                        "json")  # fmt: skip
    assert code == 0
    assert json.loads(out)["config"] == {
        "input": [3, 3], "kernel": [2, 2], "stride": [1, 1], "padding": [0, 0],
        "dilation": [1, 1], "in_channels": 1, "out_channels": 1, "bias": "shared",
        "index_base": 1,
    }  # fmt: skip


def test_the_help_examples_of_the_new_options_run(capsys) -> None:
    from symcnn.cli import help as examples

    lines = [
        line.split("symcnn ", 1)[1]
        for line in examples.GRAD.splitlines()
        if "--groups" in line or "--output-padding" in line
    ]
    assert len(lines) == 2
    for line in lines:
        assert main(line.split()) == 0
        out, err = capsys.readouterr()
        assert err == "" and "[proven]" in out and "[not proven]" not in out

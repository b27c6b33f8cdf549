"""conv_transpose2d against PyTorch's ConvTranspose2d (float64) and plain loops (tests/reference.py):
numbers, proofs, the size-independent formulas, the checker's named mistakes, bad options."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from reference import conv_transpose2d_backward, transposed_out_size
from test_sheet_indexed import evaluate

import symcnn
from symcnn import ConvTranspose2d, Role
from symcnn.cli import main
from symcnn.derivation.index import derive_general
from symcnn.errors import SpecError
from symcnn.testing import (
    BackwardMismatch,
    check_layer_backward,
    compiled,
    configurations,
    spec_id,
)

#: A sweep of strides, paddings, output paddings, dilations, channels and bias modes.
SWEEP = [
    *configurations(
        ConvTranspose2d,
        input=["2x3", (2, 3, 2)],
        kernel=[(2, 3), 3],
        stride=[1, 2, (2, 3)],
        padding=[0, (1, 0)],
        output_padding=[0, 1, (0, 1)],
        dilation=[1, (1, 2)],
    ),
    *configurations(
        ConvTranspose2d,
        input=[(2, 2, 2)],
        kernel=2,
        out_channels=[1, 3],
        stride=2,
        padding=1,
        output_padding=1,
        bias=["none", "shared", "untied"],
    ),
]


def _arrays(layer: ConvTranspose2d, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {
        "input": rng.normal(size=layer.input_shape),
        "weight": rng.normal(size=layer.weight_shape),
        "delta": rng.normal(size=layer.output_shape),
    }
    if layer.bias_shape is not None:
        out["bias"] = rng.normal(size=layer.bias_shape)
    return out


def test_the_sweep_covers_the_options() -> None:
    assert len(SWEEP) > 80
    assert {layer.output_padding for layer in SWEEP} == {(0, 0), (1, 1), (0, 1)}
    assert {layer.bias.value for layer in SWEEP} == {"none", "shared", "untied"}
    assert {layer.stride for layer in SWEEP} == {(1, 1), (2, 2), (2, 3)}


@pytest.mark.parametrize("layer", SWEEP, ids=spec_id)
def test_formulas_match_torch_autograd(layer: ConvTranspose2d) -> None:
    torch = pytest.importorskip("torch")
    arrays = _arrays(layer, 7)
    _, num = compiled(layer)
    grads = num(**arrays)
    x = torch.tensor(arrays["input"][None], requires_grad=True)
    w = torch.tensor(arrays["weight"], requires_grad=True)
    shared = layer.bias.value == "shared"
    b = torch.tensor(arrays["bias"], requires_grad=True) if "bias" in arrays else None
    z = torch.nn.functional.conv_transpose2d(
        x, w, b if shared else None, layer.stride, layer.padding, layer.output_padding, 1,
        layer.dilation,
    )[0]  # fmt: skip
    if layer.bias.value == "untied":
        z = z + b
    assert tuple(z.shape) == layer.output_shape
    np.testing.assert_allclose(num.forward(**arrays), z.detach().numpy(), rtol=1e-12, atol=1e-12)
    (z * torch.tensor(arrays["delta"])).sum().backward()
    np.testing.assert_allclose(grads["input"], x.grad.numpy()[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["weight"], w.grad.numpy(), rtol=1e-12, atol=1e-12)
    if b is not None:
        np.testing.assert_allclose(grads["bias"], b.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer", SWEEP[::7], ids=spec_id)
def test_formulas_match_plain_loops_and_the_closed_forms_are_proven(
    layer: ConvTranspose2d,
) -> None:
    arrays = _arrays(layer, 3)
    _, num = compiled(layer)
    grads = num(**arrays)
    ref = conv_transpose2d_backward(
        arrays["input"], arrays["weight"], arrays["delta"], layer.stride, layer.padding,
        layer.output_padding, layer.dilation,
    )  # fmt: skip
    np.testing.assert_allclose(grads["input"], ref["input"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grads["weight"], ref["weight"], rtol=1e-12, atol=1e-12)
    d = symcnn.derive(layer)
    assert d.all_proven
    names = [p.name for p in d.identities]
    assert names[0].startswith("input gradient: correlation of δ with the kernel")
    assert names[1].startswith("weight gradient: correlation of δ with the input")


def test_output_size_is_pytorchs_and_invalid_options_are_refused_as_pytorch_does() -> None:
    torch = pytest.importorskip("torch")
    x = torch.zeros((1, 1, 3, 2), dtype=torch.float64)
    accepted = 0
    for s in (1, 2, 3):
        for d in (1, 2):
            for op in (0, 1, 2, 3):
                for p in (0, 1, 2, 3):
                    w = torch.zeros((1, 1, 2, 2), dtype=torch.float64)
                    try:
                        shape = tuple(
                            torch.nn.functional.conv_transpose2d(x, w, None, s, p, op, 1, d).shape
                        )
                    except RuntimeError:
                        shape = None
                    try:
                        layer = ConvTranspose2d(
                            kernel=2, stride=s, padding=p, output_padding=op, dilation=d,
                            input=(1, 3, 2),
                        )  # fmt: skip
                    except SpecError:
                        assert shape is None, (s, d, op, p)
                        continue
                    assert shape is not None and shape[1:] == layer.output_shape, (s, d, op, p)
                    rows = transposed_out_size(3, 2, s, p, d, op)
                    assert layer.output_shape[1] == rows
                    accepted += 1
    assert 20 < accepted < 96


def test_index_formula_gradients_match_plain_loops() -> None:
    for layer, base in (
        (ConvTranspose2d(kernel=3, stride=2, padding=1, output_padding=1, input=(2, 2)), 1),
        (ConvTranspose2d(kernel=(2, 3), out_channels=2, stride=(1, 2), dilation=2,
                         bias="untied", input=(2, 2, 3)), 0),
    ):  # fmt: skip
        general, rules = derive_general(layer, base)
        rng = np.random.default_rng(1)
        a = rng.normal(size=layer.input_shape)
        w = rng.normal(size=layer.weight_shape)
        delta = rng.normal(size=layer.output_shape)
        ref = conv_transpose2d_backward(
            a, w, delta, layer.stride, layer.padding, layer.output_padding, layer.dilation
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


# --- the checker: hand-written backward passes, right and wrong ---------------------------


def transposed_loops(layer: ConvTranspose2d, bug: str = ""):
    """A backward pass written from the scatter definition, with one of the classic bugs:
    "flip" (kernel rotated in gx, as in conv2d's backward), "swap" (w[o, c] read, gradient in
    [O, C] layout), "stride" (stride ignored), "outpad" (δ's output_padding rows dropped),
    "rot-gw" (weight gradient not flipped back)."""

    def backward(x, w, b, delta):
        c_in, h, wd = x.shape
        _, c_out, kh, kw = w.shape
        _, oh, ow = delta.shape
        if bug == "outpad":
            oh, ow = oh - layer.output_padding[0], ow - layer.output_padding[1]
        (sh, sw) = (1, 1) if bug == "stride" else layer.stride
        (ph, pw), (dh, dw) = layer.padding, layer.dilation
        gx = np.zeros_like(x)
        gw = np.zeros((c_out, c_in, kh, kw)) if bug == "swap" else np.zeros_like(w)
        for c in range(c_in):
            for i in range(h):
                for j in range(wd):
                    for o in range(c_out):
                        for m in range(kh):
                            for n in range(kw):
                                r, t = i * sh - ph + m * dh, j * sw - pw + n * dw
                                if not (0 <= r < oh and 0 <= t < ow):
                                    continue
                                km, kn = (kh - 1 - m, kw - 1 - n) if bug == "flip" else (m, n)
                                wv = w[o, c, km, kn] if bug == "swap" else w[c, o, km, kn]
                                gx[c, i, j] += delta[o, r, t] * wv
                                if bug == "swap":
                                    gw[o, c, m, n] += delta[o, r, t] * x[c, i, j]
                                else:
                                    gw[c, o, m, n] += delta[o, r, t] * x[c, i, j]
        if bug == "rot-gw":
            gw = gw[..., ::-1, ::-1]
        gb = None if b is None else delta.sum(axis=(1, 2))
        return gx, gw, gb

    return backward


def _mistake(layer, fn, slot: str) -> str:
    with pytest.raises(BackwardMismatch) as info:
        check_layer_backward(layer, fn)
    text = str(info.value)
    found = re.search(rf"^  {slot}: .*\n      likely mistake: (.*)$", text, re.M)
    assert found, text
    return found.group(1)


def test_a_right_backward_pass_matches() -> None:
    for layer in SWEEP[::11]:
        assert check_layer_backward(layer, transposed_loops(layer))


def test_a_backward_pass_written_with_torch_matches() -> None:
    torch = pytest.importorskip("torch")
    layer = ConvTranspose2d(
        kernel=3, out_channels=2, stride=2, padding=1, output_padding=1, input=(2, 3, 3)
    )

    def backward(x, w, b, delta):
        x, w, b = (t.clone().requires_grad_(True) for t in (x, w, b))
        z = torch.nn.functional.conv_transpose2d(x[None], w, b, 2, 1, 1)[0]
        (z * delta).sum().backward()
        return x.grad, w.grad, b.grad

    assert check_layer_backward(layer, symcnn.testing.torch_fn(backward))


@pytest.mark.parametrize(
    ("bug", "slot", "name"),
    [
        ("flip", "gx", "kernel rotated by 180° (δ convolved with w, as in conv2d's input gradient"),
        ("swap", "gx", "weight axes swapped (w[o, c] read as if the weight were [O, C, KH, KW]"),
        ("swap", "gw", "weight axes swapped (gradient in [O, C, KH, KW] layout"),
        ("stride", "gx", "stride ignored (δ read at i + m·d − p, not i·s + m·d − p)"),
        ("stride", "gw", "stride ignored (δ read at i + m·d − p, not i·s + m·d − p)"),
        ("outpad", "gx", "output_padding ignored"),
        ("rot-gw", "gw", "kernel not flipped back (rot180 of ∂E/∂w"),
    ],
)
def test_classic_mistakes_are_named(bug: str, slot: str, name: str) -> None:
    layer = ConvTranspose2d(
        kernel=3, out_channels=2, stride=2, padding=1, output_padding=1, input=(2, 3, 3)
    )
    assert _mistake(layer, transposed_loops(layer, bug), slot).startswith(name)


# --- options and errors ------------------------------------------------------------------


def _run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--output-padding", "1"], "output_padding 1 along rows must be smaller than the stride"),
        (["--padding", "3"], "the output would have no rows"),
        (["--output-padding", "-1", "--stride", "2"], "output_padding -1x-1 is invalid"),
        (["--kernel", "0"], "kernel 0x0 is invalid"),
        (["--bias", "tied"], "unknown bias mode 'tied'"),
    ],
)
def test_bad_options_are_one_line_errors(capsys, options: list[str], message: str) -> None:
    args = ["grad", "conv_transpose2d", "--input", "3x3", "--kernel", "2", *options]
    code, out, err = _run(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_network_file_errors_name_the_line(tmp_path, capsys) -> None:
    path = tmp_path / "net.toml"
    path.write_text(
        'input = [1, 3, 3]\nloss = "mse"\n[[layer]]\ntype = "conv_transpose2d"\n'
        "kernel = [2, 2]\noutput_padding = 1\nstride = 1\n"
    )
    code, _, err = _run(capsys, "grad", "--network", str(path))
    assert code == 2 and "line 6" in err and "output_padding 1" in err and err.count("\n") == 1
    # with a stride of 2 the same output_padding is valid
    path.write_text(path.read_text().replace("stride = 1", "stride = 2"))
    code, out, _ = _run(capsys, "grad", "--network", str(path), "--format", "json")
    assert code == 0
    layer = json.loads(out)["layers"][0]
    assert layer["config"]["output_padding"] == [1, 1]


def test_the_command_line_prints_the_weight_axes_of_pytorch(capsys) -> None:
    code, out, _ = _run(
        capsys, "grad", "conv_transpose2d", "--input", "2x2x2", "--kernel", "2",
        "--out-channels", "3", "--format", "json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(out)
    assert np.shape(data["symbols"]["weight"]) == (2, 3, 2, 2)
    assert np.shape(data["symbols"]["delta"]) == (3, 3, 3)

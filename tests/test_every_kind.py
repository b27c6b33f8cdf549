"""Every registered layer kind, alone in a network, through the command line and the Python API.

The numbers are checked against central differences of a plain-loop NumPy forward pass
(tests/netref.py), which knows nothing of symcnn.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import sympy
from netref import finite_differences

import symcnn
from symcnn.cli import main

#: One configuration of every kind, every option spelled out (netref reads them), its input and
#: (optionally) a mini-batch; a kind that reads several tensors is given as a small network.
ALONE = {
    "conv2d": (
        {"type": "conv2d", "kernel": [2, 2], "out_channels": 2, "stride": [1, 2],
         "padding": [1, 0], "dilation": [1, 1], "bias": "shared", "groups": 1},
        [2, 3, 4],
    ),
    "conv_transpose2d": (
        {"type": "conv_transpose2d", "kernel": [2, 3], "out_channels": 2, "stride": [2, 1],
         "padding": [1, 0], "output_padding": [1, 0], "dilation": [1, 1], "bias": "untied"},
        [2, 2, 3],
    ),
    "maxpool2d": ({"type": "maxpool2d", "window": [2, 2], "stride": [1, 1]}, [1, 3, 3]),
    "avgpool2d": ({"type": "avgpool2d", "window": [2, 2], "stride": [2, 1]}, [2, 4, 3]),
    "global_avgpool2d": ({"type": "global_avgpool2d"}, [2, 3, 2]),
    "sigmoid": ({"type": "sigmoid"}, [1, 2, 2]),
    "tanh": ({"type": "tanh"}, [3]),
    "relu": ({"type": "relu"}, [2, 2, 2]),
    "leaky_relu": ({"type": "leaky_relu", "negative_slope": 0.2}, [1, 2, 3]),
    "identity": ({"type": "identity"}, [4]),
    "flatten": ({"type": "flatten"}, [2, 2, 2]),
    "dense": ({"type": "dense", "out_features": 3, "bias": True}, [4]),
    "batchnorm2d": ({"type": "batchnorm2d", "eps": 1e-5, "affine": True}, [2, 2, 2]),
    "batchnorm1d": ({"type": "batchnorm1d", "eps": 0.001, "affine": True}, [3], 2),
    "add": (
        [{"type": "tanh", "id": "t"}, {"type": "add", "inputs": ["input", "t", "t"]}],
        [2, 2, 2],
        2,
    ),
    "concat": (
        [{"type": "sigmoid", "id": "s"}, {"type": "concat", "inputs": ["s", "input"]}],
        [1, 2, 2],
    ),
}  # fmt: skip


def _case(kind: str) -> tuple[list[dict], list[int], int | None]:
    """The layers, input shape and batch (None: one sample) of a kind's configuration."""
    layers, shape, *batch = ALONE[kind]
    return (layers if isinstance(layers, list) else [layers]), shape, (batch or [None])[0]


def test_every_registered_kind_is_checked_here() -> None:
    assert set(ALONE) == set(symcnn.LAYERS)


def _toml(layers: list[dict], shape: list[int], batch: int | None = None) -> str:
    lines = [f"input = {shape}", 'loss = "mse"']
    if batch is not None:
        lines.append(f"batch = {batch}")
    for layer in layers:
        lines.append("[[layer]]")
        for key, value in layer.items():
            text = json.dumps(value).lower() if isinstance(value, bool) else json.dumps(value)
            lines.append(f"{key} = {text}")
    return "\n".join(lines) + "\n"


def _cli(capsys: pytest.CaptureFixture, *args: str) -> str:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    return out


@pytest.mark.parametrize("kind", list(ALONE))
def test_one_layer_network_of_each_kind_prints_and_its_formulas_are_right(
    kind: str, tmp_path, capsys
) -> None:
    layers, shape, batch = _case(kind)
    path = tmp_path / "net.toml"
    path.write_text(_toml(layers, shape, batch))
    text = _cli(capsys, "grad", "--network", str(path))
    assert f"layer {len(layers) - 1} {kind}" in text
    assert "backward, from the loss to the input:" in text
    latex = _cli(capsys, "grad", "--network", str(path), "--format", "latex")
    assert r"\begin{align*}" in latex and r"\frac{\partial E}{\partial x" in latex
    out = json.loads(
        _cli(capsys, "grad", "--network", str(path), "--format", "json", "--substitute", "all")
    )
    # the fully substituted formulas, in x, the parameters and t only, at random numbers
    rng = np.random.default_rng(sum(map(ord, kind)))
    net = symcnn.parse_network(path.read_text())
    x = rng.uniform(-1, 1, net.batched(net.input))
    if kind == "maxpool2d":  # distinct numbers: no window has a near-tie
        x = rng.permutation(x.size).reshape(x.shape) / x.size
    params = {name: rng.uniform(-1, 1, s) for name, s in net.param_shapes().items()}
    target = rng.uniform(-1, 1, net.batched(net.output_shape))
    numbers = dict(zip(np.ravel(out["symbols"]["input"]), x.ravel(), strict=True))
    numbers |= dict(zip(np.ravel(out["symbols"]["target"]), target.ravel(), strict=True))
    for entry in out["layers"]:
        for role, name in entry["params"].items():
            grid = np.ravel(entry["symbols"][role])
            numbers |= dict(zip(grid, params[name].ravel(), strict=True))
    local = {n: sympy.Symbol(n) for n in numbers}
    expected = finite_differences(layers, x, params, "mse", target, batch=batch)
    for key, reference in expected.items():
        formulas = np.ravel(out["substituted"]["formulas"][key])
        got = [
            float(
                sympy.parse_expr(f, local_dict=local).xreplace(
                    {local[k]: v for k, v in numbers.items()}
                )
            )
            for f in formulas
        ]
        np.testing.assert_allclose(
            np.reshape(got, reference.shape), reference, rtol=1e-5, atol=1e-7, err_msg=key
        )


@pytest.mark.subprocess
def test_every_kind_derives_and_prints_after_a_plain_import() -> None:
    """In a fresh interpreter: nothing needs importing but ``symcnn`` (no registration by
    import side effect)."""
    code = (
        "import symcnn, json\n"
        "for kind, (table, shape, *batch) in ALONE.items():\n"
        "    if isinstance(table, list):\n"
        "        continue  # a kind that reads several tensors lives in a network\n"
        "    options = {k: v for k, v in table.items() if k != 'type'}\n"
        "    layer = symcnn.LAYERS[kind](**options, input=tuple(shape))\n"
        "    d = symcnn.derive(layer, batch=(batch or [None])[0])\n"
        "    assert d.all_proven, kind\n"
        "    assert d.text() and d.latex() and json.dumps(d.to_json()), kind\n"
        "print('ok')\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", f"ALONE = {ALONE!r}\n{code}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_the_names_of_0_1_still_work_with_a_deprecation_warning() -> None:
    with pytest.warns(DeprecationWarning, match="symcnn.Conv2d"):
        old = symcnn.Conv2D(input=(3, 3), kernel=(2, 2), bias="untied", index_base=0)
    new = symcnn.derive(symcnn.Conv2d(kernel=2, bias="untied", input=(3, 3)), index_base=0)
    assert old.derive().text() == new.text()
    assert old.output_shape == (1, 2, 2)
    with pytest.warns(DeprecationWarning, match="symcnn.MaxPool2d"):
        assert symcnn.MaxPool2D(input=(4, 4), window=(2, 2)).derive().all_proven
    with pytest.warns(DeprecationWarning, match="symcnn.Linear"):
        dense_layer = symcnn.DenseLayer
    with pytest.warns(DeprecationWarning):
        layers = [symcnn.ConvLayer(kernel=2), symcnn.ActivationLayer("sigmoid"), dense_layer(1)]
    net = symcnn.Network([*layers[:2], symcnn.Flatten(), layers[2]], input=(1, 3, 3))
    assert net.describe().endswith("3 dense 1 → loss mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert symcnn.Conv2d is symcnn.LAYERS["conv2d"]  # the new names do not warn
    with pytest.raises(AttributeError, match="no attribute 'Conv3D'"):
        symcnn.Conv3D  # noqa: B018

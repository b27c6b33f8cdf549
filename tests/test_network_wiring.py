"""Network files with ids, from, inputs, batch and reduction: what the command line prints and
reads, and every bad input as one line naming the file's line (exit status 2)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import symcnn
from symcnn.cli import main

RESIDUAL = """\
input = [1, 3, 3]
batch = 2
loss = "mse"
reduction = "mean"

[[layer]]
id = "c"
type = "conv2d"
kernel = [2, 2]
padding = [1, 1]
stride = 2

[[layer]]
id = "r"
type = "relu"

[[layer]]
type = "add"
inputs = ["c", "r"]
"""


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _write(tmp_path, text):
    path = tmp_path / "net.toml"
    path.write_text(text)
    return path


def test_a_tensor_read_twice_gets_the_sum_of_both_deltas(tmp_path, capsys):
    code, out, err = _cli(capsys, "grad", "--network", str(_write(tmp_path, RESIDUAL)))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("network: input 1x3x3, batch 2 → 0 conv2d 1x2x2")
    assert "2 add(0, 1) 1x2x2 → loss mse (mean over the batch)" in lines[0]
    assert lines[1].startswith("loss: E = (1/2)·Σ_n E_n over the 2 samples, E_n = ½ Σ_k")
    assert (
        "  δ⁰ = ∂E/∂z⁰, at the output of layer 0 (conv2d), from ∇a¹ of layer 1 and δ² of "
        "layer 2 (paths merge: their errors add up):"
    ) in lines
    assert "    δ⁰_n2_12 = ∂E/∂z⁰_n2_12 = ∇a¹_n2_12·[z⁰_n2_12 > 0] + δ²_n2_12" in lines
    assert "    δ²_n1_11 = ∂E/∂s²_n1_11 = (s²_n1_11 - t_n1_11)/2" in lines  # the mean: ½·2/2
    # the weights are shared by the samples: their gradient sums over both
    assert "    ∂E/∂w⁰_11 = δ⁰_n1_22·x_n1_22 + δ⁰_n2_22·x_n2_22" in lines


def test_json_names_every_source_and_what_each_layer_reads(tmp_path, capsys):
    code, out, _ = _cli(
        capsys, "grad", "--network", str(_write(tmp_path, RESIDUAL)), "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["network"]["batch"] == 2 and data["network"]["reduction"] == "mean"
    assert [layer["reads"] for layer in data["network"]["layers"]] == [["input"], [0], [0, 1]]
    assert data["network"]["layers"][0]["id"] == "c"
    first = data["layers"][0]["delta"]
    assert first["from"] == 1 and first["sources"] == [1, 2]
    assert (
        first["formula"][1][0][0][1]
        == "d1_n2_12*Piecewise((1, z0_n2_12 > 0), (0, True)) + d2_n2_12"
    )
    add = data["layers"][2]
    assert add["grad"]["inputs"][0][0][0][0][0] == "d2_n1_11"
    assert np.shape(data["symbols"]["input"]) == (2, 1, 3, 3)


def test_run_takes_values_with_the_batch_axis(tmp_path, capsys):
    path = _write(tmp_path, RESIDUAL)
    net = symcnn.load_network(path)
    rng = np.random.default_rng(0)
    x, t = rng.uniform(-1, 1, (2, 1, 3, 3)), rng.uniform(-1, 1, (2, 1, 2, 2))
    w, b = rng.uniform(-1, 1, (1, 1, 2, 2)), rng.uniform(-1, 1, (1,))
    values = tmp_path / "values.json"
    values.write_text(
        json.dumps(
            {"input": x.tolist(), "target": t.tolist(),
             "params": {"0.weight": w.tolist(), "0.bias": b.tolist()}}
        )
    )  # fmt: skip
    code, out, err = _cli(
        capsys, "run", "--network", str(path), "--values", str(values), "--format", "json"
    )
    assert code == 0, err
    data = json.loads(out)
    # the plain forward pass, by hand: stride 2, padding 1, 2x2 kernel
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    z = np.array(
        [[[[np.sum(padded[n, 0, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] * w[0, 0]) + b[0]
            for j in range(2)] for i in range(2)]] for n in range(2)]
    )  # fmt: skip
    s = z + np.maximum(z, 0)
    assert data["loss"] == pytest.approx(0.5 * np.sum((s - t) ** 2) / 2, rel=1e-12)
    delta = (s - t) / 2
    assert data["layers"][0]["delta_sources"] == [1, 2]
    np.testing.assert_allclose(data["layers"][0]["delta"], delta * (z > 0) + delta, rtol=1e-12)
    assert net.describe() in data["network"]
    values.write_text(json.dumps({"input": x[0].tolist(), "target": t.tolist(), "params": {}}))
    code, _, err = _cli(capsys, "run", "--network", str(path), "--values", str(values))
    assert code == 2 and "input has shape [1, 3, 3], expected [2, 1, 3, 3]" in err


@pytest.mark.parametrize(
    "change, line, message",
    [
        (('inputs = ["c", "r"]', 'inputs = ["c", "rr"]'), 19,
         "layer 2 (add): inputs names 'rr', which is no layer's id (did you mean 'r'?); "
         "known: input, c, r"),
        (('id = "r"\ntype = "relu"', 'id = "r"\ntype = "relu"\nfrom = "r"'), 16,
         "layer 1 (relu): from names 'r', its own id; a layer reads only the input or earlier "
         "layers (no cycles)"),
        (('id = "c"\ntype = "conv2d"', 'id = "c"\ntype = "conv2d"\nfrom = "r"'), 9,
         "layer 0 (conv2d): from names 'r', layer 1, a later layer; a layer reads only the "
         "input or earlier layers (no cycles)"),
        (('id = "r"', 'id = "c"'), 14, 'layer 1: id "c" is already the id of layer 0'),
        (('inputs = ["c", "r"]', 'inputs = ["input", "r"]'), 19,
         "layer 2 (add): add needs tensors of one shape, got 1x3x3 and 1x2x2; its inputs: "
         "'input' is 1x3x3 (the network input), 'r' is 1x2x2 (layer 1 relu: same shape as its "
         "input)"),
        (('inputs = ["c", "r"]', 'from = "c"'), 19,
         'layer 2 (add) reads two or more tensors: name them with inputs = ["input", "<id>"]'),
        (('id = "r"\ntype = "relu"', 'id = "r"\ntype = "relu"\ninputs = ["c", "c"]'), 16,
         'layer 1 (relu) reads one tensor: name it with from = "<id>"'),
        (('inputs = ["c", "r"]', 'inputs = ["c", "r"]\nfrom = "c"'), 19,
         "layer 2: give from (one tensor) or inputs (several), not both"),
        (('id = "r"', 'id = "input"'), 14, 'layer 1: id "input" is reserved for the network input'),
        (('inputs = ["c", "r"]', 'inputs = ["c", "c"]'), 13,
         "layer 1 (relu): its output is read by no later layer and is not the network output"),
        (("batch = 2", "batch = 0"), 2, "batch must be a whole number ≥ 1, got 0"),
        (("batch = 2", 'batch = "2"'), 2, "batch must be an integer, got '2'"),
        (('reduction = "mean"', 'reduction = "avg"'), 4,
         "reduction must be one of sum, mean, got 'avg'"),
        (('id = "r"\ntype = "relu"', 'id = "r"\ntype = "batchnorm2d"\neps = 0'), 16,
         "layer 1: eps must be a number > 0 (it keeps √(σ² + ε) away from 0), got 0"),
        (('id = "r"\ntype = "relu"', 'id = "r"\ntype = "batchnorm2d"\neps = -1e-5'), 16,
         "layer 1: eps must be a number > 0"),
        (("batch = 2\n", ""), 0, None),  # no batch: one sample, no batch axis
    ],
)  # fmt: skip
def test_bad_wiring_is_one_line_naming_the_file_line(tmp_path, capsys, change, line, message):
    old, new = change
    assert old in RESIDUAL
    path = _write(tmp_path, RESIDUAL.replace(old, new))
    code, out, err = _cli(capsys, "grad", "--network", str(path))
    if message is None:
        assert code == 0, err
        return
    assert code == 2 and out == ""
    assert err.startswith(f"symcnn: error: {path} line {line}: {message}"), err
    assert len(err.strip().splitlines()) == 1


def test_batch_norm_of_one_value_per_channel_is_refused_with_its_line(tmp_path, capsys):
    text = 'input = [3]\nloss = "mse"\n\n[[layer]]\ntype = "batchnorm1d"\n'
    code, _, err = _cli(capsys, "grad", "--network", str(_write(tmp_path, text)))
    assert code == 2
    assert err.startswith(
        f"symcnn: error: {tmp_path / 'net.toml'} line 4: layer 0 (batchnorm1d): batchnorm1d "
        "needs more than one value per channel to take batch statistics (as PyTorch): give it "
        "a mini-batch of 2 or more samples (batch = 2 in a network file, --batch 2 for the layer "
        "alone)"
    )


def test_python_api_builds_the_same_graph_from_layer_objects():
    from_file = symcnn.parse_network(RESIDUAL)
    objects = symcnn.Network(
        [
            {"layer": symcnn.Conv2d(kernel=2, padding=1, stride=2), "id": "c"},
            {"layer": symcnn.ReLU(), "id": "r"},
            {"layer": symcnn.Add(), "inputs": ["c", "r"]},
        ],
        input=(1, 3, 3),
        batch=2,
        reduction="mean",
    )
    assert objects == from_file
    assert objects.describe() == from_file.describe()
    with pytest.raises(symcnn.SpecError, match="reads several tensors, so it is derived inside"):
        symcnn.derive(symcnn.Add(input=((2,), (2,))))
    with pytest.raises(symcnn.SpecError, match="a network has its own batch"):
        symcnn.derive(from_file, batch=3)


def test_from_torch_without_torch_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now fails
    with pytest.raises(symcnn.SymcnnError, match=r"from_torch needs PyTorch \(pip install torch\)"):
        symcnn.from_torch(object(), (3,))

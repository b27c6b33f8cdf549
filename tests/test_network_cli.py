"""The network commands: grad --network/--preset, run, presets; JSON read back; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy

from symcnn.cli import main
from symcnn.kinds.activation import sigmoid as Sigmoid

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_layer_form_of_grad_is_unchanged(capsys):
    code, out, _ = _cli(
        capsys, "grad", "conv2d", "--input", "3x3", "--kernel", "2x2", "--bias", "untied"
    )
    assert code == 0
    assert "  ∂E/∂a_22 = δ_11·w_22 + δ_12·w_21 + δ_21·w_12 + δ_22·w_11" in out.splitlines()


def test_grad_preset_prints_every_delta_with_its_source(capsys):
    code, out, _ = _cli(capsys, "grad", "--preset", "seed000")
    assert code == 0
    lines = out.splitlines()
    assert "  ∇a⁷ = ∂E/∂a⁷, at the output of layer 7 (sigmoid), from the loss:" in lines
    assert "  ∇v³ = ∂E/∂v³, at the output of layer 3 (flatten), from δ⁴ of layer 4:" in lines
    # seed 004: a pooling neuron feeding a dense layer gets Σ_i δ_i W_ij (through flatten here)
    assert "    ∇v³_2 = ∂E/∂v³_2 = δ⁴_1·w⁴_12 + δ⁴_2·w⁴_22" in lines
    assert "    δ⁰_11 = ∂E/∂z⁰_11 = δ¹_11·[z⁰_11 = argmax(z⁰_11, z⁰_12, z⁰_21, z⁰_22)]" in lines


def test_grad_network_file_latex_and_ascii(capsys):
    code, out, _ = _cli(
        capsys, "grad", "--network", str(EXAMPLES / "conv-sigmoid.toml"), "--format", "latex"
    )
    assert code == 0 and r"\delta^{(0)}_{11} = \frac{\partial E}{\partial z^{(0)}_{11}}" in out
    code, out, _ = _cli(capsys, "grad", "--preset", "seed003", "--ascii", "--substitute", "all")
    assert code == 0 and out.isascii()
    assert (
        "    d0_11 = dE/dz0_11 = grad_a1_11*sigmoid(z0_11)*(1 - sigmoid(z0_11))" in out.splitlines()
    )
    assert "fully substituted (in x, the parameters and t only):" in out


def _symbols(names, table):
    for item in names if isinstance(names, list) else [names]:
        if isinstance(item, list):
            _symbols(item, table)
        else:
            table[item] = sympy.Symbol(item)


def _pairs(exprs, values):
    if isinstance(exprs, list):
        for e, v in zip(exprs, values):
            yield from _pairs(e, v)
    else:
        yield exprs, values


OTHER_NET = """input = [2, 5, 4]
loss = "cross_entropy"
[[layer]]
type = "conv2d"
kernel = [2, 2]
out_channels = 2
padding = 1
bias = "untied"
[[layer]]
type = "relu"
[[layer]]
type = "avgpool2d"
window = [2, 2]
stride = 1
[[layer]]
type = "tanh"
[[layer]]
type = "flatten"
[[layer]]
type = "dense"
out_features = 3
[[layer]]
type = "sigmoid"
"""


@pytest.mark.parametrize("which", ["seed000", "other"])
def test_json_formulas_parse_back_and_evaluate_to_the_run_numbers(capsys, tmp_path, which):
    if which == "seed000":
        net = ["--preset", "seed000"]
    else:
        (tmp_path / "net.toml").write_text(OTHER_NET)
        net = ["--network", str(tmp_path / "net.toml")]
    code, out, _ = _cli(capsys, "grad", *net, "--format", "json")
    assert code == 0
    formulas = json.loads(out)
    code, out, _ = _cli(capsys, "run", *net, "--random", "3", "--format", "json")
    run = json.loads(out)

    names: dict[str, sympy.Symbol] = {}
    for layer in [*formulas["layers"], formulas["loss"]]:
        _symbols(list(layer["symbols"].values()), names)
    values: dict[sympy.Symbol, float] = {}

    def bind(name_tree, number_tree):
        for name, number in _pairs(name_tree, number_tree):
            values[names[name]] = number

    bind(formulas["symbols"]["input"], run["input"])
    bind(formulas["symbols"]["target"], run["target"])
    for layer, numbers in zip(formulas["layers"], run["layers"]):
        bind(layer["symbols"]["output"], numbers["output"])
        bind(layer["delta"]["symbols"], numbers["delta"])
        for role, pname in layer["params"].items():
            bind(layer["symbols"][role], run["params"][pname])

    def evaluate(text):
        return float(sympy.parse_expr(text, local_dict=names).xreplace(values))

    checked = 0
    for layer, numbers in zip(formulas["layers"], run["layers"]):
        for text, number in _pairs(layer["forward"], numbers["output"]):
            assert evaluate(text) == pytest.approx(number, rel=1e-9, abs=1e-12)
        for text, number in _pairs(layer["delta"]["formula"], numbers["delta"]):
            assert evaluate(text) == pytest.approx(number, rel=1e-9, abs=1e-12)
            checked += 1
        for role, pname in layer["params"].items():
            for text, number in _pairs(layer["grad"][role], run["grad"][pname]):
                assert evaluate(text) == pytest.approx(number, rel=1e-9, abs=1e-12)
                checked += 1
    for text, number in _pairs(formulas["grad"]["input"], run["grad"]["input"]):
        assert evaluate(text) == pytest.approx(number, rel=1e-9, abs=1e-12)
    assert evaluate(formulas["loss"]["forward"]) == pytest.approx(run["loss"], rel=1e-12)
    for text, number in _pairs(formulas["loss"]["grad"]["input"], run["layers"][-1]["delta"]):
        assert evaluate(text) == pytest.approx(number, rel=1e-9, abs=1e-12)
    assert checked > 40
    assert formulas["layers"][0]["delta"]["from"] == 1
    assert formulas["layers"][-1]["delta"]["from"] == "loss"
    assert f"{Sigmoid.__name__}(" not in json.dumps(formulas)  # σ: SymPy built-ins only


def test_run_prints_winners_and_an_sgd_step_that_lowers_the_loss(capsys):
    code, out, _ = _cli(
        capsys, "run", "--preset", "seed000", "--random", "0", "--format", "json", "--lr", "0.5"
    )
    assert code == 0
    run = json.loads(out)
    assert set(run["grad"]) == {
        "input",
        "0.weight",
        "0.bias",
        "4.weight",
        "4.bias",
        "6.weight",
        "6.bias",
    }
    pool = run["layers"][1]
    assert np.array(pool["winner_index"]).shape == (1, 2, 2, 3)
    z0 = np.array(run["layers"][0]["output"])
    for (c, i, j), name in np.ndenumerate(np.array(pool["winners"], dtype=object)):
        r, s = pool["winner_index"][c][i][j][1:]
        assert name == f"z0_{r + 1}{s + 1}"
        assert z0[c, r, s] == z0[c, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].max()
    assert run["sgd"]["loss_after"] < run["sgd"]["loss_before"] == run["loss"]
    code, out, _ = _cli(capsys, "run", "--preset", "seed000", "--random", "0", "--ascii")
    assert code == 0 and out.isascii() and "winners" in out


def test_run_with_a_values_file_and_a_given_delta(capsys, tmp_path):
    from symcnn import preset, random_values
    from symcnn.numeric.values import values_json

    path = tmp_path / "v.json"
    path.write_text(json.dumps(values_json(random_values(preset("seed000"), 4))))
    code, out, _ = _cli(
        capsys,
        "run",
        "--preset",
        "seed000",
        "--values",
        str(path),
        "--delta",
        "4=[0.25, -0.15]",
        "--format",
        "json",
    )
    assert code == 0
    run = json.loads(out)
    assert [layer["index"] for layer in run["layers"]] == [0, 1, 2, 3, 4]
    assert run["layers"][4]["delta"] == [0.25, -0.15] and run["layers"][4]["delta_from"] == "given"


def test_presets_command(capsys):
    code, out, _ = _cli(capsys, "presets")
    names = [line.split()[0] for line in out.splitlines() if line and not line[0].isspace()][:-1]
    assert code == 0 and names == sorted(names)
    assert {"conv-pool-dense", "conv-sigmoid", "lenet5-bn", "residual", "upsampler"} <= set(names)
    # the old names still work, and the listing says what each network is and reproduces
    assert "conv-pool-dense (also: seed000)" in out and "sigmoid -> dense 1 -> sigmoid" in out
    assert "reproduces reference explanation 003 (Chinese" in out
    code, out, _ = _cli(capsys, "presets", "--show", "seed003")
    assert out == (EXAMPLES / "conv-sigmoid.toml").read_text(encoding="utf-8")


# --- bad input: exit 2, one line, nothing written ----------------------------------------------

NET_ERRORS = [
    (
        'input = [1, 5, 5]\n[[layer]]\ntype = "conv2d"\nkernel = [2, 2]\n[[layer]]\n'
        'type = "maxpool2d"\nwindow = [2, 2]\n[[layer]]\ntype = "conv2d"\nkernel = [3, 3]\n',
        ["line 8", "layer 2 (conv2d)", "need 3 ≤ 2 + 2·0", "⌊(4 − 2)/2⌋ + 1 = 2"],
    ),
    (
        'input = [1, 4, 4]\n[[layer]]\ntype = "maxpool2d"\nwindow = 2\n[[layer]]\n'
        'type = "dense"\nout_features = 2\n',
        ["line 5", "layer 1 (dense)", "flatten", "1·2·2 = 4"],
    ),
    (
        'input = [1, 4, 4]\n[[layer]]\ntype = "flatten"\n[[layer]]\ntype = "dense"\n'
        "out_features = 2\nin_features = 5\n",
        ["layer 1 (dense)", "in_features = 5", "16 features"],
    ),
    (
        'input = [1, 5, 5]\n\n[[layer]]\ntype = "conv3d"\n',
        ["line 4", "unknown layer type 'conv3d'"],
    ),
    (
        'input = [1, 5, 5]\n[[layer]]\ntype = "conv2d"\nkernal = [2, 2]\n',
        ["line 4", "unknown key 'kernal'", "did you mean 'kernel'"],
    ),
    ('input = [1, 5, 5]\n[[layer]]\ntype = "conv2d"\nkernel = "2y2"\n', ["line 4", "'2y2'"]),
    ("input = [1, 5, 5]\nlayers = 3\n", ["line 2", "unknown key 'layers'"]),
    (
        'input = [1, 4, 4]\n[[layer]]\ntype = "flatten"\nloss = "mse"\n',
        ["line 4", "'loss' belongs at the top"],
    ),
    (
        'input = [1, 5, 5]\n[[layer]]\ntype = "conv2d"; kernel = 2\n',
        ["line 3", "one key = value per line"],
    ),
    (
        'input = [1, 4, 4]\nloss = "hinge"\n[[layer]]\ntype = "flatten"\n',
        ["line 2", "unknown loss"],
    ),
    (
        'input = [1, 4, 4]\nloss = "cross_entropy"\n[[layer]]\ntype = "relu"\n',
        ["cross_entropy needs a flat output"],
    ),
    ('input = "5x5"\n[[layer]]\ntype = "relu"\n', ["line 1", "input must be an array"]),
    ('loss = "mse"\n[[layer]]\ntype = "relu"\n', ["missing input"]),
    ("input = [1, 4, 4]\n", ["no layers"]),
    ("input = [1, 4, 4]\n[[layer]]\nkernel = 2\n", ["line 2", "needs a type"]),
    ('input = [1, 5, 5]\nindex_base = 2\n[[layer]]\ntype = "relu"\n', ["line 2", "0 or 1"]),
    (
        'input = [1, 5, 5]\n[loss]\ntype = "mse"\nfoo = 1\n[[layer]]\ntype = "relu"\n',
        ["line 4", "unknown key 'foo' in [loss]"],
    ),
    (
        'input = [1, 5, 5]\n[[layer]]\ntype = "conv2d"\nkernel = 2\nbias = true\n',
        ["line 5", "unknown bias mode True"],
    ),
]


def test_a_loss_table_may_follow_the_layers():
    from symcnn import parse_network

    text = (
        'input = [3]\n[[layer]]\ntype = "dense"\nout_features = 2\n[loss]\ntype = "cross_entropy"\n'
    )
    net = parse_network(text)
    assert net.loss.kind == "cross_entropy"
    assert net.param_shapes() == {"0.weight": (2, 3), "0.bias": (2,)}


@pytest.mark.parametrize(("toml", "needles"), NET_ERRORS)
def test_bad_network_files_exit_2_with_one_line(capsys, tmp_path, toml, needles):
    path = tmp_path / "net.toml"
    path.write_text(toml)
    for command in (["grad"], ["run", "--random", "0"]):
        code, out, err = _cli(capsys, *command, "--network", str(path))
        assert code == 2 and out == ""
        assert err.count("\n") == 1 and err.startswith(f"symcnn: error: {path}")
        for needle in needles:
            assert needle in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.toml"]


def _values(**change):
    base = {
        "input": np.zeros((1, 3, 3)).tolist(),
        "target": np.zeros((1, 2, 2)).tolist(),
        "params": {
            "0.weight": np.ones((1, 1, 2, 2)).tolist(),
            "0.bias": np.zeros((1, 2, 2)).tolist(),
        },
    }
    for key, value in change.items():
        if key.startswith("p_"):
            name = key[2:].replace("_", ".")
            if value is None:
                del base["params"][name]
            else:
                base["params"][name] = value
        elif value is None:
            del base[key]
        else:
            base[key] = value
    return json.dumps(base)


VALUE_ERRORS = [
    (_values(input=None), ["missing input", "[1, 3, 3]"]),
    (_values(target=[1, 2]), ["target has shape [2], expected [1, 2, 2]"]),
    (_values(p_0_bias=None), ["missing params.0.bias", "[1, 2, 2]"]),
    (_values(p_0_weight=[[1, 2]]), ["params.0.weight has shape [1, 2], expected [1, 1, 2, 2]"]),
    (_values(p_1_weight=[1]), ["unknown parameter '1.weight'", "0.weight, 0.bias"]),
    (_values(input=[[[1, 2, 3], [1, 2], [1, 2, 3]]]), ["input is not a rectangular array"]),
    (_values(inputs=1), ["unknown key 'inputs'"]),
    ('{"input": [1, 2,}', ["invalid JSON at line 1 column 17"]),
]


@pytest.mark.parametrize(("text", "needles"), VALUE_ERRORS)
def test_bad_values_files_exit_2_with_one_line(capsys, tmp_path, text, needles):
    path = tmp_path / "values.json"
    path.write_text(text)
    code, out, err = _cli(capsys, "run", "--preset", "seed003", "--values", str(path))
    assert code == 2 and out == "" and err.count("\n") == 1
    for needle in needles:
        assert needle in err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["grad", "--preset", "seed03"], "did you mean 'seed003'"),
        (["grad", "--preset", "seed003", "--kernel", "2"], "--kernel does not apply"),
        (["grad", "conv2d", "--input", "3x3", "--kernel", "2", "--preset", "seed003"], "not both"),
        (["grad", "--network", "missing.toml"], "missing.toml: no such file"),
        (["grad", "conv2d", "--input", "3x3", "--kernel", "2", "--substitute", "all"], "networks"),
        (["run", "--preset", "seed003"], "--values FILE.json or --random SEED"),
        (["run", "--preset", "seed003", "--random", "1", "--lr", "-1"], "--lr must be a positive"),
        (
            ["run", "--preset", "seed000", "--random", "1", "--delta", "4=[1]"],
            "shape [1], expected [2]",
        ),
        (["run", "--preset", "seed000", "--random", "1", "--delta", "9=[1]"], "no layer 9"),
        (["run", "--random", "1"], "--network FILE.toml or --preset NAME"),
        (["run", "--preset", "seed000", "--random", "1", "--max-terms", "1"], "limit of 1"),
        (["grad", "--preset", "seed000", "--max-terms", "1"], "limit of 1"),
        (["run", "--preset", "seed000", "--random", "1", "--max-terms", "-5"], "≥ 1"),
        (["grad", "conv2d", "--input", "3", "--kernel", "2", "--max-terms", "0"], "≥ 1"),
        (
            ["run", "--preset", "seed000", "--random", "1", "--delta", "4=[1,2]", "--lr", "0.1"],
            "use one of them",
        ),
    ],
)
def test_bad_command_lines_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = _cli(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and needle in err


def test_cross_entropy_targets_must_be_a_distribution(capsys, tmp_path):
    net = tmp_path / "ce.toml"
    net.write_text(
        'input = [2]\nloss = "cross_entropy"\n[[layer]]\ntype = "dense"\nout_features = 2\n'
    )
    values = tmp_path / "v.json"
    values.write_text(
        json.dumps(
            {
                "input": [1, 2],
                "target": [0.5, 0.2],
                "params": {"0.weight": [[1, 0], [0, 1]], "0.bias": [0, 0]},
            }
        )
    )
    code, _out, err = _cli(capsys, "run", "--network", str(net), "--values", str(values))
    assert code == 2 and "probability vector" in err and "sum 0.7" in err


@pytest.mark.subprocess
def test_the_installed_command_runs_a_preset_as_a_process():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "symcnn",
            "run",
            "--preset",
            "seed003",
            "--random",
            "2",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    run = json.loads(proc.stdout)
    assert isinstance(run["loss"], float) and len(run["layers"]) == 2

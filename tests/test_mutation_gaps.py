"""Eight places where a one-character bug survived the whole suite (issue 14), each pinned here.

Every expectation is independent of symcnn's own output: a hand-computed value, a string
written from the documented convention, or a plain-loop NumPy reference.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import symengine as se
import sympy
from netref import finite_differences

import symcnn
from symcnn.cli import main


def _run_json(capsys, argv):
    status = main(argv)
    out = capsys.readouterr().out
    assert status == 0, out
    return json.loads(out)


# 1. a closed form that differs in exactly one entry is NOT proven -----------------------


def test_an_identity_wrong_in_a_single_entry_is_not_proven():
    from symcnn.derivation.proofs import prove_equal

    d = symcnn.derive(symcnn.Conv2d(kernel=(2, 2), out_channels=2, input=(3, 3)))
    delta = d.forward.grids[symcnn.Role.DELTA].symbols
    closed = np.empty((2,), dtype=object)
    closed[0] = se.Add(*delta[0].ravel())  # right: Σ δ over the first channel
    closed[1] = se.Add(*delta[1].ravel()[1:])  # wrong: one δ of the second channel left out
    result = prove_equal("bias", "∂E/∂b_o = Σ δ_o", "", closed, d.grads[symcnn.Role.BIAS])
    assert (result.proven, result.mismatches, result.entries) == (False, 1, 2)
    closed[1] = se.Add(*delta[1].ravel())
    assert prove_equal("bias", "", "", closed, d.grads[symcnn.Role.BIAS]).proven


# 2. relu'(0) = 0, as PyTorch -----------------------------------------------------------


RELU_AT_ZERO = """\
input = [2]
loss = "mse"
[[layer]]
type = "dense"
out_features = 3
[[layer]]
type = "relu"
"""


def test_relu_gradient_is_zero_at_a_pre_activation_of_exactly_zero(tmp_path, capsys):
    # z = W·x + b = (0, 0, 2); a = relu(z) = (0, 0, 2); δa = a − t = (−0.3, 0.2, 1.4);
    # δz = δa·[z > 0] = (0, 0, 1.4), which is also ∂E/∂b (worked out by hand)
    net = tmp_path / "net.toml"
    net.write_text(RELU_AT_ZERO)
    values = tmp_path / "values.json"
    values.write_text(
        json.dumps(
            {
                "input": [1.0, 1.0],
                "target": [0.3, -0.2, 0.6],
                "params": {
                    "0.weight": [[0.5, -0.5], [1.0, -1.0], [1.0, 1.0]],
                    "0.bias": [0.0, 0.0, 0.0],
                },
            }
        )
    )
    out = _run_json(
        capsys, ["run", "--network", str(net), "--values", str(values), "--format", "json"]
    )
    assert out["layers"][0]["output"] == [0.0, 0.0, 2.0]
    np.testing.assert_allclose(out["grad"]["0.bias"], [0.0, 0.0, 1.4], atol=1e-15)
    np.testing.assert_allclose(out["grad"]["0.weight"], [[0, 0], [0, 0], [1.4, 1.4]], atol=1e-15)


# 3. --substitute all leaves only x, the parameters and t, and gives the right numbers ----


def test_fully_substituted_formulas_hold_no_intermediate_symbol_and_evaluate_right(capsys):
    out = _run_json(
        capsys, ["grad", "--preset", "seed003", "--format", "json", "--substitute", "all"]
    )
    formulas = out["substituted"]["formulas"]
    names = {n for grid in out["symbols"].values() for n in np.ravel(grid)}
    layer0 = out["layers"][0]["symbols"]
    names |= {n for role in ("weight", "bias") for n in np.ravel(layer0[role])}
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (1, 3, 3))
    w = rng.uniform(-1, 1, (1, 1, 2, 2))
    b = rng.uniform(-1, 1, (1, 2, 2))
    t = rng.uniform(0, 1, (1, 2, 2))
    numbers = dict(zip(np.ravel(out["symbols"]["input"]), x.ravel(), strict=True))
    numbers |= dict(zip(np.ravel(out["symbols"]["target"]), t.ravel(), strict=True))
    numbers |= dict(zip(np.ravel(layer0["weight"]), w.ravel(), strict=True))
    numbers |= dict(zip(np.ravel(layer0["bias"]), b.ravel(), strict=True))
    local = {n: sympy.Symbol(n) for n in numbers}
    local["sigmoid"] = lambda v: 1 / (1 + sympy.exp(-v))
    layers = [
        {"type": "conv2d", "kernel": [2, 2], "stride": [1, 1], "padding": [0, 0],
         "dilation": [1, 1], "out_channels": 1, "bias": "untied"},
        {"type": "sigmoid"},
    ]  # fmt: skip
    fd = finite_differences(layers, x, {"0.weight": w, "0.bias": b}, "mse", t)
    for key in ("0.weight", "0.bias"):
        got = []
        for text in np.ravel(formulas[key]):
            expr = sympy.parse_expr(text, local_dict=local)
            assert {str(s) for s in expr.free_symbols} <= names, text
            got.append(float(expr.xreplace({local[k]: v for k, v in numbers.items()})))
        np.testing.assert_allclose(np.reshape(got, fd[key].shape), fd[key], rtol=1e-5, atol=1e-8)


# 4. LaTeX matrix headings carry the same index base as the entries ------------------------


@pytest.mark.parametrize("base", [0, 1])
def test_latex_matrix_headings_of_channels_follow_the_index_base(base):
    layer = symcnn.Conv2d(kernel=(1, 1), out_channels=2, bias="none", input=(2, 2, 2))
    latex = symcnn.derive(layer, index_base=base).latex()
    first, second = base, base + 1
    for head in (
        rf"\frac{{\partial E}}{{\partial a^{{({first})}}}} = \begin{{bmatrix}}",
        rf"\frac{{\partial E}}{{\partial a^{{({second})}}}} = \begin{{bmatrix}}",
        rf"\frac{{\partial E}}{{\partial w^{{({second},{first})}}}} = \begin{{bmatrix}}",
    ):
        assert head in latex
    # and the entries inside use the same base
    assert rf"\delta^{{({second})}}_{{{first}{first}}}" in latex


# 5. a grid whose largest index is exactly 10 separates row and column --------------------


def test_a_grid_reaching_index_10_separates_row_and_column(capsys):
    out = _run_json(
        capsys, ["grad", "conv2d", "--input", "10x8", "--kernel", "2x2", "--format", "json"]
    )
    names = set(np.ravel(out["symbols"]["input"]))
    assert {"a_10_8", "a_1_1", "a_9_8"} <= names
    assert not names & {"a_108", "a_11"}
    assert {"d_97", "d_11"} <= set(np.ravel(out["symbols"]["delta"]))  # 9x7: below 10, compact
    # one below: a 9x8 input keeps the run-together names
    out = _run_json(
        capsys, ["grad", "conv2d", "--input", "9x8", "--kernel", "2x2", "--format", "json"]
    )
    assert {"a_98", "a_11"} <= set(np.ravel(out["symbols"]["input"]))


# 6. products print in grid order, δ first, also with channels -----------------------------


def test_multi_channel_products_print_input_before_weight_and_delta_first():
    layer = symcnn.Conv2d(kernel=(1, 1), out_channels=2, bias="none", input=(2, 2, 2))
    lines = symcnn.derive(layer).text().splitlines()
    assert "  z_1_11 = a_1_11·w_1_1_11 + a_2_11·w_1_2_11" in lines
    assert "  ∂E/∂a_2_12 = δ_1_12·w_1_2_11 + δ_2_12·w_2_2_11" in lines
    assert "  ∂E/∂w_2_1_11 = δ_2_11·a_1_11 + δ_2_12·a_1_12 + δ_2_21·a_1_21 + δ_2_22·a_1_22" in lines
    # three input channels, one output channel: the weight keeps its channel index only
    layer = symcnn.Conv2d(kernel=(1, 1), bias="none", input=(3, 2, 2))
    lines = symcnn.derive(layer).text().splitlines()
    assert "  z_11 = a_1_11·w_1_11 + a_2_11·w_2_11 + a_3_11·w_3_11" in lines


# 7. a doubled shared-bias gradient with exactly 3 output channels is named ----------------


def test_a_constant_factor_on_three_bias_entries_is_diagnosed():
    from symcnn.testing import compare_layer_backward

    layer = symcnn.Conv2d(kernel=(1, 1), out_channels=3, input=(2, 2))

    def backward(x, w, b, delta):  # right input and weight gradients, bias gradient doubled
        gx = np.einsum("oij,oc->cij", delta, w[:, :, 0, 0])
        gw = np.einsum("oij,cij->oc", delta, x)[:, :, None, None]
        return gx, gw, 2 * delta.sum(axis=(1, 2))

    result = compare_layer_backward(layer, backward)
    assert not result.ok
    assert "gb: 3 of 3 entries wrong" in result.message
    assert "off by a constant factor 2" in result.message


# 8. a formula of exactly the node budget is accepted, one node more is refused ------------


def test_the_substitution_budget_accepts_exactly_its_limit():
    net = symcnn.Network([symcnn.Linear(1, bias=False)], input=(1,))
    d = net.derive()
    # by hand: δ⁰ = z⁰_1 − t_1 is Add(z0_1, Mul(-1, t_1)): 5 nodes; ∂E/∂w = x_1·(z0_1 − t_1)
    # is 7 nodes; ∂E/∂x = w0_11·(z0_1 − t_1) is 7 more: 19 in all
    assert set(d.substituted(max_nodes=19)) == {"delta0", "0.weight", "input"}
    with pytest.raises(symcnn.TooLargeError):
        d.substituted(max_nodes=18)

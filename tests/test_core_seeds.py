"""The published worked examples (seeds 001 and 003) reproduced by symcnn, typed in from the seeds."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sympy
from core_cases import evaluate_strings, symbol_values
from scipy import signal

import symcnn

# --- seed 001 (vi): 5x5 o, 4x4 δ (the cells that won the max-pool), 0-based notation ---------

SEED001_O = np.array(
    [
        (0.51, 0.9, 0.88, 0.84, 0.05),
        (0.4, 0.62, 0.22, 0.59, 0.1),
        (0.11, 0.2, 0.74, 0.33, 0.14),
        (0.47, 0.01, 0.85, 0.7, 0.09),
        (0.76, 0.19, 0.72, 0.17, 0.57),
    ]
)
SEED001_D = np.array([(0, 0, 0.0686, 0), (0, 0.0364, 0, 0), (0, 0.0467, 0, 0), (0, 0, 0, -0.0681)])
SEED001_DW = np.array([[0.044606, 0.094061], [0.011262, 0.068288]])


def _seed001() -> symcnn.Derivation:
    return symcnn.derive(symcnn.Conv2d(kernel=(2, 2), bias="untied", input=(5, 5)), index_base=0)


def test_seed001_published_numbers_are_the_seeds_own_scipy_expression() -> None:
    """Sanity of the yardstick: the seed computed ∂E/∂w as convolve2d(rot180(d), o, 'valid')."""
    got = signal.convolve2d(np.rot90(np.rot90(SEED001_D)), SEED001_O, "valid")
    np.testing.assert_allclose(got, SEED001_DW, atol=5e-7)


def test_seed001_weight_gradient_from_numeric() -> None:
    d = _seed001()
    rng = np.random.default_rng(1)
    got = d.numeric()(
        input=SEED001_O[None],
        weight=rng.standard_normal((1, 1, 2, 2)),  # ∂E/∂w does not depend on w or b
        bias=rng.standard_normal((1, 4, 4)),
        delta=SEED001_D[None],
    )
    np.testing.assert_allclose(got["weight"][0, 0], SEED001_DW, atol=5e-7)


def test_seed001_weight_gradient_from_json_with_subs() -> None:
    """The seed's 0-based names (w_00 … w_11, o_{i+m', j+n'} as a_…), evaluated with ``subs``."""
    j = _seed001().to_json()
    assert j["symbols"]["weight"] == [[[["w_00", "w_01"], ["w_10", "w_11"]]]]
    assert j["symbols"]["input"][0][0][0] == "a_00" and j["symbols"]["delta"][0][3][3] == "d_33"
    values = symbol_values(j, {"input": SEED001_O[None], "delta": SEED001_D[None]})
    got = evaluate_strings(j["grad"]["weight"], values, method="subs")
    np.testing.assert_allclose(got[0, 0], SEED001_DW, atol=5e-7)


def test_seed001_weight_formula_is_the_seeds_sum() -> None:
    """∂E/∂w_{m',n'} = Σ_i Σ_j δ_{i,j} o_{i+m', j+n'} (seed 001), typed term by term."""
    grad = _seed001().gradient("weight")
    for m, n in np.ndindex(2, 2):
        typed = sum(
            sympy.Symbol(f"d_{i}{j}") * sympy.Symbol(f"a_{i + m}{j + n}")
            for i in range(4)
            for j in range(4)
        )
        assert sympy.expand(grad[0, 0, m, n] - typed) == 0, (m, n)


# --- seed 003 (zh): 3x3 a, 2x2 w, untied bias b_11 … b_22 --------------------------------

#: ∇a as printed in the seed (summands in the seed's order).
SEED003_INPUT_GRAD = {
    "a_11": "δ_11·w_11",
    "a_12": "δ_12·w_11 + δ_11·w_12",
    "a_13": "δ_12·w_12",
    "a_21": "δ_11·w_21 + δ_21·w_11",
    "a_22": "δ_11·w_22 + δ_12·w_21 + δ_21·w_12 + δ_22·w_11",
    "a_23": "δ_12·w_22 + δ_22·w_12",
    "a_31": "δ_21·w_21",
    "a_32": "δ_21·w_22 + δ_22·w_21",
    "a_33": "δ_22·w_22",
}
#: ∇W_11 as printed in the seed; the others from its eq. (18), ∇W = a conv δ.
SEED003_WEIGHT_GRAD = {
    "w_11": "δ_11·a_11 + δ_12·a_12 + δ_21·a_21 + δ_22·a_22",
    "w_12": "δ_11·a_12 + δ_12·a_13 + δ_21·a_22 + δ_22·a_23",
    "w_21": "δ_11·a_21 + δ_12·a_22 + δ_21·a_31 + δ_22·a_32",
    "w_22": "δ_11·a_22 + δ_12·a_23 + δ_21·a_32 + δ_22·a_33",
}
#: Forward pass, eq. (15) of the seed.
SEED003_FORWARD = {
    "z_11": "a_11·w_11 + a_12·w_12 + a_21·w_21 + a_22·w_22 + b_11",
    "z_12": "a_12·w_11 + a_13·w_12 + a_22·w_21 + a_23·w_22 + b_12",
    "z_21": "a_21·w_11 + a_22·w_12 + a_31·w_21 + a_32·w_22 + b_21",
    "z_22": "a_22·w_11 + a_23·w_12 + a_32·w_21 + a_33·w_22 + b_22",
}


def _typed(text: str) -> sympy.Expr:
    names = {t for t in text.replace("·", " ").replace("+", " ").split()}
    local = {n.replace("δ", "d"): sympy.Symbol(n.replace("δ", "d")) for n in names}
    return sympy.parse_expr(text.replace("·", "*").replace("δ", "d"), local_dict=local)


@pytest.fixture(scope="module")
def seed003_text() -> dict[str, str]:
    """``symcnn grad conv2d --input 3x3 --kernel 2x2 --bias untied``: left side → right side."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "symcnn",
            "grad",
            "conv2d",
            "--input",
            "3x3",
            "--kernel",
            "2x2",
            "--bias",
            "untied",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = {}
    for line in out.splitlines():
        if " = " in line and line.startswith("  "):
            left, right = line.strip().split(" = ", 1)
            lines[left.removeprefix("∂E/∂")] = right
    return lines


def _summands(text: str) -> list[str]:
    return sorted(text.split(" + "))


@pytest.mark.subprocess
@pytest.mark.parametrize("entry", list(SEED003_INPUT_GRAD))
def test_seed003_input_gradient_printout(seed003_text: dict[str, str], entry: str) -> None:
    assert _summands(seed003_text[entry]) == _summands(SEED003_INPUT_GRAD[entry])


@pytest.mark.subprocess
def test_seed003_center_entry_printed_exactly_as_in_the_seed(seed003_text: dict[str, str]) -> None:
    assert seed003_text["a_22"] == "δ_11·w_22 + δ_12·w_21 + δ_21·w_12 + δ_22·w_11"


@pytest.mark.subprocess
@pytest.mark.parametrize("entry", list(SEED003_WEIGHT_GRAD))
def test_seed003_weight_gradient_printout(seed003_text: dict[str, str], entry: str) -> None:
    assert _summands(seed003_text[entry]) == _summands(SEED003_WEIGHT_GRAD[entry])


@pytest.mark.subprocess
@pytest.mark.parametrize("entry", list(SEED003_FORWARD))
def test_seed003_forward_printout_matches_eq15(seed003_text: dict[str, str], entry: str) -> None:
    assert seed003_text[entry] == SEED003_FORWARD[entry]


@pytest.mark.subprocess
def test_seed003_untied_bias_gradient_is_delta(seed003_text: dict[str, str]) -> None:
    for i, j in np.ndindex(2, 2):
        assert seed003_text[f"b_{i + 1}{j + 1}"] == f"δ_{i + 1}{j + 1}"


def test_seed003_sympy_expressions_equal_the_typed_formulas() -> None:
    d = symcnn.derive(symcnn.Conv2d(kernel=(2, 2), bias="untied", input=(3, 3)))
    grad_a, grad_w = d.gradient("input"), d.gradient("weight")
    for r, c in np.ndindex(3, 3):
        assert sympy.expand(grad_a[0, r, c] - _typed(SEED003_INPUT_GRAD[f"a_{r + 1}{c + 1}"])) == 0
    for m, n in np.ndindex(2, 2):
        assert (
            sympy.expand(grad_w[0, 0, m, n] - _typed(SEED003_WEIGHT_GRAD[f"w_{m + 1}{n + 1}"])) == 0
        )
    assert d.all_proven and len(d.identities) == 3


def test_seed003_shared_bias_is_the_sum_of_delta() -> None:
    """Seed 003 eq. (20): ∂J/∂b = Σ_uv δ_uv (one bias per channel)."""
    d = symcnn.derive(symcnn.Conv2d(kernel=(2, 2), bias="shared", input=(3, 3)))
    assert sympy.expand(d.gradient("bias")[0] - _typed("δ_11 + δ_12 + δ_21 + δ_22")) == 0


# --- seed 003 pooling numbers -------------------------------------------------------------

ONE_TO_16 = np.arange(1.0, 17.0).reshape(1, 4, 4)
POOL_DELTA = np.array([[[1.0, 2.0], [8.0, 4.0]]])


def test_seed003_avgpool_forward_of_1_to_16() -> None:
    num = symcnn.derive(symcnn.AvgPool2d(window=(2, 2), input=(4, 4))).numeric()
    np.testing.assert_allclose(num.forward(input=ONE_TO_16), [[[3.5, 5.5], [11.5, 13.5]]])


def test_seed003_avgpool_backward_blocks() -> None:
    d = symcnn.derive(symcnn.AvgPool2d(window=(2, 2), input=(4, 4)))
    want = [[0.25, 0.25, 0.5, 0.5], [0.25, 0.25, 0.5, 0.5], [2, 2, 1, 1], [2, 2, 1, 1]]
    np.testing.assert_allclose(d.numeric()(input=ONE_TO_16, delta=POOL_DELTA)["input"][0], want)
    j = d.to_json()
    values = symbol_values(j, {"input": ONE_TO_16, "delta": POOL_DELTA})
    np.testing.assert_allclose(evaluate_strings(j["grad"]["input"], values, "subs")[0], want)
    np.testing.assert_allclose(
        evaluate_strings(j["forward"], values, "subs")[0], [[3.5, 5.5], [11.5, 13.5]]
    )


#: An arrangement of 1..16 whose window maxima sit where the seed's max-pool figure puts δ
#: (the seed prints the routing, not its forward input).
SEED003_MAX_INPUT = np.array(
    [[[6, 1, 3, 4], [2, 5, 8, 7], [9, 16, 11, 10], [13, 12, 15, 14]]], dtype=float
)


@pytest.mark.parametrize(
    "x, want",
    [
        pytest.param(
            SEED003_MAX_INPUT,
            [[1, 0, 0, 0], [0, 0, 2, 0], [0, 8, 0, 0], [0, 0, 4, 0]],
            id="seed-figure",
        ),
        pytest.param(
            ONE_TO_16,  # every window of 1..16 peaks at its bottom-right cell
            [[0, 0, 0, 0], [0, 1, 0, 2], [0, 0, 0, 0], [0, 8, 0, 4]],
            id="1-to-16",
        ),
        pytest.param(
            np.full((1, 4, 4), 7.0),  # all tied: the first cell of each window takes δ
            [[1, 0, 2, 0], [0, 0, 0, 0], [8, 0, 4, 0], [0, 0, 0, 0]],
            id="all-tied",
        ),
    ],
)
def test_seed003_maxpool_backward_routing(x: np.ndarray, want: list[list[float]]) -> None:
    d = symcnn.derive(symcnn.MaxPool2d(window=(2, 2), input=(4, 4)))
    np.testing.assert_array_equal(d.numeric()(input=x, delta=POOL_DELTA)["input"][0], want)
    j = d.to_json()
    values = symbol_values(j, {"input": x, "delta": POOL_DELTA})
    np.testing.assert_array_equal(evaluate_strings(j["grad"]["input"], values, "subs")[0], want)

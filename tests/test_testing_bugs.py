"""Realistic backward bugs are caught, and the report names the right mistake and the wrong terms."""

from __future__ import annotations

import re

import numpy as np
import pytest
from testing_refs import conv_loops, conv_scipy, pool_loops

from symcnn import AvgPool2d, Conv2d, MaxPool2d, Role
from symcnn.checking.contract import contract
from symcnn.testing import (
    BackwardMismatch,
    check_layer_backward,
    compare_layer_backward,
    trial_inputs,
)

ROT = "kernel not rotated by 180° (δ correlated with w, not convolved)"

# (id, layer, buggy function, {slot: the one mistake the report must name})
CATALOGUE = [
    (
        "kernel-not-rotated",
        Conv2d(kernel=(3, 3), out_channels=2, padding=1, input=(2, 5, 6)),
        lambda layer: conv_scipy(layer, rotate=False),
        {"gx": ROT},
    ),
    (
        "padding-not-cropped",
        Conv2d(kernel=(3, 2), padding=(1, 2), input=(5, 6)),
        lambda layer: conv_scipy(layer, crop=-1),
        {"gx": "padding not cropped (gradient of the padded input returned)"},
    ),
    (
        "padding-crop-off-by-one",
        Conv2d(kernel=(3, 3), padding=2, input=(6, 5)),
        lambda layer: conv_scipy(layer, crop=1),
        {
            "gx": "padding crop off by one (rows and columns start at 1 of the padded gradient, not 2)"
        },
    ),
    (
        "stride-ignored-in-input-gradient",
        Conv2d(kernel=(3, 2), out_channels=2, stride=2, padding=1, input=(7, 6)),
        lambda layer: conv_loops(layer, "stride-gx"),
        {
            "gx": "stride ignored in the input gradient (δ[i] placed at i + m·d − p, not i·s + m·d − p)"
        },
    ),
    (
        "stride-ignored-in-weight-gradient",
        Conv2d(kernel=(2, 3), stride=(2, 3), input=(7, 7)),
        lambda layer: conv_loops(layer, "stride-gw"),
        {"gw": "stride ignored in the weight gradient (x read at i + m·d − p, not i·s + m·d − p)"},
    ),
    (
        "dilation-ignored",
        Conv2d(kernel=(2, 3), padding=1, dilation=2, input=(7, 7)),
        lambda layer: conv_loops(layer, "dilation"),
        {
            "gx": "dilation ignored (kernel tap m at offset m, not m·d)",
            "gw": "dilation ignored (x read at i·s + m − p, not i·s + m·d − p)",
        },
    ),
    (
        "channels-transposed",
        Conv2d(kernel=(2, 2), out_channels=2, input=(2, 5, 5)),
        lambda layer: conv_loops(layer, "swap"),
        {
            "gx": "channels transposed (w[c, o] used instead of w[o, c])",
            "gw": "channels transposed (gradient in [C, O, KH, KW] layout, not [O, C, KH, KW])",
        },
    ),
    (
        "weight-gradient-layout-transposed",
        Conv2d(kernel=(2, 2), out_channels=2, input=(3, 5, 5)),
        lambda layer: conv_loops(layer, "swap-gw"),
        {"gw": "channels transposed (gradient in [C, O, KH, KW] layout, not [O, C, KH, KW])"},
    ),
    (
        "weight-gradient-convolved",
        Conv2d(kernel=(3, 3), padding=1, input=(5, 6)),
        lambda layer: conv_scipy(layer, w_conv=True),
        {"gw": "δ rotated by 180° (x convolved with δ; the weight gradient is a correlation)"},
    ),
    (
        "bias-not-summed",
        Conv2d(kernel=(3, 3), out_channels=3, input=(5, 5)),
        lambda layer: conv_loops(layer, "bias-not-summed"),
        {"gb": "bias gradient not summed (δ returned as it is; shared bias needs Σ_ij δ[o,i,j])"},
    ),
    (
        "bias-summed-over-wrong-axes",
        Conv2d(kernel=(3, 3), out_channels=3, input=(5, 5)),
        lambda layer: conv_loops(layer, "bias-axes-02"),
        {"gb": "bias gradient summed over the wrong axes: (0, 2) of δ [O, OH, OW], not (1, 2)"},
    ),
    (
        "untied-bias-summed",
        Conv2d(kernel=(2, 2), out_channels=2, bias="untied", input=(4, 4)),
        lambda layer: conv_loops(layer, "bias-summed-untied"),
        {
            "gb": "bias gradient summed, but untied bias has one entry per output (∂E/∂b[o,i,j] = δ[o,i,j])"
        },
    ),
    (
        "sign-flipped",
        Conv2d(kernel=(2, 2), input=(4, 4)),
        lambda layer: conv_loops(layer, "sign-gx"),
        {"gx": "sign flipped (the negative of the gradient)"},
    ),
    (
        "max-pool-every-cell",
        MaxPool2d(window=(2, 2), input=(2, 4, 6)),
        lambda layer: pool_loops(layer, "every-cell"),
        {"gx": "max-pool gradient sent to every cell of the window, not only to its maximum"},
    ),
    (
        "max-pool-last-maximum",
        MaxPool2d(window=(2, 3), input=(4, 6)),
        lambda layer: pool_loops(layer, "last-max"),
        {"gx": "ties sent to the last maximum of the window"},
    ),
    (
        "max-pool-every-maximum",
        MaxPool2d(window=(2, 2), input=(4, 4)),
        lambda layer: pool_loops(layer, "every-max"),
        {"gx": "δ sent to every tied maximum (mask x == max)"},
    ),
    (
        "max-pool-stride-ignored",
        MaxPool2d(window=(2, 2), stride=(2, 1), input=(6, 6)),
        lambda layer: pool_loops(layer, "stride"),
        {"gx": "stride ignored (windows at i + m, not i·s + m)"},
    ),
    (
        "avg-pool-not-divided",
        AvgPool2d(window=(2, 3), input=(2, 4, 6)),
        lambda layer: pool_loops(layer, "no-divide"),
        {"gx": "avg-pool gradient not divided by the window size KH·KW = 6"},
    ),
    (
        "avg-pool-overlap-assigned",
        AvgPool2d(window=(3, 3), stride=1, input=(5, 5)),
        lambda layer: pool_loops(layer, "assign"),
        {
            "gx": "window blocks assigned (=), not added (+=): overlapping windows overwrite each other"
        },
    ),
    (
        "two-mistakes-at-once",
        Conv2d(kernel=(3, 3), padding=1, input=(5, 6)),
        lambda layer: conv_scipy(layer, rotate=False, crop=0),
        {
            "gx": ROT + ", and padding cropped at one side only (rows and columns start at 0 of "
            "the padded gradient, not 1)"
        },
    ),
]


def _report(layer, fn, **options) -> str:
    with pytest.raises(BackwardMismatch) as info:
        check_layer_backward(layer, fn, **options)
    assert isinstance(info.value, AssertionError)
    return str(info.value)


@pytest.mark.parametrize(
    ("layer", "make", "causes"), [c[1:] for c in CATALOGUE], ids=[c[0] for c in CATALOGUE]
)
def test_bug_is_caught_and_named(layer, make, causes: dict[str, str]) -> None:
    text = _report(layer, make(layer))
    for slot in ("gx", "gw", "gb"):
        summary = re.search(rf"^  {slot}: (.*)$", text, re.M)
        if slot in causes:
            assert summary and summary.group(1) != "ok", text
            mistake = re.search(rf"^  {slot}: .*\n      likely mistake: (.*)$", text, re.M)
            assert mistake, text
            assert mistake.group(1).startswith(causes[slot]), text
        elif summary:
            assert summary.group(1) == "ok", text


@pytest.mark.parametrize(
    ("layer", "make"), [c[1:3] for c in CATALOGUE[:4]], ids=[c[0] for c in CATALOGUE[:4]]
)
def test_reported_numbers_are_the_right_and_the_buggy_values(layer, make) -> None:
    """The first listed entry: 'expected' is the plain-loop value, 'got' the buggy one."""
    text = _report(layer, make(layer))
    label = re.search(r"\((trial \d+) of \d+, seed 0\)", text)
    assert label, text
    trial = next(t for t in trial_inputs(layer) if t.label.startswith(label.group(1) + " "))
    args = trial.args(contract(layer))
    right, wrong = conv_loops(layer)(*args), make(layer)(*args)
    m = re.search(r"^g([xwb])\[([\d, ]+)\]: expected (\S+), got (\S+)$", text, re.M)
    if m is None:  # a shape mistake lists no entries
        assert "wrong shape" in text
        return
    k = "xwb".index(m.group(1))
    index = tuple(int(v) for v in m.group(2).split(","))
    assert float(m.group(3)) == pytest.approx(right[k][index], rel=1e-5, abs=1e-6)
    assert float(m.group(4)) == pytest.approx(wrong[k][index], rel=1e-5, abs=1e-6)


def test_kernel_not_rotated_terms_of_seed_003_layer() -> None:
    """Seed 003's layer: ∇a_22 = δ_11 w_22 + δ_12 w_21 + δ_21 w_12 + δ_22 w_11. Correlating
    instead of convolving gives δ_11 w_11 + δ_12 w_12 + δ_21 w_21 + δ_22 w_22 (by hand)."""
    layer = Conv2d(kernel=(2, 2), bias="untied", input=(3, 3))
    text = _report(layer, conv_scipy(layer, rotate=False), max_entries=5)
    block = text.split("gx[0, 1, 1]: ")[1].split("\n\n")[0].splitlines()
    assert block[1:] == [
        "    formula: ∂E/∂a_22 = δ_11·w_22 + δ_12·w_21 + δ_21·w_12 + δ_22·w_11",
        "    yours:   δ_11·w_11 + δ_12·w_12 + δ_21·w_21 + δ_22·w_22",
        "    wrong:   δ_11·w_11 where the formula has δ_11·w_22",
        "             δ_12·w_12 where the formula has δ_12·w_21",
        "             δ_21·w_21 where the formula has δ_21·w_12",
        "             δ_22·w_22 where the formula has δ_22·w_11",
    ]
    # the corner a_11 only sees δ_11 (seed 003: ∇a_11 = δ_11 w_11)
    assert "gx[0, 0, 0]: " in text and "∂E/∂a_11 = δ_11·w_11\n" in text
    assert "… and 4 more wrong entries (4 in gx)" in text


def _dropping(layer: Conv2d, drop=(), add=()):
    """The right loops, then one δ·w term removed from / added to gx (term analysis targets)."""
    ref = conv_loops(layer)

    def backward(x, w, b, delta):
        gx, gw, gb = ref(x, w, b, delta)
        for (r, t), (i, j), (m, n) in drop:
            gx[0, r, t] -= delta[0, i, j] * w[0, 0, m, n]
        for (r, t), (i, j), (m, n) in add:
            gx[0, r, t] += delta[0, i, j] * w[0, 0, m, n]
        return gx, gw, gb

    return backward


def test_missing_and_extra_terms_are_named() -> None:
    layer = Conv2d(kernel=(2, 2), input=(4, 4))
    fn = _dropping(layer, drop=[((1, 1), (0, 0), (1, 1))], add=[((0, 0), (1, 1), (0, 0))])
    text = _report(layer, fn)
    a11 = text.split("gx[0, 0, 0]: ")[1].split("\n\n")[0]
    assert "formula: ∂E/∂a_11 = δ_11·w_11\n" in a11
    assert "yours:   δ_11·w_11 + δ_22·w_11" in a11
    assert "extra:   δ_22·w_11" in a11
    a22 = text.split("gx[0, 1, 1]: ")[1].split("\n\n")[0]
    assert "yours:   δ_12·w_21 + δ_21·w_12 + δ_22·w_11" in a22
    assert "missing: δ_11·w_22" in a22
    assert "gx: 2 of 16 entries wrong" in text
    assert "likely mistake" not in text  # nothing in the catalogue looks like this


def test_max_pool_tie_trial_names_the_missing_first_maximum() -> None:
    layer = MaxPool2d(window=(2, 2), input=(2, 2))

    def last_max(x, delta):  # ties go to the last maximum
        gx = np.zeros_like(x)
        flat = x[0].ravel()
        k = flat.size - 1 - int(np.argmax(flat[::-1]))
        gx[0].flat[k] = delta[0, 0, 0]
        return gx

    text = _report(layer, last_max)
    assert "(tie trial, seed 0)" in text
    assert "likely mistake: ties sent to the last maximum of the window" in text
    x = trial_inputs(layer)[-1].arrays[Role.INPUT][0].ravel()
    tied = np.flatnonzero(x == x.max())
    assert len(tied) > 1
    names = ["a_11", "a_12", "a_21", "a_22"]
    first, last = names[tied[0]], names[tied[-1]]
    window = "argmax(a_11, a_12, a_21, a_22)"
    assert f"missing: δ_11·[{first} = {window}] (= δ_11 here)" in text
    assert f"extra:   δ_11 (the formula's δ_11·[{last} = {window}] is 0 here)" in text


def test_report_limits_entries_and_counts_the_rest() -> None:
    layer = Conv2d(kernel=(3, 3), padding=1, input=(6, 6))
    text = _report(layer, conv_scipy(layer, rotate=False), max_entries=2)
    assert len(re.findall(r"^gx\[", text, re.M)) == 2
    wrong = int(re.search(r"gx: (\d+) of 36 entries wrong", text).group(1))
    assert f"… and {wrong - 2} more wrong entries ({wrong - 2} in gx)" in text


def test_probe_off_skips_the_term_analysis() -> None:
    layer = Conv2d(kernel=(2, 2), input=(4, 4))
    text = _report(layer, conv_scipy(layer, rotate=False), probe=False)
    assert "formula:" in text and "yours:" not in text


def test_nan_entries_are_wrong_and_in_place_changes_are_noted() -> None:
    layer = AvgPool2d(window=(2, 2), input=(4, 4))
    ref = pool_loops(layer)

    def backward(x, delta):
        gx = ref(x, delta)
        gx[0, 3, 3] = np.nan
        delta *= 2  # modifies its argument
        return gx

    text = _report(layer, backward)
    assert "gx: 1 of 16 entries wrong" in text
    assert "gx[0, 3, 3]: expected" in text and "got nan" in text
    assert "note: fn modified its argument delta in place" in text


def test_exceptions_of_the_function_propagate() -> None:
    def broken(x, delta):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        check_layer_backward(MaxPool2d(window=(2, 2), input=(4, 4)), broken)


def test_a_right_function_is_reported_as_matching() -> None:
    layer = Conv2d(kernel=(2, 2), input=(4, 4))
    result = compare_layer_backward(layer, conv_loops(layer))
    assert result.ok and bool(result)
    assert result.message.startswith("conv2d backward matches symcnn's formulas: 3 random trial(s)")

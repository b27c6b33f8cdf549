"""``symcnn grad``: bad input gives exit 2 and one line; text, LaTeX and JSON outputs are sane."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

from symcnn.cli import main

GRAD = [sys.executable, "-m", "symcnn", "grad"]

#: (id, arguments after `symcnn grad`, words the one-line message must contain)
BAD_INPUT = [
    ("kernel-larger-than-input", "conv2d --input 3x3 --kernel 4x4", ["kernel 4x4", "does not fit"]),
    (
        "kernel-larger-than-padded",
        "conv2d --input 3x3 --kernel 3x6 --padding 1",
        ["does not fit", "cols"],
    ),
    ("window-larger-than-input", "maxpool2d --input 3x3 --window 4x4", ["window 4x4", "larger"]),
    ("avg-window-larger-cols", "avgpool2d --input 3x5 --window 2x6", ["window 2x6", "larger"]),
    ("zero-input", "conv2d --input 0x3 --kernel 1x1", ["input 0x3", "≥ 1"]),
    ("zero-kernel", "conv2d --input 3x3 --kernel 2x0", ["kernel 2x0", "≥ 1"]),
    ("zero-window", "maxpool2d --input 3x3 --window 0", ["window", "≥ 1"]),
    ("negative-input", "conv2d --input=-3x3 --kernel 1x1", ["input", "-3x3"]),
    ("negative-padding", "conv2d --input 3x3 --kernel 2x2 --padding=-1", ["padding", "-1"]),
    ("negative-stride", "conv2d --input 3x3 --kernel 2x2 --stride=-2", ["stride", "-2"]),
    (
        "negative-channels",
        "conv2d --input 3x3 --kernel 2x2 --in-channels=-1",
        ["in_channels", "-1"],
    ),
    (
        "zero-out-channels",
        "conv2d --input 3x3 --kernel 2x2 --out-channels 0",
        ["out_channels", "0"],
    ),
    ("zero-pool-channels", "avgpool2d --input 4x4 --window 2x2 --channels 0", ["channels", "0"]),
    ("size-5x", "conv2d --input 5x --kernel 2x2", ["'5x'", "5x5"]),
    ("size-5.5x5", "conv2d --input 5.5x5 --kernel 2x2", ["'5.5x5'", "whole numbers"]),
    ("size-x5", "conv2d --input 5x5 --kernel x2", ["'x2'"]),
    ("size-words", "maxpool2d --input five --window 2x2", ["'five'"]),
    ("stride-0", "conv2d --input 5x5 --kernel 2x2 --stride 0", ["stride 0x0", "≥ 1"]),
    ("stride-0-pool", "maxpool2d --input 4x4 --window 2x2 --stride 1x0", ["stride 1x0", "≥ 1"]),
    ("dilation-0", "conv2d --input 5x5 --kernel 2x2 --dilation 0", ["dilation", "≥ 1"]),
    (
        "unknown-layer",
        "conv3d --input 5x5 --kernel 2x2",
        ["conv3d", "conv2d, maxpool2d, avgpool2d"],
    ),
    (
        "unknown-bias",
        "conv2d --input 5x5 --kernel 2x2 --bias tied",
        ["'tied'", "none, shared, untied"],
    ),
    ("unknown-format", "conv2d --input 5x5 --kernel 2x2 --format xml", ["xml", "text", "json"]),
    (
        "dilated-kernel-too-large",
        "conv2d --input 5x5 --kernel 3x3 --dilation 3",
        ["dilation 3", "span 7"],
    ),
    (
        "dilated-cols-too-large",
        "conv2d --input 9x5 --kernel 3x3 --dilation 1x3",
        ["span 7", "cols"],
    ),
    (
        "too-many-terms",
        "conv2d --input 64x64 --kernel 5x5 --max-terms 1000",
        ["90,000", "1,000", "--max-terms"],
    ),
    (
        "too-many-terms-default",
        "conv2d --input 300x300 --kernel 30x30",
        ["66,096,900", "--max-terms"],
    ),
    (
        "too-many-pool-terms",
        "maxpool2d --input 40x40 --window 3x3 --stride 1 --max-terms 100",
        ["12,996"],
    ),
    ("window-on-conv2d", "conv2d --input 5x5 --kernel 2x2 --window 2x2", ["--window", "conv2d"]),
    (
        "kernel-on-pool",
        "maxpool2d --input 5x5 --window 2x2 --kernel 2x2",
        ["--kernel", "maxpool2d"],
    ),
    ("bias-on-pool", "avgpool2d --input 5x5 --window 2x2 --bias none", ["--bias", "avgpool2d"]),
    ("missing-input", "conv2d --kernel 2x2", ["--input"]),
    ("missing-kernel", "conv2d --input 5x5", ["--kernel"]),
    ("missing-window", "maxpool2d --input 5x5", ["--window"]),
    ("missing-layer", "", ["conv2d"]),
    ("index-base-2", "conv2d --input 5x5 --kernel 2x2 --index-base 2", ["index base", "0 or 1"]),
    ("channels-not-a-number", "conv2d --input 5x5 --kernel 2x2 --in-channels two", ["'two'"]),
]


def _check_one_line(status: object, out: str, err: str, words: list[str]) -> None:
    assert status == 2, err
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith("symcnn: error: ")
    for word in words:
        assert word in lines[0], f"{word!r} not in {lines[0]!r}"


@pytest.mark.parametrize("name, args, words", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_exit_2_one_line(
    capsys: pytest.CaptureFixture, name: str, args: str, words: list[str]
) -> None:
    """In process: ``symcnn.cli.main`` returns (or exits with) 2; any exception fails the test."""
    try:
        status: object = main(["grad", *args.split()])
    except SystemExit as stop:  # argparse's own usage errors
        status = stop.code
    out, err = capsys.readouterr()
    _check_one_line(status, out, err, words)


#: One command per way of failing (argparse, size parser, spec checks, term estimate, dispatch).
REAL_PROCESS = [
    "kernel-larger-than-padded",
    "window-larger-than-input",
    "size-5.5x5",
    "negative-input",
    "unknown-format",
    "unknown-layer",
    "too-many-terms-default",
    "missing-layer",
]


@pytest.fixture(scope="module")
def bad_runs() -> dict[str, subprocess.CompletedProcess]:
    """A few bad commands as real processes, started together, with warnings as errors."""
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    commands = {name: args for name, args, _ in BAD_INPUT if name in REAL_PROCESS}
    procs = {
        name: subprocess.Popen(
            GRAD + args.split(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for name, args in commands.items()
    }
    done = {}
    for name, p in procs.items():
        out, err = p.communicate(timeout=120)
        done[name] = subprocess.CompletedProcess(p.args, p.returncode, out, err)
    return done


@pytest.mark.subprocess
@pytest.mark.parametrize(
    "name, args, words",
    [b for b in BAD_INPUT if b[0] in REAL_PROCESS],
    ids=[b[0] for b in BAD_INPUT if b[0] in REAL_PROCESS],
)
def test_bad_input_real_process(bad_runs: dict, name: str, args: str, words: list[str]) -> None:
    run = bad_runs[name]
    _check_one_line(run.returncode, run.stdout, run.stderr, words)


def _run(argv: list[str], capsys: pytest.CaptureFixture) -> str:
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


ENTRY = r"[aw]_\d\d"
PRODUCT = r"δ_\d\d·[aw]_\d\d"


def test_text_lines_read_like_the_issue(capsys: pytest.CaptureFixture) -> None:
    out = _run(["grad", "conv2d", "--input", "3x4", "--kernel", "2x2"], capsys)
    lines = [ln.strip() for ln in out.splitlines() if ln.startswith("  ∂E/∂")]
    assert len(lines) == 12 + 4 + 1
    grad_line = re.compile(rf"^∂E/∂{ENTRY} = {PRODUCT}( \+ {PRODUCT})*$")
    for ln in lines[:-1]:
        assert grad_line.match(ln), ln
    assert (
        "∂E/∂w_11 = δ_11·a_11 + δ_12·a_12 + δ_13·a_13 + δ_21·a_21 + δ_22·a_22 + δ_23·a_23" in lines
    )
    assert lines[-1] == "∂E/∂b = δ_11 + δ_12 + δ_13 + δ_21 + δ_22 + δ_23"
    assert out.count("[proven]") == 3 and "NOT PROVEN" not in out


@pytest.mark.parametrize(
    "args",
    [
        "conv2d --input 4x3 --kernel 2x2 --stride 2 --padding 1 --in-channels 2 --out-channels 2 --bias untied",
        "maxpool2d --input 4x4 --window 2x2 --stride 1",
        "avgpool2d --input 4x4 --window 3x3 --stride 1 --channels 2",
    ],
    ids=["conv2d", "maxpool2d", "avgpool2d"],
)
def test_ascii_is_pure_ascii(capsys: pytest.CaptureFixture, args: str) -> None:
    out = _run(["grad", *args.split(), "--ascii"], capsys)
    assert out.isascii(), sorted({ch for ch in out if not ch.isascii()})
    assert "dE/d" in out and "d_" in out


def test_maxpool_text_is_readable(capsys: pytest.CaptureFixture) -> None:
    out = _run(["grad", "maxpool2d", "--input", "2x2", "--window", "2x2"], capsys)
    assert "∂E/∂a_12 = δ_11·[a_12 = argmax(a_11, a_12, a_21, a_22)]" in out
    assert "first maximum" in out


def test_latex_blocks_are_well_formed(capsys: pytest.CaptureFixture) -> None:
    out = _run(
        [
            "grad",
            "conv2d",
            "--input",
            "3x3",
            "--kernel",
            "2x2",
            "--bias",
            "untied",
            "--format",
            "latex",
        ],
        capsys,
    )
    assert out.count(r"\begin{align*}") == out.count(r"\end{align*}") == 4  # forward, a, w, b
    assert out.count(r"\begin{bmatrix}") == out.count(r"\end{bmatrix}") == 3
    assert out.count("{") == out.count("}")
    center = (
        r"\frac{\partial E}{\partial a_{22}} &= \delta_{11} w_{22} + \delta_{12} w_{21}"
        r" + \delta_{21} w_{12} + \delta_{22} w_{11}"
    )
    assert center in out


def test_latex_two_digit_indices_stay_readable(capsys: pytest.CaptureFixture) -> None:
    out = _run(
        ["grad", "conv2d", "--input", "11x3", "--kernel", "2x2", "--format", "latex"], capsys
    )
    assert r"a_{10,3}" in out and r"\partial a_{11,1}}" in out


# --- JSON contract -------------------------------------------------------------------------

JSON_CASES = [
    (
        "conv2d-none-c2o3",
        "conv2d --input 5x4 --kernel 2x3 --in-channels 2 --out-channels 3 --bias none",
    ),
    ("conv2d-shared-c2o3", "conv2d --input 5x4 --kernel 2x3 --in-channels 2 --out-channels 3"),
    (
        "conv2d-untied-c2o3-s2",
        "conv2d --input 5x4 --kernel 2x3 --in-channels 2 --out-channels 3 --bias untied --stride 2 --padding 1",
    ),
    ("conv2d-untied-c1o1-base0", "conv2d --input 3x3 --kernel 2x2 --bias untied --index-base 0"),
    ("maxpool2d-c2", "maxpool2d --input 5x4 --window 2x2 --channels 2"),
    ("avgpool2d-c3-s1", "avgpool2d --input 4x5 --window 3x2 --stride 1 --channels 3"),
]


def _shape(nested: object) -> tuple[int, ...]:
    return np.array(nested, dtype=object).shape


@pytest.mark.parametrize("args", [c[1] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES])
def test_json_contract_shapes(capsys: pytest.CaptureFixture, args: str) -> None:
    j = json.loads(_run(["grad", *args.split(), "--format", "json"], capsys))
    layer = args.split()[0]
    assert j["layer"] == layer
    cfg = j["config"]
    h, w = cfg["input"]
    oshape = tuple(j["output_shape"])
    assert _shape(j["forward"]) == oshape
    if layer == "conv2d":
        c, o = cfg["in_channels"], cfg["out_channels"]
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (
            cfg["kernel"],
            cfg["stride"],
            cfg["padding"],
            cfg["dilation"],
        )
        assert cfg["bias"] in ("none", "shared", "untied") and cfg["index_base"] in (0, 1)
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        assert oshape == (o, oh, ow)
        want = {"input": (c, h, w), "weight": (o, c, kh, kw), "delta": oshape}
        bias = {"none": None, "shared": (o,), "untied": oshape}[cfg["bias"]]
        if bias is not None:
            want["bias"] = bias
        assert {k: _shape(v) for k, v in j["symbols"].items()} == want
        assert {k: _shape(v) for k, v in j["grad"].items()} == {
            k: v for k, v in want.items() if k != "delta"
        }
        assert len(j["identities"]) == (2 if bias is None else 3)
    else:
        c = cfg["channels"]
        (kh, kw), (sh, sw) = cfg["window"], cfg["stride"]
        if "--stride" not in args:
            assert (sh, sw) == (kh, kw)
        assert oshape == (c, (h - kh) // sh + 1, (w - kw) // sw + 1)
        assert {k: _shape(v) for k, v in j["symbols"].items()} == {
            "input": (c, h, w),
            "delta": oshape,
        }
        assert {k: _shape(v) for k, v in j["grad"].items()} == {"input": (c, h, w)}
        assert len(j["identities"]) == 1
    assert all(i["proven"] is True and isinstance(i["name"], str) for i in j["identities"])
    names = [n for grid in j["symbols"].values() for n in np.array(grid).ravel()]
    assert len(names) == len(set(names)) and all(n.isidentifier() for n in names)


@pytest.mark.subprocess
def test_json_from_a_real_process_parses() -> None:
    run = subprocess.run(
        [*GRAD, "conv2d", "--input", "3x3", "--kernel", "2x2", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    j = json.loads(run.stdout)
    assert j["grad"]["weight"][0][0][0][0] == "d_11*a_11 + d_12*a_12 + d_21*a_21 + d_22*a_22"
    assert run.stderr == ""

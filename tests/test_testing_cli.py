"""``symcnn check`` and ``symcnn fixtures``: exit 0 / 1 / 2, the report, the .npz file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import symcnn
from symcnn.cli import main

BACKWARDS = textwrap.dedent(
    """
    import numpy as np
    from scipy import signal

    def conv2d_backward(x, w, b, delta):
        gx = signal.convolve2d(delta[0], w[0, 0], mode="full")[None]
        gw = signal.correlate2d(x[0], delta[0], mode="valid")[None, None]
        return gx, gw, delta.sum(axis=(1, 2))

    def conv2d_backward_buggy(x, w, b, delta):
        gx = signal.correlate2d(delta[0], w[0, 0], mode="full")[None]  # kernel not rotated
        gw = signal.correlate2d(x[0], delta[0], mode="valid")[None, None]
        return gx, gw, delta.sum(axis=(1, 2))

    def avg_backward(x, delta):
        return np.repeat(np.repeat(delta, 2, axis=1), 2, axis=2) / 4

    def raises(x, delta):
        return helper(x)

    def helper(x):
        raise RuntimeError("not written yet")

    NOT_A_FUNCTION = 3
    """
)
CONV = ["--layer", "conv2d", "--input", "5x5", "--kernel", "2x2"]


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "mybackward.py"
    path.write_text(BACKWARDS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exit:  # argparse's own usage errors
        code = int(exit.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_matching_function_exits_0(module: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["check", f"{module}:conv2d_backward", *CONV], capsys)
    assert (code, err) == (0, "")
    assert out.startswith("conv2d backward matches symcnn's formulas: 3 random trial(s), seed 0")


def test_module_syntax_and_positional_layer(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["check", "mybackward:avg_backward", "avgpool2d", "--input", "4x6", "--window", "2"], capsys
    )
    assert code == 0, out


def test_wrong_function_exits_1_with_the_report(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["check", "mybackward:conv2d_backward_buggy", *CONV, "--max-entries", "1"], capsys
    )
    assert (code, err) == (1, "")
    assert "likely mistake: kernel not rotated by 180°" in out
    assert "formula: ∂E/∂a_11 = δ_11·w_11" in out
    assert "… and 24 more wrong entries (24 in gx)" in out


def test_exception_in_the_function_exits_1_with_its_traceback(
    module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["check", f"{module}:raises", "--layer", "maxpool2d", "--input", "4x4", "--window", "2"],
        capsys,
    )
    assert code == 1
    assert out.startswith(f"{module}:raises raised RuntimeError: not written yet")
    assert 'in helper\n    raise RuntimeError("not written yet")' in out
    assert "symcnn/testing.py" not in out


@pytest.mark.parametrize(
    ("target", "extra", "message"),
    [
        ("nosuchmodule_xyz:f", CONV, "cannot import module 'nosuchmodule_xyz'"),
        ("missing/file.py:f", CONV, "no such file: missing/file.py"),
        ("{module}:nope", CONV, "has no function 'nope' (it has: avg_backward, conv2d_backward"),
        ("{module}:NOT_A_FUNCTION", CONV, "is an int, not a function"),
        ("{module}", CONV, "name the function as MODULE:FUNC or path/to/file.py:FUNC"),
        ("{broken}:f", CONV, "importing"),
        (
            "{module}:conv2d_backward",
            ["--input", "5x5", "--kernel", "2"],
            "name the layer: --layer conv2d",
        ),
        (
            "{module}:conv2d_backward",
            ["conv2d", "--layer", "maxpool2d", "--input", "5x5"],
            "two different layers",
        ),
        (
            "{module}:conv2d_backward",
            ["--layer", "conv2d", "--input", "5x5"],
            "conv2d needs --kernel",
        ),
        ("{module}:conv2d_backward", [*CONV, "--trials", "0"], "must be ≥ 1"),
    ],
)
def test_bad_usage_exits_2_with_one_line(
    module: Path, capsys: pytest.CaptureFixture[str], target: str, extra: list[str], message: str
) -> None:
    broken = module.parent / "broken.py"
    broken.write_text("def f(:\n")
    code, out, err = run(["check", target.format(module=module, broken=broken), *extra], capsys)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("symcnn: error: "), err
    assert message in lines[0]


@pytest.mark.subprocess
def test_exit_codes_as_a_process(module: Path) -> None:
    root = str(Path(symcnn.__file__).resolve().parent.parent)  # symcnn importable from any cwd
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}

    def status(*args: str) -> int:
        proc = subprocess.run(
            [sys.executable, "-m", "symcnn", *args], capture_output=True, cwd=module.parent, env=env
        )
        return proc.returncode

    assert status("check", "mybackward:conv2d_backward", *CONV) == 0
    assert status("check", "mybackward:conv2d_backward_buggy", *CONV) == 1
    assert status("check", "mybackward:nope", *CONV) == 2
    assert status("grad", "conv2d", "--input", "3x3", "--kernel", "2x2") == 0


def test_fixtures_writes_an_npz_without_pickles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out" / "expected.npz"
    code, out, _ = run(["fixtures", *CONV, "--trials", "2", "-o", str(target)], capsys)
    assert code == 0 and out.startswith(f"wrote {target}: 2 trial(s)")
    data = np.load(target, allow_pickle=False)
    from scipy import signal

    for k in range(2):
        x, w, delta = data["x"][k, 0], data["w"][k, 0, 0], data["delta"][k, 0]
        np.testing.assert_allclose(
            data["gx"][k, 0], signal.convolve2d(delta, w, mode="full"), atol=1e-12
        )
        np.testing.assert_allclose(
            data["gw"][k, 0, 0], signal.correlate2d(x, delta, mode="valid"), atol=1e-12
        )
        np.testing.assert_allclose(data["gb"][k], [delta.sum()], atol=1e-12)
    assert (
        str(data["formula_gx"][0, 1, 1])
        == "∂E/∂a_22 = δ_11·w_22 + δ_12·w_21 + δ_21·w_12 + δ_22·w_11"
    )


def test_fixtures_bad_usage_leaves_no_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "expected.npz"
    target.write_bytes(b"old")
    code, _, err = run(
        ["fixtures", "--layer", "conv2d", "--input", "2x2", "--kernel", "3x3", "-o", str(target)],
        capsys,
    )
    assert code == 2 and err.startswith("symcnn: error: kernel 3x3")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["expected.npz"]


def test_torch_flag_wraps_a_tensor_function(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch")
    path = tmp_path / "torchpool.py"
    path.write_text(
        "import torch.nn.functional as F\n"
        "def backward(x, delta):\n"
        "    x = x.clone().requires_grad_(True)\n"
        "    z = F.max_pool2d(x[None], 2)[0]\n"
        "    (z * delta).sum().backward()\n"
        "    return x.grad\n"
    )
    args = ["check", f"{path}:backward", "--layer", "maxpool2d", "--input", "4x6", "--window", "2"]
    code, out, _ = run([*args, "--torch"], capsys)
    assert code == 0, out
    code, out, _ = run(args, capsys)  # NumPy arrays have no clone(): the function raises
    assert code == 1 and "raised AttributeError" in out

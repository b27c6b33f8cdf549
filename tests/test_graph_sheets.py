"""Sheets of mini-batches, branches and merges, batch norm, additions and concatenations
(issue 12): they compile with the real TeX engine and say what a lecturer needs said; the
command line writes them; bad input is still one line (compiling is skipped without pdflatex)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tex_support import needs_tex, pdf_text

import symcnn
from symcnn.kinds.registry import layer_from_table
from symcnn.numeric.values import hand_values
from symcnn.sheet.build import sheet_tex
from symcnn.sheet.compile import compile_pdf
from symcnn.sheet.options import SheetOptions

ROOT = Path(__file__).resolve().parent.parent

#: A branch that merges twice: the first convolution's output is read by a relu and by a
#: second convolution (its δ is a sum), whose outputs are concatenated.
CONCAT = """
input = [1, 4, 4]
loss = "mse"

[[layer]]
id = "c"
type = "conv2d"
kernel = [3, 3]
padding = [1, 1]

[[layer]]
id = "r"
type = "relu"

[[layer]]
id = "c2"
type = "conv2d"
from = "c"
kernel = [3, 3]
padding = [1, 1]

[[layer]]
type = "concat"
inputs = ["r", "c2"]

[[layer]]
type = "flatten"

[[layer]]
type = "dense"
out_features = 2
"""


def _network(name: str) -> symcnn.Network:
    return symcnn.parse_network(CONCAT) if name == "concat" else symcnn.preset(name)


@needs_tex
@pytest.mark.parametrize(
    ("name", "numbers", "words"),
    [
        (
            "residual",
            True,
            [
                "x is read by layers 0, 5: the gradients add where paths merge",
                "a mini-batch of B = 2 samples",
                'F.cross_entropy(y, t, reduction="mean")',
                "closed form with these numbers for channel 1",
                "Through the variance",
            ],
        ),
        ("upsampler", True, ["transposed convolution", "batch normalisation", "0.5 * ((y - t)"]),
        ("lenet5-bn", False, ["max pooling", "The same derivation as for layer"]),
        (
            "concat",
            True,
            ["is read by layers 1, 2: the gradients add where paths merge", "concatenation"],
        ),
    ],
)
def test_network_sheets_compile(name, numbers, words, tmp_path: Path) -> None:
    net = _network(name)
    d = net.derive()
    options = SheetOptions(values=hand_values(net, 0) if numbers else None)
    text = " ".join(pdf_text(compile_pdf(sheet_tex(d, options), timeout=300), tmp_path).split())
    assert "Proven" in text and "Not proven" not in text
    assert ("Worked example with numbers" in text) == numbers
    for word in words:
        assert word in text, word


@needs_tex
@pytest.mark.parametrize(
    ("kind", "shape", "batch"), [("batchnorm2d", (2, 2, 2), 2), ("batchnorm1d", (3,), 4)]
)
def test_batch_norm_alone_compiles(kind, shape, batch, tmp_path: Path) -> None:
    net = symcnn.Network.of(layer_from_table({"type": kind}).sized(shape), batch=batch)
    options = SheetOptions(values=hand_values(net, 0), values_seed=0)
    text = " ".join(
        pdf_text(compile_pdf(sheet_tex(net.derive(), options), timeout=300), tmp_path).split()
    )
    for word in (
        "Batch normalisation in training mode",
        "the classic mistake",
        "Proven for all",
        "closed form with these numbers for channel 1",
        "One step of gradient descent",
    ):
        assert word in text, word


def _symcnn(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "symcnn", "sheet", *args],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.subprocess
def test_the_command_line_writes_the_sheets_it_refused(tmp_path: Path) -> None:
    """`symcnn sheet` writes a residual block's sheet and a batch norm layer alone on a batch
    (both used to be refused)."""
    proc = _symcnn(tmp_path, "--preset", "residual", "--random", "0", "-o", "res.tex")
    assert proc.returncode == 0, proc.stderr
    tex = (tmp_path / "res.tex").read_text(encoding="utf-8")
    assert r"\frac{\partial_{(5)} E}{\partial x}" in tex and "Worked example" in tex
    proc = _symcnn(tmp_path, "batchnorm2d", "--input", "2x2x2", "--batch", "2", "-o", "bn.tex")
    assert proc.returncode == 0, proc.stderr
    assert r"\delta \mu" in (tmp_path / "bn.tex").read_text(encoding="utf-8")


@pytest.mark.subprocess
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["batchnorm2d", "--input", "1x1x1"],
            "batchnorm2d needs more than one value per channel",
        ),
        (["--network", "bad.toml"], "add needs tensors of one shape"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.toml").write_text(
        'input = [2, 3, 3]\n\n[[layer]]\nid = "c"\ntype = "conv2d"\nkernel = [2, 2]\n\n'
        '[[layer]]\ntype = "add"\ninputs = ["input", "c"]\n',
        encoding="utf-8",
    )
    proc = _symcnn(tmp_path, *args, "-o", "out.tex")
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "out.tex").exists()

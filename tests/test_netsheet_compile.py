"""Network sheets of both presets compile with the real TeX engine (skipped without one)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from tex_support import NEEDS_TEX

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    *NEEDS_TEX,
    pytest.mark.subprocess,
]


@pytest.mark.parametrize(
    ("preset", "numbers", "expected"),
    [
        # seed 000's numbers: δH of the hidden neurons, seed 001's d at the max-pool winners
        (
            "seed000",
            ["--values", str(ROOT / "examples" / "seed000-values.json")],
            ["0.25", "−0.15", "0.0364", "0.044606", "Max-pool backward"],
        ),
        ("seed003", ["--random", "3"], ["drawn with --random 3", "rot180"]),
    ],
)
def test_network_sheet_compiles(tmp_path: Path, preset: str, numbers, expected) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "symcnn", "sheet", "--preset", preset, *numbers, "--pdf",
         "-o", "out/net.tex"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["wrote", "out/net.tex", "wrote", "out/net.pdf"]
    pdf = tmp_path / "out" / "net.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    for heading in (
        "The network",
        "Forward pass",
        "The loss and the output error",
        "Backward pass",
        "why the kernel is rotated",
        "One step of gradient descent",
        "Key formulas",
    ):
        assert heading in text
    assert "Proven" in text and "Not proven" not in text
    for word in expected:
        assert word in text

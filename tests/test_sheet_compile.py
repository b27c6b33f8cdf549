"""Sheets compile with the real TeX engine (skipped, with the reason, when none is installed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from tex_support import NEEDS_TEX, pdf_text

from symcnn import AvgPool2d, Conv2d, MaxPool2d, derive
from symcnn.errors import TexCompileError
from symcnn.numeric.values import random_values
from symcnn.sheet.build import sheet_tex
from symcnn.sheet.compile import compile_pdf
from symcnn.sheet.options import SheetOptions

ROOT = Path(__file__).resolve().parent.parent

pytestmark = NEEDS_TEX


CONFIGS = [
    (Conv2d(kernel=(2, 2), stride=2, padding=1, dilation=2, input=(2, 5, 5)), 1, None),
    (MaxPool2d(window=(2, 2), stride=1, input=(4, 4)), 1, 5),
    (AvgPool2d(window=(3, 2), stride=(1, 2), input=(2, 5, 4)), 0, 1),
    # large enough for every elision: entries, worked rows, matrices beyond 10 columns
    (Conv2d(kernel=(3, 3), input=(12, 12)), 1, 4),
]


@pytest.mark.parametrize(
    ("layer", "index_base", "seed"),
    CONFIGS,
    ids=["conv-s2-p1-d2-c2", "maxpool-overlap", "avgpool-c2-base0", "conv-12x12-elided"],
)
def test_sheets_compile(layer, index_base: int, seed, tmp_path: Path) -> None:
    d = derive(layer, index_base=index_base)
    options = SheetOptions()
    if seed is not None:
        options.values = random_values(d.network, seed)
        options.values_source = f"seed {seed}"
    pdf = compile_pdf(sheet_tex(d, options), timeout=120)
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf, tmp_path, layout=True)
    assert "Key formulas" in text and "Proven" in text and "Not proven" not in text
    assert ("Worked example with numbers" in text) == (seed is not None)


@pytest.mark.subprocess
def test_cli_writes_tex_and_pdf(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "symcnn", "sheet", "conv2d", "--input", "3x3", "--kernel", "2x2",
         "--bias", "untied", "--random", "3", "--pdf", "-o", "out/seed003.tex"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["wrote", "out/seed003.tex", "wrote", "out/seed003.pdf"]
    pdf = (tmp_path / "out" / "seed003.pdf").read_bytes()
    text = pdf_text(pdf, tmp_path, layout=True)
    assert "One step of gradient descent" in text and "drawn with --random 3" in text
    assert sorted(os.listdir(tmp_path / "out")) == ["seed003.pdf", "seed003.tex"]


def test_hostile_title_prints_literally(tmp_path: Path) -> None:
    title = r"\input{/etc/passwd} $ % # _ { } & ~ ^ \ end"
    d = derive(Conv2d(kernel=(1, 1), input=(2, 2)))
    pdf = compile_pdf(sheet_tex(d, SheetOptions(title=title)))
    first_line = pdf_text(pdf, tmp_path, layout=True).strip().splitlines()[0]
    assert first_line.strip() == title


def test_notebook_view_is_valid_latex() -> None:
    """Jupyter renders _repr_latex_ with MathJax; pdflatex accepting it is a strict proxy."""
    view = derive(MaxPool2d(window=(2, 2), input=(2, 4, 4)))._repr_latex_()
    view += derive(
        Conv2d(kernel=(2, 2), out_channels=2, bias="untied", input=(3, 3))
    )._repr_latex_()
    doc = (
        "\\documentclass{article}\\usepackage{amsmath}\\begin{document}\n"
        + view
        + "\n\\end{document}\n"
    )
    assert compile_pdf(doc).startswith(b"%PDF-")


def test_engine_error_is_reported_with_its_line() -> None:
    doc = "\\documentclass{article}\n\\begin{document}\n\\undefinedmacro\n\\end{document}\n"
    with pytest.raises(
        TexCompileError, match=r"Undefined control sequence\. \(line 3 of the \.tex\)"
    ):
        compile_pdf(doc)


def test_engine_is_stopped_at_the_time_limit() -> None:
    doc = "\\documentclass{article}\\begin{document}\\def\\loop{\\loop}\\loop\\end{document}"
    with pytest.raises(TexCompileError, match="did not finish within 2 s"):
        compile_pdf(doc, timeout=2)


def test_no_shell_escape_and_no_reading_outside(tmp_path: Path) -> None:
    secret = tmp_path / "secret.tex"
    secret.write_text("SECRETWORD")
    doc = (
        "\\documentclass{article}\\begin{document}\n"
        f"\\IfFileExists{{{secret}}}{{\\input{{{secret}}}}}{{NOTREAD}}\n"
        "\\immediate\\write18{touch " + str(tmp_path / "pwned") + "}\n\\end{document}\n"
    )
    text = pdf_text(compile_pdf(doc), tmp_path, layout=True)
    assert "NOTREAD" in text and "SECRETWORD" not in text
    assert not (tmp_path / "pwned").exists()

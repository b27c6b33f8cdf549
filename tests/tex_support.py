"""What the tests that compile sheets share: the TeX marks and the text of a compiled PDF."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from symcnn.sheet.compile import find_engine

#: Marks of a test that runs a TeX engine: left out of mutation runs, skipped without pdflatex.
NEEDS_TEX = [
    pytest.mark.tex,
    pytest.mark.skipif(
        find_engine() is None,
        reason="no TeX engine (pdflatex) installed: scripts/bootstrap installs texlive as root",
    ),
]


def pdf_text(pdf: bytes, tmp_path: Path, layout: bool = False) -> str:
    """The PDF's text by poppler's pdftotext (the test is skipped without it); ``layout``
    keeps the page's columns."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def needs_tex(test):
    """The `NEEDS_TEX` marks on one test function."""
    for mark in NEEDS_TEX:
        test = mark(test)
    return test

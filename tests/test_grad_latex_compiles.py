"""`symcnn grad --format latex` compiles as printed in a plain amsmath document, at any width."""

from __future__ import annotations

import pytest
from tex_support import NEEDS_TEX

from symcnn import Conv2d, MaxPool2d, derive, preset
from symcnn.sheet.compile import compile_pdf

pytestmark = NEEDS_TEX

PLAIN = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n%s\n\\end{document}\n"


@pytest.mark.parametrize(
    "derivation",
    [
        # 12 and 13 columns: more than amsmath's bmatrix takes without MaxMatrixCols
        lambda: derive(Conv2d(kernel=(1, 2), input=(2, 13))),
        lambda: derive(MaxPool2d(window=(1, 1), input=(1, 12))),
        lambda: preset("seed003").derive(),
    ],
    ids=["conv-13-columns", "maxpool-12-columns", "network"],
)
def test_the_latex_output_compiles_in_a_plain_document(derivation) -> None:
    latex = derivation().latex()
    assert r"\begin{array}" in latex or "network" in latex.splitlines()[0]
    assert compile_pdf(PLAIN % latex, timeout=120).startswith(b"%PDF-")

"""The committed gallery in output/ is what the code renders now, and shows the seeds' numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from symcnn.gallery import COMMAND, GALLERY, PREVIEW, render_entry
from symcnn.spec import AvgPool2D, Conv2D, MaxPool2D

OUTPUT = Path(__file__).resolve().parent.parent / "output"


@pytest.mark.parametrize("entry", GALLERY, ids=lambda e: e.name)
def test_gallery_is_up_to_date(entry) -> None:
    path = OUTPUT / f"{entry.name}.tex"
    assert path.is_file(), f"{path} is missing; regenerate the gallery: {COMMAND}"
    assert path.read_text(encoding="utf-8") == render_entry(entry), (
        f"{path.name} is out of date with the code; regenerate the gallery: {COMMAND}"
    )


def test_gallery_covers_the_required_layers() -> None:
    specs = [e.spec for e in GALLERY]
    assert any(isinstance(s, Conv2D) and s.stride == (2, 2) and s.padding == (1, 1) for s in specs)
    assert any(isinstance(s, Conv2D) and s.in_channels == 2 and s.out_channels == 2 for s in specs)
    assert any(isinstance(s, MaxPool2D) and s.stride < s.window for s in specs)
    assert any(isinstance(s, AvgPool2D) for s in specs)
    seed003 = next(e for e in GALLERY if e.name == "conv2d-seed003")
    assert seed003.spec == Conv2D(input=(3, 3), kernel=(2, 2), bias="untied")
    assert seed003.values is not None
    for entry in GALLERY:
        assert (OUTPUT / f"{entry.name}.pdf").is_file(), f"regenerate the gallery: {COMMAND}"
    assert (OUTPUT / f"{PREVIEW[0]}-page{PREVIEW[1]}.png").is_file()


def _matrices(tex: str, label: str) -> list[list[list[float]]]:
    """Every numeric bmatrix displayed as ``label = [...]`` in the worked example."""
    worked = tex.split("Worked example with numbers", 1)[1]
    found = []
    for m in re.finditer(
        re.escape(label) + r" = \\begin\{bmatrix\} (.*?) \\end\{bmatrix\}", worked
    ):
        found.append([[float(x) for x in row.split("&")] for row in m.group(1).split(r"\\")])
    return found


def test_seed001_weight_gradient_is_the_published_one() -> None:
    tex = (OUTPUT / "conv2d-seed001.tex").read_text(encoding="utf-8")
    (grad,) = _matrices(tex, r"\frac{\partial E}{\partial w}")
    assert grad == [[0.044606, 0.094061], [0.011262, 0.068288]]


def test_seed003_pooling_numbers() -> None:
    avg = (OUTPUT / "avgpool2d-seed003.tex").read_text(encoding="utf-8")
    assert _matrices(avg, "z") == [[[3.5, 5.5], [11.5, 13.5]]]
    (grad,) = _matrices(avg, r"\frac{\partial E}{\partial a}")
    assert grad == [[0.25, 0.25, 0.5, 0.5], [0.25, 0.25, 0.5, 0.5], [2, 2, 1, 1], [2, 2, 1, 1]]
    mx = (OUTPUT / "maxpool2d-seed003.tex").read_text(encoding="utf-8")
    (grad,) = _matrices(mx, r"\frac{\partial E}{\partial a}")
    assert grad == [[1, 0, 0, 0], [0, 0, 2, 0], [0, 8, 0, 0], [0, 0, 4, 0]]

"""The committed gallery in output/ is what the code renders now, and shows the seeds' numbers."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from symcnn import AvgPool2d, Conv2d, MaxPool2d
from symcnn.gallery import COMMAND, entries, render

OUTPUT = Path(__file__).resolve().parent.parent / "output"
GALLERY = entries()
SEED001_D = json.loads((OUTPUT.parent / "examples" / "seed001-values.json").read_text())["delta"]


@pytest.mark.parametrize("entry", GALLERY, ids=lambda e: e.name)
def test_gallery_is_up_to_date(entry) -> None:
    path = OUTPUT / f"{entry.name}.tex"
    assert path.is_file(), f"{path} is missing; regenerate the gallery: {COMMAND}"
    assert path.read_text(encoding="utf-8") == render(entry), (
        f"{path.name} is out of date with the code; regenerate the gallery: {COMMAND}"
    )


def test_gallery_covers_the_required_layers() -> None:
    networks = {e.name: e.network() for e in GALLERY}
    specs = [net.specs[0] for net in networks.values() if net.lone]
    assert any(isinstance(s, Conv2d) and s.stride == (2, 2) and s.padding == (1, 1) for s in specs)
    assert any(isinstance(s, Conv2d) and s.in_channels == 2 and s.out_channels == 2 for s in specs)
    assert any(isinstance(s, MaxPool2d) and s.stride < s.window for s in specs)
    assert any(isinstance(s, AvgPool2d) for s in specs)
    seed003 = networks["conv2d-seed003"]
    assert seed003.specs[0] == Conv2d(kernel=(2, 2), bias="untied", input=(3, 3))
    assert seed003.index_base == 1
    assert next(e for e in GALLERY if e.name == "conv2d-seed003").values(seed003) is not None
    presets = {e.table["preset"]: e for e in GALLERY if "preset" in e.table}
    assert set(presets) >= {"seed000", "seed003"}
    assert presets["seed000"].values(networks[presets["seed000"].name]) is not None
    for entry in GALLERY:
        assert (OUTPUT / f"{entry.name}.pdf").is_file(), f"regenerate the gallery: {COMMAND}"
        if entry.preview is not None:
            png = OUTPUT / f"{entry.name}-page{entry.preview}.png"
            assert png.is_file(), f"regenerate the gallery: {COMMAND}"


def _matrices(tex: str, label: str) -> list[list[list[float]]]:
    """Every numeric bmatrix displayed as ``label = [...]`` in the worked example."""
    worked = tex.split("Worked example with numbers", 1)[1]
    found = []
    for m in re.finditer(
        re.escape(label) + r" = \\begin\{bmatrix\} (.*?) \\end\{bmatrix\}", worked
    ):
        found.append([[float(x) for x in row.split("&")] for row in m.group(1).split(r"\\")])
    return found


def test_seed000_network_reproduces_the_seeds() -> None:
    """Seed 000's network with its example values: the hidden neurons' errors are seed 000's
    δH1 = 0.25, δH2 = −0.15; the max-pool routes seed 001's d to the conv output, at the
    winners; and the kernel gradient is seed 001's published one."""
    tex = (OUTPUT / "network-seed000.tex").read_text(encoding="utf-8")
    assert _matrices(tex, r"\delta^{(4)}") == [[[0.25, -0.15]]]
    assert _matrices(tex, r"\delta^{(0)}") == [SEED001_D]
    assert _matrices(tex, r"\frac{\partial E}{\partial w^{(0)}}") == [
        [[0.044606, 0.094061], [0.011262, 0.068288]]
    ]
    winners = (
        r"$p^{(1)}_{11} = z^{(0)}_{22} = 0.4117$, $p^{(1)}_{12} = z^{(0)}_{13} = 0.2499$, "
        r"$p^{(1)}_{21} = z^{(0)}_{32} = 0.5153$, $p^{(1)}_{22} = z^{(0)}_{44} = 0.3553$."
    )
    assert winners in tex.replace(", \n", ", ")
    # seed 001: z_11 = 0.25 with w_11 = −0.13
    assert r"z^{(0)}_{11} &= x_{11} w^{(0)}_{11}" in tex and "= 0.25\n" in tex


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


def test_seed000_values_file_is_what_its_script_writes() -> None:
    """examples/seed000-values.json is reproducible from the seeds' numbers by its script."""
    path = OUTPUT.parent / "examples" / "seed000_values.py"
    spec = importlib.util.spec_from_file_location("seed000_values", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = (OUTPUT.parent / "examples" / "seed000-values.json").read_text(encoding="utf-8")
    assert module.as_json(module.values()) == committed

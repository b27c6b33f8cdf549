"""Sheets of the kinds of issue 12 (leaky relu, global average pooling, grouped and transposed
convolutions) compile with the real TeX engine and say what these layers do (skipped without
a TeX engine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tex_support import NEEDS_TEX, pdf_text

from symcnn import Conv2d, ConvTranspose2d, GlobalAvgPool2d, LeakyReLU, Network, derive
from symcnn.numeric.values import random_values
from symcnn.sheet.build import sheet_tex
from symcnn.sheet.compile import compile_pdf
from symcnn.sheet.options import SheetOptions

pytestmark = NEEDS_TEX


LAYERS = [
    (
        ConvTranspose2d(kernel=3, stride=2, padding=1, output_padding=1, input=(2, 2)),
        [
            "ConvTranspose2d",
            "correlation of the error with the kernel, not rotated",
            "output padding",
        ],
    ),
    (
        ConvTranspose2d(kernel=2, out_channels=2, dilation=2, bias="untied", input=(2, 2, 2)),
        ["input channels × output channels × rows × columns", "Proven"],
    ),
    (
        Conv2d(kernel=2, out_channels=4, groups=2, padding=1, input=(4, 3, 3)),
        ["split into G = 2 groups", "per group", "(g = 1, . . . , G)"],
    ),
    (
        Conv2d(kernel=2, out_channels=3, groups=3, input=(3, 3, 3)),
        ["a depthwise convolution", "input channels per group"],
    ),
    (GlobalAvgPool2d(input=(2, 3, 3)), ["AdaptiveAvgPool2d(1)", "divided by HW = 9"]),
    (
        LeakyReLU(0.2, input=(1, 2, 2)),
        ["[x > 0] + 0.2", "whose derivative is lrelu′"],
    ),
]


@pytest.mark.parametrize(("layer", "words"), LAYERS, ids=lambda v: getattr(v, "kind", ""))
def test_layer_sheets_compile(layer, words: list[str], tmp_path: Path) -> None:
    d = derive(layer)
    options = SheetOptions(values=random_values(d.network, 1), values_source="seed 1")
    text = " ".join(pdf_text(compile_pdf(sheet_tex(d, options), timeout=120), tmp_path).split())
    assert ("Proven" in text) == bool(d.identities) and "Not proven" not in text
    assert "Worked example with numbers" in text
    for word in words:
        assert word in text, word


#: The network's layers as its sheet names them (from each kind's title).
TITLES = ["convolution", "leaky ReLU", "transposed convolution", "global average pooling"]


def test_a_network_of_the_new_kinds_compiles(tmp_path: Path) -> None:
    net = Network(
        [
            {"type": "conv2d", "kernel": 2, "out_channels": 2, "groups": 2},
            {"type": "leaky_relu", "negative_slope": 0.1},
            {"type": "conv_transpose2d", "kernel": 2, "stride": 2, "out_channels": 2},
            {"type": "global_avgpool2d"},
            {"type": "flatten"},
            {"type": "dense", "out_features": 2},
        ],
        input=(2, 3, 3),
    )
    d = derive(net)
    options = SheetOptions(values=random_values(net, 0))
    text = " ".join(pdf_text(compile_pdf(sheet_tex(d, options), timeout=180), tmp_path).split())
    for index, title in enumerate(TITLES):
        assert f"Layer {index}, {title}" in text, title
    assert "Not proven" not in text

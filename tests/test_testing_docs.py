"""docs/testing.md shows real output: its examples, run again, print exactly the pasted reports."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from symcnn import Conv2d, MaxPool2d
from symcnn.testing import compare_layer_backward

DOC = Path(__file__).resolve().parent.parent / "docs" / "testing.md"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), re.S)


def _function(code: str, name: str):
    namespace: dict[str, object] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    return namespace[name]


def test_conv_example_report_is_the_one_pasted() -> None:
    conv_code = _blocks("python")[0]
    fn = _function(conv_code, "conv2d_backward")
    pasted = _blocks("text")[0]
    e_lines = [
        line[8:] if len(line) > 8 else "" for line in pasted.splitlines() if line.startswith("E ")
    ]
    header = e_lines[0].split(": ", 1)[1]
    report = "\n".join([header, *e_lines[1:]])
    result = compare_layer_backward(Conv2d(kernel=(3, 3), padding=1, input=(4, 4)), fn)
    assert not result.ok
    assert result.message == report


def test_pool_example_report_is_the_one_pasted() -> None:
    fn = _function(_blocks("python")[2], "maxpool_backward")
    block = next(b for b in _blocks("text") if "pool_backward.py:maxpool_backward" in b)
    pasted = block.split("\n", 1)[1].rstrip("\n")
    result = compare_layer_backward(MaxPool2d(window=(2, 2), input=(4, 4)), fn, max_entries=1)
    assert result.message == pasted


def test_torch_example_runs() -> None:
    pytest.importorskip("torch")
    code = next(b for b in _blocks("python") if "torch_fn(conv_backward_torch)" in b)
    exec(compile("from symcnn import Conv2d\n" + code, str(DOC), "exec"), {})

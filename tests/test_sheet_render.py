"""Sheets as LaTeX source: escaping, strict templates, determinism, the engine's formulas."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import numpy as np
import pytest

from symcnn import Conv2d, MaxPool2d, derive
from symcnn.cli import main
from symcnn.numeric.values import random_values
from symcnn.render.tex import Tex, escape_tex
from symcnn.sheet.build import sheet_tex
from symcnn.sheet.options import SheetOptions
from symcnn.sheet.tex import environment

HOSTILE = r"\input{/etc/passwd} $ % # _ { } & ~ ^ \ "
ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "symcnn", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- escaping and the template environment ------------------------------------------------


def test_hostile_title_is_text_in_the_source() -> None:
    tex = sheet_tex(
        derive(Conv2d(kernel=(1, 1), input=(2, 2))), SheetOptions(title=HOSTILE + "50%")
    )
    assert r"\input{/etc/passwd}" not in tex
    title_line = next(line for line in tex.splitlines() if r"\LARGE" in line)
    assert r"\textbackslash{}input\{/etc/passwd\}" in title_line
    # the title contributes no unescaped special character and no new command
    body = title_line.split(r"\bfseries", 1)[1]
    assert not re.search(r"(?<!\\)[$%#&]", body)
    commands = set(re.findall(r"\\([A-Za-z]+)", body))
    assert commands <= {"textbackslash", "texttt", "char", "par"}


def test_escape_tex_keeps_every_character_printable() -> None:
    out = escape_tex("Tiếng Việt · δ → ∂E, naïve 中")
    assert r"\'{\^{e}}" in out and r"\ensuremath{\delta}" in out and r"\"{\i{}}" in out
    assert out.endswith("?")  # no glyph in pdflatex's fonts: a visible placeholder, no error


def test_environment_is_strict() -> None:
    env = environment()
    with pytest.raises(jinja2.UndefinedError):
        env.from_string(r"\VAR{missing}").render()
    with pytest.raises(TypeError, match="printed Tex strings"):
        env.from_string(r"\VAR{x}").render(x=0.1)
    with pytest.raises(TypeError):
        env.from_string(r"\VAR{x}").render(x=None)
    # plain strings are escaped, Tex is not, whole numbers print
    out = env.from_string(r"\VAR{s} \VAR{t} \VAR{n}").render(s="a_b", t=Tex(r"a_{b}"), n=3)
    assert out == r"a\texttt{\char95}b a_{b} 3"


def test_latex_that_looks_like_jinja_is_left_alone() -> None:
    source = "\\#{x} %% not a statement\n% {# not a comment #} {{ x }} {% x %}\n((= gone =))done"
    out = environment().from_string(source).render()
    assert out == "\\#{x} %% not a statement\n% {# not a comment #} {{ x }} {% x %}\ndone"


@pytest.mark.subprocess
def test_templates_load_from_an_installed_layout(tmp_path: Path) -> None:
    """Without the source tree on the path, importlib.resources finds symcnn/sheet/templates."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "symcnn", site / "symcnn", ignore=shutil.ignore_patterns("__pycache__"))
    code = (
        "from symcnn.sheet.tex import _template_root; from symcnn import Conv2d, derive; "
        "from symcnn.sheet.build import sheet_tex; print(_template_root()); "
        "print(len(sheet_tex(derive(Conv2d(kernel=(1, 1), input=(2, 2))))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    root, size = proc.stdout.split()
    assert str(site / "symcnn" / "sheet" / "templates") in root
    assert int(size) > 1000


# --- the formulas on the sheet are right ---------------------------------------------------

_NAME = re.compile(r"^(\\delta|a|w|b|z)_\{(\d)(\d)\}$")


def parse_sum(tex: str, values: dict[str, float]) -> float:
    """Evaluate a printed sum of products like ``\\delta_{11} w_{12} + \\delta_{12} w_{11}``."""
    total = 0.0
    for term in tex.split(" + "):
        product = 1.0
        for factor in term.split():
            m = _NAME.match(factor)
            assert m, f"unexpected factor {factor!r} in {tex!r}"
            product *= values[f"{m.group(1)}{m.group(2)}{m.group(3)}"]
        total += product
    return total


def test_seed003_entries_on_the_sheet_match_plain_loops() -> None:
    """Read every forward and gradient entry back from the .tex and evaluate it."""
    d = derive(Conv2d(kernel=(2, 2), bias="untied", input=(3, 3)))
    tex = sheet_tex(d, SheetOptions(detail="full"))
    rng = np.random.default_rng(0)
    a, w, b, d = (rng.normal(size=s) for s in ((3, 3), (2, 2), (2, 2), (2, 2)))
    values = {f"a{r + 1}{c + 1}": a[r, c] for r in range(3) for c in range(3)}
    values |= {f"w{r + 1}{c + 1}": w[r, c] for r in range(2) for c in range(2)}
    values |= {f"b{r + 1}{c + 1}": b[r, c] for r in range(2) for c in range(2)}
    values |= {f"\\delta{r + 1}{c + 1}": d[r, c] for r in range(2) for c in range(2)}
    z = np.array(
        [[np.sum(a[i : i + 2, j : j + 2] * w) + b[i, j] for j in range(2)] for i in range(2)]
    )
    grad_a, grad_w = np.zeros((3, 3)), np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            grad_a[i : i + 2, j : j + 2] += d[i, j] * w
            grad_w += d[i, j] * a[i : i + 2, j : j + 2]
    expected = {"z": z, "a": grad_a, "w": grad_w, "b": d}
    found = {k: 0 for k in expected}
    for line in tex.splitlines():
        m = re.match(
            r"^(?:z_\{(\d)(\d)\}|\\frac\{\\partial E\}\{\\partial (a|w|b)_\{(\d)(\d)\}\}) &= (.*)$",
            line,
        )
        if not m:
            continue
        name = "z" if m.group(1) else m.group(3)
        r, c = (int(x) - 1 for x in (m.group(1, 2) if m.group(1) else m.group(4, 5)))
        rhs = re.split(r" = | &= ", m.group(6))[-1]  # after the chain-rule form, if shown
        assert parse_sum(rhs, values) == pytest.approx(expected[name][r, c])
        found[name] += 1
    assert found == {"z": 4, "a": 9, "w": 4, "b": 4}


def test_forward_matrix_form_only_where_it_is_the_output() -> None:
    """``a ⋆ w + b = z`` (seed 003's form) is shown only when it is true as written."""
    seed003 = sheet_tex(derive(Conv2d(kernel=(2, 2), bias="untied", input=(3, 3))))
    strided = sheet_tex(derive(Conv2d(kernel=(3, 3), stride=2, padding=1, input=(5, 5))))
    assert r"In matrix form, $z = a \star w$ plus the bias" in seed003
    assert "In matrix form" not in strided


def test_worked_example_numbers_match_numpy() -> None:
    d = derive(Conv2d(kernel=(2, 2), bias="untied", input=(3, 3)))
    values = random_values(d.network, 3)
    tex = sheet_tex(d, SheetOptions(values=values, values_source="test", lr=0.5, detail="full"))
    arrays = values.arrays()
    a, w, delta = arrays["input"][0], arrays["weight"][0, 0], arrays["delta"][0]
    grad_w = sum(delta[i, j] * a[i : i + 2, j : j + 2] for i in range(2) for j in range(2))
    # each entry ends with "= result"; the SGD step shows w − 0.5 ∂E/∂w
    worked = tex.split("Worked example with numbers", 1)[1]
    for (r, c), g in np.ndenumerate(grad_w):
        start = worked.index(rf"\frac{{\partial E}}{{\partial w_{{{r + 1}{c + 1}}}}} &=")
        row = re.split(r"\\\\\[0\.6ex\]|\\end\{align\*\}", worked[start:], maxsplit=1)[0]
        assert float(row.rsplit("=", 1)[1]) == pytest.approx(g, abs=1e-6)
    updated = w - 0.5 * grad_w
    sgd = next(line for line in tex.splitlines() if line.startswith(r"\[ \fitmath{w \leftarrow"))
    last = sgd.rsplit(r"\begin{bmatrix}", 1)[1].split(r"\end{bmatrix}")[0]
    numbers = [float(x) for x in re.split(r"&|\\\\", last)]
    assert numbers == pytest.approx(updated.ravel().tolist(), abs=1e-6)


# --- determinism, size limits, the notebook view ----------------------------------------


@pytest.mark.subprocess
def test_rendering_is_byte_identical_across_processes(tmp_path: Path) -> None:
    args = ("sheet", "maxpool2d", "--input", "4x4", "--window", "2x2", "--stride", "1")
    outs = [
        run_cli(*args, "--random", "2", "-o", "-", cwd=tmp_path, env={"PYTHONHASHSEED": seed})
        for seed in ("1", "2")
    ]
    assert outs[0].returncode == 0, outs[0].stderr
    assert outs[0].stdout == outs[1].stdout
    assert outs[0].stdout.startswith("%") and outs[0].stdout.rstrip().endswith(r"\end{document}")


def test_large_layers_are_elided_not_broken() -> None:
    tex = sheet_tex(derive(Conv2d(kernel=(3, 3), input=(12, 12))), SheetOptions(detail="full"))
    # the widest matrix is the zero-padded 10x10 δ of the input identity: 10 + 2·2 columns
    assert r"\setcounter{MaxMatrixCols}{14}" in tex
    assert "more entries of the same form" in tex
    tex = sheet_tex(derive(MaxPool2d(window=(2, 2), input=(17, 17))))
    assert r"\cdots" in tex and r"\vdots" in tex
    # matrices stop at 16 columns, fewer when their cells would make them too wide to read
    widest = max(int(n) for n in re.findall(r"MaxMatrixCols\}\{(\d+)", tex))
    assert 5 <= widest <= 16
    for body in re.findall(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", tex, re.S):
        first_row = body.split(r"\\")[0]
        assert first_row.count("&") + 1 <= widest


def test_notebook_view_is_compact() -> None:
    small = derive(Conv2d(kernel=(2, 2), input=(3, 3)))._repr_latex_()
    assert small.startswith("$$\\begin{aligned}") and small.endswith("\\end{aligned}$$")
    assert small.count(r"\begin{bmatrix}") == 3 and "proven" in small
    big = derive(Conv2d(kernel=(3, 3), out_channels=6, input=(20, 20)))._repr_latex_()
    assert r"\cdots" in big and "more slices" in big
    assert len(big) < 20_000


# --- command line: bad input and the missing engine ---------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "invalid JSON at line 1 column 2"),
        (
            '{"input": [[1, 2], [3, 4]], "weight": [[1]], "bias": [0]}',
            "missing delta (an array of shape [1, 2, 2])",
        ),
        (
            '{"input": [[1, 2, 3]], "weight": [[1]], "bias": [0], "delta": [[1, 2], [3, 4]]}',
            "input has shape [1, 3]",
        ),
        (
            '{"input": 1, "weight": [[1]], "bias": [0], "delta": [[1]], "extra": 2}',
            "unknown key 'extra'",
        ),
    ],
)
def test_bad_values_file_exit_2_one_line(
    tmp_path: Path, capsys, content: str, message: str
) -> None:
    values = tmp_path / "v.json"
    values.write_text(content)
    out = tmp_path / "s.tex"
    code = main(
        [
            "sheet",
            "conv2d",
            "--input",
            "2x2",
            "--kernel",
            "1x1",
            "--values",
            str(values),
            "-o",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("symcnn: error:") and message in err and err.count("\n") == 1
    assert not out.exists()


def test_values_file_with_squeezed_shapes(tmp_path: Path) -> None:
    values = tmp_path / "v.json"
    values.write_text(
        json.dumps(
            {"input": [[1, 2], [3, 4]], "weight": [[2]], "bias": 0.5, "delta": [[1, 0], [0, -1]]}
        )
    )
    out = tmp_path / "s.tex"
    assert (
        main(
            [
                "sheet",
                "conv2d",
                "--input",
                "2x2",
                "--kernel",
                "1x1",
                "--values",
                str(values),
                "--detail",
                "full",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    tex = out.read_text()
    assert r"z_{22} &= a_{22} w_{11} + b = 4 \cdot 2 + 0.5 = 8.5" in tex


@pytest.mark.subprocess
def test_missing_engine_still_writes_the_tex(tmp_path: Path) -> None:
    proc = run_cli(
        "sheet", "avgpool2d", "--input", "2x2", "--window", "2x2", "--pdf", "-o", "s.tex",
        cwd=tmp_path, env={"PATH": str(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "no TeX engine found" in proc.stderr and "s.tex" in proc.stderr
    assert (tmp_path / "s.tex").read_text().rstrip().endswith(r"\end{document}")
    assert not (tmp_path / "s.pdf").exists()


def test_sheet_usage_errors(tmp_path: Path, capsys) -> None:
    assert main(["sheet", "conv2d", "--input", "3x3", "--kernel", "2x2", "--pdf", "-o", "-"]) == 2
    assert "--pdf needs a file" in capsys.readouterr().err
    assert (
        main(["sheet", "conv2d", "--input", "3x3", "--kernel", "2x2", "--lr", "0", "-o", "-"]) == 2
    )
    assert (
        main(
            ["sheet", "conv2d", "--input", "3x3", "--kernel", "2x2", "-o", str(tmp_path / "x.txt")]
        )
        == 2
    )
    assert main(["sheet"]) == 2
    assert (
        main(["sheet", "conv2d", "--input", "3x3", "--kernel", "2x2", "--random", "-1", "-o", "-"])
        == 2
    )


@pytest.mark.parametrize("option", [["--lr", "inf"], ["--lr", "nan"], ["--timeout", "nan"]])
def test_non_finite_numbers_are_refused(option: list[str], capsys) -> None:
    # an infinite η would print inf/nan parameters in the SGD step; a NaN timeout never fires
    args = ["sheet", "conv2d", "--input", "3x3", "--kernel", "2x2", "--random", "1", "-o", "-"]
    assert main([*args, *option]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symcnn: error:") and option[0] in err and err.count("\n") == 1

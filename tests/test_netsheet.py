"""Network sheets: the engine's formulas, numbers checked against plain NumPy, bad input."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from netref import finite_differences, forward

from symcnn import load_network, preset, random_values
from symcnn.cli import main
from symcnn.core.symbols import Role
from symcnn.render.printers import SymcnnLatexPrinter, chain_sum_string, forward_string
from symcnn.sheet.build import sheet_tex as network_tex
from symcnn.sheet.options import SheetOptions

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = r"\input{/etc/passwd} $ % # _ { } & ~ ^ \ "


def align_rows(tex: str) -> dict[str, list[str]]:
    """Every ``lhs &= rhs`` row of the align* blocks, its broken lines joined again."""
    rows: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in tex.splitlines():
        if " &= " in line and not line.startswith(" "):
            lhs, rhs = line.split(" &= ", 1)
            current = [rhs]
            rows.setdefault(lhs, []).append("")
        elif current is not None and line.startswith(r" \\ &\qquad"):
            current.append(line[len(r" \\ &\qquad") :])
        else:
            if current is not None:
                rows[lhs][-1] = "".join(current)
            current = None
    return rows


def test_every_formula_on_the_sheet_is_the_printers() -> None:
    """Forward entries, every δ and every gradient of seed 000's network, as printed by the
    engine's printers (the rows may break lines; joined again they are the same string)."""
    d = preset("seed000").derive()
    rows = align_rows(network_tex(d, SheetOptions(detail="full")))
    p = SymcnnLatexPrinter(d.table)
    checked = 0
    for layer in [*d.layers, d.loss]:
        out = layer.grid(Role.OUTPUT).symbols
        for idx in np.ndindex(*layer.output_shape):
            (rhs,) = rows[p.symbol(out[idx])]
            assert rhs == forward_string(p, layer.forward.terms[idx])
            checked += 1
    for layer in d.layers:
        names = layer.grid(Role.DELTA).symbols
        for idx in np.ndindex(*layer.output_shape):
            cs = layer.delta[idx]
            (rhs,) = rows[f"{p.symbol(names[idx])} = {p.gradient_name(cs.wrt)}"]
            assert rhs.endswith(chain_sum_string(p, cs))  # after its chain-rule form, if shown
            checked += 1
        for role in (*layer.params, Role.INPUT):
            if role is Role.INPUT and layer.index != 0:
                continue  # the input gradient of a later layer is the δ above
            for cs in layer.grads[role].ravel():
                rhs = rows[p.gradient_name(cs.wrt)][-1]  # a shared bias: its chain rule first
                assert rhs.endswith(chain_sum_string(p, cs))
                checked += 1
    # forward 35 entries (with E), δ 34, parameters 18, ∂E/∂x 25
    assert checked == 35 + 34 + 18 + 25


#: The error at the output of layer l: δ^{(l)} = ∂E/∂z^{(l)}, or ∇a^{(l)} = ∂E/∂a^{(l)}.
ERROR = r"(?:\\delta|\\nabla [a-z])\^\{\((\d+)\)\}"


def test_every_delta_names_the_layer_it_comes_from() -> None:
    """Seed 002's question: the δ of layer l is written with δ of layer l + 1 only."""
    d = preset("seed000").derive()
    tex = network_tex(d, SheetOptions(detail="full"))
    rows = 0
    for lhs, found in align_rows(tex).items():
        m = re.match(ERROR + r"(_\{\d+\})? = ", lhs)
        if m is None:
            continue
        (rhs,) = found
        layer = int(m.group(1))
        used = {int(k) for k in re.findall(ERROR, rhs)}
        assert used == ({layer + 1} if layer < 7 else set()), (lhs, rhs)
        rows += 1
    assert rows == 34
    # each layer's part starts from its own error and hands the one before it back
    headings = re.findall(r"\\subsection\{Layer (\d+), [^:]*: from \$" + ERROR + r"\$ back\}", tex)
    assert [(int(a), int(b)) for a, b in headings] == [(i, i) for i in range(7, -1, -1)]


def _matrix(tex: str, label: str) -> np.ndarray:
    """The numbers of the bmatrix displayed as ``label = [...]`` in the worked example."""
    worked = tex.split(r"\section{Worked example with numbers}", 1)[1]
    m = re.search(re.escape(label) + r" = \\begin\{bmatrix\} (.*?) \\end\{bmatrix\}", worked)
    assert m, f"no matrix {label}"

    def number(text: str) -> float:
        return float(text.strip().replace(r" \times 10^{", "e").rstrip("}"))

    return np.array([[number(x) for x in row.split("&")] for row in m.group(1).split(r"\\")])


def test_worked_numbers_match_plain_numpy() -> None:
    """Seed 003's network with random numbers: the worked example's forward values, δs and
    gradients against a plain-loop forward pass and finite differences, and the SGD step."""
    net = preset("seed003")
    values = random_values(net, 4)
    tex = network_tex(net.derive(), SheetOptions(values=values, lr=0.5))
    layers = [
        {"type": "conv2d", "stride": (1, 1), "padding": (0, 0), "dilation": (1, 1), "bias": "untied"},
        {"type": "sigmoid"},
    ]  # fmt: skip
    params = {k: v.copy() for k, v in values.params.items()}
    _, outs = forward(layers, values.input, params, "mse", values.target)
    grads = finite_differences(layers, values.input, params, "mse", values.target)
    close = {"rel": 5e-5, "abs": 2e-6}  # five significant digits on the sheet
    assert _matrix(tex, "z^{(0)}") == pytest.approx(outs[1][0], **close)
    assert _matrix(tex, "a^{(1)}") == pytest.approx(outs[2][0], **close)
    assert _matrix(tex, r"\nabla a^{(1)}") == pytest.approx((outs[2] - values.target)[0], **close)
    # untied bias: ∂E/∂b is δ of the conv output
    assert _matrix(tex, r"\delta^{(0)}") == pytest.approx(grads["0.bias"][0], **close)
    weight = _matrix(tex, r"\frac{\partial E}{\partial w^{(0)}}")
    assert weight == pytest.approx(grads["0.weight"][0, 0], **close)
    assert _matrix(tex, r"\frac{\partial E}{\partial x}") == pytest.approx(
        grads["input"][0], **close
    )
    sgd = next(
        line for line in tex.splitlines() if line.startswith(r"\[ \fitmath{w^{(0)} \leftarrow")
    )
    last = sgd.rsplit(r"\begin{bmatrix}", 1)[1].split(r"\end{bmatrix}")[0]
    updated = [float(x) for x in re.split(r"&|\\\\", last)]
    expected = values.params["0.weight"][0, 0] - 0.5 * grads["0.weight"][0, 0]
    assert updated == pytest.approx(expected.ravel().tolist(), **close)


def test_loss_section_states_the_convention_and_the_output_delta() -> None:
    tex = network_tex(preset("seed003").derive())
    loss = tex.split(r"\subsection{The loss and the output error}", 1)[1].split(r"\section", 1)[0]
    assert "with a half and a sum (no mean over the entries" in loss
    assert (
        r"E = \frac{1}{2} \sum_{i=1}^{H} \sum_{j=1}^{W} \left(a^{(1)}_{i,\,j} - t_{i,\,j}\right)^{2}"
        in loss
    )
    # δ⁰ = (ŷ − t) ⊙ σ'(z⁰), with σ' = σ(1 − σ) in that form
    assert (
        r"\left(a^{(1)}_{i',\,j'} - t_{i',\,j'}\right) \sigma\left(z^{(0)}_{i',\,j'}\right) "
        r"\left(1 - \sigma\left(z^{(0)}_{i',\,j'}\right)\right)" in loss
    )
    assert r"\odot \sigma'(z^{(0)})" in loss


def test_large_network_renders_truncated() -> None:
    """20x20 → conv 5x5 → max-pool → sigmoid → dense 10 → cross-entropy: entries are elided
    (an MNIST-like network, smaller so that the test stays quick)."""
    toml = (
        'input = [1, 20, 20]\nloss = "cross_entropy"\n[[layer]]\ntype = "conv2d"\n'
        'kernel = [5, 5]\n[[layer]]\ntype = "maxpool2d"\nwindow = [2, 2]\n[[layer]]\n'
        'type = "sigmoid"\n[[layer]]\ntype = "flatten"\n[[layer]]\ntype = "dense"\n'
        "out_features = 10\n"
    )
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"symcnn-mnist-{os.getpid()}.toml"
    path.write_text(toml)
    try:
        net = load_network(path)
    finally:
        path.unlink()
    tex = network_tex(net.derive(), SheetOptions(values=random_values(net, 1), detail="full"))
    assert tex.rstrip().endswith(r"\end{document}")
    assert "more entries of the same form" in tex and r"\cdots" in tex and r"\vdots" in tex
    assert r"\setcounter{MaxMatrixCols}{16}" in tex
    assert "One step of gradient descent" in tex
    assert len(tex) < 1_500_000


def test_hostile_title_is_text() -> None:
    tex = network_tex(preset("seed003").derive(), SheetOptions(title=HOSTILE))
    assert r"\input{/etc/passwd}" not in tex
    title = next(line for line in tex.splitlines() if r"\LARGE" in line)
    assert r"\textbackslash{}input\{/etc/passwd\}" in title


@pytest.mark.subprocess
def test_rendering_is_byte_identical_across_processes(tmp_path: Path) -> None:
    args = ["sheet", "--preset", "seed000", "--random", "2", "-o", "-"]
    outs = [
        subprocess.run(
            [sys.executable, "-m", "symcnn", *args],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=120,
        )
        for seed in ("1", "2")
    ]
    assert outs[0].returncode == 0, outs[0].stderr
    assert outs[0].stdout == outs[1].stdout
    assert outs[0].stdout.rstrip().endswith(r"\end{document}")


BAD_TOML = 'input = [1, 3, 3]\n[[layer]]\ntype = "conv2d"; kernel = [2, 2]\n'
NOT_CHAINING = 'input = [1, 3, 3]\n[[layer]]\ntype = "conv2d"\nkernel = [4, 4]\n'
UNKNOWN_TYPE = 'input = [1, 3, 3]\n[[layer]]\ntype = "convolution"\n'


@pytest.mark.parametrize(
    ("network", "values", "extra", "message"),
    [
        (BAD_TOML, None, [], "invalid TOML"),
        (NOT_CHAINING, None, [], "layer 0 (conv2d)"),
        (UNKNOWN_TYPE, None, [], "unknown layer type 'convolution'"),
        (None, "{not json", [], "invalid JSON"),
        (None, '{"input": [[[0, 0, 0], [0, 0, 0], [0, 0, 0]]]}', [], "missing target"),
        (
            None,
            '{"input": [[0, 0, 0]], "target": [[[0, 0], [0, 0]]], "params": {}}',
            [],
            "input has shape [1, 3], expected [1, 3, 3]",
        ),
        (None, None, ["--random", "-1"], "--random needs a seed"),
        (None, None, ["--kernel", "2x2"], "--kernel does not apply"),
        (None, None, ["--network", "x.toml"], "either --network FILE or --preset NAME"),
    ],
    ids=[
        "bad-toml",
        "shapes",
        "unknown-type",
        "values-not-json",
        "values-missing",
        "values-shape",
        "random",
        "layer-option",
        "both",
    ],
)
def test_bad_input_exit_2_one_line_nothing_written(
    tmp_path: Path, capsys, network, values, extra, message
) -> None:
    args = ["sheet", "-o", str(tmp_path / "out.tex"), *extra]
    if network is None:
        args += ["--preset", "seed003"]
    else:
        (tmp_path / "net.toml").write_text(network)
        args += ["--network", str(tmp_path / "net.toml")]
    if values is not None:
        (tmp_path / "v.json").write_text(values)
        args += ["--values", str(tmp_path / "v.json")]
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("symcnn: error:") and message in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["net.toml"] * (network is not None) + ["v.json"] * (values is not None)
    )

"""Every statement a sheet displays is true as read (issue 10's list, and the general rule).

The displayed matrix equations of the worked examples are read back from the .tex and
evaluated here with independent NumPy/SciPy code (not symcnn's); the NumPy lines a sheet
prints are run and compared with plain loops; the statements that were wrong are pinned.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.signal
from reference import OPS, avgpool2d_backward, conv2d_backward, maxpool2d_backward

import symcnn
from symcnn import AvgPool2d, Conv2d, ConvTranspose2d, Linear, MaxPool2d, Sigmoid, derive, preset
from symcnn.kinds.registry import layer_from_table
from symcnn.numeric.values import Values, hand_values, random_values
from symcnn.sheet.build import sheet_tex
from symcnn.sheet.options import SheetOptions

# --- reading LaTeX back --------------------------------------------------------------------

_MATRIX = re.compile(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", re.S)


def number(text: str) -> float:
    text = text.strip().replace(r"\times 10^{", "e").rstrip("}").replace(" ", "")
    return float(text)


def matrix_of(tex: str) -> np.ndarray:
    (body,) = _MATRIX.fullmatch(tex.strip()).groups()  # type: ignore[union-attr]
    return np.array([[number(x) for x in row.split("&")] for row in body.split(r"\\")])


def _closing(text: str, start: int) -> int:
    """The index of the ``\\right)`` that closes the ``\\left(`` ending at ``start``."""
    depth = 1
    for m in re.finditer(r"\\left\(|\\right\)", text[start:]):
        depth += 1 if m.group() == r"\left(" else -1
        if depth == 0:
            return start + m.start()
    raise AssertionError(f"unbalanced brackets in {text!r}")


def evaluate(tex: str) -> np.ndarray:
    r"""A displayed expression: a matrix, ``\operatorname{op}_{args}\left(…\right)`` or
    ``[L] \star [R]`` (the valid cross-correlation, by SciPy)."""
    tex = tex.strip()
    m = re.match(r"\\operatorname\{(\w+)\}(?:_\{([\d,]+)\})?\\left\(", tex)
    if m:
        end = _closing(tex, m.end())
        assert tex[end + len(r"\right)") :].strip() == "", tex
        args = tuple(int(a) for a in m.group(2).split(",")) if m.group(2) else ()
        return OPS[m.group(1)](evaluate(tex[m.end() : end]), args)
    if r"\star" in tex:
        left, right = tex.split(r"\star")
        return scipy.signal.correlate2d(evaluate(left), evaluate(right), mode="valid")
    if tex.count(r"\begin{bmatrix}") == 1 and _MATRIX.fullmatch(tex):
        return matrix_of(tex)
    return arithmetic(tex)


def _group(tex: str, start: int) -> tuple[str, int]:
    """The text inside the brace group that opens at ``tex[start]``, and the index after it."""
    assert tex[start] == "{", tex[start:]
    depth = 0
    for k in range(start, len(tex)):
        depth += {"{": 1, "}": -1}.get(tex[k], 0)
        if depth == 0:
            return tex[start + 1 : k], k + 1
    raise AssertionError(f"unbalanced braces in {tex!r}")


def python_of(tex: str) -> str:
    r"""A displayed computation as Python: matrices, numbers, ``+``, ``-``, ``\cdot``,
    ``\frac``, ``\sqrt``, ``\left(``…``\right)``; anything else is left as it is, so that
    an unknown command fails to evaluate."""
    out, i = [], 0
    while i < len(tex):
        if tex.startswith(r"\begin{bmatrix}", i):
            end = tex.index(r"\end{bmatrix}", i) + len(r"\end{bmatrix}")
            out.append(f"np.array({matrix_of(tex[i:end]).tolist()!r})")
            i = end
        elif tex.startswith(r"\frac{", i):
            top, i = _group(tex, i + len(r"\frac"))
            bottom, i = _group(tex, i)
            out.append(f"(({python_of(top)}) / ({python_of(bottom)}))")
        elif tex.startswith(r"\sqrt{", i):
            inside, i = _group(tex, i + len(r"\sqrt"))
            out.append(f"np.sqrt({python_of(inside)})")
        elif tex.startswith(r"\times 10^{", i):
            power, i = _group(tex, i + len(r"\times 10^"))
            out.append(f"* 10 ** ({power})")
        else:
            for latex, code in ((r"\cdot", "*"), (r"\left(", "("), (r"\right)", ")")):
                if tex.startswith(latex, i):
                    out.append(code)
                    i += len(latex)
                    break
            else:
                out.append(tex[i])
                i += 1
    return "".join(out)


def arithmetic(tex: str) -> np.ndarray:
    """The value of a displayed computation (see `python_of`), by NumPy."""
    return np.asarray(eval(python_of(tex), {"np": np}))  # our own displays, as Python


def operation_rows(tex: str) -> list[tuple[str, str]]:
    """The rows ``lhs = rhs`` of the worked example's "one operation per line" blocks (a
    long row breaks as ``lhs \\\\ = rhs``)."""
    rows = []
    pattern = r"one operation per line:\n\\begin\{gather\*\}\n(.*?)\\end\{gather\*\}"
    for block in re.findall(pattern, tex, re.S):
        for row in re.split(r"\\\\\[0\.6ex\]", block):
            lhs, rhs = re.split(r" (?:\\\\ )?= (?=\\begin|\\frac)", row, maxsplit=1)
            rows.append((lhs, rhs.split(" = ")[-1]))  # "∂E/∂w = [..]": the matrix
    return rows


def check_every_operation(tex: str) -> int:
    rows = operation_rows(tex)
    for lhs, rhs in rows:
        assert evaluate(lhs) == pytest.approx(matrix_of(rhs), rel=2e-4, abs=2e-4), lhs
    return len(rows)


# --- the displayed matrix equations are true -----------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        Conv2d(kernel=2, bias="untied", input=(3, 3)),
        Conv2d(kernel=3, stride=2, padding=1, input=(5, 5)),
        Conv2d(kernel=2, dilation=2, input=(5, 5)),
        Conv2d(kernel=3, stride=2, input=(6, 6)),
        ConvTranspose2d(kernel=3, stride=2, padding=1, output_padding=1, input=(3, 3)),
    ],
    ids=["seed003", "stride2-pad1", "dilation2", "stride2-cut", "transposed"],
)
def test_every_displayed_operation_evaluates_to_its_displayed_result(layer) -> None:
    d = derive(layer)
    tex = sheet_tex(d, SheetOptions(values=random_values(d.network, 1)))
    assert check_every_operation(tex) >= 2


def test_seed000_network_operations_are_true() -> None:
    net = preset("seed000")
    tex = sheet_tex(net.derive(), SheetOptions(values=hand_values(net, 0)))
    assert check_every_operation(tex) >= 3


def test_a_wrong_displayed_result_is_caught() -> None:
    """The checker itself fails on a false line (a rotated kernel left unrotated)."""
    lhs = r"\operatorname{rot180}\left(\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}\right)"
    assert evaluate(lhs) == pytest.approx(
        matrix_of(r"\begin{bmatrix} 4 & 3 \\ 2 & 1 \end{bmatrix}")
    )
    with pytest.raises(AssertionError):
        assert evaluate(lhs) == pytest.approx(
            matrix_of(r"\begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}")
        )


# --- issue 10's six statements ---------------------------------------------------------------


@pytest.mark.parametrize("base", [0, 1])
def test_the_star_definition_matches_scipy_in_either_index_base(base: int) -> None:
    """1. (X ⋆ K)_{r,t} = Σ X_{r+p−1,t+q−1} K_{p,q} with indices from 1 (r+p with 0)."""
    tex = sheet_tex(derive(Conv2d(kernel=2, input=(3, 3)), index_base=base))
    m = re.search(r"\(X \\star K\)_\{r,t\} = \\sum_\{p,q\} X_\{r\+p(-1)?,\\,t\+q(-1)?\}", tex)
    assert m, "no definition of the star"
    shift = -1 if m.group(1) else 0
    rng = np.random.default_rng(0)
    x, k = rng.normal(size=(4, 5)), rng.normal(size=(2, 3))
    rows, cols = x.shape[0] - k.shape[0] + 1, x.shape[1] - k.shape[1] + 1
    idx = range(base, base + max(rows, cols))
    out = np.zeros((rows, cols))
    for r in idx[:rows]:
        for t in idx[:cols]:
            out[r - base, t - base] = sum(
                x[r + p + shift - base, t + q + shift - base] * k[p - base, q - base]
                for p in range(base, base + k.shape[0])
                for q in range(base, base + k.shape[1])
            )
    assert out == pytest.approx(scipy.signal.correlate2d(x, k, mode="valid"))


def test_overlapping_max_pool_states_the_sum_over_windows() -> None:
    """2. Overlapping windows: ∂E/∂a_uv = Σ_ij δ_ij [a_uv = argmax W_ij], not up(δ) ⊙ mask; a
    cell winning two windows receives the sum of their errors."""
    layer = MaxPool2d(window=2, stride=1, input=(3, 3))
    d = derive(layer)
    x = np.array([[[0.1, 0.2, 0.3], [0.4, 0.9, 0.5], [0.6, 0.7, 0.8]]])  # 0.9 wins all four
    delta = np.array([[[1.0, 2.0], [3.0, 4.0]]])
    tex = sheet_tex(d, SheetOptions(values=Values(x, {}, delta=delta)))
    assert r"\operatorname{up}" not in tex and r"\operatorname{argmax} \mathcal{W}_{ij}" in tex
    grad = maxpool2d_backward(x, delta, (2, 2), (1, 1))
    assert grad[0, 1, 1] == 10.0
    shown = re.search(
        r"\\frac\{\\partial E\}\{\\partial a\} = (\\begin\{bmatrix\}.*?\\end\{bmatrix\})", tex
    )
    assert shown and matrix_of(shown.group(1)) == pytest.approx(grad[0])


def test_strided_padded_input_gradient_is_cropped_in_the_statement() -> None:
    """3. pad(spread(δ)) ⋆ rot180(w) is 7×7 for a 5×5 input: the statement crops it."""
    tex = sheet_tex(derive(Conv2d(kernel=3, stride=2, padding=1, input=(5, 5))))
    assert (
        r"\frac{\partial E}{\partial a} &= \operatorname{crop}_{p}\Big(\operatorname{pad}_{k-1}"
        r"(\operatorname{spread}_{s}(\delta)) \star \operatorname{rot180}(w)\Big)" in tex
    )


def test_multichannel_identities_carry_their_channel_indices() -> None:
    """4. ∂E/∂b_o = Σ_ij δ_o,ij and ∂E/∂a^(c) = Σ_o pad(δ^(o)) ⋆ rot180(w^(o,c))."""
    tex = sheet_tex(derive(Conv2d(kernel=2, out_channels=2, input=(2, 4, 4))))
    assert r"\frac{\partial E}{\partial b^{(o)}} = \sum_{i,j} \delta^{(o)}_{ij}" in tex
    assert (
        r"\frac{\partial E}{\partial a^{(c)}} = \sum_{o} \operatorname{pad}_{k-1}(\delta^{(o)})"
        r" \star \operatorname{rot180}(w^{(o,c)})" in tex
    )
    assert r"\frac{\partial E}{\partial w^{(o,c)}} = a^{(c)} \star \delta^{(o)}" in tex


def test_tied_max_pool_bracket_names_the_first_maximum() -> None:
    """5. With ties the bracket is the first maximum's (argmax), and its value on the line is
    NumPy's argmax (row-major, first on ties): the line is true as read."""
    layer = MaxPool2d(window=2, input=(2, 2))
    d = derive(layer)
    x = np.array([[[1.0, 1.0], [0.0, 1.0]]])
    tex = sheet_tex(
        d, SheetOptions(values=Values(x, {}, delta=np.array([[[10.0]]])), detail="full")
    )
    worked = tex.split("Worked example with numbers", 1)[1]
    winner = int(np.argmax(x[0].ravel()))  # NumPy's rule: row-major, the first on ties
    for k, cell in enumerate(("11", "12", "21", "22")):
        row = re.search(
            r"\\frac\{\\partial E\}\{\\partial a_\{" + cell + r"\}\} &= (.*?) = (\S+)\n", worked
        )
        assert row, cell
        assert r"\operatorname{argmax}" in row.group(1)
        assert float(row.group(2)) == (10.0 if k == winner else 0.0), cell


def test_the_loss_is_named_for_what_it_is() -> None:
    """6. The loss is ½Σ(ŷ − t)², "squared error", not "mse" (a mean it is not)."""
    tex = sheet_tex(preset("seed003").derive())
    assert "squared error" in tex and "(mse)" not in tex and "loss mse" not in tex


# --- the NumPy lines of a sheet compute the gradients --------------------------------------


def _code_blocks(tex: str) -> list[str]:
    return re.findall(r"\\begin\{verbatim\}\n(.*?)\\end\{verbatim\}", tex, re.S)


@pytest.mark.parametrize(
    ("layer", "expected"),
    [
        (Conv2d(kernel=2, bias="untied", input=(3, 3)), ["grad_w", "grad_b", "grad_a"]),
        (Conv2d(kernel=3, stride=2, padding=1, dilation=2, out_channels=2, input=(2, 7, 7)),
         ["grad_w", "grad_b", "grad_a"]),
        (MaxPool2d(window=2, stride=1, input=(4, 4)), ["grad_a"]),
        (AvgPool2d(window=2, input=(2, 4, 4)), ["grad_a"]),
        (Linear(3, input=(4,)), ["grad_w", "grad_b", "grad_a"]),
        (Sigmoid(input=(1, 2, 2)), ["grad_a"]),
    ],
    ids=["conv-seed003", "conv-s2-p1-d2-c2", "maxpool-overlap", "avgpool-c2", "dense", "sigmoid"],
)  # fmt: skip
def test_the_printed_numpy_code_computes_the_gradients(layer, expected: list[str]) -> None:
    d = derive(layer)
    tex = sheet_tex(d)
    code = "\n".join(_code_blocks(tex))
    sized = d.layers[0].layer
    rng = np.random.default_rng(3)
    a = rng.normal(size=sized.input_shape)
    delta = rng.normal(size=sized.output_shape)
    params = {
        role.value: rng.normal(size=shape) for role, (shape, _) in sized.param_shapes().items()
    }
    # the sheet's rule: 2-D arrays for a one-channel convolution or pooling layer
    planar = isinstance(layer, (Conv2d, MaxPool2d, AvgPool2d)) and (
        sized.input_shape[0] == sized.output_shape[0] == 1
    )
    ns = {"np": np, "correlate2d": scipy.signal.correlate2d, "convolve2d": scipy.signal.convolve2d}
    squeeze = (lambda x: x.reshape(x.shape[-2:])) if planar else (lambda x: x)
    ns |= {"a": squeeze(a), "delta": squeeze(delta)}
    if "weight" in params:
        ns["w"] = squeeze(params["weight"])
    exec(compile(code, "<sheet>", "exec"), ns)
    want = _plain(layer, sized, a, params, delta)
    for name in expected:
        assert np.ravel(ns[name]) == pytest.approx(np.ravel(want[name])), name


def _plain(layer, sized, a, params, delta) -> dict[str, np.ndarray]:
    """The gradients by the plain loops of tests/reference.py (or by hand for the rest)."""
    if isinstance(layer, Conv2d):
        g = conv2d_backward(
            a, params["weight"], delta, sized.bias.value, sized.stride, sized.padding,
            sized.dilation,
        )  # fmt: skip
        return {"grad_a": g["input"], "grad_w": g["weight"], "grad_b": g["bias"]}
    if isinstance(layer, MaxPool2d):
        return {"grad_a": maxpool2d_backward(a, delta, sized.window, sized.stride)}
    if isinstance(layer, AvgPool2d):
        return {"grad_a": avgpool2d_backward(a, delta, sized.window, sized.stride)}
    if isinstance(layer, Linear):
        return {"grad_a": params["weight"].T @ delta, "grad_w": np.outer(delta, a), "grad_b": delta}
    s = 1 / (1 + np.exp(-a))
    return {"grad_a": delta * s * (1 - s)}


def test_every_plural_message_counts_with_its_count() -> None:
    """Jinja2 counts a plural message with its first variable: every trans block that
    pluralizes starts with ``count=`` (otherwise a catalogue's plural rule gets a string)."""
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "symcnn" / "sheet" / "templates"
    for path in templates.glob("*.j2"):
        for block in re.findall(
            r"\\BLOCK\{trans ([^}]*)\}(?:(?!\\BLOCK\{endtrans).)*\\BLOCK\{pluralize",
            path.read_text(),
            re.S,
        ):
            assert block.startswith("count="), (path.name, block)


# --- mini-batches, merges and batch norm (issue 12) ----------------------------------------


def _residual_torch(torch, values):
    """The residual preset in torch, float64, with the sheet's numbers: the gradients of the
    input, of the skip's sum s⁽⁵⁾ and of the second convolution's output z⁽³⁾."""
    nn = torch.nn
    convs = [nn.Conv2d(2, 2, 3, padding=1, bias=False).double() for _ in range(2)]
    bns = [nn.BatchNorm2d(2).double() for _ in range(2)]
    head = nn.Linear(32, 3).double()
    with torch.no_grad():
        for module, index in ((convs[0], 0), (convs[1], 3), (head, 8)):
            module.weight.copy_(torch.from_numpy(values.params[f"{index}.weight"]))
        head.bias.copy_(torch.from_numpy(values.params["8.bias"]))
        for module, index in ((bns[0], 1), (bns[1], 4)):
            module.weight.copy_(torch.from_numpy(values.params[f"{index}.weight"]))
            module.bias.copy_(torch.from_numpy(values.params[f"{index}.bias"]))
    x = torch.from_numpy(values.input).requires_grad_(True)
    z3 = convs[1](torch.relu(bns[0](convs[0](x))))
    s5 = x + bns[1](z3)
    z3.retain_grad()
    s5.retain_grad()
    out = head(torch.flatten(torch.relu(s5), 1))
    target = torch.from_numpy(values.target)
    torch.nn.functional.cross_entropy(out, target, reduction="mean").backward()
    return {"x": x.grad.numpy(), "s5": s5.grad.numpy(), "z3": z3.grad.numpy()}


def _blocks(tex: str, opening: str) -> list[list[tuple[str, str]]]:
    """The rows ``lhs = … = rhs`` of every gather* block after a sentence starting so."""
    found = []
    for block in re.findall(
        re.escape(opening) + r"[^\n]*\n\\begin\{gather\*\}\n(.*?)\\end\{gather\*\}", tex, re.S
    ):
        rows = []
        for row in re.split(r"\\\\\[0\.6ex\]", block):
            parts = re.split(r" (?:\\\\ )?= ", row.strip())
            rows.append((parts[0], parts[-1]))
        found.append(rows)
    return found


def _true(lhs: str, rhs: str) -> None:
    """The displayed left side, computed by NumPy, is the displayed right side (to the five
    significant digits the operands are shown with)."""
    left, right = evaluate(lhs), evaluate(rhs)
    operands = [abs(float(m)) for m in re.findall(r"\d+\.?\d*", lhs)]
    scale = max([1.0, float(np.max(np.abs(left))), *operands])
    assert left == pytest.approx(right, rel=2e-4, abs=1e-4 * scale), lhs


def test_residual_sheet_merges_and_batch_norm_are_true_and_are_torch_s() -> None:
    """The residual block with numbers: where the input's paths merge, the part each reader
    sends back and their sum, and batch norm's closed form one operation per line, are true
    as read (NumPy) and are PyTorch's gradients (autograd, float64) for the first sample."""
    torch = pytest.importorskip("torch")
    net = preset("residual")
    values = hand_values(net, 0)
    tex = sheet_tex(net.derive(), SheetOptions(values=values))
    grads = _residual_torch(torch, values)
    (merge,) = _blocks(tex, "The gradients add where paths merge")
    assert len(merge) == 2  # one line per channel of the first sample
    for c, (lhs, rhs) in enumerate(merge):
        _true(lhs, rhs)
        conv_part, skip_part = (
            matrix_of(m) for m in re.findall(r"\\begin\{bmatrix\}.*?\\end\{bmatrix\}", lhs)
        )
        assert skip_part == pytest.approx(grads["s5"][0, c], rel=1e-4, abs=1e-5)  # δ⁽⁵⁾: the skip
        assert conv_part == pytest.approx(grads["x"][0, c] - grads["s5"][0, c], rel=1e-4, abs=1e-5)
        assert matrix_of(rhs) == pytest.approx(grads["x"][0, c], rel=1e-4, abs=1e-5)
    (closed,) = _blocks(tex, "The closed form with these numbers for channel 1")
    assert len(closed) == 5
    for lhs, rhs in closed:
        _true(lhs, rhs)
    assert matrix_of(closed[-1][1]) == pytest.approx(grads["z3"][0, 0], rel=1e-4, abs=1e-5)


def test_a_false_merge_line_is_caught() -> None:
    """The check can fail: the sum of the parts with one part left out is not the gradient."""
    net = preset("residual")
    tex = sheet_tex(net.derive(), SheetOptions(values=hand_values(net, 0)))
    lhs, rhs = _blocks(tex, "The gradients add where paths merge")[0][0]
    first = re.match(r"\\begin\{bmatrix\}.*?\\end\{bmatrix\}", lhs)
    assert first is not None
    with pytest.raises(AssertionError):
        _true(first.group(), rhs)


def _statistic_row(tex: str, name: str) -> tuple[str, str]:
    """The worked example's row ``name &= formula \\ &= numbers \\ &= result``: its numbers
    as plain arithmetic (``\tfrac{1}{M}``, squares) and its result."""
    m = re.search(re.escape(name) + r" &=\n(.*?)\\end\{align\*\}", tex, re.S)
    assert m, name
    parts = [p.strip() for p in re.split(r"\\\\ &=", m.group(1))]
    assert len(parts) == 3, parts
    numbers = re.sub(r"\\\\ &\\qquad", " ", parts[1])
    numbers = re.sub(r"\\tfrac\{(\d+)\}\{(\d+)\}", r"(\1/\2)", numbers)
    numbers = numbers.replace(r"\right)^{2}", r"\right)**2")
    return " ".join(numbers.split()), parts[2]


@pytest.mark.parametrize(
    ("kind", "shape", "batch"),
    [("batchnorm2d", (2, 2, 3), 2), ("batchnorm1d", (3,), 4), ("batchnorm2d", (1, 2, 2), None)],
)
def test_batch_norm_alone_closed_form_and_numpy_code_are_torch_s(kind, shape, batch) -> None:
    """A batch norm layer alone, with a given δ: its closed form with numbers is true as read
    and is torch's gradient of the input; its printed NumPy code computes torch's three
    gradients (training mode, float64)."""
    torch = pytest.importorskip("torch")
    layer = layer_from_table({"type": kind}).sized(shape)
    net = symcnn.Network.of(layer, batch=batch)
    values = hand_values(net, 1)
    tex = sheet_tex(net.derive(), SheetOptions(values=values))
    x = values.input if batch else values.input[None]
    delta = values.delta if batch else values.delta[None]
    module = (torch.nn.BatchNorm2d if len(shape) == 3 else torch.nn.BatchNorm1d)(shape[0]).double()
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(values.params["weight"]))
        module.bias.copy_(torch.from_numpy(values.params["bias"]))
    xt = torch.from_numpy(x).requires_grad_(True)
    module(xt).backward(torch.from_numpy(delta))
    want = {
        "grad_a": xt.grad.numpy(),
        "grad_w": module.weight.grad.numpy(),
        "grad_b": module.bias.grad.numpy(),
    }
    # the batch statistics of the first channel, with numbers: as read, and NumPy's
    axes = (0, 2, 3) if len(shape) == 3 else (0,)
    for name, plain in (
        (r"\mu_{1}", x.mean(axis=axes)[0]),
        (r"{\sigma^{2}}_{1}", x.var(axis=axes)[0]),
    ):
        numbers, result = _statistic_row(tex, name)
        if r"\cdots" not in numbers:  # every summand shown: the arithmetic as read
            assert arithmetic(numbers) == pytest.approx(float(result), rel=1e-4, abs=1e-5), name
        assert float(result) == pytest.approx(plain, rel=1e-4, abs=1e-5), name
    (closed,) = _blocks(tex, "The closed form with these numbers for channel 1")
    for lhs, rhs in closed:
        _true(lhs, rhs)
    first = want["grad_a"][0, 0] if len(shape) == 3 else want["grad_a"][:, 0]
    assert np.ravel(matrix_of(closed[-1][1])) == pytest.approx(np.ravel(first), rel=1e-4, abs=1e-5)
    ns = {
        "np": np,
        "a": x,
        "w": values.params["weight"],
        "b": values.params["bias"],
        "delta": delta,
    }
    exec(compile("\n".join(_code_blocks(tex)), "<sheet>", "exec"), ns)
    for name, value in want.items():
        assert ns[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_printed_numpy_code_of_an_addition_and_a_concatenation() -> None:
    """The code a sheet prints for an addition (each tensor gets δ) and a concatenation (each
    its own channels of δ), run on random numbers and compared with the plain definitions."""
    text = """
input = [1, 3, 3]
loss = "mse"
[[layer]]
id = "c"
type = "conv2d"
kernel = [2, 2]
padding = [1, 1]
out_channels = 2
[[layer]]
id = "r"
type = "relu"
[[layer]]
type = "add"
inputs = ["c", "r"]
[[layer]]
id = "s"
type = "tanh"
[[layer]]
type = "concat"
inputs = ["s", "r", "c"]
[[layer]]
type = "flatten"
"""
    d = symcnn.parse_network(text).derive()
    tex = sheet_tex(d)
    blocks = dict(
        re.findall(
            r"\\subsection\{Layer (\d), [^}]*\}.*?\\begin\{verbatim\}\n(.*?)\\end\{verbatim\}",
            tex,
            re.S,
        )
    )
    rng = np.random.default_rng(0)
    delta = rng.normal(size=(2, 4, 4))
    ns = {"np": np, "delta": delta}
    exec(blocks["2"], ns)
    assert ns["grad_a1"] is delta and ns["grad_a2"] is delta
    delta = rng.normal(size=(6, 4, 4))
    ns = {"np": np, "delta": delta}
    exec(blocks["4"], ns)
    for k, part in enumerate((delta[0:2], delta[2:4], delta[4:6])):
        assert np.array_equal(ns[f"grad_a{k + 1}"], part)


def test_over_a_mini_batch_a_parameter_s_identity_is_summed_over_the_samples() -> None:
    """On one sample ∂E/∂w = a ⋆ δ; over a mini-batch the parameters are shared, so the sheet
    must state the sum over the samples (and say what s is), the input's gradient per sample."""
    tex = sheet_tex(derive(Conv2d(kernel=2, input=(3, 3)), batch=2), SheetOptions())
    assert r"\frac{\partial E}{\partial w} = \sum_{s} \Big(a \star \delta\Big)" in tex
    assert r"\frac{\partial E}{\partial b} = \sum_{s} \sum_{i,j} \delta_{ij}" in tex
    assert r"\frac{\partial E}{\partial a} = \operatorname{pad}_{k-1}(\delta)" in tex
    assert "written for one sample $s$" in tex
    # written out for sample 1, the one-channel operands carry no superscript: (1) would read
    # as "channel 1" (the sample is the subscript's first index, a_{1;11})
    assert r"a \star \delta &= \begin{bmatrix} a_{1;11}" in tex
    assert r"\delta^{(1)}" not in tex and "a^{(1)}" not in tex
    single = sheet_tex(derive(Conv2d(kernel=2, input=(3, 3))), SheetOptions())
    assert r"\frac{\partial E}{\partial w} = a \star \delta" in single and r"\sum_{s}" not in single

"""Issue 13 (scale): LeNet-5 against PyTorch, PyTorch-like random numbers, proofs by monomials
that catch a wrong entry, whole tensors printed as the per-term printer prints them, the
size-independent formulas against the per-entry derivation, and the progress hook."""

from __future__ import annotations

import dataclasses
import io
import json
import math

import numpy as np
import pytest
import sympy
from sympy import Indexed, Sum

import symcnn
from symcnn import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sigmoid, Tanh
from symcnn.cli.main import main
from symcnn.cli.progress import Bar
from symcnn.core.progress import report, reporting
from symcnn.core.symbols import Role
from symcnn.derivation.backprop import chains_of
from symcnn.derivation.general import general_layer
from symcnn.derivation.proofs import prove_by_monomials
from symcnn.kinds.registry import layer_from_table
from symcnn.numeric.values import random_values
from symcnn.render.bulk import chain_strings, forward_strings
from symcnn.render.printers import (
    JsonPrinter,
    SymcnnLatexPrinter,
    TextPrinter,
    chain_sum_string,
    forward_string,
)

# --- LeNet-5 ----------------------------------------------------------------------------------


def test_lenet5_gradients_match_pytorch_and_its_loss_starts_near_ln10():
    torch = pytest.importorskip("torch")
    net = symcnn.preset("lenet5")
    values = random_values(net, 0)
    run = net.derive(prove=False).evaluate(values)
    assert abs(run.loss - math.log(10)) < 0.3

    p = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for k, v in values.params.items()
    }
    x = torch.tensor(values.input, dtype=torch.float64, requires_grad=True)
    f = torch.nn.functional
    h = f.max_pool2d(f.relu(f.conv2d(x[None], p["0.weight"], p["0.bias"])), 2)
    h = f.max_pool2d(f.relu(f.conv2d(h, p["3.weight"], p["3.bias"])), 2).flatten()
    h = f.relu(h @ p["7.weight"].T + p["7.bias"])
    h = f.relu(h @ p["9.weight"].T + p["9.bias"])
    y = h @ p["11.weight"].T + p["11.bias"]
    target = torch.tensor(values.target)
    loss = -(target * torch.log_softmax(y, 0)).sum()
    loss.backward()
    assert run.loss == pytest.approx(loss.item(), rel=1e-12)
    for name, tensor in p.items():
        np.testing.assert_allclose(run.grads[name], tensor.grad.numpy(), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(run.grads["input"], x.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_random_parameters_are_drawn_like_pytorch_and_lone_layers_keep_one_decimal():
    net = symcnn.preset("lenet5")
    values = random_values(net, 1)
    fan_in = {"0": 25, "3": 150, "7": 400, "9": 120, "11": 84}
    for name, arr in values.params.items():
        bound = 1 / math.sqrt(fan_in[name.split(".")[0]])
        assert np.all(np.abs(arr) <= bound) and np.abs(arr).max() > 0.8 * bound, name
    assert 0.5 < values.input.std() < 1.5  # standard normal, like torch.randn
    lone = random_values(symcnn.Network.of(Conv2d(kernel=2, input=(3, 3))), 1)
    for arr in (lone.input, *lone.params.values()):
        assert np.allclose(arr * 10, np.round(arr * 10)) and np.all(np.abs(arr) <= 1)


# --- proofs by monomials -----------------------------------------------------------------------


class _OffByOne(Conv2d):
    """A conv layer whose input-gradient closed form has one wrong entry."""

    def closed_forms(self, x, params, delta):
        forms = super().closed_forms(x, params, delta)
        value = forms[0].value.copy()
        value.flat[3] = value.flat[3] + delta.flat[0] * params[Role.WEIGHT].flat[0]
        forms[0] = dataclasses.replace(forms[0], name="wrong", value=value, shown=None)
        return forms


@pytest.mark.parametrize(
    "layer",
    [
        Conv2d(kernel=3, stride=2, padding=1, dilation=2, out_channels=2, input=(2, 7, 7)),
        Conv2d(kernel=(2, 3), bias="untied", input=(5, 6)),
        AvgPool2d(window=3, stride=2, input=(2, 7, 7)),
    ],
    ids=["conv-strided", "conv-untied", "avgpool"],
)
def test_monomial_proofs_agree_with_expansion(layer):
    d = symcnn.derive(layer, prove=False)
    grads = d.layers[0].grads
    fast = prove_by_monomials(layer, d.forward.grids, {r: chains_of(g) for r, g in grads.items()})
    assert fast and all(p.proven for p in fast)
    expanded = symcnn.derive(layer).identities  # the same forms, proven by expansion for small
    assert [p.statement for p in fast] == [p.statement for p in expanded]


def test_a_closed_form_wrong_in_one_entry_is_not_proven_by_monomials():
    layer = _OffByOne(kernel=2, out_channels=2, input=(4, 4))
    d = symcnn.derive(layer, prove=False)
    chains = {r: chains_of(g) for r, g in d.layers[0].grads.items()}
    proofs = prove_by_monomials(layer, d.forward.grids, chains)
    assert proofs is not None
    assert (proofs[0].proven, proofs[0].mismatches) == (False, 1)
    assert all(p.proven for p in proofs[1:])


# --- whole tensors printed at once -------------------------------------------------------------


@pytest.mark.parametrize(
    "layer",
    [
        Conv2d(kernel=3, stride=2, padding=1, in_channels=2, out_channels=3, input=(7, 7)),
        Conv2d(kernel=2, bias="untied", input=(11, 4)),
        AvgPool2d(window=2, stride=1, input=(2, 4, 4)),
        Linear(3, input=(4,)),
        Flatten(input=(2, 2, 3)),
    ],
    ids=["conv", "conv-untied-10", "avgpool", "dense", "flatten"],
)
def test_bulk_printing_is_the_per_term_printing(layer):
    d = symcnn.derive(layer)
    for printer in (TextPrinter(d.table), TextPrinter(d.table, False), JsonPrinter(d.table)):
        layer_ = d.layers[0]
        expected = [forward_string(printer, t) for t in layer_.forward.terms.ravel()]
        assert forward_strings(printer, layer_.forward).ravel().tolist() == expected
        for sums in layer_.grads.values():
            expected = [chain_sum_string(printer, cs) for cs in sums.ravel()]
            assert chain_strings(printer, sums).ravel().tolist() == expected
    latex = SymcnnLatexPrinter(d.table)
    sums = d.layers[0].grads[Role.INPUT]
    assert chain_strings(latex, sums[..., :1]).ravel().tolist() == [
        chain_sum_string(latex, cs) for cs in sums[..., :1].ravel()
    ]


# --- the size-independent formulas against the per-entry derivation ---------------------------

GENERAL = [
    Conv2d(kernel=3, stride=2, padding=1, in_channels=2, out_channels=2, input=(6, 5)),
    Conv2d(kernel=(2, 3), dilation=(2, 1), padding=(1, 0), bias="untied", input=(6, 6)),
    Conv2d(kernel=2, stride=(1, 2), dilation=2, bias="none", input=(7, 7)),
    MaxPool2d(window=3, stride=2, channels=2, input=(7, 7)),
    AvgPool2d(window=(2, 3), stride=1, input=(4, 5)),
    Linear(3, input=(4,)),
    Flatten(input=(2, 2, 3)),
    Sigmoid(input=(2, 2, 3)),
    Tanh(input=(4,)),
    ReLU(input=(1, 2, 3)),
    *[
        layer_from_table(table).sized(shape)
        for table, shape in (
            (
                {"type": "conv2d", "kernel": 3, "padding": 1, "out_channels": 2, "groups": 2},
                (4, 5, 5),
            ),
            ({"type": "conv_transpose2d", "kernel": 3, "stride": 2, "padding": 1}, (1, 3, 3)),
            ({"type": "global_avgpool2d"}, (2, 3, 3)),
            ({"type": "leaky_relu", "negative_slope": 0.1}, (1, 2, 2)),
        )
    ],
]


def _axes(shape, count):
    axes = list(shape)
    k = 0
    while len(axes) > count and k < len(axes):
        if axes[k] == 1:
            axes.pop(k)
        else:
            k += 1
    return tuple(axes)


def _first_max_mask(layer, x):
    """μ[c, i, j, m, n] = 1 at the first maximum of each window (plain loops)."""
    (kh, kw), (sh, sw) = layer.window, layer.stride
    out = np.zeros((*layer.output_shape, kh, kw))
    for c, i, j in np.ndindex(*layer.output_shape):
        window = x[c, i * sh : i * sh + kh, j * sw : j * sw + kw]
        m, n = np.unravel_index(int(np.argmax(window)), window.shape)
        out[c, i, j, m, n] = 1.0
    return out


class _Evaluator:
    """Evaluates an index formula with numbers, checking that every index stays in range."""

    def __init__(self, arrays, base):
        self.arrays, self.base = arrays, base

    def value(self, expr, env, conditions):
        if isinstance(expr, Sum):
            return self._sum(expr.function, list(expr.limits), env, conditions)
        if expr.has(Sum):  # a sum inside an Add or a Mul
            args = [sympy.Float(self.value(a, env, conditions)) for a in expr.args]
            return float(expr.func(*args))
        bound = [c.xreplace(env) for c in conditions if c.free_symbols <= set(env)]
        if not all(bool(c) for c in bound):
            return 0.0
        e = expr.xreplace(env)
        reps = {t: self._entry(t) for t in e.atoms(Indexed)}
        for sym in e.free_symbols - set(reps):  # a lone bias b of a single output channel
            if str(sym) in self.arrays and self.arrays[str(sym)].size == 1:
                reps[sym] = sympy.Float(self.arrays[str(sym)].item())
        return float(e.xreplace(reps).doit().evalf())

    def _sum(self, body, limits, env, conditions):
        if not limits:
            return self.value(body, env, conditions)
        (v, lo, hi), rest = limits[0], limits[1:]
        lo, hi = int(lo.xreplace(env)), int(hi.xreplace(env))
        return sum(
            self._sum(body, rest, {**env, v: sympy.Integer(k)}, conditions)
            for k in range(lo, hi + 1)
        )

    def _entry(self, t):
        arr = self.arrays[str(t.base.label)]
        arr = arr.reshape(_axes(arr.shape, len(t.indices)))
        idx = tuple(int(i) - self.base for i in t.indices)
        assert all(0 <= i < n for i, n in zip(idx, arr.shape)), f"{t} leaves its range"
        return sympy.Float(arr[idx])


@pytest.mark.parametrize("layer", GENERAL, ids=lambda layer: layer.slug())
@pytest.mark.parametrize("base", [1, 0])
def test_general_formulas_match_the_per_entry_derivation(layer, base):
    rng = np.random.default_rng(7)
    arrays = {
        "a": rng.uniform(-1, 1, layer.input_shape),
        "delta": rng.uniform(-1, 1, layer.output_shape),
    }
    for role, (shape, _) in layer.param_shapes().items():
        arrays[{Role.WEIGHT: "w", Role.BIAS: "b"}[role]] = rng.uniform(-1, 1, shape)
    if isinstance(layer, MaxPool2d):
        arrays["mu"] = _first_max_mask(layer, arrays["a"])
    if isinstance(layer, AvgPool2d):
        arrays["omega"] = np.full(layer.window, 1 / (layer.window[0] * layer.window[1]))
    named = {"input": arrays["a"], "delta": arrays["delta"]}
    named.update(
        {r.value: arrays[{Role.WEIGHT: "w", Role.BIAS: "b"}[r]] for r in layer.param_shapes()}
    )
    numeric = symcnn.derive(layer, prove=False, index_base=base).numeric()
    expected = numeric(**named)
    forward = numeric.forward(**{k: v for k, v in named.items() if k != "delta"})
    g = general_layer(layer, base)
    ev = _Evaluator(arrays, base)
    for formula in (g.forward, *g.gradients):
        want = forward if formula.role is Role.OUTPUT else expected[formula.role.value]
        entry = formula.lhs if formula.role is Role.OUTPUT else formula.lhs.variables[0]
        count = len(entry.indices) if isinstance(entry, Indexed) else 0
        cells = want.reshape(_axes(want.shape, count)) if count else want.reshape(())
        seen = 0
        spans = [range(int(b.lo), int(b.hi) + 1) for b in formula.ranges]
        for values in np.ndindex(*[len(r) for r in spans]):
            env = {b.index: sympy.Integer(r[k]) for b, r, k in zip(formula.ranges, spans, values)}
            at = tuple(int(i) - base for i in entry.xreplace(env).indices) if count else ()
            got = ev.value(formula.rhs, env, formula.conditions)
            assert got == pytest.approx(float(cells[at]), abs=1e-12), (formula.role, at)
            seen += 1
        assert seen == want.size  # the ranges cover every entry exactly once


def test_general_form_of_imagenets_first_layer_needs_no_size_limit(capsys):
    args = ["grad", "conv2d", "--input", "224x224", "--in-channels", "3", "--out-channels", "64"]
    args += ["--kernel", "7", "--stride", "2", "--padding", "3", "--general", "--format", "json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    grad = data["layers"][0]["grad"]["input"]
    assert grad["ranges"] == {"c_p": ["1", "3"], "u": ["1", "224"], "v": ["1", "224"]}
    assert "Max(1, ceiling(u/2) - 1)" in grad["rhs"] and "Min(112, floor(u/2) + 2)" in grad["rhs"]
    assert main([*args[:-3], "--max-terms", "1000"]) == 2  # without --general: refused
    assert "--general" in capsys.readouterr().err


def test_general_sheet_and_its_refusals(tmp_path, capsys):
    out = tmp_path / "g.tex"
    assert main(["sheet", "--preset", "seed000", "--general", "-o", str(out)]) == 0
    tex = out.read_text(encoding="utf-8")
    net = symcnn.preset("seed000")
    gradients = sum(1 + len(node.layer.param_shapes()) for node in net.nodes)
    assert tex.count("With this layer's sizes, each sum running exactly") == gradients
    assert tex.count(r"\section{") == len(symcnn.preset("seed000").nodes)
    code = main(["sheet", "--preset", "seed000", "--general", "--random", "1", "-o", "-"])
    assert code == 2 and "--general writes no entries" in capsys.readouterr().err


# --- progress ----------------------------------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_goes_through_the_hook_and_shows_only_on_a_terminal():
    seen = []
    with reporting(lambda *a: seen.append(a)):
        symcnn.derive(symcnn.preset("seed003"), prove=False)
    assert seen and {s[0] for s in seen} == {"deriving"}
    report("deriving", 1, 2)  # no hook: nothing to call

    piped = io.StringIO()
    bar = Bar(piped, delay=0.0)
    bar("printing", 1, 4)
    bar.close()
    assert not bar.shown and piped.getvalue() == ""

    tty = _Terminal()
    bar = Bar(tty, delay=0.0)
    bar("printing", 1, 4)
    bar.close()
    assert bar.shown

    late = Bar(_Terminal(), delay=60.0)
    late("printing", 1, 4)
    late.close()
    assert not late.shown  # quick work: no bar


def test_the_help_examples_of_issue_13_run(capsys, tmp_path, monkeypatch):
    from symcnn.cli import help as examples

    monkeypatch.chdir(tmp_path)
    lines = [
        line.split("symcnn ", 1)[1]
        for text in (examples.GRAD, examples.SHEET, examples.RUN)
        for line in text.splitlines()
        if "--general" in line or "--preset lenet5 " in line
    ]
    assert len(lines) == 4
    for line in lines:
        assert main(line.split()) == 0, line
        assert capsys.readouterr().err == ""
    assert (tmp_path / "lenet5-general.tex").exists()

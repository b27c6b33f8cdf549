"""The chain rule's terms, one by one and in order, against a plain loop over the forward rule.

For every output entry z (row-major), every summand s of z in the order the layer lists them,
and every entry x that s contains, ∂E/∂x gets the term ``δ_z · ∂s/∂x``: the reference below
does exactly that with SymPy's ``diff``, knowing nothing of symcnn's index arrays, blocks or
sorting. Term order is what a printed sum shows, so it is compared too, not only the sum.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import symcnn
from symcnn.core.symbols import Role

#: One small network per way the chain rule is taken: index arrays of products (conv,
#: dense), of functions (activations, max), opaque summands (the squared error), a loss
#: mixing functions and products (cross-entropy), and a mean over a mini-batch, which turns
#: each log-sum-exp into an opaque summand next to the products of the same entry.
NETWORKS = {
    "conv-sigmoid-mse": (
        [symcnn.Conv2d(kernel=2, out_channels=2, stride=(1, 2), padding=(1, 0)),
         symcnn.Sigmoid()],
        dict(input=(2, 3, 4)),
    ),
    # 6 = 2·2 + 2: the last input row and column are read by no window, so the last entries
    # of the input's gradient have no term at all (their sums are empty)
    "conv-stride-unread": ([symcnn.Conv2d(kernel=3, stride=2)], dict(input=(1, 6, 6))),
    "maxpool-relu-dense-ce": (
        [symcnn.MaxPool2d(window=2, stride=1), symcnn.ReLU(), symcnn.Flatten(),
         symcnn.Linear(3)],
        dict(input=(1, 3, 3), loss="cross_entropy"),
    ),
    "avgpool-tanh-dense-ce-batch": (
        [symcnn.AvgPool2d(window=2, stride=(2, 1)), symcnn.Flatten(), symcnn.Tanh(),
         symcnn.Linear(2)],
        dict(input=(1, 2, 3), loss="cross_entropy", batch=2, reduction="mean"),
    ),
    "transposed-leaky-mse-batch": (
        [symcnn.ConvTranspose2d(kernel=(2, 3), stride=(2, 1), bias="untied"),
         symcnn.LeakyReLU(0.2)],
        dict(input=(1, 2, 2), batch=2),
    ),
}  # fmt: skip


def _expr(e):
    return e if isinstance(e, sympy.Basic) else sympy.sympify(e)


def _reference(forward) -> dict[str, list[tuple]]:
    """∂E/∂x's terms by a plain loop over the summands: (δ, ∂s/∂x, source) per x, in order."""
    deltas = forward.grids[Role.DELTA].symbols if Role.DELTA in forward.grids else None
    out: dict[str, list[tuple]] = {}
    for idx in np.ndindex(*forward.terms.shape):
        delta = sympy.Integer(1) if deltas is None else _expr(deltas[idx])
        for summand in forward.terms[idx]:
            s = _expr(summand)
            for x in sorted(s.free_symbols, key=str):
                out.setdefault(str(x), []).append((delta, s.diff(x), idx))
    return out


def _same(a, b) -> bool:
    return sympy.expand(_expr(a) - _expr(b)) == 0


def _layer_grids():
    """The grids of a hand-written layer: an input of 3 entries, a weight of 2, an output of 2
    and its δ."""
    from symcnn.derivation.naming import grid, plain

    return (
        grid(plain("a"), Role.INPUT, (3,), 0, 1),
        grid(plain("w"), Role.WEIGHT, (2,), 0, 1),
        grid(plain("z"), Role.OUTPUT, (2,), 0, 1),
        grid(plain("d"), Role.DELTA, (2,), 0, 1),
    )


def _sympy_symbol(entry) -> sympy.Symbol:
    """A symengine entry as a SymPy symbol (SymPy functions take SymPy arguments)."""
    return sympy.Symbol(str(entry))


#: Graph layers go through the chain rule term object by term object: a tensor read twice
#: (add) and two tensors laid side by side (concat), with a mini-batch.
GRAPH = """input = [1, 2, 2]
batch = 2
[[layer]]
type = "tanh"
id = "t"
[[layer]]
type = "add"
id = "s"
inputs = ["input", "t", "t"]
[[layer]]
type = "concat"
inputs = ["s", "t"]
"""


@pytest.mark.parametrize("name", [*NETWORKS, "add-concat-batch"])
def test_each_gradient_entry_lists_delta_times_the_partial_of_each_summand_in_forward_order(
    name,
) -> None:
    if name in NETWORKS:
        layers, options = NETWORKS[name]
        net = symcnn.Network(layers, **options)
    else:
        net = symcnn.parse_network(GRAPH)
    d = net.derive(prove=False)
    checked = empty = 0
    for layer in [*d.layers, d.loss]:
        reference = _reference(layer.forward)
        for grads in layer.grads.values():
            for cs in grads.ravel():
                expected = [t for t in reference.get(str(cs.wrt), []) if t[1] != 0]
                got = [(t.delta, t.partial, t.source) for t in cs.terms]
                where = f"{name}: layer {layer.name} ∂E/∂{cs.wrt}"
                assert len(got) == len(expected), where
                for (gd, gp, gs), (ed, ep, es) in zip(got, expected, strict=True):
                    assert _same(gd, ed), f"{where}: δ {gd} for {ed}"
                    assert _same(gp, ep), f"{where}: ∂ {gp} for {ep}"
                    assert tuple(gs) == tuple(es), f"{where}: from {gs} for {es}"
                checked += len(got)
                empty += not got
    assert checked > 20
    assert empty == (11 if name == "conv-stride-unread" else 0)  # a_6j and a_i6 (0 < i, j ≤ 6)
    assert not [layer for layer in d.layers if layer.stages]  # the loop knows no stages


def test_the_mean_over_a_batch_mixes_opaque_summands_and_products_in_one_entry() -> None:
    """The case above where order is decided across both kinds of chain-rule terms."""
    layers, options = NETWORKS["avgpool-tanh-dense-ce-batch"]
    d = symcnn.Network(layers, **options).derive(prove=False)
    structure = d.loss.forward.analyse(d.table)
    assert structure.parts and len(structure.opaque.exprs) == 2  # one log-sum-exp per sample


@pytest.mark.parametrize("weight_wanted", [True, False])
def test_a_forward_rule_interleaving_products_functions_and_opaque_summands(
    weight_wanted: bool,
) -> None:
    """No kind today puts an opaque summand after a product of the same entry; a rule written
    by hand does, so the order across both kinds of terms is pinned for the kinds to come.
    Without the weight's gradient, its symbols (first in the table) are skipped, not a stop."""
    from symcnn.derivation.backprop import Forward, backprop
    from symcnn.kinds.activation import sigmoid

    a, w, z, d = _layer_grids()
    x, p, s = a.symbols, w.symbols, _sympy_symbol
    terms = np.empty((2,), dtype=object)
    terms[0] = (x[0] * p[0], (x[0] - x[1]) ** 2, 3 * x[1] * p[1], sigmoid(s(x[2])))
    terms[1] = (sympy.sin(s(x[1]) * s(p[0])), x[2] * p[0], sigmoid(s(x[0])), x[0] * x[1])
    wrt = (Role.INPUT, Role.WEIGHT) if weight_wanted else (Role.INPUT,)
    fwd = Forward({Role.INPUT: a, Role.WEIGHT: w, Role.OUTPUT: z, Role.DELTA: d}, terms, wrt)
    table = symcnn.core.symbols.SymbolTable([a, w, z, d] if weight_wanted else [w, a, z, d])
    structure = fwd.analyse(table)
    assert structure.parts and len(structure.opaque.exprs) == 2
    reference = _reference(fwd)
    grads_by_role = backprop(fwd, table)
    assert set(grads_by_role) == set(wrt)
    for grads in grads_by_role.values():
        for cs in grads.ravel():
            got = [(str(t.delta), t.partial, t.source) for t in cs.terms]
            expected = reference[str(cs.wrt)]
            assert [g[0] for g in got] == [str(e[0]) for e in expected], cs.wrt
            assert [g[2] for g in got] == [e[2] for e in expected], cs.wrt
            assert all(_same(g[1], e[1]) for g, e in zip(got, expected, strict=True)), cs.wrt


def test_two_tensors_read_a_given_delta_and_an_entry_no_summand_reads() -> None:
    """The term-by-term chain rule (several tensors read): ``deltas`` replaces the δ symbols,
    an entry no summand contains gets no term (its gradient is 0), and symbols that are not
    wanted (a grid listed first in the table, not differentiated by) are skipped, not a stop.
    """
    from symcnn.derivation.backprop import Forward, backprop, backprop_all
    from symcnn.derivation.naming import grid, plain

    t = grid(plain("t"), Role.TARGET, (2,), 0, 1)
    a = grid(plain("a"), Role.INPUT, (2,), 0, 1)
    b = grid(plain("b"), Role.INPUT, (3,), 0, 1)
    z = grid(plain("z"), Role.OUTPUT, (2,), 0, 1)
    d = grid(plain("d"), Role.DELTA, (2,), 0, 1)
    x, y, c = a.symbols, b.symbols, t.symbols
    terms = np.empty((2,), dtype=object)
    terms[0] = ((c[0] - x[0]) ** 2, c[1] * x[1] * y[0])
    terms[1] = (x[0] * y[2], (c[0] + y[0]) ** 3)
    grids = {Role.INPUT: a, Role.TARGET: t, Role.OUTPUT: z, Role.DELTA: d}
    fwd = Forward(grids, terms, (Role.INPUT,), reads=(a, b))
    assert not fwd.structural
    table = symcnn.core.symbols.SymbolTable([t, a, b, z, d])
    given = np.array([sympy.Integer(5), sympy.Integer(-2)], dtype=object)
    grads = backprop_all(fwd, table, deltas=given)
    reference = _reference(fwd)
    numbers = {str(d.symbols[0]): 5, str(d.symbols[1]): -2}
    for read in grads.reads:
        for cs in read.ravel():
            expected = reference.get(str(cs.wrt), [])
            assert [t.source for t in cs.terms] == [e[2] for e in expected], cs.wrt
            for term, (delta, partial, _) in zip(cs.terms, expected, strict=True):
                assert _same(term.delta, delta.subs(numbers)), cs.wrt
                assert _same(term.partial, partial), cs.wrt
    assert grads.reads[1][1].terms == () and grads.reads[1][1].sympy() == 0  # b_2: unread
    assert grads.roles[Role.INPUT] is grads.reads[0]
    # backprop (the roles only) takes the same way for a layer reading several tensors
    by_role = backprop(fwd, table, deltas=given)[Role.INPUT]
    for cs in by_role.ravel():
        expected = reference[str(cs.wrt)]
        assert [t.source for t in cs.terms] == [e[2] for e in expected], cs.wrt
        assert [int(t.delta) for t in cs.terms] == [int(e[0].subs(numbers)) for e in expected]


def test_a_forward_needs_its_terms_or_its_parts_and_their_shape() -> None:
    from symcnn.derivation.backprop import Forward
    from symcnn.derivation.naming import grid, plain

    a = grid(plain("a"), Role.INPUT, (2,), 0, 1)
    message = r"^a Forward needs its terms, or its parts and output shape$"
    for parts, shape in [(None, None), ((), None), (None, (2,))]:
        with pytest.raises(ValueError, match=message):
            Forward({Role.INPUT: a}, None, (Role.INPUT,), parts=parts, shape=shape)
    assert Forward({Role.INPUT: a}, None, (Role.INPUT,), parts=(), shape=(2,)).shape == (2,)


def test_a_functions_derivative_template_renamed_is_sympys_derivative() -> None:
    """∂f/∂u_k is computed once on dummy arguments and renamed per summand (`Block`); it
    must agree with SymPy's ``diff`` of the summand itself, for each arity and position."""
    from symcnn.core.functions import LogSumExp, WindowMax
    from symcnn.derivation.backprop import derivative_template, dummies
    from symcnn.kinds.activation import leaky_relu, sigmoid

    x, y, w = sympy.symbols("x y w")
    s = sympy.Float(0.2)
    for fn, args in [(LogSumExp, (x, y, w)), (LogSumExp, (w, x)), (WindowMax, (y, x, w)),
                     (sigmoid, (x,)), (lambda u: leaky_relu(u, s), (y,))]:  # fmt: skip
        for k, arg in enumerate(args):
            renamed = derivative_template(fn, len(args), k).xreplace(
                dict(zip(dummies(len(args)), args))
            )
            assert sympy.simplify(renamed - fn(*args).diff(arg)) == 0, (fn, k)


def test_the_vectorised_numbers_of_a_rule_mixing_parts_and_opaque_summands() -> None:
    """The numbers path of one layer (index arrays for the parts, compiled code for the
    opaque summands) against SymPy's own evaluation of the forward rule and central
    differences of E = Σ δ·z; the opaque summands add into entries out of order and twice."""
    from symcnn.derivation.backprop import Forward, chain_rule
    from symcnn.kinds.activation import sigmoid
    from symcnn.numeric.vectorised import LayerPlan

    a, w, z, d = _layer_grids()
    x, p, s = a.symbols, w.symbols, _sympy_symbol
    terms = np.empty((2,), dtype=object)
    terms[0] = ((x[2] - x[0]) ** 2, x[0] * p[0], sympy.sin(s(x[2]) * s(p[1])), sigmoid(s(x[1])))
    terms[1] = (3 * x[1] * p[1], (x[2] + p[0]) ** 3, x[0] * x[1], (x[1] - p[1]) ** 2)
    fwd = Forward({Role.INPUT: a, Role.WEIGHT: w, Role.OUTPUT: z, Role.DELTA: d}, terms,
                  (Role.INPUT, Role.WEIGHT))  # fmt: skip
    table = symcnn.core.symbols.SymbolTable([a, w, z, d])
    chains = chain_rule(fwd, table)
    structure = fwd.analyse(table)
    assert structure.parts and len(structure.opaque.exprs) == 4
    symbols = [*x, *p]
    plan = LayerPlan(structure, chains, [Role.INPUT, Role.WEIGHT],
                     {Role.INPUT: 3, Role.WEIGHT: 2, Role.DELTA: 2}, 2, symbols)  # fmt: skip
    names = [sympy.Symbol(str(v)) for v in symbols]
    u = sympy.Dummy("u")
    logistic = sympy.Lambda(u, 1 / (1 + sympy.exp(-u)))  # σ written out, not symcnn's
    rule = [sympy.Add(*[_expr(t) for t in terms[k]]).replace(sigmoid, logistic) for k in range(2)]
    z_of = sympy.lambdify(names, rule, modules="numpy")
    rng = np.random.default_rng(5)
    values, delta = rng.normal(size=5), rng.normal(size=2)
    np.testing.assert_allclose(plan.forward(values), z_of(*values), rtol=1e-12)
    h, fd = 1e-6, np.zeros(5)
    for k in range(5):
        up, down = values.copy(), values.copy()
        up[k] += h
        down[k] -= h
        fd[k] = (delta @ np.array(z_of(*up)) - delta @ np.array(z_of(*down))) / (2 * h)
    np.testing.assert_allclose(plan.backward(np.concatenate([values, delta])), fd, rtol=1e-6)

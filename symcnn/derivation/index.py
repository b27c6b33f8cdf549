"""The size-independent chain rule: SymPy differentiates a layer's index formula, step by step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sympy
from sympy import Derivative, Indexed, Piecewise, Sum, Symbol

from ..core import indexed as ix
from ..core.indexed import DELTA, E, General, Step, StepKind, T, Y, Z
from ..core.symbols import Role

if TYPE_CHECKING:
    from ..kinds.activation import _Elementwise
    from ..kinds.base import Layer
    from ..kinds.loss import Loss


@dataclass(frozen=True)
class ChainRule:
    """The steps deriving ∂E/∂x for one tensor, and the tensors whose zeros a reader must assume."""

    role: Role
    steps: tuple[Step, ...]
    zero_outside: tuple[Indexed, ...]


def chain_rule(general: General, role: Role) -> ChainRule:
    """Derive ∂E/∂x for a generic entry x of one tensor, step by step, with SymPy.

    Example:
        >>> from symcnn import Linear
        >>> g = Linear(2, input=(3,)).index_formula(0)
        >>> chain_rule(g, Role.WEIGHT).steps[-1].rhs
        a[j']*delta[i']
    """
    x = general.wrt[role]
    limits = [(s, *general.ranges[s]) for s in general.outer]

    def over_outputs(expr: sympy.Expr) -> sympy.Expr:  # one output entry: nothing to sum
        return Sum(expr, *limits) if limits else expr

    grad = Derivative(E, x, evaluate=False)
    dz = Derivative(general.z, x, evaluate=False)
    delta = DELTA[general.z.indices]
    steps = [
        Step(StepKind.CHAIN, grad, over_outputs(Derivative(E, general.z, evaluate=False) * dz)),
        Step(StepKind.DELTA, grad, over_outputs(delta * dz)),
        Step(StepKind.FORWARD, dz, Derivative(general.rhs, x, evaluate=False)),
    ]
    diffed = general.rhs.diff(x)
    steps.append(Step(StepKind.DIFF, dz, diffed))
    collapsed, zeros = settled(diffed.doit())
    steps.append(Step(StepKind.SURVIVES, dz, collapsed))
    result, more = settled(over_outputs(delta * collapsed).doit())
    steps.append(Step(StepKind.RESULT, grad, result))
    zero_outside = tuple(dict.fromkeys(zeros + more))
    return ChainRule(role, tuple(steps), zero_outside)


def _in_range(index: sympy.Basic) -> bool:
    """True for an index that lies in its range by definition (built of primed indices)."""
    return all(ix.is_primed(s) or s in ix.SIZES for s in index.free_symbols)


def settle(expr: sympy.Basic) -> sympy.Basic:
    """Sum out the Kronecker deltas SymPy's ``doit`` leaves: Σ_v [v = w'] f(v) = f(w') for a
    primed w' (which lies in v's range), from the innermost sum out; a bracket that does not
    involve a sum's variables is taken out of that sum first.

    Example:
        >>> from sympy import KroneckerDelta
        >>> s, k = ix.S_, ix.index("k")
        >>> f = Sum(sympy.log(Sum(sympy.exp(Y[s, k]), (k, 1, 3))) * KroneckerDelta(s, ix.primed(s)), (s, 1, ix.NB))
        >>> settle(f)
        log(Sum(exp(y[s', k]), (k, 1, 3)))
    """
    if not expr.args or isinstance(expr, Indexed):
        return expr
    expr = expr.func(*[settle(a) for a in expr.args])
    if not isinstance(expr, Sum):
        return expr
    body, limits = expr.function, list(expr.limits)
    names = {lim[0] for lim in limits}
    if isinstance(body, sympy.Add) and any(_bracket(t, names) for t in body.args):
        return sympy.Add(*[settle(Sum(t, *limits)) for t in body.args])
    factors = sympy.Mul.make_args(body)
    outside = [
        f for f in factors if isinstance(f, sympy.KroneckerDelta) and not f.free_symbols & names
    ]
    if outside:
        inside = sympy.Mul(*[f for f in factors if f not in outside])
        return sympy.Mul(*outside) * settle(Sum(inside, *limits))
    for lim in limits:
        found = _bracket(body, {lim[0]})
        if found is None:
            continue
        bracket, other = found
        rest = sympy.Mul(*[f for f in factors if f is not bracket]).xreplace({lim[0]: other})
        remaining = [x for x in limits if x is not lim]
        return settle(Sum(rest, *remaining)) if remaining else rest
    return expr


def settled(expr: sympy.Basic) -> tuple[sympy.Basic, tuple[Indexed, ...]]:
    """`collapse`, `settle`, `collapse`: the range conditions dropped around the brackets
    left, which are then summed out (see both)."""
    first, zeros = collapse(expr)
    result, more = collapse(settle(first))
    return result, tuple(dict.fromkeys(zeros + more))


def tidy(expr: sympy.Basic) -> sympy.Basic:
    """A result as a textbook writes it: what does not depend on a sum's indices in front of
    the sum, with the sign and common factors of its terms.

    Example:
        >>> x, c = ix.index("x"), ix.C_
        >>> tidy(Sum(2 * ix.MEAN[c] - 2 * ix.A[x, c], (x, 1, 3)) / ix.NM)
        -2*Sum(a[x, c] - mean[c], (x, 1, 3))/M
    """

    def outside(e: Sum) -> sympy.Basic:
        names = {lim[0] for lim in e.limits}
        coeff, rest = sympy.factor_terms(e.function).as_coeff_Mul()
        factors = sympy.Mul.make_args(rest)
        inner = sympy.Mul(*[f for f in factors if f.free_symbols & names])
        front = sympy.Mul(*[f for f in factors if not f.free_symbols & names])
        if inner.could_extract_minus_sign():
            inner, coeff = -inner, -coeff
        return coeff * front * Sum(inner, *e.limits)

    if not expr.has(Sum):
        return sympy.factor_terms(expr)
    return expr.replace(lambda e: isinstance(e, Sum), outside)


def _bracket(
    term: sympy.Basic, names: set[sympy.Basic]
) -> tuple[sympy.KroneckerDelta, sympy.Basic] | None:
    """A factor [v = w'] of ``term`` with v one of ``names`` and w' in range, and w'."""
    for f in sympy.Mul.make_args(term):
        if isinstance(f, sympy.KroneckerDelta):
            for v, w in (f.args, f.args[::-1]):
                if v in names and _in_range(w):
                    return f, w
    return None


def collapse(expr: sympy.Basic) -> tuple[sympy.Basic, tuple[Indexed, ...]]:
    """Drop the range conditions SymPy attaches when a Kronecker delta collapses a sum.

    ``Piecewise((e, cond), (0, True))`` says "e when its index lies in the summation range",
    which is the convention that a tensor is zero outside its index range. The tensors
    whose zeros that convention uses are returned (when the condition involves more than
    the primed indices, a reader must know it: e.g. the kernel of the input gradient).
    """
    zeros: list[Indexed] = []

    def strip(e: sympy.Basic) -> sympy.Basic:
        if (
            isinstance(e, Piecewise)
            and len(e.args) == 2
            and e.args[1].cond == sympy.true
            and e.args[1].expr == 0
        ):
            inner, cond = e.args[0].expr, e.args[0].cond
            if any(not ix.is_primed(s) and s not in ix.SIZES for s in cond.free_symbols):
                carriers = [
                    t
                    for t in inner.atoms(Indexed)
                    if t.base != DELTA
                    and any(s in cond.free_symbols for s in t.free_symbols - {t.base.label})
                ]
                if not carriers:  # no tensor whose zeros express the condition: keep it
                    return Piecewise((strip(inner), cond), (0, True))
                zeros.extend(carriers)
            return strip(inner)
        if not e.args:
            return e
        return e.func(*[strip(a) for a in e.args])

    return strip(expr), tuple(dict.fromkeys(zeros))


def with_samples(general: General, batch: int, base: int) -> General:
    """A per-sample index formula over a mini-batch: every tensor but the parameters gets the
    sample index ``s`` first (its range 1…B), and so does the generic input entry.

    Example:
        >>> from symcnn import Linear
        >>> g = with_samples(Linear(2, input=(3,)).index_formula(1), 4, 1)
        >>> g.z, g.rhs, g.sizes[ix.NB]
        (z[s, i], b[i] + Sum(a[s, j]*w[i, j], (j, 1, N_in)), 4)
    """

    def sampled(expr: sympy.Basic, sample: sympy.Basic = ix.S_) -> sympy.Basic:
        return expr.replace(
            lambda e: isinstance(e, Indexed) and str(e.base.label) not in ix.SHARED,
            lambda e: e.base[(sample, *e.indices)],
        )

    ranges = {ix.S_: (sympy.Integer(base), ix.NB - 1 + base), **general.ranges}
    wrt = {
        role: sampled(x, ix.primed(ix.S_)) if isinstance(x, Indexed) else x
        for role, x in general.wrt.items()
    }
    return General(
        sampled(general.z),
        sampled(general.rhs),
        (ix.S_, *general.outer),
        ranges,
        {ix.NB: batch, **general.sizes},
        wrt,
    )


def derive_general(
    layer: Layer, base: int, batch: int | None = None
) -> tuple[General, list[ChainRule]]:
    """The forward index formula and the chain-rule derivation of every gradient of a layer
    (over a mini-batch of ``batch`` samples: a parameter's gradient sums over them).

    Example:
        >>> from symcnn import Linear
        >>> general, rules = derive_general(Linear(2, input=(3,)), 1)
        >>> [r.role.value for r in rules]
        ['input', 'weight', 'bias']
        >>> derive_general(Linear(2, input=(3,)), 1, batch=2)[1][2].steps[-1].rhs
        Sum(delta[s, i'], (s, 1, B))
    """
    general = layer.index_formula(base)
    if batch is not None:
        general = with_samples(general, batch, base)
    return general, [chain_rule(general, role) for role in general.wrt]


@dataclass(frozen=True)
class StageRule:
    """SymPy's derivation of the δ of a named quantity of a layer (or of its input): the term
    that comes back through each later formula that reads it, and their sum.

    ``parts`` pairs the name of each formula (``"xhat"``, ``"var"``, ``"mean"``, ``"output"``)
    with its term; ``wrt`` is the generic (primed) entry.
    """

    name: str
    wrt: Indexed
    parts: tuple[tuple[str, sympy.Expr], ...]
    result: sympy.Expr


def _through(general: General, delta: sympy.IndexedBase, x: Indexed) -> sympy.Expr:
    """Σ over the outputs of one formula of δ(output) · ∂(output)/∂x, its brackets summed out
    (without ``doit``, which would split the sums into pieces)."""
    limits = [(s, *general.ranges[s]) for s in general.outer]
    body = delta[general.z.indices] * general.rhs.diff(x)
    return tidy(settled(Sum(body, *limits) if limits else body)[0])


def staged_rules(
    layer: Layer, base: int, batch: int | None
) -> tuple[dict[str, General], list[StageRule]]:
    """A layer with named quantities (batch norm): the index formula of each quantity and of
    the output, and SymPy's chain rule through them, last quantity first, then the input.

    Each quantity's δ (``d`` before its name: ``dxhat``) is the sum, over the later formulas
    that read it, of what each sends back; the input's likewise.

    Example:
        >>> from symcnn.kinds.batchnorm import BatchNorm1d
        >>> formulas, rules = staged_rules(BatchNorm1d(input=(2,)), 1, 3)
        >>> [r.name for r in rules], rules[0].result
        (['xhat', 'var', 'mean', 'input'], delta[s', c']*w[c'])
    """
    formulas = dict(layer.stage_formulas(base, batch))
    output = layer.index_formula(base)
    if batch is not None:
        output = with_samples(output, batch, base)
    formulas["output"] = output
    names = list(formulas)
    first = formulas[names[0]].wrt[Role.INPUT]
    targets = [(n, formulas[n].z) for n in reversed(names[:-1])] + [("input", first)]
    rules: list[StageRule] = []
    for name, target in targets:
        wrt = (
            target.base[tuple(ix.primed(i) for i in target.indices)] if name != "input" else target
        )
        later = names[names.index(name) + 1 :] if name != "input" else names
        parts = []
        for reader in later:
            general = formulas[reader]
            if general.rhs.has(target.base):
                label = "" if reader == "output" else "d" + str(general.z.base.label)
                delta = DELTA if reader == "output" else sympy.IndexedBase(label)
                parts.append((reader, _through(general, delta, wrt)))
        rules.append(StageRule(name, wrt, tuple(parts), sympy.Add(*[p for _, p in parts])))
    return formulas, rules


def output_delta_steps(output: str = "z") -> list[Step]:
    """δ = ∂E/∂z when z (named ``output``) feeds the logistic σ and the squared error
    E = ½(σ(z) − t)², derived.

    Returns three steps: the loss, its derivative by SymPy, and the same with
    σ' = σ(1 − σ), which is checked to be an identity before it is returned.

    Example:
        >>> [s.kind.value for s in output_delta_steps()]
        ['forward', 'diff', 'result']
    """
    z, y = Symbol(output), Symbol("t")  # t: the target, the name the sheets use
    sigma = sympy.Function("sigma")
    loss = sympy.Rational(1, 2) * (sigma(z) - y) ** 2
    d = loss.diff(z)  # (σ(z) − y)·σ'(z), with σ' left abstract
    logistic = 1 / (1 + sympy.exp(-z))
    s = Symbol("s")
    closed = (s - y) * s * (1 - s)
    check = d.subs(sigma(z), logistic).doit() - closed.subs(s, logistic)
    if sympy.simplify(check) != 0:  # pragma: no cover - SymPy regression guard
        raise AssertionError("σ' = σ(1 − σ) failed to verify")
    dz = Derivative(E, z, evaluate=False)
    half_square = sympy.Mul(sympy.Rational(1, 2), (sigma(z) - y) ** 2, evaluate=False)
    result = sympy.Mul(sigma(z) - y, sigma(z), 1 - sigma(z), evaluate=False)
    return [
        Step(StepKind.FORWARD, E, half_square),
        Step(StepKind.DIFF, dz, d),
        Step(StepKind.RESULT, dz, result),
    ]


@dataclass(frozen=True)
class LossSteps:
    """The loss as an index formula and ∂E/∂ŷ derived from it (SymPy's steps).

    ``definition`` is ``E = …``; ``steps`` are CHAIN (the sum differentiated term by term),
    DIFF and RESULT (``∂E/∂ŷ_k'``). ``output`` (when the network ends in an activation f)
    holds the seeds' δ of the layer before it: ``∂E/∂z_k' = (ŷ_k' − t_k')·f'(z_k')``, with
    ``factors`` = (ŷ_k' − t_k' or its cross-entropy counterpart, f'(z_k')) checked to
    multiply to SymPy's derivative.
    """

    definition: Step
    steps: tuple[Step, ...]
    output: tuple[Step, ...] = ()
    factors: tuple[sympy.Expr, sympy.Expr] | None = None
    sizes: tuple[tuple[Symbol, int], ...] = ()


def loss_steps(
    loss: Loss,
    base: int,
    last: _Elementwise | None = None,
    batch: int | None = None,
    mean: bool = False,
) -> LossSteps:
    """Derive ∂E/∂ŷ of the loss, and ∂E/∂z through a final activation, with SymPy.

    ``ŷ`` is the IndexedBase ``y``, the target ``t`` and the activation's input ``z``. Over a
    mini-batch of ``batch`` samples E is the sum of every sample's loss (``mean``: divided by
    the number of samples B), and every entry carries the sample index ``s`` first.

    Example:
        >>> from symcnn.kinds.loss import MSELoss
        >>> s = loss_steps(MSELoss(input=(2,)), 1)
        >>> s.steps[-1].rhs
        -t[i'] + y[i']
        >>> loss_steps(MSELoss(input=(2,)), 1, batch=3, mean=True).steps[-1].rhs
        (-t[s', i'] + y[s', i'])/B
    """
    outer, rng, sizes = ix.elementwise(loss.input_shape, base)
    limits = [(s, *rng[s]) for s in outer]
    lead: tuple[Symbol, ...] = ()
    if batch is not None:
        lead = (ix.S_,)
        sizes = {ix.NB: batch, **sizes}
    entry = (*lead, *outer)
    primed = tuple(ix.primed(s) for s in entry)

    def over_batch(expr: sympy.Expr, shown: bool = False) -> sympy.Expr:
        if batch is None:
            return expr
        total = Sum(expr, (ix.S_, base, ix.NB - 1 + base))
        if not mean:
            return total
        return sympy.Mul(1 / ix.NB, total, evaluate=False) if shown else total / ix.NB

    expr = over_batch(loss.expression(Y[entry], T[entry], limits))
    shown = over_batch(loss.shown(Y[entry], T[entry], limits), shown=True)
    if sympy.simplify(shown - expr) != 0:  # pragma: no cover - SymPy guard
        raise AssertionError("the loss as shown differs from the loss differentiated")
    dy = sympy.Derivative(E, Y[primed], evaluate=False)
    diffed = expr.diff(Y[primed])
    result, _ = settled(diffed.doit())
    steps = (
        Step(StepKind.CHAIN, dy, diffed),
        Step(StepKind.RESULT, dy, result),
    )
    output: tuple[Step, ...] = ()
    factors = None
    if last is not None:
        inner = over_batch(loss.expression(last.apply(Z[entry]), T[entry], limits))
        dz = sympy.Derivative(E, Z[primed], evaluate=False)
        combined, _ = settled(inner.diff(Z[primed]).doit())
        fprime = last.apply(Z[primed]).diff(Z[primed])
        first = result.replace(
            lambda e: isinstance(e, Indexed) and e.base == Y,
            lambda e: last.apply(Z[e.indices]),
        )
        if sympy.simplify(first * fprime - combined) != 0:  # pragma: no cover - SymPy guard
            raise AssertionError("the output δ does not factor as (ŷ − t)·f'(z)")
        output = (Step(StepKind.RESULT, dz, combined),)
        factors = (result, fprime)
    return LossSteps(Step(StepKind.FORWARD, E, shown), steps, output, factors, tuple(sizes.items()))

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
    collapsed, zeros = collapse(diffed.doit())
    steps.append(Step(StepKind.SURVIVES, dz, collapsed))
    result, more = collapse(over_outputs(delta * collapsed).doit())
    steps.append(Step(StepKind.RESULT, grad, result))
    zero_outside = tuple(dict.fromkeys(zeros + more))
    return ChainRule(role, tuple(steps), zero_outside)


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


def derive_general(layer: Layer, base: int) -> tuple[General, list[ChainRule]]:
    """The forward index formula and the chain-rule derivation of every gradient of a layer.

    Example:
        >>> from symcnn import Linear
        >>> general, rules = derive_general(Linear(2, input=(3,)), 1)
        >>> [r.role.value for r in rules]
        ['input', 'weight', 'bias']
    """
    general = layer.index_formula(base)
    return general, [chain_rule(general, role) for role in general.wrt]


def output_delta_steps() -> list[Step]:
    """δ = ∂E/∂z when z feeds the logistic σ and the squared error E = ½(σ(z) − t)², derived.

    Returns three steps: the loss, its derivative by SymPy, and the same with
    σ' = σ(1 − σ), which is checked to be an identity before it is returned.

    Example:
        >>> [s.kind.value for s in output_delta_steps()]
        ['forward', 'diff', 'result']
    """
    z, y = Symbol("z"), Symbol("t")  # t: the target, the name the sheets use
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


def loss_steps(loss: Loss, base: int, last: _Elementwise | None = None) -> LossSteps:
    """Derive ∂E/∂ŷ of the loss, and ∂E/∂z through a final activation, with SymPy.

    ``ŷ`` is the IndexedBase ``y``, the target ``t`` and the activation's input ``z``.

    Example:
        >>> from symcnn.kinds.loss import MSELoss
        >>> s = loss_steps(MSELoss(input=(2,)), 1)
        >>> s.steps[-1].rhs
        -t[i'] + y[i']
    """
    outer, rng, sizes = ix.elementwise(loss.input_shape, base)
    limits = [(s, *rng[s]) for s in outer]
    primed = tuple(ix.primed(s) for s in outer)
    expr = loss.expression(Y[outer], T[outer], limits)
    shown = loss.shown(Y[outer], T[outer], limits)
    if sympy.simplify(shown - expr) != 0:  # pragma: no cover - SymPy guard
        raise AssertionError("the loss as shown differs from the loss differentiated")
    dy = sympy.Derivative(E, Y[primed], evaluate=False)
    diffed = expr.diff(Y[primed])
    result, _ = collapse(diffed.doit())
    steps = (
        Step(StepKind.CHAIN, dy, diffed),
        Step(StepKind.RESULT, dy, result),
    )
    output: tuple[Step, ...] = ()
    factors = None
    if last is not None:
        inner = loss.expression(last.apply(Z[outer]), T[outer], limits)
        dz = sympy.Derivative(E, Z[primed], evaluate=False)
        combined, _ = collapse(inner.diff(Z[primed]).doit())
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

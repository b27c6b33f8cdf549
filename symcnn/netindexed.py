"""Index formulas of activations, flatten, dense and the losses, for SymPy's size-free chain rule."""

from __future__ import annotations

from dataclasses import dataclass

import sympy
from sympy import Indexed, IndexedBase, Sum, Symbol

from . import indexed
from .indexed import (
    C_,
    DELTA,
    I_,
    J_,
    NC,
    NIN,
    NOUT,
    WD,
    A,
    B,
    E,
    General,
    H,
    Step,
    StepKind,
    W,
    Z,
    _collapse,
    _primed,
    _ranges,
    general_forward,
)
from .netforward import _FUNCTIONS
from .netspec import Activation, ActivationKind, Dense, Flatten, Loss, LossKind, Shape
from .symbols import Role

NV = indexed.NV  # the length of a flat vector
Y, T = IndexedBase("y"), IndexedBase("t")


def _elementwise(
    shape: Shape, base: int, flat: Symbol = I_
) -> tuple[tuple[Symbol, ...], dict[Symbol, tuple[sympy.Expr, sympy.Expr]], dict[Symbol, int]]:
    """Indices, ranges and sizes of an element-wise formula on a [C, H, W] or [N] tensor."""
    if len(shape) == 1:
        return (flat,), _ranges(base, {flat: NV}), {NV: shape[0]}
    c, h, w = shape
    outer = ((C_,) if c > 1 else ()) + (I_, J_)
    sizes = ({NC: c} if c > 1 else {}) | {H: h, WD: w}
    return outer, _ranges(base, {C_: NC, I_: H, J_: WD}), sizes


def apply(kind: ActivationKind, x: sympy.Expr) -> sympy.Expr:
    """The activation applied to one expression: ``σ(x)``, ``tanh(x)``, ``relu(x)`` or ``x``.

    Example:
        >>> apply(ActivationKind.SIGMOID, A[I_])
        Sigmoid(a[i])
    """
    fn = _FUNCTIONS.get(kind)
    return x if fn is None else fn(x)


@general_forward.register
def _activation(spec: Activation) -> General:
    """``z[i,j] = f(a[i,j])`` (one index for a flat vector); the input is ``a``, the output ``z``.

    Example:
        >>> general_forward(Activation("sigmoid", (1, 2, 2))).rhs
        Sigmoid(a[i, j])
    """
    outer, ranges, sizes = _elementwise(spec.shape, spec.index_base)
    wrt = {Role.INPUT: A[tuple(_primed(s) for s in outer)]}
    return General(Z[outer], apply(spec.kind, A[outer]), outer, ranges, sizes, wrt)


@general_forward.register
def _dense(spec: Dense) -> General:
    """``z[i] = Σ_j w[i,j] a[j] + b[i]`` (seed 004's ``FC_i = Σ_j W_ij P_j``).

    Example:
        >>> general_forward(Dense(in_features=4, out_features=2)).rhs
        b[i] + Sum(a[j]*w[i, j], (j, 1, N_in))
    """
    ranges = _ranges(spec.index_base, {I_: NOUT, J_: NIN})
    rhs: sympy.Expr = Sum(W[I_, J_] * A[J_], (J_, *ranges[J_]))
    wrt: dict[Role, Indexed | Symbol] = {
        Role.INPUT: A[_primed(J_)],
        Role.WEIGHT: W[_primed(I_), _primed(J_)],
    }
    if spec.bias:
        rhs = rhs + B[I_]
        wrt[Role.BIAS] = B[_primed(I_)]
    sizes = {NIN: spec.in_features, NOUT: spec.out_features}
    return General(Z[I_], rhs, (I_,), ranges, sizes, wrt)


@general_forward.register
def _flatten(spec: Flatten) -> General:
    """``z[(i − 1)W + j] = a[i,j]`` (row-major over channel, row, column; 1-based shown).

    Example:
        >>> general_forward(Flatten((1, 2, 3))).z
        z[W*(i - 1) + j]
    """
    base = spec.index_base
    outer, ranges, sizes = _elementwise(spec.input_shape, base)
    if len(outer) == 1:
        position: sympy.Expr = outer[0]
    else:
        position = (I_ - base) * WD + J_
        if C_ in outer:
            position = (C_ - base) * H * WD + position
    wrt = {Role.INPUT: A[tuple(_primed(s) for s in outer)]}
    return General(Z[position], A[outer], outer, ranges, sizes, wrt)


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


def _loss_expr(kind: LossKind, y: sympy.Expr, t: Indexed, limits: list) -> sympy.Expr:
    """E as SymPy differentiates it (the mse's ½ inside the sum: it cancels term by term)."""
    if kind is LossKind.MSE:
        return Sum(sympy.Rational(1, 2) * (y - t) ** 2, *limits)
    return sympy.log(Sum(sympy.exp(y), *limits)) - Sum(t * y, *limits)


def _shown(kind: LossKind, y: Indexed, t: Indexed, limits: list) -> sympy.Expr:
    """E as the seeds write it: ``½ Σ (ŷ − t)²``."""
    if kind is LossKind.MSE:
        return sympy.Mul(sympy.Rational(1, 2), Sum((y - t) ** 2, *limits), evaluate=False)
    return _loss_expr(kind, y, t, limits)


def loss_steps(spec: Loss, last: Activation | None = None) -> LossSteps:
    """Derive ∂E/∂ŷ of the loss, and ∂E/∂z through a final activation, with SymPy.

    ``ŷ`` is the IndexedBase ``y``, the target ``t`` and the activation's input ``z``.

    Example:
        >>> s = loss_steps(Loss("mse", (2,)))
        >>> s.steps[-1].rhs
        -t[i'] + y[i']
    """
    outer, ranges, sizes = _elementwise(spec.shape, spec.index_base)
    limits = [(s, *ranges[s]) for s in outer]
    primed = tuple(_primed(s) for s in outer)
    loss = _loss_expr(spec.kind, Y[outer], T[outer], limits)
    shown = _shown(spec.kind, Y[outer], T[outer], limits)
    if sympy.simplify(shown - loss) != 0:  # pragma: no cover - SymPy guard
        raise AssertionError("the loss as shown differs from the loss differentiated")
    dy = sympy.Derivative(E, Y[primed], evaluate=False)
    diffed = loss.diff(Y[primed])
    result, _ = _collapse(diffed.doit())
    steps = (
        Step(StepKind.CHAIN, dy, diffed),
        Step(StepKind.RESULT, dy, result),
    )
    output: tuple[Step, ...] = ()
    factors = None
    if last is not None:
        inner = _loss_expr(spec.kind, apply(last.kind, Z[outer]), T[outer], limits)
        dz = sympy.Derivative(E, Z[primed], evaluate=False)
        combined, _ = _collapse(inner.diff(Z[primed]).doit())
        fprime = apply(last.kind, Z[primed]).diff(Z[primed])
        first = result.replace(
            lambda e: isinstance(e, Indexed) and e.base == Y,
            lambda e: apply(last.kind, Z[e.indices]),
        )
        if sympy.simplify(first * fprime - combined) != 0:  # pragma: no cover - SymPy guard
            raise AssertionError("the output δ does not factor as (ŷ − t)·f'(z)")
        output = (Step(StepKind.RESULT, dz, combined),)
        factors = (result, fprime)
    return LossSteps(Step(StepKind.FORWARD, E, shown), steps, output, factors, tuple(sizes.items()))


__all__ = ["DELTA", "LossSteps", "T", "Y", "apply", "loss_steps"]

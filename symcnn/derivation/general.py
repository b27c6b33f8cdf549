"""The size-independent gradients of a layer, with every index range exact for its configuration.

SymPy's chain rule on the layer's index formula (`symcnn.derivation.index.chain_rule`) ends in
sums over the whole output space whose terms vanish where a tensor index leaves its range
(the kernel of the input gradient, the padding of the weight gradient). Here the sizes are
put in and every such condition is turned into the sum's own bounds: for a summation index
i read as ``α·i + β`` by a tensor axis of size n (indices from ``base``), ``base ≤ α·i + β ≤
base + n − 1`` gives ``⌈…⌉ ≤ i ≤ ⌊…⌋``. An index that a dilation makes fractional becomes a
stated condition (``u mod 2 = 0``). Nothing is expanded entry by entry, so any size works.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import sympy
from sympy import Indexed, Sum, Symbol

from ..core import indexed as ix
from ..core.indexed import General
from ..core.symbols import Role
from ..errors import SpecError
from ..kinds.base import Layer
from .index import ChainRule, derive_general


@dataclass(frozen=True)
class Bound:
    """One summation index and its exact range ``lo ≤ index ≤ hi`` (may name free indices)."""

    index: Symbol
    lo: sympy.Expr
    hi: sympy.Expr


@dataclass(frozen=True)
class GeneralGradient:
    """∂E/∂x for a generic entry x of one tensor (or the forward formula): ``lhs = rhs``, its
    sums running over exact ranges, where ``conditions`` hold (else the entry is 0), for
    every value of the free indices in ``ranges``."""

    role: Role
    lhs: sympy.Expr
    rhs: sympy.Expr
    conditions: tuple[sympy.Basic, ...]
    ranges: tuple[Bound, ...]


@dataclass(frozen=True)
class GeneralLayer:
    """A layer's forward index formula and every gradient, for its configuration."""

    layer: Layer
    general: General
    rules: tuple[ChainRule, ...]
    forward: GeneralGradient
    gradients: tuple[GeneralGradient, ...]


def _tensor_shapes(layer: Layer) -> dict[Any, tuple[int, ...]]:
    """The shape behind each IndexedBase of the layer's formulas."""
    out = layer.output_shape
    shapes: dict[Any, tuple[int, ...]] = {
        ix.A: layer.input_shape,
        ix.Z: out,
        ix.DELTA: out,
    }
    for role, (shape, _) in layer.param_shapes().items():
        shapes[{Role.WEIGHT: ix.W, Role.BIAS: ix.B}.get(role, role)] = shape
    window = getattr(layer, "window", None)
    if window is not None:
        shapes[ix.MU] = (*out, *window)
        shapes[ix.OMEGA] = tuple(window)
    return shapes


def _axes(shape: tuple[int, ...], count: int) -> tuple[int, ...]:
    """The axes an index tuple of ``count`` entries names: axes of size 1 left out from the
    left (a lone channel is not written) until the counts match."""
    axes = list(shape)
    k = 0
    while len(axes) > count and k < len(axes):
        if axes[k] == 1:
            axes.pop(k)
        else:
            k += 1
    return tuple(axes)


def _range_of(index: sympy.Expr, size: int, base: int, var: Symbol) -> tuple[Any, Any] | None:
    """Bounds on ``var`` from ``base ≤ index ≤ base + size − 1`` when index is α·var + β."""
    poly = sympy.Poly(index, var) if index.has(var) else None
    if poly is None or poly.degree() != 1:
        return None
    alpha, beta = poly.all_coeffs()
    if alpha.free_symbols:
        return None
    lo, hi = (base - beta) / alpha, (base + size - 1 - beta) / alpha
    if alpha < 0:
        lo, hi = hi, lo
    return sympy.ceiling(lo), sympy.floor(hi)


def _fraction_condition(index: sympy.Expr) -> sympy.Basic | None:
    """``Mod(q·index, q) = 0`` when the index has fractional coefficients (a dilation)."""
    q = math.lcm(*[int(sympy.Rational(c).q) for c in sympy.Poly(index).coeffs()])
    if q == 1:
        return None
    return sympy.Eq(sympy.Mod(sympy.expand(q * index), q), 0)


def exact(
    role: Role,
    lhs: sympy.Expr,
    rhs: sympy.Expr,
    layer: Layer,
    general: General,
    base: int,
    ranges: tuple[Bound, ...] = (),
) -> GeneralGradient:
    """One formula of the chain rule with the sizes put in and every sum's range made exact."""
    shapes = _tensor_shapes(layer)
    conditions: list[sympy.Basic] = []
    rhs = rhs.xreplace(general.sizes)
    sums = {s: _exact_sum(s, shapes, base, conditions, ranges) for s in rhs.atoms(Sum)}
    lhs = lhs.xreplace(general.sizes)
    return GeneralGradient(role, lhs, rhs.xreplace(sums), tuple(conditions), ranges)


def _exact_sum(
    total: Sum,
    shapes: dict[Any, tuple[int, ...]],
    base: int,
    conditions: list[sympy.Basic],
    ranges: tuple[Bound, ...],
) -> Sum:
    body = total.function
    limits = [tuple(lim) for lim in total.limits]
    bounds: dict[Any, list[Any]] = {v: [lo, hi] for v, lo, hi in limits}
    for t in sorted(body.atoms(Indexed), key=str):
        shape = shapes.get(t.base)
        if shape is None:
            continue
        for idx, n in zip(t.indices, _axes(shape, len(t.indices))):
            idx = sympy.expand(idx)
            if not idx.free_symbols:
                continue
            cond = _fraction_condition(idx)
            if cond is not None and cond is not sympy.true and cond not in conditions:
                conditions.append(cond)
            found = [v for v in bounds if idx.has(v)]
            if len(found) != 1:
                continue
            rng = _range_of(idx, n, base, found[0])
            if rng is not None:
                lo, hi = bounds[found[0]]
                bounds[found[0]] = [
                    _tighten(sympy.Max(lo, rng[0]), ranges),
                    _tighten(sympy.Min(hi, rng[1]), ranges),
                ]
    return Sum(body, *[(v, *bounds[v]) for v, _, _ in limits])


def _tighten(bound: sympy.Expr, ranges: tuple[Bound, ...]) -> sympy.Expr:
    """``Max(a, b)`` (``Min``) reduced to the argument that wins for every value of the free
    indices (each argument is monotone in them, so the corners of their box decide)."""
    if not isinstance(bound, (sympy.Max, sympy.Min)):
        return bound
    free = [r for r in ranges if bound.has(r.index)]
    corners = [
        dict(zip([r.index for r in free], values))
        for values in itertools.product(*[(r.lo, r.hi) for r in free])
    ]
    pick = max if isinstance(bound, sympy.Max) else min
    args = list(bound.args)
    for a in args:
        if all(pick(arg.xreplace(c) for arg in args) == a.xreplace(c) for c in corners):
            return a
    return bound


def _free_ranges(x: Any, layer: Layer, base: int) -> tuple[Bound, ...]:
    """The range of each index of a generic entry x (``c' = 1 … C``, ``u = 1 … H``)."""
    if not isinstance(x, Indexed):
        return ()
    shape = _tensor_shapes(layer).get(x.base)
    if shape is None:
        return ()
    out = []
    for idx, n in zip(x.indices, _axes(shape, len(x.indices))):
        if isinstance(idx, Symbol):
            out.append(Bound(idx, sympy.Integer(base), sympy.Integer(base + n - 1)))
    return tuple(out)


def general_layer(layer: Layer, base: int = 1) -> GeneralLayer:
    """Derive a layer's size-independent gradients and make their ranges exact.

    Example:
        >>> from symcnn import Linear
        >>> g = general_layer(Linear(2, input=(3,)), 1)
        >>> g.gradients[0].rhs
        Sum(delta[i]*w[i, j'], (i, 1, 2))
    """
    if layer.quantities(None) or type(layer).index_formula is Layer.index_formula:
        raise SpecError(
            f"--general does not cover {layer.kind} layers yet (named quantities or several "
            "tensors read); symcnn grad and symcnn sheet derive them for a given size"
        )
    general, rules = derive_general(layer, base)
    grads = tuple(
        exact(
            r.role,
            r.steps[-1].lhs,
            r.steps[-1].rhs,
            layer,
            general,
            base,
            _free_ranges(general.wrt[r.role], layer, base),
        )
        for r in rules
    )
    outer = tuple(
        Bound(s, sympy.Integer(lo), sympy.sympify(hi).xreplace(general.sizes))
        for s in general.outer
        for lo, hi in [general.ranges[s]]
    )
    forward = exact(Role.OUTPUT, general.z, general.rhs, layer, general, base, outer)
    return GeneralLayer(layer, general, tuple(rules), forward, grads)

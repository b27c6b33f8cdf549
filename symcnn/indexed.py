"""The size-independent chain rule: SymPy differentiates IndexedBase/Sum forward formulas."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from functools import singledispatch

import sympy
from sympy import Derivative, Indexed, IndexedBase, Piecewise, Sum, Symbol

from .spec import AvgPool2D, Bias, Conv2D, LayerSpec, MaxPool2D, _Pool2D
from .symbols import Role


class StepKind(enum.Enum):
    """What a derivation step does; the templates hold the prose for each kind."""

    CHAIN = "chain"  # ∂E/∂x = Σ ∂E/∂z · ∂z/∂x over every output entry
    DELTA = "delta"  # ∂E/∂z written as δ
    FORWARD = "forward"  # ∂z/∂x = ∂/∂x (the forward formula)
    DIFF = "diff"  # SymPy's derivative of the sum: Iverson brackets (Kronecker deltas)
    SURVIVES = "survives"  # the sum collapses: only the matching index survives
    RESULT = "result"  # back into the chain rule: the size-independent gradient


@dataclass(frozen=True)
class Step:
    """One line of a derivation: ``lhs = rhs``, of a given kind."""

    kind: StepKind
    lhs: sympy.Basic
    rhs: sympy.Basic


@dataclass(frozen=True)
class General:
    """A layer's forward pass as one index formula ``z[out] = rhs`` over IndexedBase tensors.

    ``ranges`` gives (first, last) of every index symbol; ``sizes`` maps the size symbols
    (``H``, ``k_1``, ``H_out`` …) to this layer's numbers; ``wrt`` gives, for each tensor
    whose gradient is derived, its IndexedBase and the generic (primed) index to use.
    """

    z: Indexed
    rhs: sympy.Expr
    outer: tuple[Symbol, ...]
    ranges: dict[Symbol, tuple[sympy.Expr, sympy.Expr]]
    sizes: dict[Symbol, int]
    wrt: dict[Role, Indexed | Symbol] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainRule:
    """The steps deriving ∂E/∂x for one tensor, and the tensor whose zeros a reader must assume."""

    role: Role
    steps: tuple[Step, ...]
    zero_outside: tuple[Indexed, ...]


def _int(name: str) -> Symbol:
    return Symbol(name, integer=True)


def _size(name: str) -> Symbol:
    return Symbol(name, integer=True, positive=True)


E = Symbol("E")
DELTA = IndexedBase("delta")
Z = IndexedBase("z")
A, W, B, MU = IndexedBase("a"), IndexedBase("w"), IndexedBase("b"), IndexedBase("mu")
OMEGA = IndexedBase("omega")  # the constant averaging kernel 1/(k_1 k_2) of average pooling
BIAS = Symbol("b")  # the one shared bias of a single-output-channel conv
I_, J_, M_, N_, C_, O_ = (_int(s) for s in ("i", "j", "m", "n", "c", "o"))
U_, V_ = _int("u"), _int("v")
H, WD, KH, KW = _size("H"), _size("W"), _size("k_1"), _size("k_2")
HOUT, WOUT, NC, NO = _size("H_out"), _size("W_out"), _size("C"), _size("O")
# sizes of the network layers (symcnn.netindexed): a dense layer's, a flat vector's length
NIN, NOUT, NV = _size("N_in"), _size("N_out"), _size("N")


def _primed(s: Symbol) -> Symbol:
    return _int(f"{s.name}'")


def _position(out: Symbol, k: Symbol, stride: int, dilation: int, pad: int, base: int):
    """Input index read by output index ``out`` and kernel index ``k`` (``base`` 0 or 1)."""
    return stride * (out - base) + dilation * (k - base) - pad + base


@singledispatch
def general_forward(spec: object) -> General:
    """The forward index formula of a layer, e.g. ``z[i,j] = Σ_m Σ_n w[m,n] a[i+m-1,j+n-1] + b[i,j]``.

    Example:
        >>> g = general_forward(Conv2D(input=(3, 3), kernel=(2, 2), bias="untied"))
        >>> g.rhs
        b[i, j] + Sum(a[i + m - 1, j + n - 1]*w[m, n], (m, 1, k_1), (n, 1, k_2))
    """
    raise TypeError(f"no index formula for {type(spec).__name__}")


@general_forward.register
def _conv(spec: Conv2D) -> General:
    base = spec.index_base
    (sh, sw), (ph, pw), (dh, dw) = spec.stride, spec.padding, spec.dilation
    o_idx = (O_,) if spec.out_channels > 1 else ()
    c_idx = (C_,) if spec.in_channels > 1 else ()
    row = _position(I_, M_, sh, dh, ph, base)
    col = _position(J_, N_, sw, dw, pw, base)
    ranges = _ranges(base, {I_: HOUT, J_: WOUT, M_: KH, N_: KW, O_: NO, C_: NC})
    limits = [(C_, *ranges[C_])] if c_idx else []
    limits += [(M_, *ranges[M_]), (N_, *ranges[N_])]
    rhs: sympy.Expr = Sum(W[(*o_idx, *c_idx, M_, N_)] * A[(*c_idx, row, col)], *limits)
    wrt = {
        Role.INPUT: A[(*(_primed(C_) for _ in c_idx), U_, V_)],
        Role.WEIGHT: W[
            (*(_primed(O_) for _ in o_idx), *(_primed(C_) for _ in c_idx), _primed(M_), _primed(N_))
        ],
    }
    if spec.bias is Bias.SHARED:
        rhs = rhs + (B[O_] if o_idx else BIAS)
        wrt[Role.BIAS] = B[_primed(O_)] if o_idx else BIAS
    elif spec.bias is Bias.UNTIED:
        rhs = rhs + B[(*o_idx, I_, J_)]
        wrt[Role.BIAS] = B[(*(_primed(O_) for _ in o_idx), _primed(I_), _primed(J_))]
    sizes = _sizes(spec.input, spec.kernel, spec.output_size)
    sizes.update({NC: spec.in_channels, NO: spec.out_channels})
    return General(Z[(*o_idx, I_, J_)], rhs, (*o_idx, I_, J_), ranges, sizes, wrt)


def _pool(spec: _Pool2D, body: sympy.Expr) -> General:
    c_idx = (C_,) if spec.channels > 1 else ()
    ranges = _ranges(spec.index_base, {I_: HOUT, J_: WOUT, M_: KH, N_: KW, C_: NC})
    rhs = Sum(body, (M_, *ranges[M_]), (N_, *ranges[N_]))
    sizes = _sizes(spec.input, spec.window, spec.output_size)
    sizes[NC] = spec.channels
    wrt = {Role.INPUT: A[(*(_primed(C_) for _ in c_idx), U_, V_)]}
    return General(Z[(*c_idx, I_, J_)], rhs, (*c_idx, I_, J_), ranges, sizes, wrt)


def _pool_position(spec: _Pool2D) -> tuple[tuple[Symbol, ...], sympy.Expr, sympy.Expr]:
    assert spec.stride is not None
    base = spec.index_base
    c_idx = (C_,) if spec.channels > 1 else ()
    row = _position(I_, M_, spec.stride[0], 1, 0, base)
    col = _position(J_, N_, spec.stride[1], 1, 0, base)
    return c_idx, row, col


@general_forward.register
def _avg(spec: AvgPool2D) -> General:
    # average pooling is a per-channel correlation with the constant kernel ω = 1/(k_1 k_2)
    c_idx, row, col = _pool_position(spec)
    return _pool(spec, OMEGA[M_, N_] * A[(*c_idx, row, col)])


@general_forward.register
def _max(spec: MaxPool2D) -> General:
    # max is piecewise linear: z = Σ μ·a with μ = 1 at the window's first maximum, else 0,
    # and μ constant wherever the maximum does not change (its derivative is 0 there)
    c_idx, row, col = _pool_position(spec)
    return _pool(spec, MU[(*c_idx, I_, J_, M_, N_)] * A[(*c_idx, row, col)])


def _ranges(base: int, sizes: dict[Symbol, Symbol]) -> dict[Symbol, tuple[sympy.Expr, sympy.Expr]]:
    return {s: (sympy.Integer(base), size - 1 + base) for s, size in sizes.items()}


def _sizes(inp: tuple[int, int], k: tuple[int, int], out: tuple[int, int]) -> dict[Symbol, int]:
    return {H: inp[0], WD: inp[1], KH: k[0], KW: k[1], HOUT: out[0], WOUT: out[1]}


def chain_rule(general: General, role: Role) -> ChainRule:
    """Derive ∂E/∂x for a generic entry x of one tensor, step by step, with SymPy.

    Example:
        >>> g = general_forward(Conv2D(input=(5, 5), kernel=(2, 2), index_base=0))
        >>> chain_rule(g, Role.WEIGHT).steps[-1].rhs
        Sum(a[i + m', j + n']*delta[i, j], (i, 0, H_out - 1), (j, 0, W_out - 1))
    """
    x = general.wrt[role]
    limits = [(s, *general.ranges[s]) for s in general.outer]
    grad = Derivative(E, x, evaluate=False)
    dz = Derivative(general.z, x, evaluate=False)
    delta = DELTA[general.z.indices]
    steps = [
        Step(StepKind.CHAIN, grad, Sum(Derivative(E, general.z, evaluate=False) * dz, *limits)),
        Step(StepKind.DELTA, grad, Sum(delta * dz, *limits)),
        Step(StepKind.FORWARD, dz, Derivative(general.rhs, x, evaluate=False)),
    ]
    diffed = general.rhs.diff(x)
    steps.append(Step(StepKind.DIFF, dz, diffed))
    collapsed, zeros = _collapse(diffed.doit())
    steps.append(Step(StepKind.SURVIVES, dz, collapsed))
    result, more = _collapse(Sum(delta * collapsed, *limits).doit())
    steps.append(Step(StepKind.RESULT, grad, result))
    zero_outside = tuple(dict.fromkeys(zeros + more))
    return ChainRule(role, tuple(steps), zero_outside)


def _collapse(expr: sympy.Basic) -> tuple[sympy.Basic, tuple[Indexed, ...]]:
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
            if any(not _is_primed(s) and s not in _SIZES for s in cond.free_symbols):
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


_SIZES = {H, WD, KH, KW, HOUT, WOUT, NC, NO, NIN, NOUT, NV}


def _is_primed(s: sympy.Basic) -> bool:
    return isinstance(s, Symbol) and s.name.endswith("'")


def derive_general(spec: LayerSpec) -> tuple[General, list[ChainRule]]:
    """The forward index formula and the chain-rule derivation of every gradient of a layer.

    Example:
        >>> general, rules = derive_general(MaxPool2D(input=(4, 4), window=(2, 2)))
        >>> [r.role.value for r in rules]
        ['input']
    """
    general = general_forward(spec)
    return general, [chain_rule(general, role) for role in general.wrt]


def output_delta_steps() -> list[Step]:
    """δ = ∂E/∂z when z feeds a sigmoid and the squared error E = ½(σ(z) − y)², derived.

    Returns three steps: the loss, its derivative by SymPy, and the same with
    σ' = σ(1 − σ), which is checked to be an identity before it is returned.

    Example:
        >>> [s.kind.value for s in output_delta_steps()]
        ['forward', 'diff', 'result']
    """
    z, y = Symbol("z"), Symbol("y")
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

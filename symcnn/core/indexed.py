"""The vocabulary of size-independent index formulas: index and size symbols, tensors, `General`."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import sympy
from sympy import Indexed, IndexedBase, Symbol

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
    whose gradient is derived, its generic (primed) entry.
    """

    z: Indexed
    rhs: sympy.Expr
    outer: tuple[Symbol, ...]
    ranges: dict[Symbol, tuple[sympy.Expr, sympy.Expr]]
    sizes: dict[Symbol, int]
    wrt: dict[Role, Indexed | Symbol] = field(default_factory=dict)


class GroupOf(sympy.Function):
    """g(o): the group, counted from 0, of output channel ``o`` of a grouped convolution.

    Arguments: the channel index, the output channels per group O/G, the index base; with
    numbers it is ⌊(o − base)/(O/G)⌋. Sheets print it ``g(o)`` and say what g is.

    Example:
        >>> o = index("o")
        >>> GroupOf(o, NO / NG, 1), GroupOf(5, 2, 1)
        (GroupOf(o, O/G, 1), 2)
    """

    nargs = 3
    is_integer = True

    @classmethod
    def eval(cls, o: sympy.Basic, per: sympy.Basic, base: sympy.Basic) -> sympy.Basic | None:
        if o.is_Integer and per.is_Integer and base.is_Integer:
            return sympy.Integer((int(o) - int(base)) // int(per))
        return None

    def _latex(self, printer: Any) -> str:
        return f"g({printer._print(self.args[0])})"


def index(name: str) -> Symbol:
    """An integer index symbol.

    Example:
        >>> index("i").is_integer
        True
    """
    return Symbol(name, integer=True)


def size(name: str) -> Symbol:
    """A positive integer size symbol."""
    return Symbol(name, integer=True, positive=True)


E = Symbol("E")
DELTA = IndexedBase("delta")
#: Batch norm's named quantities (μ, σ², x̂) and their δ.
MEAN, VAR, XHAT = IndexedBase("mean"), IndexedBase("var"), IndexedBase("xhat")
DMEAN, DVAR, DXHAT = IndexedBase("dmean"), IndexedBase("dvar"), IndexedBase("dxhat")
Z = IndexedBase("z")
A, W, B, MU = IndexedBase("a"), IndexedBase("w"), IndexedBase("b"), IndexedBase("mu")
OMEGA = IndexedBase("omega")  # the constant averaging kernel 1/(k_1 k_2) of average pooling
Y, T = IndexedBase("y"), IndexedBase("t")
BIAS = Symbol("b")  # the one shared bias of a single-output-channel conv
I_, J_, M_, N_, C_, O_ = (index(s) for s in ("i", "j", "m", "n", "c", "o"))
U_, V_ = index("u"), index("v")
H, WD, KH, KW = size("H"), size("W"), size("k_1"), size("k_2")
HOUT, WOUT, NC, NO = size("H_out"), size("W_out"), size("C"), size("O")
NG = size("G")  # the channel groups of a grouped convolution
# sizes of the vector layers: a fully connected layer's, and a flat vector's length
NIN, NOUT, NV = size("N_in"), size("N_out"), size("N")
#: The sample of a mini-batch (its index comes first) and the number of samples.
S_, NB = index("s"), size("B")
#: The number of values a batch norm's statistics average over (B·H·W, or B), and its ε.
NM, EPS = size("M"), Symbol("epsilon", positive=True)
#: Every size symbol (a condition on sizes only is not a range condition on an index).
SIZES = frozenset({H, WD, KH, KW, HOUT, WOUT, NC, NO, NG, NIN, NOUT, NV, NB, NM})


def read_base(k: int) -> IndexedBase:
    """The k-th tensor (from 1) a merging layer reads: ``a``, then ``a2``, ``a3`` ….

    Example:
        >>> read_base(1), read_base(2)
        (a, a2)
    """
    return A if k == 1 else IndexedBase(f"a{k}")


#: Tensors a parameter of its layer, the same for every sample of a mini-batch.
SHARED = frozenset({"w", "b", "omega"})


def primed(s: Symbol) -> Symbol:
    """The generic index of a gradient entry: ``m`` → ``m'``.

    Example:
        >>> primed(M_)
        m'
    """
    return index(f"{s.name}'")


def is_primed(s: sympy.Basic) -> bool:
    """True for a primed index symbol."""
    return isinstance(s, Symbol) and s.name.endswith("'")


def position(out: Symbol, k: Symbol, stride: int, dilation: int, pad: int, base: int) -> sympy.Expr:
    """Input index read by output index ``out`` and kernel index ``k`` (``base`` 0 or 1).

    Example:
        >>> position(I_, M_, 1, 1, 0, 1)
        i + m - 1
    """
    return stride * (out - base) + dilation * (k - base) - pad + base


def ranges(base: int, sizes: dict[Symbol, Symbol]) -> dict[Symbol, tuple[sympy.Expr, sympy.Expr]]:
    """(first, last) of each index running over a size, from ``base``.

    Example:
        >>> ranges(1, {I_: H})[I_]
        (1, H)
    """
    return {s: (sympy.Integer(base), n - 1 + base) for s, n in sizes.items()}


def spatial_sizes(inp: tuple[int, int], k: tuple[int, int], out: tuple[int, int]) -> dict:
    """The numbers of H, W, k_1, k_2, H_out, W_out for one layer.

    Example:
        >>> spatial_sizes((3, 3), (2, 2), (2, 2))[HOUT]
        2
    """
    return {H: inp[0], WD: inp[1], KH: k[0], KW: k[1], HOUT: out[0], WOUT: out[1]}


def elementwise(
    shape: tuple[int, ...], base: int, flat: Symbol = I_
) -> tuple[tuple[Symbol, ...], dict[Symbol, tuple[sympy.Expr, sympy.Expr]], dict[Symbol, int]]:
    """Indices, ranges and sizes of an element-wise formula on a [C, H, W] or [N] tensor.

    Example:
        >>> elementwise((4,), 1)[0]
        (i,)
    """
    if len(shape) == 1:
        return (flat,), ranges(base, {flat: NV}), {NV: shape[0]}
    c, h, w = shape
    outer = ((C_,) if c > 1 else ()) + (I_, J_)
    sizes = ({NC: c} if c > 1 else {}) | {H: h, WD: w}
    return outer, ranges(base, {C_: NC, I_: H, J_: WD}), sizes

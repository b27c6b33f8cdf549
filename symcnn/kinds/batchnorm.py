"""batchnorm2d and batchnorm1d in training mode: each channel normalised with its batch statistics.

The forward pass goes through three named quantities, as the standard derivation does: the
batch mean μ_c and the biased batch variance σ²_c of each channel, and the normalised input
x̂ = (x − μ)/√(σ² + ε); then y = γ·x̂ + β. The chain rule runs through them (each has a δ of
its own), so every formula stays linear in the number of entries: no entry of y is expanded
into the whole batch it depends on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np
import symengine as se
import sympy
from sympy import Sum

from ..core import indexed as ix
from ..core.indexed import General
from ..core.shapes import Shape, channel_axes, positive, shape_of, shape_text
from ..core.symbols import Role
from ..errors import SpecError
from .base import (
    SINGLE,
    Arrays,
    ClosedForm,
    Layer,
    Lemma,
    Mistake,
    NumpyCode,
    Quantity,
    TexNames,
    torch_array,
)

#: The named quantities, in the order they are computed.
MU, VAR, XHAT = 0, 1, 2


def _eps(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"eps must be a number > 0, e.g. 1e-5, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise SpecError(f"eps must be a number > 0 (it keeps √(σ² + ε) away from 0), got {value!r}")
    return float(value)


def exact(value: float) -> se.Rational:
    """A float as the exact fraction its shortest decimal form names: 1e-05 → 1/100000.

    Example:
        >>> exact(1e-5)
        1/100000
    """
    f = Fraction(repr(value))
    return se.Rational(f.numerator, f.denominator)


@dataclass(frozen=True)
class _BatchNorm(Layer):
    """What the two batch norms share: ε, the affine γ and β, the statistics per channel."""

    eps: float = field(default=1e-5, metadata={"help": "ε added to the variance (default 1e-5)"})
    affine: bool = field(
        default=True, metadata={"help": "learn γ (weight) and β (bias): true (default) or false"}
    )
    num_features: int | None = field(
        default=None, metadata={"help": "channels C (checked against the input)"}
    )
    input: Shape | None = field(default=None, kw_only=True)

    letter = "y"
    lone = ("x", "y")
    template = "layer_batchnorm.tex.j2"
    couples_samples = True
    param_stems: ClassVar[dict[Role, tuple[str, str, str]]] = {
        Role.WEIGHT: ("gamma", r"\gamma", "γ"),
        Role.BIAS: ("beta", r"\beta", "β"),
    }
    note = (
        "batch norm (training mode): μ and σ² are the mean and the biased variance (÷ M) of "
        "each channel's M values over the batch, x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β; the "
        "gradient reaches x through x̂, σ² and μ"
    )
    conventions: ClassVar[dict[str, str]] = {
        "batchnorm": "training mode: batch statistics, biased variance; gamma = '<l>.weight', "
        "beta = '<l>.bias' shaped [C]; quantities mu<l>, var<l>, xh<l> with their δ dmu<l> …"
    }
    #: The rank of the per-sample input (3 for [C, H, W], 1 for [C]).
    rank: ClassVar[int]

    @classmethod
    def from_torch(cls, module: Any) -> tuple[Layer, dict[Role, np.ndarray]]:
        if not module.training:
            raise SpecError(
                "it is in eval mode (running statistics); symcnn derives training mode, "
                "with batch statistics: call model.train()"
            )
        params = {}
        if module.affine:
            params = {Role.WEIGHT: torch_array(module.weight), Role.BIAS: torch_array(module.bias)}
        layer = cls(eps=module.eps, affine=module.affine, num_features=module.num_features)
        return layer, params

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "eps", _eps(self.eps))
        flag = {"true": True, "false": False}.get(str(self.affine).lower(), self.affine)
        if not isinstance(flag, bool):
            raise SpecError(f"affine is true or false, got {self.affine!r}")
        set_(self, "affine", flag)
        if self.num_features is not None:
            set_(self, "num_features", positive(self.num_features, "num_features"))
        if self.input is not None:
            shape = shape_of(self.input, "input")
            if len(shape) != self.rank:
                want = "[C, H, W]" if self.rank == 3 else "a flat vector [C]"
                raise SpecError(f"{self.kind} needs {want}, but gets {shape_text(shape)}")
            if self.num_features is not None and self.num_features != shape[0]:
                raise SpecError(
                    f"num_features = {self.num_features}, but its input has {shape[0]} channels"
                )
            set_(self, "input", shape)
            set_(self, "num_features", shape[0])

    @property
    def channels(self) -> int:
        """C: the number of channels (features), each with its own statistics, γ and β."""
        return self.input_shape[0]

    def per_channel(self, batch: int | None) -> int:
        """M: how many values each channel's statistics average over (N·H·W, or N)."""
        return (batch or 1) * math.prod(self.input_shape[1:])

    def check_batch(self, batch: int | None) -> None:
        if self.per_channel(batch) < 2:
            raise SpecError(
                f"{self.kind} needs more than one value per channel to take batch statistics "
                "(as PyTorch): give it a mini-batch of 2 or more samples (batch = 2 in a network "
                "file, --batch 2 for the layer alone)"
            )

    def param_shapes(self) -> dict[Role, tuple[Shape, int]]:
        if not self.affine:
            return {}
        # γ_c, β_c: the channel is their only index, written as a subscript (as μ_c)
        return {Role.WEIGHT: ((self.channels,), 0), Role.BIAS: ((self.channels,), 0)}

    @property
    def term_count(self) -> int:
        return 5 * math.prod(self.input_shape)

    def config(self) -> dict[str, Any]:
        return {
            "num_features": self.channels,
            "eps": self.eps,
            "affine": self.affine,
            "shape": list(self.input_shape),
        }

    def summary(self) -> str:
        return f"eps {self.eps:g}" + ("" if self.affine else ", no affine")

    def slug(self) -> str:
        return f"{self.kind}-{shape_text(self.input_shape)}"

    def axes(self, role: Role) -> str:
        if role in (Role.WEIGHT, Role.BIAS):
            return "[C]"
        return "[C, H, W]" if self.rank == 3 else "[C]"

    # --- maths ---------------------------------------------------------------------------

    def quantities(self, batch: int | None) -> tuple[Quantity, ...]:
        """μ and σ² (one per channel), x̂ (shaped like the input, with its batch axis).

        Example:
            >>> [q.name for q in BatchNorm2d(input=(2, 2, 2)).quantities(3)]
            ['mu', 'var', 'xh']
        """
        stat = 0  # μ_c, σ²_c: the channel is their only index, written as a subscript
        shape = self.input_shape if batch is None else (batch, *self.input_shape)
        return (
            Quantity("mu", r"\mu", "μ", (self.channels,), stat, False, "batch mean per channel"),
            Quantity(
                "var", r"{\sigma^{2}}", "σ²", (self.channels,), stat, False,
                "biased batch variance per channel",
            ),
            Quantity(
                "xh", r"\hat{x}", "x̂", shape, channel_axes(self.input_shape), batch is not None,
                "the input normalised with the batch statistics",
            ),
        )  # fmt: skip

    def _cells(self, shape: Shape) -> list[list[tuple[int, ...]]]:
        """The indices of a batched tensor [N, C, …], channel by channel."""
        out: list[list[tuple[int, ...]]] = [[] for _ in range(self.channels)]
        for idx in np.ndindex(*shape):
            out[idx[1]].append(idx)
        return out

    def batch_terms(
        self,
        xs: tuple[np.ndarray, ...],
        params: dict[Role, np.ndarray],
        named: tuple[np.ndarray, ...],
        batch: int | None,
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """μ_c = Σ x/M, σ²_c = Σ (x − μ_c)²/M, x̂ = (x − μ_c)/√(σ²_c + ε), y = γ_c·x̂ + β_c.

        Example:
            >>> from symcnn.core.symbols import Grid
            >>> x = Grid("x", Role.INPUT, (2, 1), (False, False), batch=True).symbols
            >>> mu, var = (Grid(n, Role.OUTPUT, (1,), (True,)).symbols for n in ("mu", "v"))
            >>> xh = Grid("xh", Role.OUTPUT, (2, 1), (False, False), batch=True).symbols
            >>> stages, y = BatchNorm1d(affine=False, input=(1,)).batch_terms(
            ...     (x,), {}, (mu, var, xh), 2)
            >>> stages[0][0], y[1, 0]
            (((1/2)*x_n1_1, (1/2)*x_n2_1), (xh_n2_1,))
        """
        x, (mu, var, xh) = xs[0], named
        xb, xhb = (x, xh) if batch is not None else (x[None], xh[None])
        m, eps = self.per_channel(batch), exact(self.eps)
        gamma, beta = params.get(Role.WEIGHT), params.get(Role.BIAS)
        mean_terms = np.empty((self.channels,), dtype=object)
        var_terms = np.empty((self.channels,), dtype=object)
        for c, cells in enumerate(self._cells(xb.shape)):
            mean_terms[c] = tuple(xb[idx] * se.Rational(1, m) for idx in cells)
            var_terms[c] = tuple((xb[idx] - mu[c]) ** 2 * se.Rational(1, m) for idx in cells)
        norm = np.empty(xb.shape, dtype=object)
        out = np.empty(xb.shape, dtype=object)
        for idx in np.ndindex(*xb.shape):
            c = idx[1]
            norm[idx] = ((xb[idx] - mu[c]) * (var[c] + eps) ** se.Rational(-1, 2),)
            if gamma is not None and beta is not None:
                out[idx] = (gamma[c] * xhb[idx], beta[c])
            else:
                out[idx] = (xhb[idx],)
        if batch is None:
            norm, out = norm[0], out[0]
        return [mean_terms, var_terms, norm], out

    def staged_forms(
        self,
        x: np.ndarray,
        params: dict[Role, np.ndarray],
        delta: np.ndarray,
        named: tuple[np.ndarray, ...],
        named_deltas: tuple[np.ndarray, ...],
    ) -> list[ClosedForm]:
        """∂E/∂x = γ/(M·√(σ² + ε)) · (M·δ − Σδ − x̂·Σ δ·x̂), per channel, proven in steps:
        the δ of x̂, of σ² and of μ first (each against its derived formula), then ∂E/∂x in
        those; and ∂E/∂γ = Σ δ·x̂, ∂E/∂β = Σ δ.

        Example:
            >>> from symcnn.graph.network import Network
            >>> from symcnn.derivation.derived import derive
            >>> d = derive(Network.of(BatchNorm2d(input=(1, 2, 2))))
            >>> [(p.name.split(":")[0], p.proven) for p in d.identities]
            [('input gradient', True), ('weight gradient', True), ('bias gradient', True)]
        """
        mu, var, xh = named
        batched = x.ndim == len(self.input_shape) + 1
        xb, db, xhb = (x, delta, xh) if batched else (x[None], delta[None], xh[None])
        m, eps = self.per_channel(x.shape[0] if batched else None), exact(self.eps)
        gamma = params.get(Role.WEIGHT)
        g = [se.Integer(1)] * self.channels if gamma is None else list(gamma)

        def scale(n: TexNames) -> str:  # γ, or 1 without the affine parameters
            return _tex(n).w if gamma is not None else "1"

        cells = self._cells(xb.shape)
        total_d = [se.Symbol(f"sum_delta_{c}") for c in range(self.channels)]
        total_dx = [se.Symbol(f"sum_delta_xhat_{c}") for c in range(self.channels)]
        root = [(var[c] + eps) ** se.Rational(1, 2) for c in range(self.channels)]
        xhat = {xhb[idx]: (xb[idx] - mu[idx[1]]) / root[idx[1]] for idx in np.ndindex(*xb.shape)}
        sums = {
            total_d[c]: se.Add(*[db[idx] for idx in cells[c]]) for c in range(self.channels)
        } | {
            total_dx[c]: se.Add(*[db[idx] * xhat[xhb[idx]] for idx in cells[c]])
            for c in range(self.channels)
        }
        d_xhat = np.empty(xb.shape, dtype=object)
        for idx in np.ndindex(*xb.shape):
            d_xhat[idx] = g[idx[1]] * db[idx]
        d_var = np.array(
            [-g[c] * total_dx[c] / (2 * root[c] ** 2) for c in range(self.channels)], dtype=object
        )
        d_mu = np.array([-g[c] * total_d[c] / root[c] for c in range(self.channels)], dtype=object)
        # μ is the mean: the last value of each channel is M·μ minus the others (so that
        # Σ (x − μ) = 0 shows up term by term, without expanding μ into every (x − μ))
        means = {
            xb[cells[c][-1]]: m * mu[c] - se.Add(*[xb[idx] for idx in cells[c][:-1]])
            for c in range(self.channels)
        }
        lemmas = (
            Lemma(
                XHAT,
                "∂E/∂x̂ = γ·δ",
                d_xhat if batched else d_xhat[0],
                tex=lambda n: (
                    _tex(n).dq[XHAT],
                    rf"{scale(n)}\,{n.d}" if gamma is not None else n.d,
                ),
            ),
            Lemma(
                VAR,
                "∂E/∂σ² = −γ·Σ δ·x̂ / (2(σ² + ε))",
                d_var,
                sums,
                tex=lambda n: (
                    _tex(n).dq[VAR],
                    rf"-\frac{{{scale(n)}}}{{2\left({_tex(n).q[VAR]} + \epsilon\right)}}"
                    rf" \sum {n.d}\,{_tex(n).q[XHAT]}",
                ),
            ),
            Lemma(
                MU,
                "∂E/∂μ = −γ·Σ δ / √(σ² + ε)",
                d_mu,
                sums,
                means,
                tex=lambda n: (
                    _tex(n).dq[MU],
                    rf"-\frac{{{scale(n)}}}{{\sqrt{{{_tex(n).q[VAR]} + \epsilon}}}} \sum {n.d}",
                ),
            ),
        )
        gx = np.empty(xb.shape, dtype=object)
        for idx in np.ndindex(*xb.shape):
            c = idx[1]
            gx[idx] = g[c] / (m * root[c]) * (m * db[idx] - total_d[c] - xhb[idx] * total_dx[c])
        forms = [
            ClosedForm(
                Role.INPUT,
                "input gradient: through the batch sums Σδ and Σδ·x̂",
                f"∂E/∂x = γ/(M·√(σ² + ε)) · (M·δ − Σδ − x̂·Σ δ·x̂), per channel, M = {m}",
                lambda n: (
                    rf"\frac{{\partial E}}{{\partial {_tex(n).a}}}",
                    rf"\frac{{{scale(n)}}}{{M\sqrt{{{_tex(n).q[VAR]} + \epsilon}}}}"
                    rf"\left(M\,{n.d} - \sum {n.d} - {_tex(n).q[XHAT]} \sum {n.d}\,"
                    rf"{_tex(n).q[XHAT]}\right)",
                ),
                gx if batched else gx[0],
                lemmas=lemmas,
                expand=xhat,
            )
        ]
        if gamma is not None:
            weight = np.array(
                [se.Add(*[db[idx] * xhb[idx] for idx in cells[c]]) for c in range(self.channels)],
                dtype=object,
            )
            bias = np.array(
                [se.Add(*[db[idx] for idx in cells[c]]) for c in range(self.channels)],
                dtype=object,
            )
            forms += [
                ClosedForm(
                    Role.WEIGHT,
                    "weight gradient: Σ δ·x̂ per channel",
                    "∂E/∂γ_c = Σ δ·x̂ over the channel's M values",
                    lambda n: (
                        rf"\frac{{\partial E}}{{\partial {_tex(n).w}}}",
                        rf"\sum {n.d}\,{_tex(n).q[XHAT]}",
                    ),
                    weight,
                ),
                ClosedForm(
                    Role.BIAS,
                    "bias gradient: Σ δ per channel",
                    "∂E/∂β_c = Σ δ over the channel's M values",
                    lambda n: (rf"\frac{{\partial E}}{{\partial {_tex(n).b}}}", rf"\sum {n.d}"),
                    bias,
                ),
            ]
        return forms

    # --- sheets --------------------------------------------------------------------------

    def index_formula(self, base: int) -> General:
        """``y[c,i,j] = γ[c]·x̂[c,i,j] + β[c]`` for one sample (γ, β are the layer's w and b).

        Example:
            >>> BatchNorm2d(input=(2, 3, 3)).index_formula(1).rhs
            b[c] + w[c]*xhat[c, i, j]
        """
        cell = (ix.C_, ix.I_, ix.J_) if self.rank == 3 else (ix.C_,)
        rng = ix.ranges(base, {ix.C_: ix.NC, ix.I_: ix.H, ix.J_: ix.WD})
        rhs: sympy.Expr = ix.XHAT[cell]
        wrt: dict[Role, Any] = {}
        if self.affine:
            rhs = ix.W[ix.C_] * ix.XHAT[cell] + ix.B[ix.C_]
            wrt = {Role.WEIGHT: ix.W[ix.primed(ix.C_)], Role.BIAS: ix.B[ix.primed(ix.C_)]}
        return General(ix.Z[cell], rhs, cell, rng, self._sizes(), wrt)

    def _sizes(self) -> dict[Any, int]:
        shape = self.input_shape
        sizes = {ix.NC: shape[0]}
        if self.rank == 3:
            sizes |= {ix.H: shape[1], ix.WD: shape[2]}
        return sizes

    def stage_formulas(self, base: int, batch: int | None) -> list[tuple[str, General]]:
        """μ_c = Σ x/M, σ²_c = Σ (x − μ_c)²/M over the channel's M values (every sample and
        position), and x̂ = (x − μ_c)/√(σ²_c + ε), as index formulas.

        Example:
            >>> [g.rhs for _, g in BatchNorm1d(input=(2,)).stage_formulas(1, 4)][0]
            Sum(a[s, c], (s, 1, B))/M
        """
        lead = (ix.S_,) if batch is not None else ()
        spatial = (ix.I_, ix.J_) if self.rank == 3 else ()
        cell = (*lead, ix.C_, *spatial)
        sizes = {ix.C_: ix.NC, ix.I_: ix.H, ix.J_: ix.WD, ix.S_: ix.NB}
        rng = ix.ranges(base, {s: sizes[s] for s in (ix.C_, *lead, *spatial)})
        over = [(s, *rng[s]) for s in (*lead, *spatial)]
        numbers = self._sizes() | {ix.NM: self.per_channel(batch)}
        if batch is not None:
            numbers[ix.NB] = batch
        x, c = ix.A[cell], ix.C_
        primed = ix.A[tuple(ix.primed(s) for s in cell)]
        mean = Sum(x, *over) / ix.NM
        var = Sum((x - ix.MEAN[c]) ** 2, *over) / ix.NM
        xhat = (x - ix.MEAN[c]) * (ix.VAR[c] + ix.EPS) ** sympy.Rational(-1, 2)
        wrt = {Role.INPUT: primed}
        return [
            ("mean", General(ix.MEAN[c], mean, (c,), rng, numbers, wrt)),
            ("var", General(ix.VAR[c], var, (c,), rng, numbers, wrt)),
            ("xhat", General(ix.XHAT[cell], xhat, cell, rng, numbers, wrt)),
        ]

    def facts(self) -> dict[str, Any]:
        return {
            "channels": self.channels,
            "eps": self.eps,
            "affine": self.affine,
            "rank": self.rank,
        }

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """The batch statistics and x̂ again, then ∂E/∂γ = Σ δ·x̂, ∂E/∂β = Σ δ and the closed
        form of ∂E/∂x, over the whole batch (``a`` and ``delta`` with the sample axis first;
        ``w`` is γ). The input's code computes what the others use, so it comes first.

        Example:
            >>> print(BatchNorm1d(input=(3,)).numpy_code(Role.BIAS).text)
            grad_b = delta.sum(axis=axes)
        """
        axes = "(0, 2, 3)" if self.rank == 3 else "(0,)"
        shape = "(1, -1, 1, 1)" if self.rank == 3 else "(1, -1)"
        gamma = f"w.reshape{shape}" if self.affine else "1"
        code = {
            Role.INPUT: (
                f"axes, eps = {axes}, {self.eps!r}\n"
                "m = a.size // a.shape[1]\n"
                "mu = a.mean(axis=axes, keepdims=True)\n"
                "var = ((a - mu) ** 2).mean(axis=axes, keepdims=True)\n"
                "xhat = (a - mu) / np.sqrt(var + eps)\n"
                "sum_d = delta.sum(axis=axes, keepdims=True)\n"
                "sum_dx = (delta * xhat).sum(axis=axes, keepdims=True)\n"
                f"grad_a = ({gamma} / (m * np.sqrt(var + eps))\n"
                "          * (m * delta - sum_d - xhat * sum_dx))"
            ),
            Role.WEIGHT: "grad_w = (delta * xhat).sum(axis=axes)",
            Role.BIAS: "grad_b = delta.sum(axis=axes)",
        }
        if role in (Role.WEIGHT, Role.BIAS) and not self.affine:
            return None
        return NumpyCode(code[role]) if role in code else None

    # --- checking ------------------------------------------------------------------------

    def mistakes(self) -> list[Mistake]:
        out = [
            Mistake(
                Role.INPUT,
                "the path through the batch mean dropped (the δ of μ, −γ·Σδ/√(σ² + ε), "
                "never reaches x)",
                (("mean_path", False),),
            ),
            Mistake(
                Role.INPUT,
                "unbiased variance (÷ (M − 1), as torch.var's default; batch norm normalises "
                "with the biased one, ÷ M)",
                (("unbiased", True),),
            ),
            Mistake(
                Role.WEIGHT,
                "unbiased variance in x̂ (÷ (M − 1); batch norm's is biased, ÷ M)",
                (("unbiased", True),),
            ),
            Mistake(Role.WEIGHT, "x used where x̂ belongs (∂E/∂γ = Σ δ·x̂)", (("raw", True),)),
        ]
        if self.affine:
            out.append(
                Mistake(
                    Role.INPUT,
                    "γ forgotten in ∂E/∂x (the δ of x̂ is γ·δ, not δ)",
                    (("gamma", False),),
                )
            )
        return out

    def buggy(self, role: Role, arrays: Arrays, options: dict[str, Any]) -> np.ndarray | None:
        return norm_model(self, role, arrays, **options)


#: The LaTeX of μ, σ², x̂ and of their δ, for a layer alone.
QUANTITIES = (r"\mu", r"\sigma^{2}", r"\hat{x}")
DELTAS = (r"\delta\mu", r"\delta\sigma^{2}", r"\delta\hat{x}")


def _tex(names: TexNames) -> TexNames:
    r"""A layer alone's names, in batch norm's letters: x, γ, β, μ, σ², x̂ (a network's stay
    its own).

    Example:
        >>> print(_tex(SINGLE).q[VAR], _tex(TexNames(a="z^{(0)}", q=("m", "v", "h"))).q[XHAT])
        \sigma^{2} h
    """
    if names == SINGLE:
        names = replace(names, a="x", w=r"\gamma", b=r"\beta", z="y")
    if not names.q:
        names = replace(names, q=QUANTITIES, dq=DELTAS)
    return names


def norm_model(
    layer: _BatchNorm,
    role: Role,
    arrays: Arrays,
    mean_path: bool = True,
    unbiased: bool = False,
    gamma: bool = True,
    raw: bool = False,
) -> np.ndarray | None:
    """A batch norm backward pass as NumPy code writes it, with the knobs of its classic
    mistakes (the mean path dropped, the unbiased variance, γ forgotten, x for x̂).

    Example:
        >>> layer = BatchNorm1d(input=(1,))
        >>> a = {Role.INPUT: np.array([[1.0], [3.0]]), Role.WEIGHT: np.ones(1),
        ...      Role.DELTA: np.array([[1.0], [0.0]])}
        >>> norm_model(layer, Role.WEIGHT, a).round(6).tolist()
        [-0.999995]
    """
    x, delta = arrays[Role.INPUT], arrays[Role.DELTA]
    assert x is not None and delta is not None
    batched = x.ndim == len(layer.input_shape) + 1
    xb, db = (x, delta) if batched else (x[None], delta[None])
    axes = (0, *range(2, xb.ndim))
    count = xb.size // xb.shape[1]
    div = count - 1 if unbiased else count
    mu = xb.mean(axis=axes, keepdims=True)
    var = ((xb - mu) ** 2).sum(axis=axes, keepdims=True) / div
    root = np.sqrt(var + layer.eps)
    xhat = (xb - mu) / root
    if role is Role.WEIGHT:
        return ((db * (xb if raw else xhat)).sum(axis=axes)).reshape(-1)
    if role is not Role.INPUT:
        return None
    weight = arrays.get(Role.WEIGHT)
    shape = [1, layer.channels] + [1] * (xb.ndim - 2)
    g = np.ones(shape) if weight is None or not gamma else weight.reshape(shape)
    d_xhat = db * g
    d_var = (d_xhat * (xb - mu)).sum(axis=axes, keepdims=True) * -0.5 * root**-3
    d_mu = (-d_xhat / root).sum(axis=axes, keepdims=True)
    d_mu = d_mu + d_var * (-2 / div) * (xb - mu).sum(axis=axes, keepdims=True)
    gx = d_xhat / root + d_var * 2 * (xb - mu) / div
    if mean_path:
        gx = gx + d_mu / count
    return gx if batched else gx[0]


@dataclass(frozen=True)
class BatchNorm2d(_BatchNorm):
    """Batch normalisation of a [C, H, W] input in training mode, as PyTorch's BatchNorm2d:
    each channel's statistics over the batch and every position (M = N·H·W values).

    Example:
        >>> BatchNorm2d(input=(3, 4, 4)).param_shapes()[Role.WEIGHT]
        ((3,), 0)
    """

    kind = "batchnorm2d"
    torch_modules = ("BatchNorm2d",)
    title = "batch normalisation"
    rank = 3


@dataclass(frozen=True)
class BatchNorm1d(_BatchNorm):
    """Batch normalisation of a flat vector [C] in training mode, as PyTorch's BatchNorm1d on
    an (N, C) input: each feature's statistics over the batch (M = N values).

    Example:
        >>> BatchNorm1d(input=(4,)).output_shape
        (4,)
    """

    kind = "batchnorm1d"
    torch_modules = ("BatchNorm1d",)
    title = "batch normalisation"
    rank = 1

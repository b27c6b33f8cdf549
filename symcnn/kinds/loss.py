"""The losses that end a network: the squared error with a half (mse) and softmax cross-entropy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import symengine as se
import sympy
from sympy import Sum

from ..core.functions import LogSumExp
from ..core.shapes import Shape, shape_of, shape_text
from ..core.symbols import Role
from ..errors import SpecError, ValuesError


@dataclass(frozen=True)
class Loss:
    """Base class of the losses: E as a function of the network output ŷ and the target t."""

    input: Shape | None = field(default=None, kw_only=True)

    #: The loss's name in a network file (``loss = "mse"``).
    kind: ClassVar[str]
    #: The loss as a formula, with the convention it follows.
    definition: ClassVar[str]
    #: What the loss is, in words (a sheet's name for it).
    title: ClassVar[str]
    #: Its part of a sheet (the loss and the error it hands the last layer).
    template: ClassVar[str]
    #: The error before a final activation f, in LaTeX (a sheet's key formulas).
    output_error_tex: ClassVar[str]

    def sized(self, shape: Shape) -> Loss:
        """This loss of an output of ``shape``; a `SpecError` says why it cannot be."""
        return type(self)(input=shape)

    def __post_init__(self) -> None:
        if self.input is not None:
            object.__setattr__(self, "input", shape_of(self.input, "loss input"))

    @property
    def input_shape(self) -> Shape:
        """Shape of the network output ŷ and of the target t."""
        if self.input is None:
            raise SpecError(f"the {self.kind} loss has no input shape yet")
        return tuple(self.input)

    @property
    def term_count(self) -> int:
        """One term per entry of ŷ."""
        return int(np.prod(self.input_shape))

    def config(self) -> dict[str, Any]:
        """Every option, resolved, as plain JSON-able values."""
        return {"loss": self.kind, "shape": list(self.input_shape)}

    def terms(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """E as a 0-d array holding the tuple of its summands."""
        raise NotImplementedError

    def expression(self, y: Any, t: Any, limits: list[Any]) -> sympy.Expr:
        """E as SymPy differentiates it, over IndexedBase entries ``y`` and ``t``."""
        raise NotImplementedError

    def shown(self, y: Any, t: Any, limits: list[Any]) -> sympy.Expr:
        """E as the seeds write it."""
        return self.expression(y, t, limits)

    def check_target(self, target: np.ndarray, source: str) -> None:
        """A `ValuesError` when the target cannot be one for this loss."""

    def torch_expression(self, reduction: str | None) -> str:
        """E in PyTorch for a mini-batch: ``y`` the output and ``t`` the target, the samples
        first (``torch.nn.functional`` as ``F``), summed or averaged over the samples."""
        raise NotImplementedError

    def draw_target(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        """A random target for ``--random``."""
        raise NotImplementedError


@dataclass(frozen=True)
class MSELoss(Loss):
    """E = ½ Σ_k (ŷ_k − t_k)², the seeds' convention (a half and a sum, no mean).

    Example:
        >>> MSELoss(input=(2,)).term_count
        2
    """

    kind = "mse"
    title = "squared error"
    template = "loss_mse.tex.j2"
    output_error_tex = r"(\hat y - t) \odot f'(z)"
    definition = "E = ½ Σ_k (ŷ_k − t_k)²  (a half and a sum, no mean)"

    def terms(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``½(ŷ_k − t_k)²`` per entry.

        Example:
            >>> y, t = np.array(se.symbols("y_1 y_2")), np.array(se.symbols("t_1 t_2"))
            >>> MSELoss(input=(2,)).terms(y, t)[()]
            ((1/2)*(-t_1 + y_1)**2, (1/2)*(-t_2 + y_2)**2)
        """
        half = se.Rational(1, 2)
        out = np.empty((), dtype=object)
        out[()] = tuple(half * (yk - tk) ** 2 for yk, tk in zip(y.ravel(), t.ravel()))
        return out

    def expression(self, y: Any, t: Any, limits: list[Any]) -> sympy.Expr:
        # the ½ inside the sum: it cancels term by term
        return Sum(sympy.Rational(1, 2) * (y - t) ** 2, *limits)

    def shown(self, y: Any, t: Any, limits: list[Any]) -> sympy.Expr:
        return sympy.Mul(sympy.Rational(1, 2), Sum((y - t) ** 2, *limits), evaluate=False)

    def draw_target(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        return rng.uniform(0.0, 1.0, shape)

    def torch_expression(self, reduction: str | None) -> str:
        """Example:
        >>> MSELoss().torch_expression("mean")
        '0.5 * ((y - t) ** 2).sum() / y.shape[0]'
        """
        total = "0.5 * ((y - t) ** 2).sum()"
        return f"{total} / y.shape[0]" if reduction == "mean" else total


@dataclass(frozen=True)
class CrossEntropyLoss(Loss):
    """E = −Σ_k t_k·log softmax(ŷ)_k for a target t that is a probability vector.

    Example:
        >>> CrossEntropyLoss(input=(3,)).definition.startswith("E = −Σ_k")
        True
    """

    kind = "cross_entropy"
    title = "softmax cross-entropy"
    template = "loss_cross_entropy.tex.j2"
    output_error_tex = r"(\operatorname{softmax}(\hat y) - t) \odot f'(z)"
    definition = (
        "E = −Σ_k t_k·log softmax(ŷ)_k = logsumexp(ŷ) − Σ_k t_k·ŷ_k  "
        "(targets t form a probability vector: t ≥ 0, Σ t = 1)"
    )

    def sized(self, shape: Shape) -> Loss:
        if len(shape) != 1:
            raise SpecError(
                f"cross_entropy needs a flat output (one score per class), but the network "
                f"ends in {shape_text(shape)}; end it with a fully connected layer on a "
                "flat vector"
            )
        return super().sized(shape)

    def terms(self, y: np.ndarray, t: np.ndarray) -> np.ndarray:
        """``logsumexp(ŷ) − Σ_k t_k·ŷ_k``."""
        lse = LogSumExp(*[sympy.Symbol(str(yk)) for yk in y.ravel()])
        out = np.empty((), dtype=object)
        out[()] = (lse, *(-tk * yk for yk, tk in zip(y.ravel(), t.ravel())))
        return out

    def expression(self, y: Any, t: Any, limits: list[Any]) -> sympy.Expr:
        return sympy.log(Sum(sympy.exp(y), *limits)) - Sum(t * y, *limits)

    def check_target(self, target: np.ndarray, source: str) -> None:
        if np.any(target < 0) or abs(float(target.sum()) - 1.0) > 1e-9:
            raise ValuesError(
                f"{source}: for cross_entropy the target must be a probability vector "
                f"(entries ≥ 0, sum 1), got sum {float(target.sum()):g}"
            )

    def torch_expression(self, reduction: str | None) -> str:
        """Example:
        >>> CrossEntropyLoss().torch_expression("sum")
        'F.cross_entropy(y, t, reduction="sum")'
        """
        return f'F.cross_entropy(y, t, reduction="{reduction or "sum"}")'

    def draw_target(self, rng: np.random.Generator, shape: Shape) -> np.ndarray:
        target = np.zeros(shape)
        target[int(rng.integers(target.size))] = 1.0
        return target


#: The roles of a loss's grids: ŷ is its input, t its target, E its (scalar) output.
LOSS_ROLES = (Role.INPUT, Role.TARGET, Role.OUTPUT)

"""The exact proof of a closed form (issue 14): a kind's identity is proven only when every
entry agrees, for kinds whose chain rule mixes products of different lengths and coefficients
of different denominators (none of today's kinds does both for one tensor; a new one may).

The toy kind here is z_i = w_i·x_i + x_i/2 + x_i/3 (weights and input of one shape): the
gradient of its input, by hand, is δ_i·(w_i + 5/6), of its weight δ_i·x_i.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import sympy

from symcnn import Network
from symcnn.core.shapes import Shape, shape_of
from symcnn.core.summands import Part
from symcnn.core.symbols import Role
from symcnn.derivation.derived import derive
from symcnn.kinds.base import ClosedForm, Layer


@dataclass(frozen=True)
class ScaleShift(Layer):
    """z_i = w_i·x_i + x_i/2 + x_i/3, with a closed form of the input gradient given by hand
    (``wrong`` makes it δ·(w + 5/6) + δ_0/7 at entry 0 only: one entry off)."""

    input: Shape | None = field(default=None, kw_only=True)
    wrong: bool = False

    kind = "scaleshift"
    title = "scale and shift"
    letter = "z"

    def __post_init__(self) -> None:
        if self.input is not None:
            object.__setattr__(self, "input", shape_of(self.input, "input"))

    @property
    def output_shape(self) -> Shape:
        return self.input_shape

    def param_shapes(self) -> dict[Role, tuple[Shape, int]]:
        return {Role.WEIGHT: (self.input_shape, len(self.input_shape))}

    def parts(self) -> tuple[Part, ...]:
        k = np.arange(int(np.prod(self.input_shape)))
        return (
            Part(k, (Role.WEIGHT, Role.INPUT), np.stack([k, k], axis=1)),
            Part(k, (Role.INPUT,), k[:, None], coeff=sympy.Rational(1, 2)),
            Part(k, (Role.INPUT,), k[:, None], coeff=sympy.Rational(1, 3)),
        )

    def closed_forms(
        self, x: np.ndarray, params: dict[Role, np.ndarray], delta: np.ndarray
    ) -> list[ClosedForm]:
        w = params[Role.WEIGHT]
        gx = delta * w + delta * sympy.Rational(5, 6)
        if self.wrong:
            gx = gx.copy()
            gx.flat[0] = gx.flat[0] + delta.flat[0] * sympy.Rational(1, 7)
        tex = lambda n: ("", "")  # noqa: E731 (no sheet in this test)
        return [
            ClosedForm(Role.INPUT, "input", "∂E/∂x = δ·(w + 5/6)", tex, gx),
            ClosedForm(Role.WEIGHT, "weight", "∂E/∂w = δ·x", tex, delta * x),
        ]


def proofs(layer: Layer) -> dict[str, tuple[bool, int, int]]:
    d = derive(Network.of(layer), prove_forms=True)
    return {p.name: (p.proven, p.entries, p.mismatches) for p in d.layers[0].proofs}


@pytest.mark.parametrize("shape", [(3,), (1, 2, 2)])
def test_a_right_closed_form_is_proven_over_mixed_products(shape: tuple[int, ...]) -> None:
    n = int(np.prod(shape))
    assert proofs(ScaleShift(input=shape)) == {"input": (True, n, 0), "weight": (True, n, 0)}


def test_one_wrong_entry_is_not_proven() -> None:
    assert proofs(ScaleShift(input=(3,), wrong=True)) == {
        "input": (False, 3, 1),
        "weight": (True, 3, 0),
    }


def test_the_toy_kind_s_gradient_is_the_finite_difference() -> None:
    """The reference for the forms above: the numbers of the derivation, by finite differences
    of z = w·x + x/2 + x/3 with E = Σ δ·z."""
    layer = ScaleShift(input=(3,))
    d = derive(Network.of(layer), prove_forms=False)
    rng = np.random.default_rng(0)
    x, w, delta = rng.normal(size=(3, 3))
    grad = d.layers[0].grads[Role.INPUT]
    subs = {}
    for grid_role, arr in ((Role.INPUT, x), (Role.WEIGHT, w), (Role.DELTA, delta)):
        for sym, v in zip(d.layers[0].grid(grid_role).symbols.ravel(), arr):
            subs[sympy.Symbol(str(sym))] = v
    derived = np.array([float(g.sympy().subs(subs)) for g in grad.ravel()])

    def energy(xs: np.ndarray) -> float:
        return float(np.sum(delta * (w * xs + xs / 2 + xs / 3)))

    h = 1e-6
    numeric = [(energy(x + h * e) - energy(x - h * e)) / (2 * h) for e in np.eye(3)]
    assert derived == pytest.approx(numeric, rel=1e-6)

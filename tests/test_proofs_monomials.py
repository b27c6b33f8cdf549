"""The exact proofs of closed forms (issue 14): a kind's identity is proven only when every
entry agrees, for kinds whose chain rule mixes products of different lengths and coefficients
of different denominators (none of today's kinds does both for one tensor; a new one may).

The toy kind here is z_i = w_i·x_i + x_i/2 + x_i/3 (weights and input of one shape): the
gradient of its input, by hand, is δ_i·(w_i + 5/6), of its weight δ_i·x_i.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import symengine as se
import sympy

from symcnn import Conv2d, ConvTranspose2d, Flatten, MaxPool2d, Network
from symcnn.core.shapes import Shape, shape_of
from symcnn.core.summands import Part
from symcnn.core.symbols import Role
from symcnn.derivation.derived import chains_of, derive
from symcnn.derivation.proofs import prove, prove_by_monomials, prove_equal
from symcnn.kinds.base import ClosedForm, Layer, Lemma


@dataclass(frozen=True)
class ScaleShift(Layer):
    """z_i = w_i·x_i + x_i/2 + x_i/3, with a closed form of the input gradient given by hand
    (``wrong`` makes it δ·(w + 5/6) + δ_0/7 at entry 0 only: one entry off)."""

    input: Shape | None = field(default=None, kw_only=True)
    wrong: bool = False
    swapped: bool = False
    squared: bool = False

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
        other = x if self.swapped else (delta if self.squared else w)
        gx = delta * other + delta * sympy.Rational(5, 6)
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


def test_a_form_with_the_input_for_the_weight_is_not_proven() -> None:
    """δ·x or δ·δ where the gradient is δ·w: every entry differs (the atoms of x, w and δ
    are told apart)."""
    assert proofs(ScaleShift(input=(3,), swapped=True))["input"] == (False, 3, 3)
    assert proofs(ScaleShift(input=(3,), squared=True))["input"] == (False, 3, 3)


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


# --- prove_equal and prove, field by field ---------------------------------------------------

X, Y = se.symbols("x y")


def test_prove_equal_reports_every_field() -> None:
    closed = np.array([X + Y, 2 * X, Y], dtype=object)
    derived = np.array([Y + X, X + X, Y], dtype=object)
    p = prove_equal("n", "s", "l", closed, derived, Role.WEIGHT)
    assert (p.name, p.statement, p.latex, p.proven, p.entries, p.mismatches, p.role) == (
        "n", "s", "l", True, 3, 0, Role.WEIGHT,
    )  # fmt: skip
    wrong = np.array([X + Y, 3 * X, Y + 1], dtype=object)
    p = prove_equal("n", "s", "l", wrong, derived, Role.INPUT)
    assert (p.proven, p.entries, p.mismatches, p.role) == (False, 3, 2, Role.INPUT)
    p = prove_equal("n", "s", "l", closed[:2], derived, Role.BIAS)  # shapes differ
    assert (p.name, p.statement, p.latex, p.proven, p.entries, p.mismatches, p.role) == (
        "n", "s", "l", False, 3, 3, Role.BIAS,
    )  # fmt: skip


def test_prove_equal_compares_sympy_with_symengine() -> None:
    """A closed form in SymPy (a kind's function of the entries) against symengine sums."""
    x = sympy.Symbol("x")
    assert prove_equal("", "", "", np.array([2 * x]), np.array([X + X]), None).proven
    assert prove_equal("", "", "", np.array([X + X]), np.array([2 * x]), None).proven
    assert not prove_equal("", "", "", np.array([3 * x]), np.array([X + X]), None).proven


def _staged(lemma_value: Any, form_value: Any, first: Any = None) -> ClosedForm:
    """A form stated with a quantity's δ ``q``, proven through the lemma ``q = lemma_value``
    (after a lemma ``r = first`` about a second quantity, when given)."""
    lemmas = [Lemma(0, "q = 2x", np.array([lemma_value], dtype=object))]
    if first is not None:
        lemmas.insert(0, Lemma(1, "r = 3y", np.array([first], dtype=object)))
    tex = lambda n: ("\\partial E/\\partial x", "q y")  # noqa: E731
    return ClosedForm(
        Role.INPUT, "form", "∂E/∂x = q·y", tex, np.array([form_value], dtype=object),
        lemmas=tuple(lemmas),
    )  # fmt: skip


def test_a_staged_form_is_proven_lemma_first() -> None:
    """The derived δ of the quantity is x + x (the lemma says 2x); the derived gradient is
    q·y in terms of q, which the proven lemma replaces."""
    q = se.Symbol("q")
    quantities = ((np.array([q], dtype=object), np.array([X + X], dtype=object)),)
    derived = np.array([q * Y], dtype=object)
    good = prove(_staged(2 * X, 2 * X * Y), derived, quantities)
    assert (good.proven, good.entries, good.mismatches, good.name, good.role) == (
        True, 1, 0, "form", Role.INPUT,
    )  # fmt: skip
    assert (good.statement, good.latex) == ("∂E/∂x = q·y", "\\partial E/\\partial x = q y")
    assert good.form is not None and good.form.name == "form"
    wrong_lemma = prove(_staged(3 * X, 3 * X * Y), derived, quantities)
    assert (wrong_lemma.proven, wrong_lemma.mismatches) == (False, 1)
    wrong_form = prove(_staged(2 * X, 2 * X * Y + 1), derived, quantities)
    assert (wrong_form.proven, wrong_form.mismatches) == (False, 1)
    both = prove(_staged(3 * X, 3 * X * Y + 1), derived, quantities)
    assert (both.proven, both.mismatches) == (False, 2)
    # two lemmas: a wrong first one still counts when the second is right
    r = se.Symbol("r")
    two = (*quantities, (np.array([r], dtype=object), np.array([Y + Y + Y], dtype=object)))
    assert prove(_staged(2 * X, 2 * X * Y, first=3 * Y), derived, two).proven
    wrong_first = prove(_staged(2 * X, 2 * X * Y, first=4 * Y), derived, two)
    assert (wrong_first.proven, wrong_first.mismatches) == (False, 1)


@pytest.mark.parametrize(
    "layer",
    [
        Conv2d(kernel=2, input=(2, 3, 3), out_channels=2),
        Conv2d(kernel=2, stride=2, padding=1, bias="untied", input=(1, 4, 4)),
        Conv2d(kernel=2, groups=2, input=(2, 3, 3), out_channels=2),
        ConvTranspose2d(kernel=2, stride=2, bias="untied", input=(1, 2, 2)),
    ],
    ids=["conv", "conv-strided", "conv-grouped", "transposed"],
)
def test_polynomial_forms_are_proven_by_monomials(layer: Layer) -> None:
    """The fast path decides (it is not left to expansion) and its proofs carry the forms
    over the layer's own symbols, as a sheet writes them out."""
    d = derive(Network.of(layer), prove_forms=False)
    dl = d.layers[0]
    chains = {role: chains_of(arr) for role, arr in dl.grads.items()}
    found = prove_by_monomials(dl.layer, dl.forward.grids, chains)
    assert found is not None and found
    for p in found:
        size = int(np.prod(dl.grid(p.role).shape))
        assert (p.proven, p.entries, p.mismatches) == (True, size, 0)
        assert p.name and p.statement and p.latex
        form = p.form
        assert form is not None and (form.role, form.name) == (p.role, p.name)
        names = {str(s) for s in dl.grid(p.role).symbols.ravel()} | {
            str(s) for g in dl.forward.grids.values() for s in g.symbols.ravel()
        }
        atoms = {str(a) for e in np.ravel(form.value) for a in getattr(e, "free_symbols", ())}
        assert atoms and atoms <= names  # the layer's symbols, not the proof's integer atoms


def test_max_pooling_is_left_to_expansion_and_a_kind_without_forms_to_none() -> None:
    for layer, expected in (
        (MaxPool2d(window=2, input=(1, 2, 2)), None),
        (Flatten(input=(1, 2, 2)), []),
    ):
        dl = derive(Network.of(layer), prove_forms=False).layers[0]
        chains = {role: chains_of(arr) for role, arr in dl.grads.items()}
        assert prove_by_monomials(dl.layer, dl.forward.grids, chains) == expected

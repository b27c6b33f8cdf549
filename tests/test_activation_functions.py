"""The activation functions as SymPy objects: their values at numbers, their NumPy forms, the
rewrites users call (Piecewise, Max, exp) and their derivatives, against plain-Python
definitions and central differences (the kink at 0 by PyTorch's convention, stated in each
class: relu'(0) = 0, leaky_relu'(0) = the slope)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

from symcnn.errors import SpecError
from symcnn.kinds.activation import leaky_relu, leaky_step, parse_slope, relu, sigmoid, step

POINTS = [-2.5, -0.75, -1e-3, 0.0, 1e-3, 0.5, 3.0]
SLOPES = [0.01, 0.2, -0.3]


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def _leaky(v: float, s: float) -> float:
    return v if v > 0 else s * v


#: (SymPy function of x, plain-Python value, its rewrite target or None)
CASES = [
    ("sigmoid", lambda x: sigmoid(x), _sigmoid, sympy.exp),
    ("relu", lambda x: relu(x), lambda v: max(0.0, v), sympy.Max),
    ("step", lambda x: step(x), lambda v: 1.0 if v > 0 else 0.0, sympy.Piecewise),
    *[
        (f"leaky_relu-{s}", lambda x, s=s: leaky_relu(x, sympy.Float(s)),
         lambda v, s=s: _leaky(v, s), sympy.Piecewise)
        for s in SLOPES
    ],
    *[
        (f"leaky_step-{s}", lambda x, s=s: leaky_step(x, sympy.Float(s)),
         lambda v, s=s: 1.0 if v > 0 else s, sympy.Piecewise)
        for s in SLOPES
    ],
]  # fmt: skip


@pytest.mark.parametrize(("name", "fn", "ref", "target"), CASES, ids=[c[0] for c in CASES])
def test_values_numpy_forms_and_rewrites_agree_with_the_definition(name, fn, ref, target) -> None:
    x = sympy.Symbol("x", real=True)
    expr = fn(x)
    rewritten = expr.rewrite(target)
    assert not rewritten.has(type(expr)), name
    func = type(expr)
    extra = expr.args[1:]
    for v in POINTS:
        expected = ref(v)
        at = fn(sympy.Float(v))  # evaluated at a number (eval)
        assert at.is_Number, (name, v)
        assert float(at) == pytest.approx(expected, rel=1e-12, abs=1e-15), (name, v)
        assert float(rewritten.subs(x, v)) == pytest.approx(expected, rel=1e-12, abs=1e-15)
        got = func.numpy(np.array([v]), *[float(a) for a in extra])
        assert got.dtype == float
        np.testing.assert_allclose(got, [expected], rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize(("name", "fn", "ref"), [c[:3] for c in CASES[:2] + CASES[3:6]])
def test_derivatives_are_central_differences_away_from_the_kink(name, fn, ref) -> None:
    x = sympy.Symbol("x")
    derivative = fn(x).diff(x)
    h = 1e-6
    for v in POINTS:
        if abs(v) < 1e-2:
            continue  # the kink: a convention, pinned below
        fd = (ref(v + h) - ref(v - h)) / (2 * h)
        assert float(derivative.subs(x, v)) == pytest.approx(fd, rel=1e-6, abs=1e-8), (name, v)


def test_the_brackets_have_no_derivative_and_the_kink_is_pytorchs() -> None:
    x = sympy.Symbol("x")
    s = sympy.Float(0.2)
    assert step(x).diff(x) == 0 and leaky_step(x, s).diff(x) == 0
    assert relu(x).diff(x).subs(x, 0) == 0
    assert leaky_relu(x, s).diff(x).subs(x, 0) == s
    assert relu(sympy.Integer(-3)) == 0 and relu(sympy.Integer(3)) == 3
    assert step(sympy.Integer(0)) == 0 and step(sympy.Rational(1, 2)) == 1


def test_leaky_relus_derivative_by_its_slope_is_x_where_x_is_not_positive() -> None:
    x, s = sympy.symbols("x s")
    by_slope = leaky_relu(x, s).diff(s)
    for v in POINTS:
        h = 1e-6
        fd = (_leaky(v, 0.3 + h) - _leaky(v, 0.3 - h)) / (2 * h)
        assert float(by_slope.subs({x: v, s: 0.3})) == pytest.approx(fd, abs=1e-8), v


def test_sigmoid_numpy_form_is_stable_far_out() -> None:
    far = np.array([-800.0, 800.0])
    np.testing.assert_array_equal(sigmoid.numpy(far), [0.0, 1.0])
    np.testing.assert_allclose(
        sigmoid.numpy(np.array([-30.0])), [math.exp(-30) / (1 + math.exp(-30))]
    )


@pytest.mark.parametrize(
    ("value", "expected"), [("0.2", 0.2), (1, 1.0), (-0.5, -0.5), ("1e-2", 0.01)]
)
def test_a_slope_reads_from_numbers_and_numeric_text(value, expected) -> None:
    got = parse_slope(value)
    assert type(got) is float and got == expected


@pytest.mark.parametrize("value", ["abc", "", float("inf"), "nan", True, None, [0.1]])
def test_a_slope_that_is_not_a_finite_number_is_refused_by_name(value) -> None:
    with pytest.raises(
        SpecError, match=r"^slope of layer 2 must be a finite number, e\.g\. 0\.01, got "
    ):
        parse_slope(value, "slope of layer 2")


def test_an_activations_configuration_is_the_json_contracts() -> None:
    """``config`` is what `--format json` and network files write for the layer."""
    from symcnn import LeakyReLU, Sigmoid

    assert Sigmoid(input=(1, 2, 3)).config() == {"function": "sigmoid", "shape": [1, 2, 3]}
    assert LeakyReLU("0.2", input=(4,)).config() == {
        "function": "leaky_relu",
        "shape": [4],
        "negative_slope": 0.2,
    }


def test_a_slope_given_as_text_is_stored_as_a_number() -> None:
    """The command line and network files give the slope as text."""
    from symcnn import LeakyReLU

    layer = LeakyReLU("0.25", input=(2,))
    assert type(layer.negative_slope) is float and layer.negative_slope == 0.25
    assert float(layer.apply(sympy.Integer(-2))) == -0.5


def test_an_activations_shape_is_read_like_every_shape_and_named_when_wrong() -> None:
    from symcnn import Sigmoid

    layer = Sigmoid(input=[2, 3, 3])
    assert layer.input == (2, 3, 3) and layer.output_shape == (2, 3, 3)
    assert Sigmoid(input="5").input == (5,)
    with pytest.raises(SpecError, match=r"^activation shape must be \[C, H, W\]"):
        Sigmoid(input=[1, 2])

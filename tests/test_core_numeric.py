"""The numeric back end: polynomial plans, the symengine fallback, max-pool helpers, bad arrays."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import symengine as se
import sympy

from symcnn import Conv2d, MaxPool2d, SymcnnError, derive
from symcnn.core.functions import IsFirstMax, WindowMax, engine_form
from symcnn.numeric.compile import Monomials, compile_terms

X, Y, Z = se.symbols("x y z")
POINT = {"x": 1.5, "y": -2.0, "z": 0.25}


@pytest.mark.parametrize(
    "terms, value",
    [
        pytest.param([[X, Y], [3]], 1.5 * -2.0 + 3, id="product-plus-constant"),
        pytest.param([[X, X, Y], [se.Rational(-1, 4), Z]], 1.5**2 * -2.0 - 0.25 / 4, id="rational"),
        pytest.param([], 0.0, id="empty-sum"),
        pytest.param(
            [[X * Y * Z, 2], [X], [Y], [Z]], 2 * 1.5 * -2.0 * 0.25 + 1.5 - 2.0 + 0.25, id="degree-3"
        ),
    ],
)
def test_product_terms_evaluate_like_python(terms: list, value: float) -> None:
    doubled = [[*t, 2] for t in terms]
    plan = Monomials.build([X, Y, Z], [terms, doubled])
    assert plan is not None
    got = plan(np.array([POINT["x"], POINT["y"], POINT["z"]]))
    np.testing.assert_allclose(got, [value, 2 * value], rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize(
    "terms, want",
    [
        pytest.param([[se.sin(X)], [Y]], math.sin(1.5) - 2.0, id="function"),
        pytest.param([[X ** se.Rational(1, 2)]], math.sqrt(1.5), id="root"),
        pytest.param(
            [[(X - Y) ** 2, Y], [(Y - X) ** 2, 3], [(X - Y) ** 2, X]],
            3.5**2 * (-2.0 + 3 + 1.5),
            id="one pattern, three occurrences",
        ),
    ],
)
def test_symengine_factors_are_evaluated_as_patterns(terms: list, want: float) -> None:
    plan = Monomials.build([X, Y], [terms])
    assert plan is not None
    assert float(plan(np.array([1.5, -2.0]))[0]) == pytest.approx(want, rel=1e-14)


def test_sympy_functions_are_patterns_when_their_numpy_code_is_vectorised() -> None:
    x = sympy.Symbol("x")
    terms = [[sympy.sin(x)], [Y], [sympy.tanh(x), 2]]
    plan = Monomials.build([X, Y], [terms])
    assert plan is not None
    want = math.sin(1.5) - 2.0 + 2 * math.tanh(1.5)
    assert float(plan(np.array([1.5, -2.0]))[0]) == pytest.approx(want, rel=1e-14)


def test_brackets_of_one_window_fall_back_to_lambdify() -> None:
    x, y = sympy.symbols("x y")
    terms = [[IsFirstMax(0, x, y)], [IsFirstMax(1, x, y), 3]]
    assert Monomials.build([X, Y], [terms]) is None
    got = compile_terms([X, Y], [terms])(np.array([1.5, -2.0]))
    assert float(np.asarray(got).ravel()[0]) == 1.0


def test_symbol_outside_the_arguments_is_not_a_plan() -> None:
    assert Monomials.build([X], [[[X, Y]]]) is None


@pytest.mark.parametrize(
    "values, k, first",
    [
        ((3.0, 5.0, 5.0), 1, True),
        ((3.0, 5.0, 5.0), 2, False),
        ((2.0, 2.0), 0, True),
        ((1.0, -1.0), 1, False),
    ],
)
def test_engine_form_of_max_brackets_follows_the_first_maximum(
    values: tuple, k: int, first: bool
) -> None:
    cells = sympy.symbols(f"c0:{len(values)}")
    point = {se.Symbol(str(c)): v for c, v in zip(cells, values)}
    bracket = engine_form(IsFirstMax(k, *cells))
    assert float(bracket.subs(point)) == (1.0 if first else 0.0)
    assert float(engine_form(WindowMax(*cells)).subs(point)) == max(values)


def test_maxpool_numeric_is_right_with_ties() -> None:
    num = derive(MaxPool2d(window=(2, 2), stride=1, input=(3, 3))).numeric()
    x = np.array([[[1.0, 9.0, 2.0], [9.0, 0.0, 3.0], [4.0, 5.0, 9.0]]])
    got = num(input=x, delta=np.array([[[1.0, 10.0], [100.0, 1000.0]]]))["input"]
    # windows: top-left ties 9 at (0,1) and (1,0) → (0,1); top-right → (0,1); bottom-left → (1,0);
    # bottom-right → (2,2)
    want = np.zeros((1, 3, 3))
    want[0, 0, 1] = 1 + 10
    want[0, 1, 0] = 100
    want[0, 2, 2] = 1000
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(num.forward(input=x), [[[9.0, 9.0], [9.0, 9.0]]])


@pytest.mark.parametrize(
    "values, message",
    [
        pytest.param(
            {"input": np.ones((1, 3, 3))},
            "arrays: missing weight (an array of shape [1, 1, 2, 2])",
            id="missing",
        ),
        # 0.2 accepts a 3x3 input for [1, 3, 3] (axes of length 1 may be left out, by design)
        pytest.param(
            {
                "input": np.ones((2, 3, 3)),
                "weight": np.ones((1, 1, 2, 2)),
                "bias": np.ones(1),
                "delta": np.ones((1, 2, 2)),
            },
            "arrays: input has shape [2, 3, 3], expected [1, 3, 3]",
            id="wrong-shape",
        ),
    ],
)
def test_bad_arrays_are_user_errors(values: dict, message: str) -> None:
    num = derive(Conv2d(kernel=(2, 2), input=(3, 3))).numeric()
    with pytest.raises(SymcnnError, match=re.escape(message)):
        num(**values)


def _python_value(factors, point) -> float:
    """A product of factors by plain Python: numbers, symbols, powers, sums, σ."""
    import math

    total = 1.0
    for f in factors:
        total *= float(sympy.sympify(f).subs(point).rewrite(sympy.exp).evalf())
        assert math.isfinite(total)
    return total


@pytest.mark.parametrize("engine", ["symengine", "sympy"])
def test_compiled_sums_of_products_are_python_s_sums(engine: str) -> None:
    """compile_terms (graph layers, named quantities: ``z = Σ_terms Π_factors``) against a
    plain-Python sum, with coefficients that are not ±1 inside products of several factors,
    a factor that is itself a product, powers, and functions of expressions."""
    from symcnn.kinds.activation import sigmoid
    from symcnn.numeric.compile import compile_terms

    mk = se.symbols if engine == "symengine" else sympy.symbols
    x, y, z = mk("x y z")
    root = se.sqrt(2) if engine == "symengine" else sympy.sqrt(2)
    s = sympy.Symbol
    outputs = [
        [[2.5, x, y], [-3, z], [z, x * y]],  # coefficients; a product as one factor
        [[x, x, 0.5], [x * y * 4, y]],  # a repeated factor; a coefficient inside a product
        [[(x - z) ** 2], [y ** se.Rational(-1, 2) if engine == "symengine" else y**-0.5]],
        [[sigmoid(s("x") * s("y")), 3], [sigmoid(s("z")), x]],  # SymPy functions
        [[1.5]],  # a constant term
        [[root, x, 3], [y, root]],  # a constant that is not a number: √2
    ]
    point = {"x": 0.7, "y": 1.9, "z": -1.3}
    fn = compile_terms([x, y, z], outputs)
    got = fn(np.array([point["x"], point["y"], point["z"]]))
    names = {sympy.Symbol(k): v for k, v in point.items()}
    want = [sum(_python_value(t, names) for t in terms) for terms in outputs]
    np.testing.assert_allclose(got, want, rtol=1e-12)

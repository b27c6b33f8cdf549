"""symcnn's SymPy functions (window max, its first-max bracket, softmax, log-sum-exp): their
derivatives against finite differences, their values against NumPy, their tie rule against
PyTorch's max pooling. Mutation testing (issue 14) found their derivatives reached by no test.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy

from symcnn.core.functions import IsFirstMax, LogSumExp, SoftMax, WindowMax, engine_form

Y = sympy.symbols("y1 y2 y3")
POINT = np.array([0.3, -1.2, 0.8])


def value(expr: sympy.Basic, at: np.ndarray = POINT) -> float:
    """The expression at the numbers ``at`` (softmax and log-sum-exp written with exp)."""
    expr = expr.rewrite(sympy.exp)
    return float(expr.subs(dict(zip(Y, at))).evalf())


def central(f, at: np.ndarray, k: int, h: float = 1e-6) -> float:
    step = np.zeros_like(at)
    step[k] = h
    return float((f(at + step) - f(at - step)) / (2 * h))


def plain_softmax(y: np.ndarray) -> np.ndarray:
    e = np.exp(y - y.max())
    return e / e.sum()


@pytest.mark.parametrize("k", range(3))
def test_log_sum_exp_derivative_is_the_finite_difference(k: int) -> None:
    derivative = LogSumExp(*Y).diff(Y[k])
    assert derivative == SoftMax(k, *Y)
    expected = central(lambda y: np.log(np.sum(np.exp(y))), POINT, k)
    assert value(derivative) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("j", range(3))
@pytest.mark.parametrize("k", range(3))
def test_softmax_derivative_is_the_finite_difference(k: int, j: int) -> None:
    derivative = SoftMax(k, *Y).diff(Y[j])
    expected = central(lambda y: plain_softmax(y)[k], POINT, j)
    assert value(derivative) == pytest.approx(expected, rel=1e-6, abs=1e-9)


def test_softmax_does_not_depend_on_its_position_argument() -> None:
    k = sympy.Symbol("k")
    assert SoftMax(k, *Y).fdiff(1) == 0


def test_softmax_and_log_sum_exp_numbers_are_numpy_s() -> None:
    big = POINT + 800.0  # the shift by the maximum: no overflow
    assert SoftMax.numpy(2, *big) == pytest.approx(plain_softmax(POINT)[2])
    assert LogSumExp.numpy(*big) == pytest.approx(800.0 + np.log(np.sum(np.exp(POINT))))
    assert value(SoftMax(1, *Y)) == pytest.approx(plain_softmax(POINT)[1])
    assert value(LogSumExp(*Y)) == pytest.approx(np.log(np.sum(np.exp(POINT))))


@pytest.mark.parametrize("k", range(3))
def test_window_max_derivative_is_the_finite_difference(k: int) -> None:
    derivative = WindowMax(*Y).diff(Y[k])
    at = {y: v for y, v in zip(Y, POINT)}
    expected = central(np.max, POINT, k)
    assert float(derivative.subs(at)) == pytest.approx(expected, abs=1e-6)
    engine = engine_form(derivative).subs({str(y): v for y, v in at.items()})
    assert float(engine) == pytest.approx(expected, abs=1e-6)


def test_window_max_of_numbers_is_the_first_maximum() -> None:
    assert WindowMax(5, 2) == 5
    assert WindowMax(2, 5, 5) == 5
    assert WindowMax(-3, -7) == -3
    assert WindowMax(Y[0]) == Y[0]
    assert WindowMax.numpy(np.array([1.0, 4.0]), np.array([3.0, 2.0])).tolist() == [3.0, 4.0]


def test_the_bracket_of_a_tie_goes_to_the_first_maximum_as_in_torch() -> None:
    """A 2x2 window of equal maxima: PyTorch's max pooling sends the gradient to the first
    entry in row-major order, and so does ∂ max/∂x_k."""
    torch = pytest.importorskip("torch")
    window = [0.5, 0.9, 0.9, 0.9]
    x = torch.tensor(window, dtype=torch.float64).reshape(1, 1, 2, 2).requires_grad_(True)
    torch.nn.functional.max_pool2d(x, 2).sum().backward()
    xs = sympy.symbols("x1:5")
    at = dict(zip(xs, window))
    ours = [float(WindowMax(*xs).diff(xs[k]).subs(at)) for k in range(4)]
    assert ours == x.grad.reshape(-1).tolist() == [0.0, 1.0, 0.0, 0.0]
    assert [IsFirstMax(k, *window) for k in range(4)] == [0, 1, 0, 0]
    assert IsFirstMax(0, 7) == 1
    assert IsFirstMax(1, *xs).diff(xs[0]) == 0


def test_a_tie_with_the_first_entry_goes_to_the_first() -> None:
    assert [IsFirstMax(k, 0.9, 0.9, 0.2) for k in range(3)] == [1, 0, 0]
    assert IsFirstMax.numpy(0, 0.9, 0.9) == 1.0


def test_symbols_are_not_numbers_even_when_real() -> None:
    a, b = sympy.symbols("a b", real=True)
    assert isinstance(WindowMax(a, b), WindowMax)
    assert isinstance(IsFirstMax(0, a, b), IsFirstMax)


def test_an_empty_window_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^IsFirstMax needs a window$"):
        IsFirstMax(0)


def test_the_piecewise_forms_are_the_max_and_its_bracket() -> None:
    """SymPy's Piecewise rewrite (what symengine evaluates) against Python's max and the
    first-maximum rule, at numbers with and without ties."""
    xs = sympy.symbols("x1:4")
    for window in ([0.2, 0.7, -0.1], [0.7, 0.7, 0.1], [0.1, 0.3, 0.3], [0.1, 0.2, 0.9]):
        at = dict(zip(xs, window))
        assert float(WindowMax(*xs).rewrite(sympy.Piecewise).subs(at)) == max(window)
        first = window.index(max(window))
        for k in range(3):
            bracket = IsFirstMax(k, *xs).rewrite(sympy.Piecewise).subs(at)
            assert int(bracket) == (k == first)


def test_engine_form_keeps_the_expression() -> None:
    x, y = sympy.symbols("x y")
    for expr in (x, 2 * x + y, x * y, 3 * x * y - y):
        engine = engine_form(expr)
        assert sympy.simplify(sympy.sympify(str(engine)) - expr) == 0
    assert str(engine_form(x)) == "x"

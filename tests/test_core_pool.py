"""Max- and average-pooling formulas at numbers against loops, finite differences and torch."""

from __future__ import annotations

import numpy as np
import pytest
from core_cases import (
    POOL_CASES,
    SMALL_POOL,
    PoolCase,
    contract,
    evaluate_strings,
    numeric,
    pool_params,
    rng_for,
    symbol_values,
)
from reference import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)

TOL = {"rtol": 1e-12, "atol": 1e-12}
FORWARD = {"maxpool2d": maxpool2d_forward, "avgpool2d": avgpool2d_forward}
BACKWARD = {"maxpool2d": maxpool2d_backward, "avgpool2d": avgpool2d_backward}


def _arrays(kind: str, case: PoolCase, salt: str, ties: bool = False) -> dict[str, np.ndarray]:
    spec = case.spec(kind)
    rng = rng_for(f"{kind}{case.id}{salt}")
    if ties:  # three values only: almost every window has a tie for its maximum
        x = rng.integers(0, 3, size=spec.input_shape).astype(float)
    else:
        x = rng.standard_normal(spec.input_shape)
    return {"input": x, "delta": rng.standard_normal(spec.output_shape)}


def _reference(kind: str, case: PoolCase, arrays: dict) -> tuple[np.ndarray, np.ndarray]:
    s, w = case.resolved_stride, case.window
    return (
        FORWARD[kind](arrays["input"], w, s),
        BACKWARD[kind](arrays["input"], arrays["delta"], w, s),
    )


@pool_params(POOL_CASES)
def test_numeric_matches_loop_reference(kind: str, case: PoolCase) -> None:
    arrays = _arrays(kind, case, "num")
    z, want = _reference(kind, case, arrays)
    num = numeric(case.spec(kind), case.base)
    got = num(**arrays)
    assert set(got) == {"input"}
    np.testing.assert_allclose(got["input"], want, **TOL)
    np.testing.assert_allclose(num.forward(input=arrays["input"]), z, **TOL)


@pytest.mark.parametrize("case", POOL_CASES, ids=[c.id for c in POOL_CASES])
def test_maxpool_ties_go_to_the_first_maximum(case: PoolCase) -> None:
    arrays = _arrays("maxpool2d", case, "ties", ties=True)
    z, want = _reference("maxpool2d", case, arrays)
    num = numeric(case.spec("maxpool2d"), case.base)
    np.testing.assert_allclose(num(**arrays)["input"], want, **TOL)
    np.testing.assert_allclose(num.forward(input=arrays["input"]), z, **TOL)


@pool_params(SMALL_POOL)
def test_json_strings_parsed_by_sympy_match_loop_reference(kind: str, case: PoolCase) -> None:
    j = contract(case.spec(kind), case.base)
    for salt, ties in (("json", False), ("json-ties", True)):
        arrays = _arrays(kind, case, salt, ties=ties)
        z, want = _reference(kind, case, arrays)
        values = symbol_values(j, arrays)
        np.testing.assert_allclose(evaluate_strings(j["grad"]["input"], values), want, **TOL)
        np.testing.assert_allclose(evaluate_strings(j["forward"], values), z, **TOL)


@pool_params(POOL_CASES)
def test_gradients_match_finite_differences(kind: str, case: PoolCase) -> None:
    """L = Σ δ·z; with distinct random inputs a small step never changes a window's maximum."""
    arrays = _arrays(kind, case, "fd")
    num = numeric(case.spec(kind), case.base)
    x, delta = arrays["input"], arrays["delta"]
    h = 1e-7
    fd = np.zeros_like(x)
    for index in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        fd[index] = np.sum(delta * (num.forward(input=up) - num.forward(input=down))) / (2 * h)
    np.testing.assert_allclose(num(**arrays)["input"], fd, rtol=1e-6, atol=1e-7)


@pool_params(POOL_CASES)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_matches_pytorch_autograd(kind: str, case: PoolCase, ties: bool) -> None:
    torch = pytest.importorskip("torch")
    arrays = _arrays(kind, case, "torch", ties=ties)
    x = torch.tensor(arrays["input"][None], dtype=torch.float64, requires_grad=True)
    pool = {
        "maxpool2d": torch.nn.functional.max_pool2d,
        "avgpool2d": torch.nn.functional.avg_pool2d,
    }
    z = pool[kind](x, kernel_size=case.window, stride=case.resolved_stride)
    (z * torch.tensor(arrays["delta"][None], dtype=torch.float64)).sum().backward()
    num = numeric(case.spec(kind), case.base)
    np.testing.assert_allclose(num(**arrays)["input"], x.grad[0].numpy(), **TOL)
    np.testing.assert_allclose(num.forward(input=arrays["input"]), z[0].detach().numpy(), **TOL)

"""conv2d formulas at random numbers against independent references: loops, scipy, FD, torch."""

from __future__ import annotations

import numpy as np
import pytest
from core_cases import (
    ALL_CONV,
    SMALL_CONV,
    ConvCase,
    contract,
    conv_params,
    derivation,
    evaluate_strings,
    numeric,
    symbol_values,
)
from reference import conv2d_backward, conv2d_forward
from scipy import signal

from symcnn import Role

RTOL, ATOL = 1e-10, 1e-10


def _reference(case: ConvCase, arrays: dict) -> tuple[np.ndarray, dict]:
    g = case.geometry
    z = conv2d_forward(arrays["input"], arrays["weight"], arrays["bias"], case.bias, **g)
    grads = conv2d_backward(arrays["input"], arrays["weight"], arrays["delta"], case.bias, **g)
    return z, grads


def _assert_grads(got: dict, want: dict, bias_mode: str) -> None:
    np.testing.assert_allclose(got["input"], want["input"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got["weight"], want["weight"], rtol=RTOL, atol=ATOL)
    if bias_mode == "none":
        assert got.get("bias") is None
    else:
        np.testing.assert_allclose(got["bias"], want["bias"], rtol=RTOL, atol=ATOL)


@conv_params(ALL_CONV)
def test_numeric_gradients_match_loop_reference(case: ConvCase) -> None:
    arrays = case.arrays()
    _, want = _reference(case, arrays)
    got = numeric(case.spec(), case.base)(**arrays)
    assert set(got) == ({"input", "weight"} | ({"bias"} if case.bias != "none" else set()))
    _assert_grads(got, want, case.bias)


@conv_params(ALL_CONV)
def test_numeric_forward_matches_loop_reference(case: ConvCase) -> None:
    arrays = case.arrays()
    z, _ = _reference(case, arrays)
    fwd_args = {k: v for k, v in arrays.items() if k != "delta"}
    np.testing.assert_allclose(
        numeric(case.spec(), case.base).forward(**fwd_args), z, rtol=RTOL, atol=ATOL
    )


@conv_params(SMALL_CONV)
def test_json_strings_parsed_by_sympy_match_loop_reference(case: ConvCase) -> None:
    """As a user would: parse_expr every contract string, substitute numbers, compare."""
    arrays = case.arrays("json")
    z, want = _reference(case, arrays)
    j = contract(case.spec(), case.base)
    values = symbol_values(j, arrays)
    got = {role: evaluate_strings(strings, values) for role, strings in j["grad"].items()}
    _assert_grads(got, want, case.bias)
    np.testing.assert_allclose(evaluate_strings(j["forward"], values), z, rtol=RTOL, atol=ATOL)


@conv_params(SMALL_CONV)
def test_sympy_gradient_api_matches_loop_reference(case: ConvCase) -> None:
    """``Derivation.gradient(role)`` SymPy expressions, substituted with numbers."""
    arrays = case.arrays("api")
    _, want = _reference(case, arrays)
    d = derivation(case.spec(), case.base)
    subs = {}
    for role, arr in (("input", arrays["input"]), ("weight", arrays["weight"])):
        subs.update(zip(d.symbols(Role(role)).ravel(), arr.ravel()))
    subs.update(zip(d.symbols(Role.DELTA).ravel(), arrays["delta"].ravel()))
    for role in ("input", "weight"):
        exprs = d.gradient(role)
        got = np.array([float(e.subs(subs)) for e in exprs.ravel()]).reshape(exprs.shape)
        np.testing.assert_allclose(got, want[role], rtol=RTOL, atol=ATOL)
    if case.bias != "none":
        exprs = d.gradient("bias")
        got = np.array([float(e.subs(subs)) for e in exprs.ravel()]).reshape(exprs.shape)
        np.testing.assert_allclose(got, want["bias"], rtol=RTOL, atol=ATOL)


def _dilate(k: np.ndarray, dilation: tuple[int, int]) -> np.ndarray:
    out = np.zeros(((k.shape[0] - 1) * dilation[0] + 1, (k.shape[1] - 1) * dilation[1] + 1))
    out[:: dilation[0], :: dilation[1]] = k
    return out


SINGLE_CHANNEL = [c for c in ALL_CONV if c.cin == 1 and c.cout == 1]


@conv_params(SINGLE_CHANNEL)
def test_single_channel_matches_scipy_signal(case: ConvCase) -> None:
    """Input grad = convolve2d(δ↑s, dilated w, 'full') cropped; weight grad = correlate2d(pad a, δ↑s)."""
    arrays = case.arrays("scipy")
    a, w, delta = arrays["input"][0], arrays["weight"][0, 0], arrays["delta"][0]
    (sh, sw), (ph, pw) = case.stride, case.padding
    h, wd = case.input
    spread = np.zeros(((delta.shape[0] - 1) * sh + 1, (delta.shape[1] - 1) * sw + 1))
    spread[::sh, ::sw] = delta
    kernel = _dilate(w, case.dilation)
    full = signal.convolve2d(spread, kernel, mode="full")
    # windows may stop short of the padded input's far edge: those cells get no gradient
    full = np.pad(
        full, ((0, max(0, h + 2 * ph - full.shape[0])), (0, max(0, wd + 2 * pw - full.shape[1])))
    )
    want_input = full[ph : ph + h, pw : pw + wd]
    corr = signal.correlate2d(np.pad(a, ((ph, ph), (pw, pw))), spread, mode="valid")
    want_weight = corr[: kernel.shape[0] : case.dilation[0], : kernel.shape[1] : case.dilation[1]]
    got = numeric(case.spec(), case.base)(**arrays)
    np.testing.assert_allclose(got["input"][0], want_input, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got["weight"][0, 0], want_weight, rtol=RTOL, atol=ATOL)
    if case.bias == "shared":
        np.testing.assert_allclose(got["bias"], [delta.sum()], rtol=RTOL, atol=ATOL)


@conv_params(ALL_CONV)
def test_gradients_match_finite_differences_of_the_loss(case: ConvCase) -> None:
    """L = Σ δ·z with z from the numeric forward; central differences in every entry."""
    arrays = case.arrays("fd")
    num = numeric(case.spec(), case.base)
    delta = arrays["delta"]
    params = {k: v for k, v in arrays.items() if k != "delta" and v is not None}

    def loss(values: dict) -> float:
        return float(np.sum(delta * num.forward(**values)))

    grads = num(**arrays)
    h = 1e-3  # L is linear in each single entry, so central differences are exact up to rounding
    for role, base in params.items():
        fd = np.zeros_like(base)
        for index in np.ndindex(*base.shape):
            up, down = base.copy(), base.copy()
            up[index] += h
            down[index] -= h
            fd[index] = (loss({**params, role: up}) - loss({**params, role: down})) / (2 * h)
        np.testing.assert_allclose(grads[role], fd, rtol=1e-7, atol=1e-8, err_msg=role)


@conv_params(ALL_CONV)
def test_matches_pytorch_autograd(case: ConvCase) -> None:
    torch = pytest.importorskip("torch")
    arrays = case.arrays("torch")
    x = torch.tensor(arrays["input"][None], dtype=torch.float64, requires_grad=True)
    w = torch.tensor(arrays["weight"], dtype=torch.float64, requires_grad=True)
    delta = torch.tensor(arrays["delta"][None], dtype=torch.float64)
    b = None
    if case.bias != "none":
        b = torch.tensor(arrays["bias"], dtype=torch.float64, requires_grad=True)
    z = torch.nn.functional.conv2d(
        x,
        w,
        b if case.bias == "shared" else None,
        stride=case.stride,
        padding=case.padding,
        dilation=case.dilation,
    )
    if case.bias == "untied":
        z = z + b[None]
    (z * delta).sum().backward()
    got = numeric(case.spec(), case.base)(**arrays)
    np.testing.assert_allclose(got["input"], x.grad[0].numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got["weight"], w.grad.numpy(), rtol=RTOL, atol=ATOL)
    if b is not None:
        np.testing.assert_allclose(got["bias"], b.grad.numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        numeric(case.spec(), case.base).forward(
            input=arrays["input"], weight=arrays["weight"], bias=arrays["bias"]
        ),
        z[0].detach().numpy(),
        rtol=RTOL,
        atol=ATOL,
    )

"""The matrix identities are proven for every configuration, and wrong closed forms are refused."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import symengine as se
from core_cases import (
    ALL_CONV,
    POOL_CASES,
    ConvCase,
    PoolCase,
    conv_params,
    derivation,
    pool_params,
)

from symcnn import Conv2d, Role
from symcnn.derivation.proofs import prove_equal

ZERO = se.Integer(0)


@conv_params(ALL_CONV)
def test_conv_identities_run_and_are_proven(case: ConvCase) -> None:
    spec = case.spec()
    d = derivation(spec, case.base)
    names = [r.name for r in d.identities]
    assert len(names) == (2 if case.bias == "none" else 3), names
    assert names[0].startswith("input gradient") and names[1].startswith("weight gradient")
    sizes = [int(np.prod(spec.input_shape)), int(np.prod(spec.weight_shape))]
    if spec.bias_shape is not None:
        assert names[2].startswith("bias gradient")
        sizes.append(int(np.prod(spec.bias_shape)))
    assert [r.entries for r in d.identities] == sizes
    assert all(r.proven and r.mismatches == 0 for r in d.identities)
    assert d.all_proven


@pool_params(POOL_CASES)
def test_pool_identities_run_and_are_proven(kind: str, case: PoolCase) -> None:
    spec = case.spec(kind)
    d = derivation(spec, case.base)
    assert len(d.identities) == 1
    (r,) = d.identities
    assert r.proven and r.entries == int(np.prod(spec.input_shape))


# --- closed forms written here, with switchable mistakes -----------------------------------


def _full_correlation(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Σ_{p,q} x_padded[r+p, t+q] · k[p, q] with x zero-padded by k−1 on every side."""
    kr, kc = k.shape
    rows, cols = x.shape[0] + kr - 1, x.shape[1] + kc - 1
    out = np.full((rows, cols), ZERO, dtype=object)
    for r in range(rows):
        for t in range(cols):
            acc = ZERO
            for p in range(kr):
                for q in range(kc):
                    i, j = r + p - (kr - 1), t + q - (kc - 1)
                    if 0 <= i < x.shape[0] and 0 <= j < x.shape[1] and k[p, q] != 0:
                        acc = acc + x[i, j] * k[p, q]
            out[r, t] = acc
    return out


def _spread(x: np.ndarray, step: tuple[int, int]) -> np.ndarray:
    out = np.full(
        ((x.shape[0] - 1) * step[0] + 1, (x.shape[1] - 1) * step[1] + 1), ZERO, dtype=object
    )
    out[:: step[0], :: step[1]] = x
    return out


def input_grad_closed(
    spec: Conv2d,
    delta: np.ndarray,
    weight: np.ndarray,
    rotate: bool = True,
    crop_shift: int = 0,
    use_stride: bool = True,
) -> np.ndarray:
    """∂E/∂a = crop_p(full conv of δ↑s with the dilated kernel rotated by 180°), Σ over o."""
    h, w = spec.spatial
    (ph, pw) = spec.padding
    out = np.full(spec.input_shape, ZERO, dtype=object)
    for c in range(spec.in_channels):
        for o in range(spec.out_channels):
            kernel = _spread(weight[o, c], spec.dilation)
            kernel = kernel[::-1, ::-1] if rotate else kernel
            full = _full_correlation(
                _spread(delta[o], spec.stride if use_stride else (1, 1)), kernel
            )
            need = (h + 2 * ph + crop_shift, w + 2 * pw + crop_shift)
            grown = np.full(
                (max(need[0], full.shape[0]), max(need[1], full.shape[1])), ZERO, dtype=object
            )
            grown[: full.shape[0], : full.shape[1]] = full
            top, left = ph + crop_shift, pw + crop_shift
            out[c] = out[c] + grown[top : top + h, left : left + w]
    return out


def weight_grad_closed(
    spec: Conv2d,
    inputs: np.ndarray,
    delta: np.ndarray,
    use_stride: bool = True,
    use_dilation: bool = True,
) -> np.ndarray:
    """∂E/∂w[o,c,m,n] = Σ_ij δ[o,i,j] · a_padded[c, i·s + m·d, j·s + n·d]."""
    (sh, sw), (ph, pw), (dh, dw) = spec.stride, spec.padding, spec.dilation
    if not use_stride:
        sh = sw = 1
    if not use_dilation:
        dh = dw = 1
    h, w = spec.spatial
    out = np.full(spec.weight_shape, ZERO, dtype=object)
    for o, c, m, n in np.ndindex(*spec.weight_shape):
        acc = ZERO
        for i, j in np.ndindex(*spec.output_size):
            r, t = i * sh + m * dh - ph, j * sw + n * dw - pw
            if 0 <= r < h and 0 <= t < w:
                acc = acc + delta[o, i, j] * inputs[c, r, t]
        out[o, c, m, n] = acc
    return out


def _grids(spec: Conv2d) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    g = derivation(spec).forward.grids
    return g[Role.INPUT].symbols, g[Role.WEIGHT].symbols, g[Role.DELTA].symbols


def _prove(spec: Conv2d, role: Role, closed: np.ndarray) -> tuple[bool, int]:
    r = prove_equal("test", "test", "test", closed, derivation(spec).grads[role])
    return r.proven, r.mismatches


PADDED = Conv2d(kernel=(3, 2), padding=(1, 2), bias="none", input=(5, 4))
STRIDED = Conv2d(kernel=(3, 2), out_channels=2, stride=(2, 3), padding=(1, 0), input=(2, 7, 6))
DILATED = Conv2d(kernel=(2, 3), dilation=(2, 2), stride=(2, 1), input=(7, 7))

CORRECT: list[tuple[str, Conv2d, Role, Callable[[Conv2d], np.ndarray]]] = [
    (name, spec, role, fn)
    for name, spec in (("padded", PADDED), ("strided", STRIDED), ("dilated", DILATED))
    for role, fn in (
        (Role.INPUT, lambda s: input_grad_closed(s, _grids(s)[2], _grids(s)[1])),
        (Role.WEIGHT, lambda s: weight_grad_closed(s, _grids(s)[0], _grids(s)[2])),
    )
]


@pytest.mark.parametrize(
    "spec, role, build", [pytest.param(s, r, f, id=f"{n}-{r.value}") for n, s, r, f in CORRECT]
)
def test_closed_forms_written_here_are_proven(spec: Conv2d, role: Role, build: Callable) -> None:
    """The control: without a mistake, the test's own closed forms are proven."""
    assert _prove(spec, role, build(spec)) == (True, 0)


WRONG = [
    pytest.param(
        PADDED,
        Role.INPUT,
        lambda s: input_grad_closed(s, _grids(s)[2], _grids(s)[1], rotate=False),
        id="kernel-not-rotated",
    ),
    pytest.param(
        PADDED,
        Role.INPUT,
        lambda s: input_grad_closed(s, _grids(s)[2], _grids(s)[1], crop_shift=1),
        id="padding-crop-off-by-one",
    ),
    pytest.param(
        STRIDED,
        Role.INPUT,
        lambda s: input_grad_closed(s, _grids(s)[2], _grids(s)[1], use_stride=False),
        id="stride-ignored-input",
    ),
    pytest.param(
        STRIDED,
        Role.WEIGHT,
        lambda s: weight_grad_closed(s, _grids(s)[0], _grids(s)[2], use_stride=False),
        id="stride-ignored-weight",
    ),
    pytest.param(
        DILATED,
        Role.WEIGHT,
        lambda s: weight_grad_closed(s, _grids(s)[0], _grids(s)[2], use_dilation=False),
        id="dilation-ignored-weight",
    ),
    pytest.param(
        STRIDED,
        Role.BIAS,
        lambda s: np.array([se.Add(*_grids(s)[2][o].ravel()[:-1]) for o in range(s.out_channels)]),
        id="bias-sum-misses-last-delta",
    ),
    pytest.param(
        PADDED,
        Role.INPUT,
        lambda s: input_grad_closed(s, _grids(s)[2], _grids(s)[1])[:, :-1, :],
        id="wrong-shape",
    ),
]


@pytest.mark.parametrize("spec, role, build", WRONG)
def test_wrong_closed_form_is_not_proven(spec: Conv2d, role: Role, build: Callable) -> None:
    proven, mismatches = _prove(spec, role, build(spec))
    assert not proven
    assert mismatches > 0

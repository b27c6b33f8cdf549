"""Closed matrix forms (rot180 kernel, correlation with δ, Σδ, pooling upsampling), proven exactly."""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import TYPE_CHECKING, Any

import numpy as np
import symengine as se
import sympy

from .maxfunc import engine_form
from .spec import AvgPool2D, Bias, Conv2D, MaxPool2D
from .symbols import Role

if TYPE_CHECKING:
    from .derive import Derivation

ZERO = se.Integer(0)


@dataclass(frozen=True)
class IdentityResult:
    """One matrix identity and whether it was proven equal to the per-entry derivation."""

    name: str
    statement: str
    latex: str
    proven: bool
    entries: int
    mismatches: int = 0
    role: Role | None = None  # the tensor whose gradient the identity states


# --- small array operations on object arrays of expressions -------------------------------


def zero_insert(x: np.ndarray, stride: tuple[int, int]) -> np.ndarray:
    """Spread a 2-D array by a stride: s−1 zeros between neighbouring entries.

    Example:
        >>> zero_insert(np.array([[1, 2]], dtype=object), (1, 2)).tolist()
        [[1, 0, 2]]
    """
    rows, cols = x.shape
    out = np.full(((rows - 1) * stride[0] + 1, (cols - 1) * stride[1] + 1), ZERO, dtype=object)
    out[:: stride[0], :: stride[1]] = x
    return out


def zero_pad(x: np.ndarray, before: tuple[int, int], after: tuple[int, int]) -> np.ndarray:
    """Surround a 2-D array with zeros: ``before`` rows/cols at the start, ``after`` at the end."""
    rows, cols = x.shape
    out = np.full((rows + before[0] + after[0], cols + before[1] + after[1]), ZERO, dtype=object)
    out[before[0] : before[0] + rows, before[1] : before[1] + cols] = x
    return out


def rot180(x: np.ndarray) -> np.ndarray:
    """The kernel rotated by 180°: flipped along both axes."""
    return x[::-1, ::-1]


def correlate_valid(x: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Valid cross-correlation ``out[r, t] = Σ_{p,q} x[r+p, t+q] · k[p, q]`` (zeros skipped)."""
    kr, kc = k.shape
    rows, cols = x.shape[0] - kr + 1, x.shape[1] - kc + 1
    nonzero = [(p, q, k[p, q]) for p in range(kr) for q in range(kc) if k[p, q] != 0]
    cells = x.tolist()  # nested lists index much faster than an object array
    live = [[v != 0 for v in row] for row in cells]
    out = np.empty((rows, cols), dtype=object)
    for r in range(rows):
        for t in range(cols):
            prods = [cells[r + p][t + q] * v for p, q, v in nonzero if live[r + p][t + q]]
            out[r, t] = se.Add(*prods) if prods else ZERO
    return out


def _zeros(shape: tuple[int, ...]) -> np.ndarray:
    return np.full(shape, ZERO, dtype=object)


# --- closed forms ------------------------------------------------------------------------


def conv_input_grad_closed(spec: Conv2D, delta: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """∂E/∂a = Σ_o crop_p( pad(zero_insert_s(δ_o)) ⋆ rot180(dilate_d(w_oc)) ), built as arrays."""
    (sh, sw), (ph, pw), (dh, dw) = spec.stride, spec.padding, spec.dilation
    h, w = spec.input
    out = _zeros(spec.input_shape)
    for c in range(spec.in_channels):
        acc = _zeros((h, w))
        for o in range(spec.out_channels):
            k = zero_insert(weight[o, c], (dh, dw))
            kr, kc = k.shape
            spread = zero_insert(delta[o], (sh, sw))
            padded = zero_pad(spread, (kr - 1, kc - 1), (kr - 1, kc - 1))
            full = correlate_valid(padded, rot180(k))
            # full covers padded-input rows 0 … (OH−1)s + kr − 1; rows past it get no gradient
            grow = (h + 2 * ph - full.shape[0], w + 2 * pw - full.shape[1])
            full = zero_pad(full, (0, 0), (max(grow[0], 0), max(grow[1], 0)))
            acc = acc + full[ph : ph + h, pw : pw + w]
        out[c] = acc
    return out


def conv_weight_grad_closed(spec: Conv2D, inputs: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """∂E/∂w[o,c] = (pad_p(a_c) ⋆ zero_insert_s(δ_o)) read every d-th entry (the dilation)."""
    (sh, sw), (ph, pw), (dh, dw) = spec.stride, spec.padding, spec.dilation
    kh, kw = spec.kernel
    out = _zeros(spec.weight_shape)
    for o in range(spec.out_channels):
        spread = zero_insert(delta[o], (sh, sw))
        for c in range(spec.in_channels):
            padded = zero_pad(inputs[c], (ph, pw), (ph, pw))
            corr = correlate_valid(padded, spread)
            out[o, c] = corr[: (kh - 1) * dh + 1 : dh, : (kw - 1) * dw + 1 : dw]
    return out


def conv_bias_grad_closed(spec: Conv2D, delta: np.ndarray) -> np.ndarray:
    """Shared bias: ∂E/∂b[o] = Σ_{i,j} δ[o,i,j]; untied bias: ∂E/∂b[o,i,j] = δ[o,i,j]."""
    if spec.bias is Bias.UNTIED:
        return delta.copy()
    out = np.empty((spec.out_channels,), dtype=object)
    for o in range(spec.out_channels):
        out[o] = se.Add(*delta[o].ravel())
    return out


def pool_input_grad_closed(
    spec: AvgPool2D | MaxPool2D, inputs: np.ndarray, delta: np.ndarray
) -> np.ndarray:
    """Upsampling: each window hands its δ to its cells, times 1/(kh·kw) (avg) or the max mask.

    The max mask is written here directly as comparisons (the cell is above every earlier cell
    of its window and at least every later one), independently of the derivative rule.
    """
    from .layers import pool_windows

    out = _zeros(spec.input_shape)
    windows = pool_windows(spec)
    for idx in np.ndindex(*spec.output_shape):
        cells = windows[idx]
        window = [inputs[cell] for cell in cells]
        for k, cell in enumerate(cells):
            if isinstance(spec, AvgPool2D):
                weight = se.Rational(1, len(cells))
            else:
                wins = [window[k] > v for v in window[:k]] + [
                    window[k] >= v for v in window[k + 1 :]
                ]
                weight = se.Piecewise((1, se.And(*wins)), (0, True)) if wins else se.Integer(1)
            out[cell] = out[cell] + delta[idx] * weight
    return out


# --- proofs ------------------------------------------------------------------------------


def prove_equal(
    name: str,
    statement: str,
    latex: str,
    closed: np.ndarray,
    derived: np.ndarray,
    role: Role | None = None,
) -> IdentityResult:
    """Prove ``closed == derived`` entry by entry, exactly (expanded difference is 0).

    ``derived`` holds `ChainSum` objects (or expressions); ``closed`` expressions.

    Example:
        >>> x = se.Symbol("x")
        >>> prove_equal("t", "t", "t", np.array([x + x]), np.array([2 * x])).proven
        True
    """
    if closed.shape != derived.shape:
        return IdentityResult(name, statement, latex, False, derived.size, derived.size, role)
    bad = 0
    for index in np.ndindex(*derived.shape):
        d: Any = derived[index]
        d = d.engine() if hasattr(d, "engine") else d
        c: Any = closed[index]
        if isinstance(c, sympy.Basic) or isinstance(d, sympy.Basic):
            c, d = engine_form(c), engine_form(d)
        # identical canonical sums are equal; anything else is decided by expansion
        equal = c == d or se.expand(c - d) == 0
        if not equal:
            bad += 1
    return IdentityResult(name, statement, latex, bad == 0, derived.size, bad, role)


def prove_identities(derivation: Derivation) -> list[IdentityResult]:
    """Build the closed matrix forms of a layer and prove them equal to its derived entries.

    Example:
        >>> from symcnn import Conv2D
        >>> [r.proven for r in Conv2D(input=(3, 3), kernel=(2, 2)).derive().identities]
        [True, True, True]
    """
    return _identities(derivation.spec, derivation)


@singledispatch
def _identities(spec: object, derivation: Derivation) -> list[IdentityResult]:
    raise TypeError(f"no identities for {type(spec).__name__}")


@_identities.register(Conv2D)
def _conv(spec: Conv2D, derivation: Derivation) -> list[IdentityResult]:
    g = derivation.forward.grids
    delta, weight, inputs = g[Role.DELTA].symbols, g[Role.WEIGHT].symbols, g[Role.INPUT].symbols
    grads = derivation.grads
    strided = spec.stride != (1, 1)
    padded = spec.padding != (0, 0)
    dilated = spec.dilation != (1, 1)
    prep = "zero-padded " + ("and zero-inserted (stride) " if strided else "") + "δ"
    kern = "rot180(w" + (" dilated" if dilated else "") + ")"
    results = [
        prove_equal(
            "input gradient: full convolution with the rotated kernel",
            f"∂E/∂a = {prep} ⋆ {kern}"
            + (", cropped by the padding" if padded else "")
            + (", summed over output channels" if spec.out_channels > 1 else ""),
            r"\frac{\partial E}{\partial a} = "
            + (r"\sum_{o}" if spec.out_channels > 1 else "")
            + r"\operatorname{pad}("
            + (r"\delta^{\uparrow s}" if strided else r"\delta")
            + r") \star \operatorname{rot180}("
            + (r"\operatorname{dil}_{d}(w)" if dilated else "w")
            + ")",
            conv_input_grad_closed(spec, delta, weight),
            grads[Role.INPUT],
            Role.INPUT,
        ),
        prove_equal(
            "weight gradient: correlation of the input with δ",
            "∂E/∂w = "
            + ("padded " if padded else "")
            + "a ⋆ "
            + ("zero-inserted (stride) " if strided else "")
            + "δ"
            + (", read every dilation-th entry" if dilated else ""),
            r"\frac{\partial E}{\partial w} = "
            + (r"\left[" if dilated else "")
            + (r"\operatorname{pad}(a)" if padded else "a")
            + r" \star "
            + (r"\delta^{\uparrow s}" if strided else r"\delta")
            + (r"\right]_{d m,\, d n}" if dilated else ""),
            conv_weight_grad_closed(spec, inputs, delta),
            grads[Role.WEIGHT],
            Role.WEIGHT,
        ),
    ]
    if spec.bias is Bias.SHARED:
        results.append(
            prove_equal(
                "bias gradient: sum of δ",
                "∂E/∂b_o = Σ_ij δ_o,ij",
                r"\frac{\partial E}{\partial b} = \sum_{i,j} \delta_{ij}",
                conv_bias_grad_closed(spec, delta),
                grads[Role.BIAS],
                Role.BIAS,
            )
        )
    elif spec.bias is Bias.UNTIED:
        results.append(
            prove_equal(
                "bias gradient: δ itself (untied bias)",
                "∂E/∂b_ij = δ_ij",
                r"\frac{\partial E}{\partial b_{ij}} = \delta_{ij}",
                conv_bias_grad_closed(spec, delta),
                grads[Role.BIAS],
                Role.BIAS,
            )
        )
    return results


@_identities.register(AvgPool2D)
def _avg(spec: AvgPool2D, derivation: Derivation) -> list[IdentityResult]:
    kh, kw = spec.window
    g = derivation.forward.grids
    return [
        prove_equal(
            "average pooling: δ upsampled over each window, divided by its size",
            f"∂E/∂a = Σ_windows δ/{kh * kw} on every cell of the window",
            r"\frac{\partial E}{\partial a} = \operatorname{up}(\delta) / " + str(kh * kw),
            pool_input_grad_closed(spec, g[Role.INPUT].symbols, g[Role.DELTA].symbols),
            derivation.grads[Role.INPUT],
            Role.INPUT,
        )
    ]


@_identities.register(MaxPool2D)
def _max(spec: MaxPool2D, derivation: Derivation) -> list[IdentityResult]:
    g = derivation.forward.grids
    return [
        prove_equal(
            "max pooling: δ routed to the first maximum of each window",
            "∂E/∂a = Σ_windows δ · [a is the window's first maximum]",
            r"\frac{\partial E}{\partial a} = \operatorname{up}(\delta) \odot \operatorname{mask}",
            pool_input_grad_closed(spec, g[Role.INPUT].symbols, g[Role.DELTA].symbols),
            derivation.grads[Role.INPUT],
            Role.INPUT,
        )
    ]

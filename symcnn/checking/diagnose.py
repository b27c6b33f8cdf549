"""Name the likely mistake in a wrong backward pass: the layer's catalogue, evaluated and matched.

Each layer kind models what buggy implementations of its backward pass compute (the kernel
not rotated, the stride ignored, the padding cropped one row off, ...; see
`symcnn.kinds.base.Layer.mistakes`). `explain` evaluates every model that applies at the
trial's numbers and keeps those equal to what the user returned but different from the
right answer; pairs of mistakes are tried when no single one fits, then mistakes any layer
can make (a flipped sign, a constant factor, results in the wrong order). These models only
*describe* wrong code: the right answer always comes from the derivation.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np

from ..core.symbols import Role
from ..kinds.base import Arrays, Layer


def close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    """Same shape and every entry within tolerance (NaN never matches).

    Example:
        >>> close(np.ones(2), np.ones(2) + 1e-9, 1e-6, 1e-9)
        True
    """
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _generic(
    role: Role, expected: dict[Role, np.ndarray], got: np.ndarray
) -> Iterator[tuple[str, np.ndarray]]:
    """Mistakes of any layer: the sign, swapped axes, a constant factor, the wrong result."""
    exp = expected[role]
    yield "sign flipped (the negative of the gradient)", -exp
    if exp.ndim >= 2 and exp.shape[-1] == exp.shape[-2]:
        yield "rows and columns swapped (last two axes transposed)", np.swapaxes(exp, -1, -2)
    big = np.abs(exp) > 1e-9
    if got.shape == exp.shape and np.count_nonzero(big) >= 3:
        ratio = float(np.median(got[big] / exp[big]))
        if np.isfinite(ratio) and min(abs(ratio), abs(ratio - 1), abs(ratio + 1)) > 1e-6:
            yield f"off by a constant factor {ratio:.6g}", ratio * exp
    for other, values in expected.items():
        if other is not role:
            yield (
                f"this is the {other.value} gradient: results returned in the wrong order?",
                values,
            )


def _samples(layer: Layer, arrays: Arrays) -> list[Arrays] | None:
    """A mini-batch's arrays as one set per sample (None: one sample, or a kind that couples
    the samples and models the whole batch itself)."""
    x = arrays.get(Role.INPUT)
    if x is None or layer.couples_samples or x.ndim == len(layer.input_shape):
        return None
    per_sample = (Role.INPUT, Role.DELTA)
    return [
        {r: (a[n] if r in per_sample and a is not None else a) for r, a in arrays.items()}
        for n in range(x.shape[0])
    ]


def _combine(role: Role, parts: list[np.ndarray | None]) -> np.ndarray | None:
    """Per-sample results over the batch: stacked for the input, summed for a parameter."""
    if any(p is None for p in parts):
        return None
    arrays = [p for p in parts if p is not None]
    if len({a.shape for a in arrays}) != 1:
        return None
    return np.stack(arrays) if role is Role.INPUT else np.sum(arrays, axis=0)


def _buggy(layer: Layer, role: Role, arrays: Arrays, options: dict) -> np.ndarray | None:
    samples = _samples(layer, arrays)
    if samples is None:
        return layer.buggy(role, arrays, options)
    return _combine(role, [layer.buggy(role, s, options) for s in samples])


def _wrong_results(layer: Layer, role: Role, arrays: Arrays) -> list[tuple[str, np.ndarray]]:
    samples = _samples(layer, arrays)
    if samples is None:
        return layer.wrong_results(role, arrays)
    per_sample = [layer.wrong_results(role, s) for s in samples]
    out = []
    for k, (name, _) in enumerate(per_sample[0]):
        combined = _combine(role, [results[k][1] for results in per_sample])
        if combined is not None:
            out.append((name, combined))
    return out


def explain(
    layer: Layer,
    role: Role,
    got: np.ndarray,
    arrays: Arrays,
    expected: dict[Role, np.ndarray],
    rtol: float,
    atol: float,
) -> list[str]:
    """Names of the catalogued mistakes whose numbers equal ``got`` (but not the right answer).

    Example:
        >>> from symcnn import Identity
        >>> layer = Identity(input=(3,))
        >>> right = {Role.INPUT: np.array([1.0, 2.0, 3.0])}
        >>> explain(layer, Role.INPUT, -right[Role.INPUT], {}, right, 1e-6, 1e-9)
        ['sign flipped (the negative of the gradient)']
    """
    exp = expected[role]

    def fits(values: np.ndarray | None) -> bool:
        return (
            values is not None
            and close(values, got, rtol, atol)
            and not close(values, exp, rtol, atol)
        )

    wrong = _wrong_results(layer, role, arrays)
    if wrong:
        found = [name for name, values in wrong if fits(values)]
    else:
        singles = [m for m in layer.mistakes() if m.role is role]
        found = [m.name for m in singles if fits(_buggy(layer, role, arrays, dict(m.options)))]
        if not found:
            for a, b in itertools.combinations(singles, 2):
                oa, ob = dict(a.options), dict(b.options)
                if oa.keys() & ob.keys():
                    continue
                if fits(_buggy(layer, role, arrays, {**oa, **ob})):
                    found.append(f"{a.name}, and {b.name}")
    if not found:
        found = [name for name, values in _generic(role, expected, got) if fits(values)]
    return found

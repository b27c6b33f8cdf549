"""Forward expressions of each layer kind, as ordered sums of product terms over named grids."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import singledispatch

import numpy as np
import symengine as se
import sympy

from .maxfunc import WindowMax, engine_form
from .spec import AvgPool2D, Bias, Conv2D, MaxPool2D, _Pool2D
from .symbols import Grid, Role, Stem

#: Optional per-role grid names passed to `build_forward` (None: the default a, w, b, z, d).
Names = Mapping[Role, Stem] | None


@dataclass(frozen=True)
class Forward:
    """A layer's forward pass: ``z[index] = Σ terms[index]``, plus the grids the terms use.

    ``terms`` is an object array shaped like the output whose entries are tuples of summands,
    kept in the order the layer's index formula visits them (so printed sums read naturally).
    ``wrt`` lists the roles whose gradients are wanted (input first, then parameters).
    """

    grids: dict[Role, Grid]
    terms: np.ndarray
    wrt: tuple[Role, ...]

    def expr(self, index: tuple[int, ...]) -> se.Basic:
        """The output entry at ``index`` as one symengine expression."""
        return se.Add(*[engine_form(t) for t in self.terms[index]])


def _grid(
    name: str,
    role: Role,
    shape: tuple[int, ...],
    n_channel_axes: int,
    base: int,
    latex: str = "",
    text: str = "",
    names: Names = None,
) -> Grid:
    """A grid with the default stem ``name``, or the stem ``names[role]`` when given."""
    channel_axes = tuple(i < n_channel_axes for i in range(len(shape)))
    if names is not None and role in names:
        stem = names[role]
        name, latex, text = stem.name, stem.latex, stem.text
    return Grid(name, role, shape, channel_axes, base, latex, text)


def delta_grid(shape: tuple[int, ...], base: int, names: Names = None) -> Grid:
    """The grid of δ = ∂E/∂z, named ``d_…`` (printed δ); indexed like z, so a vector's δ_1 too."""
    channel_axes = 1 if len(shape) == 3 else 0
    return _grid("d", Role.DELTA, shape, channel_axes, base, latex=r"\delta", text="δ", names=names)


@singledispatch
def build_forward(spec: object, names: Names = None) -> Forward:
    """Build the forward expressions of a layer spec.

    ``names`` optionally renames the grids per role (see `symcnn.symbols.Stem`); without it
    the grids are ``a`` (input), ``w``, ``b``, ``z`` (output) and ``d`` (δ).

    Example:
        >>> fwd = build_forward(Conv2D(input=(3, 3), kernel=(2, 2), bias="untied"))
        >>> fwd.terms[0, 0, 0]
        (a_11*w_11, a_12*w_12, a_21*w_21, a_22*w_22, b_11)
    """
    raise TypeError(f"no forward rule for {type(spec).__name__}")


@build_forward.register
def _conv2d(spec: Conv2D, names: Names = None) -> Forward:
    base = spec.index_base
    a = _grid("a", Role.INPUT, spec.input_shape, 1, base, names=names)
    w = _grid("w", Role.WEIGHT, spec.weight_shape, 2, base, names=names)
    grids = {Role.INPUT: a, Role.WEIGHT: w}
    if spec.bias_shape is not None:
        grids[Role.BIAS] = _grid("b", Role.BIAS, spec.bias_shape, 1, base, names=names)
    grids[Role.OUTPUT] = _grid("z", Role.OUTPUT, spec.output_shape, 1, base, names=names)
    grids[Role.DELTA] = delta_grid(spec.output_shape, base, names)

    (sh, sw), (ph, pw), (dh, dw) = spec.stride, spec.padding, spec.dilation
    kh, kw = spec.kernel
    h, wd = spec.input
    asym, wsym = a.symbols, w.symbols
    terms = np.empty(spec.output_shape, dtype=object)
    for o, i, j in np.ndindex(*spec.output_shape):
        row: list[se.Basic] = []
        for c in range(spec.in_channels):
            for m in range(kh):
                r = i * sh + m * dh - ph
                if not 0 <= r < h:
                    continue
                for n in range(kw):
                    t = j * sw + n * dw - pw
                    if 0 <= t < wd:
                        row.append(wsym[o, c, m, n] * asym[c, r, t])
        if spec.bias is Bias.SHARED:
            row.append(grids[Role.BIAS].symbols[o])
        elif spec.bias is Bias.UNTIED:
            row.append(grids[Role.BIAS].symbols[o, i, j])
        terms[o, i, j] = tuple(row)
    wrt = (Role.INPUT, Role.WEIGHT) + ((Role.BIAS,) if Role.BIAS in grids else ())
    return Forward(grids, terms, wrt)


def _pool_grids(spec: _Pool2D, names: Names = None) -> dict[Role, Grid]:
    base = spec.index_base
    return {
        Role.INPUT: _grid("a", Role.INPUT, spec.input_shape, 1, base, names=names),
        Role.OUTPUT: _grid("z", Role.OUTPUT, spec.output_shape, 1, base, names=names),
        Role.DELTA: delta_grid(spec.output_shape, base, names),
    }


def pool_windows(spec: _Pool2D) -> np.ndarray:
    """For each output entry (c, i, j), the input indices of its window in row-major order."""
    assert spec.stride is not None
    (sh, sw), (kh, kw) = spec.stride, spec.window
    out = np.empty(spec.output_shape, dtype=object)
    for c, i, j in np.ndindex(*spec.output_shape):
        out[c, i, j] = tuple((c, i * sh + m, j * sw + n) for m in range(kh) for n in range(kw))
    return out


@build_forward.register
def _avgpool2d(spec: AvgPool2D, names: Names = None) -> Forward:
    grids = _pool_grids(spec, names)
    a = grids[Role.INPUT].symbols
    share = se.Rational(1, spec.window[0] * spec.window[1])
    windows = pool_windows(spec)
    terms = np.empty(spec.output_shape, dtype=object)
    for idx in np.ndindex(*spec.output_shape):
        terms[idx] = tuple(share * a[cell] for cell in windows[idx])
    return Forward(grids, terms, (Role.INPUT,))


@build_forward.register
def _maxpool2d(spec: MaxPool2D, names: Names = None) -> Forward:
    grids = _pool_grids(spec, names)
    a = grids[Role.INPUT].symbols
    windows = pool_windows(spec)
    terms = np.empty(spec.output_shape, dtype=object)
    for idx in np.ndindex(*spec.output_shape):
        cells = [sympy.Symbol(str(a[cell])) for cell in windows[idx]]
        terms[idx] = (WindowMax(*cells),)
    return Forward(grids, terms, (Role.INPUT,))

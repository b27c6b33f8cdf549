"""Forward expressions of activations, flatten, dense and the losses, registered with build_forward."""

from __future__ import annotations

import numpy as np
import symengine as se
import sympy

from .actfunc import LogSumExp, ReLU, Sigmoid
from .layers import Forward, Names, _grid, build_forward, delta_grid
from .netspec import Activation, ActivationKind, Dense, Flatten, Loss, LossKind, channel_axes
from .symbols import Role

_FUNCTIONS = {
    ActivationKind.SIGMOID: Sigmoid,
    ActivationKind.TANH: sympy.tanh,
    ActivationKind.RELU: ReLU,
}


@build_forward.register
def _activation(spec: Activation, names: Names = None) -> Forward:
    """``a[idx] = f(z[idx])`` for every entry: one term, the function of one symbol.

    Example:
        >>> build_forward(Activation("sigmoid", (2,))).terms[0]
        (Sigmoid(z_1),)
    """
    base, nch = spec.index_base, channel_axes(spec.shape)
    grids = {
        Role.INPUT: _grid("z", Role.INPUT, spec.shape, nch, base, names=names),
        Role.OUTPUT: _grid("a", Role.OUTPUT, spec.shape, nch, base, names=names),
        Role.DELTA: delta_grid(spec.shape, base, names),
    }
    z = grids[Role.INPUT].symbols
    fn = _FUNCTIONS.get(spec.kind)
    terms = np.empty(spec.shape, dtype=object)
    for idx in np.ndindex(*spec.shape):
        terms[idx] = (z[idx],) if fn is None else (fn(sympy.Symbol(str(z[idx]))),)
    return Forward(grids, terms, (Role.INPUT,))


@build_forward.register
def _flatten(spec: Flatten, names: Names = None) -> Forward:
    """``v[k] = a[c, i, j]`` with k running row-major over (c, i, j).

    Example:
        >>> build_forward(Flatten((1, 2, 2))).terms[3]
        (a_22,)
    """
    base = spec.index_base
    grids = {
        Role.INPUT: _grid(
            "a", Role.INPUT, spec.input_shape, channel_axes(spec.input_shape), base, names=names
        ),
        Role.OUTPUT: _grid("v", Role.OUTPUT, spec.output_shape, 0, base, names=names),
        Role.DELTA: delta_grid(spec.output_shape, base, names),
    }
    flat = grids[Role.INPUT].symbols.ravel(order="C")
    terms = np.empty(spec.output_shape, dtype=object)
    for k in range(flat.size):
        terms[k] = (flat[k],)
    return Forward(grids, terms, (Role.INPUT,))


@build_forward.register
def _dense(spec: Dense, names: Names = None) -> Forward:
    """``z_i = Σ_j W_ij·a_j + b_i`` (PyTorch's ``nn.Linear``: weight [out, in]).

    Example:
        >>> build_forward(Dense(in_features=2, out_features=1)).terms[0]
        (a_1*w_11, a_2*w_12, b_1)
    """
    base = spec.index_base
    grids = {
        Role.INPUT: _grid("a", Role.INPUT, spec.input_shape, 0, base, names=names),
        Role.WEIGHT: _grid("w", Role.WEIGHT, spec.weight_shape, 0, base, names=names),
    }
    if spec.bias_shape is not None:
        grids[Role.BIAS] = _grid("b", Role.BIAS, spec.bias_shape, 0, base, names=names)
    grids[Role.OUTPUT] = _grid("z", Role.OUTPUT, spec.output_shape, 0, base, names=names)
    grids[Role.DELTA] = delta_grid(spec.output_shape, base, names)
    a, w = grids[Role.INPUT].symbols, grids[Role.WEIGHT].symbols
    terms = np.empty(spec.output_shape, dtype=object)
    for i in range(spec.out_features):
        row = [w[i, j] * a[j] for j in range(spec.in_features)]
        if Role.BIAS in grids:
            row.append(grids[Role.BIAS].symbols[i])
        terms[i] = tuple(row)
    wrt = (Role.INPUT, Role.WEIGHT) + ((Role.BIAS,) if Role.BIAS in grids else ())
    return Forward(grids, terms, wrt)


@build_forward.register
def _loss(spec: Loss, names: Names = None) -> Forward:
    """E as a sum: ``½(ŷ_k − t_k)²`` per entry (mse) or ``logsumexp(ŷ) − t_k·ŷ_k`` (cross-entropy).

    The output grid is the scalar E; there is no δ grid (∂E/∂E = 1).

    Example:
        >>> fwd = build_forward(Loss("mse", (2,)))
        >>> [str(s.diff(fwd.grids[Role.INPUT].symbols[0])) for s in fwd.terms[()]]
        ['-t_1 + y_1', '0']
    """
    base, nch = spec.index_base, channel_axes(spec.shape)
    grids = {
        Role.INPUT: _grid("y", Role.INPUT, spec.shape, nch, base, text="ŷ", names=names),
        Role.TARGET: _grid("t", Role.TARGET, spec.shape, nch, base, names=names),
        Role.OUTPUT: _grid("E", Role.OUTPUT, (), 0, base, names=names),
    }
    y = grids[Role.INPUT].symbols.ravel()
    t = grids[Role.TARGET].symbols.ravel()
    terms = np.empty((), dtype=object)
    if spec.kind is LossKind.MSE:
        half = se.Rational(1, 2)
        terms[()] = tuple(half * (yk - tk) ** 2 for yk, tk in zip(y, t))
    else:
        lse = LogSumExp(*[sympy.Symbol(str(yk)) for yk in y])
        terms[()] = (lse, *(-tk * yk for yk, tk in zip(y, t)))
    return Forward(grids, terms, (Role.INPUT,))

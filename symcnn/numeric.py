"""Numbers from the formulas: lambdified forward and gradient functions over NumPy arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import SymcnnError
from .numcompile import compile_terms
from .symbols import Role

if TYPE_CHECKING:
    from .derive import Derivation

_ARG_ROLES = (Role.INPUT, Role.WEIGHT, Role.BIAS, Role.DELTA)


class NumericGradients:
    """Lambdified formulas of one derivation: call with arrays, get gradient arrays back.

    Arrays follow the layer contract's shapes: input ``[C, H, W]``, weight ``[O, C, KH, KW]``,
    bias ``[O]`` (shared) or ``[O, OH, OW]`` (untied), delta ``[O, OH, OW]``.

    Example:
        >>> import numpy as np
        >>> from symcnn import Conv2D
        >>> num = Conv2D(input=(3, 3), kernel=(2, 2)).derive().numeric()
        >>> g = num(input=np.ones((1, 3, 3)), weight=np.ones((1, 1, 2, 2)),
        ...         bias=np.zeros(1), delta=np.ones((1, 2, 2)))
        >>> g["input"][0].tolist()
        [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        grids = derivation.forward.grids
        self.arg_roles = [r for r in _ARG_ROLES if r in grids]
        self.shapes = {r.value: grids[r].shape for r in self.arg_roles}
        args = [s for r in self.arg_roles for s in grids[r].symbols.ravel()]
        self.out_roles = list(derivation.grads)
        sums = [
            [[t.delta, t.partial] for t in cs.terms]
            for r in self.out_roles
            for cs in derivation.grads[r].ravel()
        ]
        self._grad_fn = compile_terms(args, sums)
        self._forward_fn: Any = None  # compiled on first use

    def _flat(self, values: dict[str, Any], roles: Sequence[Role]) -> np.ndarray:
        parts = []
        for role in roles:
            name = role.value
            if name not in values or values[name] is None:
                raise SymcnnError(f"missing array {name!r} of shape {list(self.shapes[name])}")
            arr = np.asarray(values[name], dtype=float)
            if arr.shape != tuple(self.shapes[name]):
                raise SymcnnError(
                    f"array {name!r} has shape {list(arr.shape)}, expected {list(self.shapes[name])}"
                )
            parts.append(arr.ravel())
        return np.concatenate(parts) if parts else np.zeros(0)

    def __call__(self, **values: Any) -> dict[str, np.ndarray]:
        """Gradients for the given arrays: ``{"input": …, "weight": …, "bias": …}``."""
        flat = self._flat(values, self.arg_roles)
        out = np.asarray(self._grad_fn(flat), dtype=float).ravel()
        result: dict[str, np.ndarray] = {}
        pos = 0
        for role in self.out_roles:
            shape = self.derivation.forward.grids[role].shape
            size = int(np.prod(shape))
            result[role.value] = out[pos : pos + size].reshape(shape)
            pos += size
        return result

    def forward(self, **values: Any) -> np.ndarray:
        """The layer output z for the given input (and weight, bias) arrays."""
        roles = [r for r in self.arg_roles if r is not Role.DELTA]
        if self._forward_fn is None:
            d = self.derivation
            grids = d.forward.grids
            args = [s for r in roles for s in grids[r].symbols.ravel()]
            terms: Any = d.forward.terms
            outputs = [[[s] for s in terms[i]] for i in np.ndindex(*d.output_shape)]
            self._forward_fn = compile_terms(args, outputs)
        flat = self._flat(values, roles)
        out = np.asarray(self._forward_fn(flat), dtype=float)
        return out.reshape(self.derivation.output_shape)

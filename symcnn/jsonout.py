"""The JSON contract of a layer derivation: names, forward and gradient strings, identities."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .printing import JsonPrinter, chain_sum_string, forward_string
from .spec import Conv2D
from .symbols import Role

if TYPE_CHECKING:
    from .derive import Derivation

LAYER_NAMES = {"Conv2D": "conv2d", "MaxPool2D": "maxpool2d", "AvgPool2D": "avgpool2d"}


def _nested(arr: np.ndarray, fn: Any) -> Any:
    flat = [fn(x) for x in arr.ravel()]
    return np.array(flat, dtype=object).reshape(arr.shape).tolist() if arr.ndim else flat[0]


def derivation_json(d: Derivation) -> dict[str, Any]:
    """One JSON-able object: layer, resolved config, shapes, symbol names, expressions, proofs.

    Every expression is a string that ``sympy.parse_expr`` reads with SymPy built-ins only.

    Example:
        >>> from symcnn import Conv2D
        >>> j = Conv2D(input=(2, 2), kernel=(2, 2)).derive().to_json()
        >>> j["grad"]["weight"]
        [[[['d_11*a_11', 'd_11*a_12'], ['d_11*a_21', 'd_11*a_22']]]]
    """
    p = JsonPrinter(d.table)
    grids = d.forward.grids
    roles = [Role.INPUT, Role.WEIGHT, Role.BIAS, Role.DELTA]
    symbols = {role.value: _nested(grids[role].symbols, str) for role in roles if role in grids}
    return {
        "layer": LAYER_NAMES[type(d.spec).__name__],
        "config": d.spec.config(),
        "output_shape": list(d.output_shape),
        "symbols": symbols,
        "forward": _nested(d.forward.terms, lambda terms: forward_string(p, terms)),
        "grad": {
            role.value: _nested(grads, lambda cs: chain_sum_string(p, cs))
            for role, grads in d.grads.items()
        },
        "identities": [
            {"name": r.name, "statement": r.statement, "proven": r.proven, "entries": r.entries}
            for r in d.identities
        ],
        "conventions": {
            "index_base": d.spec.index_base,
            "delta": "d_... is dE/dz for the output entry z_... of the same index",
            "convolution": "cross-correlation, as in PyTorch"
            if isinstance(d.spec, Conv2D)
            else None,
        },
    }

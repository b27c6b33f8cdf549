"""Fully substituted formulas: every δ (and, optionally, every intermediate tensor) replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import symengine as se
import sympy

from ..core.functions import engine_form
from ..core.symbols import Role
from ..errors import TooLargeError
from .backprop import ChainSum

if TYPE_CHECKING:
    from .derived import Derivation

#: Default ceiling on the tree size of the fully substituted formulas.
DEFAULT_MAX_NODES = 200_000


class Budget:
    """Refuses substituted formulas whose expression trees grow past a limit.

    Example:
        >>> b = Budget(3)
        >>> b.check(sympy.Symbol("x") + 1) is not None
        True
        >>> b.check(sympy.Symbol("y"))
        Traceback (most recent call last):
        symcnn.errors.TooLargeError: the fully substituted formulas would exceed 3 expression nodes; they are offered for small networks only (the per-layer formulas, in δ of the next layer, are always available)
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def check(self, expr: sympy.Basic) -> sympy.Basic:
        """Count the expression's nodes; raise `TooLargeError` once past the limit."""
        for _ in sympy.preorder_traversal(expr):
            self.used += 1
            if self.used > self.limit:
                raise TooLargeError(
                    f"the fully substituted formulas would exceed {self.limit:,} expression "
                    "nodes; they are offered for small networks only (the per-layer formulas, "
                    "in δ of the next layer, are always available)"
                )
        return expr


def _map(arr: np.ndarray, fn: Any) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    for index in np.ndindex(*arr.shape):
        out[index] = fn(arr[index])
    return out


def substituted(
    d: Derivation, forward: bool = False, max_nodes: int = DEFAULT_MAX_NODES
) -> dict[str, np.ndarray]:
    """Every gradient of a network with all δ symbols replaced by their formulas (SymPy arrays).

    Keys: ``"delta<l>"`` for each layer's δ, ``"<l>.weight"``/``"<l>.bias"`` and ``"input"``.
    With ``forward=True`` the intermediate tensors are replaced by their forward expressions
    too, so only x, the parameters and t remain. Offered for small networks: raises
    `TooLargeError` when the formulas exceed ``max_nodes`` expression nodes.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(Network([Linear(1, bias=False)], input=(1,)))
        >>> substituted(d)["0.weight"][0, 0]
        x_1*(-t_1 + z0_1)
    """
    budget = Budget(max_nodes)
    fwd: dict[sympy.Symbol, sympy.Basic] = {}
    if forward:
        for layer in d.layers:
            for stage in layer.stages:  # batch norm's μ, σ², x̂ before its output
                for idx in np.ndindex(*stage.grid.shape):
                    expr = sympy.sympify(se.Add(*[engine_form(t) for t in stage.terms[idx]]))
                    fwd[sympy.Symbol(str(stage.grid.symbols[idx]))] = budget.check(
                        expr.xreplace(fwd)
                    )
            out = layer.grid(Role.OUTPUT).symbols
            for idx in np.ndindex(*layer.output_shape):
                expr = sympy.sympify(layer.forward.expr(idx)).xreplace(fwd)
                fwd[sympy.Symbol(str(out[idx]))] = budget.check(expr)
    known: dict[sympy.Symbol, sympy.Basic] = {}

    def sub(cs: ChainSum) -> sympy.Basic:
        expr = cs.sympy().xreplace(known)
        return budget.check(expr.xreplace(fwd) if fwd else expr)

    result: dict[str, np.ndarray] = {}
    for layer in reversed(d.layers):
        assert layer.delta is not None, "a lone layer's δ is given: nothing to substitute"
        values = _map(layer.delta, sub)
        result[f"delta{layer.index}"] = values
        dsyms = layer.grid(Role.DELTA).symbols
        for idx in np.ndindex(*dsyms.shape):
            known[sympy.Symbol(str(dsyms[idx]))] = values[idx]
        for stage, sums in reversed(list(zip(layer.stages, layer.stage_deltas))):
            inner = _map(sums, sub)
            for idx in np.ndindex(*sums.shape):
                known[sympy.Symbol(str(stage.delta.symbols[idx]))] = inner[idx]
    for layer in d.layers:
        for role, name in layer.params.items():
            result[name] = _map(layer.grads[role], sub)
    result["input"] = _map(d.input_grad(), sub)
    return result

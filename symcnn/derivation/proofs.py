"""Exact proofs: a closed form equals the per-entry gradients when every expanded difference is 0."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import symengine as se
import sympy

from ..core.functions import engine_form
from ..core.symbols import Role
from ..kinds.base import ClosedForm


@dataclass(frozen=True)
class Proof:
    """One matrix identity and whether it was proven equal to the per-entry derivation.

    ``form`` is the closed form that was compared, operands included, so that what a sheet
    writes out is what was proven.
    """

    name: str
    statement: str
    latex: str
    proven: bool
    entries: int
    mismatches: int = 0
    role: Role | None = None  # the tensor whose gradient the identity states
    form: ClosedForm | None = None


def prove_equal(
    name: str,
    statement: str,
    latex: str,
    closed: np.ndarray,
    derived: np.ndarray,
    role: Role | None = None,
) -> Proof:
    """Prove ``closed == derived`` entry by entry, exactly (expanded difference is 0).

    ``derived`` holds `ChainSum` objects (or expressions); ``closed`` expressions.

    Example:
        >>> x = se.Symbol("x")
        >>> prove_equal("t", "t", "t", np.array([x + x]), np.array([2 * x])).proven
        True
    """
    if closed.shape != derived.shape:
        return Proof(name, statement, latex, False, derived.size, derived.size, role)
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
    return Proof(name, statement, latex, bad == 0, derived.size, bad, role)


def prove(form: ClosedForm, derived: np.ndarray) -> Proof:
    """Prove one closed form of a layer against the gradients it states.

    Example:
        >>> x = se.Symbol("x")
        >>> form = ClosedForm(Role.INPUT, "double", "2x", lambda n: "2x", np.array([2 * x]))
        >>> prove(form, np.array([x + x])).proven
        True
    """
    proof = prove_equal(form.name, form.statement, form.latex, form.value, derived, form.role)
    return Proof(
        proof.name,
        proof.statement,
        proof.latex,
        proof.proven,
        proof.entries,
        proof.mismatches,
        proof.role,
        form,
    )

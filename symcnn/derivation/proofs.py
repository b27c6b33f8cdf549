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


def prove(
    form: ClosedForm,
    derived: np.ndarray,
    quantities: tuple[tuple[np.ndarray, np.ndarray], ...] = (),
) -> Proof:
    """Prove one closed form of a layer against the gradients it states.

    A staged form proves its lemmas first, each against the derived δ of a named quantity
    (``quantities``: its δ symbols and their `ChainSum` array), substituting the lemmas
    already proven; then the form itself, in the lemmas' terms. Every step compares small
    expressions, so a batch norm's proof stays linear in its number of entries.

    Example:
        >>> x = se.Symbol("x")
        >>> form = ClosedForm(Role.INPUT, "double", "2x", lambda n: ("y", "2x"), np.array([2 * x]))
        >>> prove(form, np.array([x + x])).proven
        True
    """
    known: dict[Any, Any] = {}
    bad = 0
    for lemma in form.lemmas:
        symbols, sums = quantities[lemma.quantity]
        expand, define = lemma.expand, lemma.define
        value = _map(lemma.value, lambda e, x=expand: _subs(engine_form(e), x))
        steps = _map(sums, lambda cs, d=define: _subs(_subs(_engine(cs), known), d))
        bad += prove_equal("", "", "", value, steps).mismatches
        for index in np.ndindex(*symbols.shape):
            known[symbols[index]] = lemma.value[index]
    closed = form.value
    if form.expand:
        closed = _map(closed, lambda e: _subs(engine_form(e), form.expand))
    target: np.ndarray = derived
    if known:
        target = _map(derived, lambda cs: _subs(_engine(cs), known))
    proof = prove_equal(form.name, form.statement, form.latex, closed, target, form.role)
    mismatches = proof.mismatches + bad
    return Proof(
        proof.name,
        proof.statement,
        proof.latex,
        mismatches == 0,
        proof.entries,
        mismatches,
        proof.role,
        form,
    )


def _subs(expr: Any, mapping: dict[Any, Any]) -> Any:
    """``expr.xreplace`` with only the entries of ``mapping`` it uses (symengine converts the
    whole dictionary on every call)."""
    used = {s: mapping[s] for s in expr.free_symbols if s in mapping}
    return expr.xreplace(used) if used else expr


def _engine(entry: Any) -> Any:
    return engine_form(entry.engine() if hasattr(entry, "engine") else entry)


def _map(arr: np.ndarray, fn: Any) -> np.ndarray:
    out = np.empty(arr.shape, dtype=object)
    for index in np.ndindex(*arr.shape):
        out[index] = fn(arr[index])
    return out

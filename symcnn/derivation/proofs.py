"""Exact proofs: a closed form equals the per-entry gradients when every expanded difference is 0."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import symengine as se
import sympy

from ..core.functions import engine_form
from ..core.poly import atoms, differing_entries, monomials
from ..core.symbols import Grid, Role
from ..kinds.base import ClosedForm, Layer
from .backprop import Chains


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
    source: ClosedForm | Callable[[], ClosedForm] | None = field(default=None, compare=False)

    @property
    def form(self) -> ClosedForm | None:
        """The closed form that was proven, over the layer's symbols (built when first read)."""
        if callable(self.source):
            object.__setattr__(self, "source", self.source())
        return self.source  # type: ignore[return-value]


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


#: The order in which a layer's tensors get their ids in a proof by monomials.
_ID_ORDER = (Role.INPUT, Role.WEIGHT, Role.BIAS, Role.OUTPUT, Role.DELTA, Role.TARGET)


def _chain_monomials(
    chains: Chains, first: dict[Role, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """Every chain-rule term ``c·δ·x…`` of a tensor as a monomial of ids; None unless every
    term is a product."""
    if chains.opaque or Role.DELTA not in first:
        return None
    entries, monos, coeffs = [], [], []
    for block in chains.blocks:
        part = block.part
        if part.fn is not None:
            return None
        cols = [first[Role.DELTA] + part.rows]
        cols += [first[r] + part.index[:, k] for k, r in enumerate(part.roles) if k != block.column]
        entries.append(block.entries)
        monos.append(np.stack(cols, axis=1))
        q = sympy.Rational(str(part.coeff))
        coeffs.append((int(q.p), int(q.q), len(part.rows)))
    den = math.lcm(*[q for _, q, _ in coeffs]) if coeffs else 1
    width = max([m.shape[1] for m in monos], default=1)
    monos = [np.concatenate([np.full((len(m), width - m.shape[1]), -1), m], axis=1) for m in monos]
    nums = [np.full(n, p * (den // q), dtype=np.int64) for p, q, n in coeffs]
    if not entries:
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros((0, width), dtype=np.int64), empty, den
    return np.concatenate(entries), np.concatenate(monos), np.concatenate(nums), den


def prove_by_monomials(
    layer: Layer, grids: dict[Role, Grid], chains: dict[Role, Chains | None]
) -> list[Proof] | None:
    """Prove a layer's closed forms by comparing monomials: each form is built by the kind's
    own array code over `~symcnn.core.poly.Poly` atoms, each gradient read off its chains.

    Exact (integer coefficients, no floating point) and linear-logarithmic in the number of
    terms. None when a gradient or a closed form is not a polynomial (max pooling's brackets):
    then `prove` decides by expansion.
    """
    if type(layer).closed_forms is Layer.closed_forms:
        return []  # the kind states no closed forms
    first, start = {}, 0
    for role in _ID_ORDER:
        if role in grids:
            first[role] = start
            start += int(np.prod(grids[role].shape))
    derived = {}
    for role, ch in chains.items():
        found = None if ch is None else _chain_monomials(ch, first)
        if found is None:
            return None
        derived[role] = found
    arrays = {role: atoms(grids[role].shape, first[role]) for role in first}
    params = {role: arrays[role] for role in layer.param_shapes()}
    try:
        forms = layer.closed_forms(arrays[Role.INPUT], params, arrays[Role.DELTA])
    except (TypeError, se.SympifyError):  # an operation a polynomial does not have (a
        return None  # comparison, a symengine function of the entries …): expansion decides
    if any(getattr(f, "lemmas", ()) or getattr(f, "expand", None) for f in forms):
        return None  # a staged form: proven lemma by lemma (`prove`)
    closed = [monomials(f.value) for f in forms]
    if any(c is None for c in closed) or any(f.role not in derived for f in forms):
        return None

    built: list[ClosedForm] = []

    def symbolic(k: int) -> ClosedForm:
        if not built:
            symbols = {role: g.symbols for role, g in grids.items()}
            params = {role: symbols[role] for role in layer.param_shapes()}
            built.extend(layer.closed_forms(symbols[Role.INPUT], params, symbols[Role.DELTA]))
        return built[k]

    out = []
    for k, (form, mono) in enumerate(zip(forms, closed)):
        assert mono is not None and form.role is not None
        size = int(np.prod(grids[form.role].shape))
        if form.value.shape != grids[form.role].shape:
            bad = size
        else:
            bad = len(differing_entries(mono, derived[form.role]))
        out.append(
            Proof(
                form.name,
                form.statement,
                form.latex,
                bad == 0,
                size,
                bad,
                form.role,
                functools.partial(symbolic, k),
            )
        )
    return out

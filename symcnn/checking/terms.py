"""Per-entry term analysis: probe the user's backward one δ at a time and compare its terms.

Every gradient of a layer is linear in δ, so calling the user's function with δ = e_k (one
entry 1, the rest 0) yields the coefficient the user gives δ_k in every gradient entry.
Comparing those coefficients with the formula's terms names each missing term, each extra
term, and each term with the wrong factor (``δ_11·w_11 where the formula has δ_11·w_22``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import symengine as se
import sympy

from ..core.symbols import Role
from ..derivation.backprop import Term
from ..derivation.derived import Derivation
from ..kinds.base import Arrays
from ..render.printers import TextPrinter, term_string

#: Probing calls the user's function once per δ entry; above this many entries it is skipped.
MAX_PROBES = 1024
#: Width of a printed sum before it is cut with "+ … (N more terms)".
WIDTH = 100


def probe(
    call: Callable[[np.ndarray], Arrays], delta_shape: tuple[int, ...]
) -> dict[Role, np.ndarray] | str:
    """The user's map δ → gradients, column by column: ``out[role][k]`` is the gradient for
    δ = e_k. A sentence saying why not when there are too many δ entries or a probe fails.

    Example:
        >>> cols = probe(lambda d: {Role.INPUT: 2 * d}, (1, 2))
        >>> cols[Role.INPUT].tolist()
        [[[2.0, 0.0]], [[0.0, 2.0]]]
    """
    n = int(np.prod(delta_shape))
    if n > MAX_PROBES:
        return f"terms not analysed: δ has {n} entries, more than {MAX_PROBES} probe calls"
    columns: dict[Role, list[np.ndarray]] = {}
    for k in range(n):
        unit = np.zeros(n)
        unit[k] = 1.0
        try:
            out = call(unit.reshape(delta_shape))
        except Exception as err:
            return (
                "terms not analysed: fn failed when called with one δ entry 1 and the rest 0 "
                f"({type(err).__name__}: {err})".replace("\n", " ")
            )
        for role, value in out.items():
            if value is not None:
                columns.setdefault(role, []).append(value)
    return {role: np.stack(cols) for role, cols in columns.items()}


def clip_sum(parts: list[str], width: int = WIDTH) -> str:
    """Join summands with ``+``, cut to about ``width`` characters: ``a + b + … (7 more terms)``.

    Example:
        >>> clip_sum(["δ_11·w_22", "δ_12·w_21"], width=12)
        'δ_11·w_22 + … (1 more term)'
    """
    if not parts:
        return "0"
    out = parts[0]
    for k, part in enumerate(parts[1:], start=1):
        if len(out) + 3 + len(part) > width:
            rest = len(parts) - k
            return f"{out} + … ({rest} more term{'s' if rest > 1 else ''})"
        out += " + " + part
    return out.replace("+ -", "- ")


def clip_list(items: list[str], limit: int = 6) -> str:
    """``a, b, c`` cut after ``limit`` items: ``a, b, … and 5 more``."""
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f", … and {len(items) - limit} more"


@dataclass
class EntryTerms:
    """One wrong gradient entry: its formula, the user's terms, and their differences."""

    formula: str
    at_values: str | None = None
    yours: str | None = None
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The block printed under the entry in a report."""
        out = [f"formula: {self.formula}"]
        if self.at_values is not None:
            out.append(f"here:    {self.at_values}")
        if self.yours is not None:
            out.append(f"yours:   {self.yours}")
        for label, items in (("missing", self.missing), ("extra", self.extra)):
            if items:
                out.append(f"{label + ':':<8} {clip_list(items)}")
        for k, item in enumerate(self.wrong[:4]):
            out.append(f"{'wrong:' if k == 0 else '':<8} {item}")
        if len(self.wrong) > 4:
            rest = len(self.wrong) - 4
            out.append(f"{'':<8} … and {rest} more wrong term{'s' if rest > 1 else ''}")
        return out


def _plain(expr: Any) -> bool:
    return isinstance(expr, (se.Symbol, sympy.Symbol, se.Number, sympy.Number))


class TermAnalysis:
    """Formula and term comparison for single gradient entries at one trial's numbers.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(Network.of(Linear(2, bias=False, input=(1,))))
        >>> a = {Role.INPUT: np.ones(1), Role.WEIGHT: np.array([[3.0], [5.0]])}
        >>> t = TermAnalysis(d, a, 1e-6, 1e-9)
        >>> t.entry(Role.INPUT, (0,), np.array([0.0, 3.0])).lines()[1:]
        ['yours:   δ_2·w_11', 'missing: δ_1·w_11', 'wrong:   δ_2·w_11 where the formula has δ_2·w_21']
    """

    def __init__(self, derivation: Derivation, arrays: Arrays, rtol: float, atol: float) -> None:
        self.d = derivation
        self.printer = TextPrinter(derivation.table)
        self.rtol, self.atol = rtol, atol
        self.values: dict[str, float] = {}
        for role, grid in derivation.forward.grids.items():
            arr = arrays.get(role)
            if arr is not None:
                for index in np.ndindex(*grid.shape):
                    self.values[str(grid.symbols[index])] = float(arr[index])
        deltas = derivation.forward.grids[Role.DELTA]
        self.deltas = list(deltas.symbols.ravel())
        self.delta_pos = {str(s): k for k, s in enumerate(self.deltas)}
        self._candidates: dict[Role, tuple[list[Any], np.ndarray]] = {}

    def _near(self, a: float, b: float) -> bool:
        return abs(a - b) <= self.atol + self.rtol * abs(b)

    def _value(self, expr: Any) -> float:
        if isinstance(expr, (se.Symbol, sympy.Symbol)):
            return self.values[str(expr)]
        if isinstance(expr, (se.Number, sympy.Number)):
            return float(expr)
        sexpr = sympy.sympify(expr)
        subs = {s: sympy.Float(self.values[str(s)]) for s in sexpr.free_symbols}
        return float(sexpr.xreplace(subs))

    def candidates(self, role: Role) -> tuple[list[Any], np.ndarray]:
        """The symbols that appear as plain factors in this gradient's terms, with their values."""
        if role not in self._candidates:
            grids = set()
            for cs in self.d.grads[role].ravel():  # every term of a gradient has the same kind
                plain = [
                    t.partial for t in cs.terms if isinstance(t.partial, (se.Symbol, sympy.Symbol))
                ]
                grids |= {self.d.table.info(p).grid.name for p in plain}
                if cs.terms:
                    break
            syms = [
                s
                for g in self.d.forward.grids.values()
                if g.name in grids
                for s in g.symbols.ravel()
            ]
            self._candidates[role] = (syms, np.array([self.values[str(s)] for s in syms]))
        return self._candidates[role]

    def user_term(self, role: Role, k: int, v: float) -> str:
        """The user's coefficient v of δ_k as a term: ``δ_11·w_22``, ``δ_12/4``, ``0.31·δ_11``."""
        p, delta = self.printer, self.deltas[k]
        if self._near(v, 1.0):
            return p.product([delta])
        syms, vals = self.candidates(role)
        for sign in (1.0, -1.0):
            if len(vals):
                best = int(np.argmin(np.abs(sign * vals - v)))
                if self._near(v, sign * vals[best]):
                    term = p.product([delta, syms[best]])
                    return term if sign > 0 else "-" + term
        for q in range(1, 65):
            num = round(v * q)
            if num and self._near(v * q, num):
                return p.product([delta, sympy.Rational(num, q)])
        return f"{v:.6g}{p.times}{p.symbol(delta)}"

    def entry(self, role: Role, index: tuple[int, ...], user: np.ndarray | None) -> EntryTerms:
        """Formula of the entry; with the user's coefficients per δ (``user[k]``), the term diff."""
        cs = self.d.grads[role][index]
        p = self.printer
        rhs = clip_sum([term_string(p, t) for t in cs.terms])
        result = EntryTerms(f"{p.gradient_name(cs.wrt)} = {rhs}")
        if any(str(t.delta) not in self.delta_pos for t in cs.terms):
            return result  # terms in the δ of named quantities (batch norm): the formula only
        by_delta: dict[int, list[Term]] = {}
        for t in cs.terms:
            by_delta.setdefault(self.delta_pos[str(t.delta)], []).append(t)
        expected = {k: sum(self._value(t.partial) for t in ts) for k, ts in by_delta.items()}
        plain = all(_plain(t.partial) for t in cs.terms)
        if not plain:
            here = [self.user_term(role, k, v) for k, v in sorted(expected.items()) if v != 0]
            result.at_values = clip_sum(here)
        if user is None:
            return result
        nonzero = {k for k, v in enumerate(user) if not self._near(v, 0.0)}
        result.yours = clip_sum([self.user_term(role, k, user[k]) for k in sorted(nonzero)])
        for k in sorted(set(expected) | nonzero):
            e, u = expected.get(k, 0.0), float(user[k])
            if self._near(u, e):
                continue
            formula = " + ".join(term_string(p, t) for t in by_delta.get(k, []))
            shown = formula if plain else f"{formula} (= {self._here(role, k, e)} here)"
            if k not in nonzero:
                result.missing.append(shown)
            elif self._near(e, 0.0):
                note = f" (the formula's {formula} is 0 here)" if formula else ""
                result.extra.append(self.user_term(role, k, u) + note)
            else:
                result.wrong.append(f"{self.user_term(role, k, u)} where the formula has {shown}")
        return result

    def _here(self, role: Role, k: int, v: float) -> str:
        return self.user_term(role, k, v) if v != 0 else "0"

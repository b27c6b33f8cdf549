"""The text of a failed backward check: per-tensor summary, likely mistakes, the wrong entries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.symbols import Role
from ..derivation.derived import Derivation
from ..kinds.base import Arrays
from .contract import Contract, Slot, Trial
from .diagnose import close, explain
from .terms import TermAnalysis

Prober = Callable[[], "dict[Role, np.ndarray] | str | None"]


def header(spec: Any, con: Contract, what: str, rtol: float, atol: float) -> list[str]:
    """The first lines of every report: what failed, the layer, the contract, the tolerance."""
    first = con.slots[0]
    batch = (
        f", a mini-batch of {first.shape[0]} samples"
        if first.shape is not None and first.axes.startswith("[N, ")
        else ""
    )
    return [
        f"{spec.kind} backward {what}",
        f"  layer:    {spec.describe().replace('->', '→')}{batch}",
        f"  contract: {con.signature}; tolerance rtol={rtol:g}, atol={atol:g}",
    ]


@dataclass
class Failure:
    """Everything known about the first failing trial of a check."""

    derivation: Derivation
    contract: Contract
    trial: Trial
    seed: int
    expected: dict[Role, np.ndarray]
    got: Arrays
    rtol: float
    atol: float
    probe: Prober
    max_entries: int = 5
    notes: list[str] = field(default_factory=list)

    @property
    def spec(self) -> Any:
        """The layer under test."""
        return self.derivation.spec

    def wrong_mask(self, slot: Slot) -> np.ndarray | None:
        """Boolean mask of the wrong entries of a slot (None when its shape is wrong)."""
        got, exp = self.got[slot.role], self.expected[slot.role]
        if got is None or got.shape != exp.shape:
            return None
        return ~np.isclose(got, exp, rtol=self.rtol, atol=self.atol)

    def text(self) -> str:
        """The whole report."""
        lines = header(
            self.spec,
            self.contract,
            f"does not match symcnn's formulas ({self.trial.label}, seed {self.seed})",
            self.rtol,
            self.atol,
        )
        lines.append("")
        shown: list[tuple[Slot, tuple[int, ...]]] = []
        rest: dict[str, int] = {}
        for slot in self.contract.slots:
            if slot.shape is None:
                continue
            lines += ["  " + line for line in self._summary(slot)]
            mask = self.wrong_mask(slot)
            if mask is not None and mask.any():
                wrong = [tuple(int(v) for v in i) for i in np.argwhere(mask)]
                room = max(self.max_entries - len(shown), 0)
                shown += [(slot, i) for i in wrong[:room]]
                if len(wrong) > room:
                    rest[slot.name] = len(wrong) - room
        if shown:
            lines += self._entries(shown)
        if rest:
            counts = ", ".join(f"{n} in {name}" for name, n in rest.items())
            lines += ["", f"… and {sum(rest.values())} more wrong entries ({counts})"]
        if self.notes:
            lines += [""] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _summary(self, slot: Slot) -> list[str]:
        got, exp = self.got[slot.role], self.expected[slot.role]
        assert got is not None
        if got.shape != exp.shape:
            out = [f"{slot.name}: wrong shape {got.shape}; expected {slot.describe_shape()}"]
            if got.size == exp.size and np.squeeze(got).shape == np.squeeze(exp).shape:
                same = close(got.reshape(exp.shape), exp, self.rtol, self.atol)
                out.append(
                    "    the same entries without/with size-1 axes"
                    + ("; the values are right" if same else "")
                    + f": return it with shape {exp.shape}"
                )
                return out
            for other in self.contract.slots:
                if other is not slot and other.shape == got.shape:
                    out.append(
                        f"    that is the shape of {other.name}: results in the wrong order? "
                        f"({self.contract.signature})"
                    )
                    break
        else:
            mask = self.wrong_mask(slot)
            assert mask is not None
            if not mask.any():
                return [f"{slot.name}: ok"]
            out = [f"{slot.name}: {int(mask.sum())} of {mask.size} entries wrong"]
        causes = explain(
            self.spec, slot.role, got, self.trial.arrays, self.expected, self.rtol, self.atol
        )
        if len(causes) == 1:
            out.append(f"    likely mistake: {causes[0]}")
        elif causes:
            out.append("    likely mistake, one of:")
            out += [f"      - {c}" for c in causes]
        return out

    def _entries(self, shown: list[tuple[Slot, tuple[int, ...]]]) -> list[str]:
        columns = self.probe()
        analysis = TermAnalysis(self.derivation, self.trial.arrays, self.rtol, self.atol)
        delta = self.trial.arrays[Role.DELTA]
        assert delta is not None
        usable: dict[Role, np.ndarray] = {}
        if isinstance(columns, str):
            self.notes.append(columns)
        elif columns is not None:
            for slot in dict.fromkeys(s for s, _ in shown):
                cols, got = columns.get(slot.role), self.got[slot.role]
                if cols is not None and got is not None:
                    if close(np.tensordot(delta.ravel(), cols, axes=1), got, 1e-6, 1e-8):
                        usable[slot.role] = cols
                    else:
                        self.notes.append(
                            f"{slot.name} is not linear in δ (one δ at a time does not add up "
                            "to the result), so its terms were not analysed"
                        )
        lines: list[str] = []
        for slot, index in shown:
            got, exp = self.got[slot.role], self.expected[slot.role]
            assert got is not None
            cols = usable.get(slot.role)
            user = (
                None
                if cols is None
                else cols.reshape(len(cols), -1)[:, int(np.ravel_multi_index(index, exp.shape))]
            )
            entry = analysis.entry(slot.role, index, user)
            idx = ", ".join(map(str, index))
            lines += [
                "",
                f"{slot.name}[{idx}]: expected {exp[index] + 0.0:.6g}, got {got[index] + 0.0:.6g}",
                *("    " + line for line in entry.lines()),
            ]
        return lines

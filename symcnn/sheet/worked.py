"""The worked numeric example of a sheet: formula, numbers substituted, result (handcalcs style)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.symbols import Role
from ..numeric.engine import Gradients
from ..render.matrices import slices, tex_width
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from .layout import ENTRY_CAP, LINE_WIDTH, elided_rows, equation_row
from .printers import NumberLatexPrinter, fmt_number

if TYPE_CHECKING:
    from ..derivation.backprop import Forward
    from ..derivation.derived import Derivation
    from .options import SheetOptions

#: Entries of one tensor written out in the worked example (the matrices show all of them).
WORKED_CAP = ENTRY_CAP // 2


def symbol_values(d: Derivation, values: dict[str, np.ndarray]) -> dict[str, float]:
    """Symbol name → number, for every entry of the given arrays (``input``, ``weight`` …)."""
    out: dict[str, float] = {}
    for role, grid in d.forward.grids.items():
        arr = values.get(role.value)
        if arr is None:
            continue
        for idx in np.ndindex(*grid.shape):
            out[str(grid.symbols[idx])] = float(arr[idx])
    return out


def number_slices(
    arr: np.ndarray, name: str, base: int, gradient: bool = False
) -> list[dict[str, Any]]:
    """An array of numbers as labelled bmatrix slices (``∂E/∂name`` when ``gradient``)."""
    cells = np.vectorize(fmt_number, otypes=[object])(np.asarray(arr, dtype=float))
    return slices(cells, name, base, gradient)


def calc_row(
    lhs: Tex, symbolic: list[str], numbers: list[str], result: float, p: SymcnnLatexPrinter
) -> dict[str, Any]:
    """One three-part row: the formula, the same with numbers substituted, the result.

    ``symbolic`` and ``numbers`` are the printed summands; the template shows the three on
    one line when they fit (``inline``) and drops the numbers when they are the result.
    """
    row = equation_row(lhs, symbolic, p)
    filled = equation_row(lhs, numbers, p)
    text = fmt_number(result)
    row.update(numbers=filled["lines"], numbers_omitted=filled["omitted"], result=Tex(text))
    # "= (−1) = −1" says nothing: drop the numbers when they are just the result
    row["numbers_shown"] = not (len(numbers) == 1 and numbers[0].strip("()") == text)
    parts = [*row["lines"], *(row["numbers"] if row["numbers_shown"] else []), text]
    row["inline"] = (
        len(row["lines"]) == 1
        and len(row["numbers"]) == 1
        and not row["omitted"]
        and sum(tex_width(x) + 1.3 for x in parts) < LINE_WIDTH
    )
    return row


def forward_rows(
    forward: Forward,
    names: np.ndarray,
    out: np.ndarray,
    p: SymcnnLatexPrinter,
    nump: NumberLatexPrinter,
) -> list[dict[str, Any]]:
    """Rows ``z_k = formula = numbers = result`` for every output entry (elided when long)."""
    index = list(np.ndindex(*np.shape(forward.terms)))

    def row(k: int) -> dict[str, Any]:
        terms = forward.terms[index[k]]
        return calc_row(
            Tex(p.symbol(names[index[k]])),
            [p.product([s]) for s in terms],
            [nump.product([s]) for s in terms],
            float(out[index[k]]),
            p,
        )

    return elided_rows(len(index), row, WORKED_CAP)


def sum_rows(
    sums: np.ndarray,
    numbers: np.ndarray,
    p: SymcnnLatexPrinter,
    nump: NumberLatexPrinter,
    names: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Rows ``[δ_k =] ∂E/∂x_k = Σ δ·∂z/∂x = numbers = result`` for a tensor of chain sums."""
    flat, values = sums.ravel(), np.asarray(numbers, dtype=float).ravel()
    named = None if names is None else names.ravel()

    def row(k: int) -> dict[str, Any]:
        lhs = p.gradient_name(flat[k].wrt)
        if named is not None:
            lhs = f"{p.symbol(named[k])} = {lhs}"
        terms = flat[k].terms
        return calc_row(
            Tex(lhs),
            [term_string(p, t) for t in terms],
            [term_string(nump, t) for t in terms],
            float(values[k]),
            p,
        )

    return elided_rows(len(flat), row, WORKED_CAP)


def worked_example(d: Derivation, options: SheetOptions) -> dict[str, Any]:
    """Forward pass and every gradient with the given numbers, then the SGD step.

    The numbers come from ``Derivation.numeric()`` (the lambdified formulas); the sheet
    only formats them.
    """
    assert options.values is not None
    values = options.values.arrays()
    base = d.network.index_base
    p = SymcnnLatexPrinter(d.table)
    nump = NumberLatexPrinter(d.table, symbol_values(d, values))
    num = Gradients(d)
    fwd_args = {k: v for k, v in values.items() if k != Role.DELTA.value}
    z = num.forward(**fwd_args)
    grads = num(**values)

    gradients = []
    for role, chain in d.grads.items():
        grid = d.forward.grids[role]
        gradients.append(
            {
                "role": role.value,
                "symbol": Tex(grid.latex),
                "rows": sum_rows(chain, grads[role.value], p, nump),
                "matrices": number_slices(grads[role.value], grid.latex, base, gradient=True),
            }
        )
    given = [
        {
            "role": r.value,
            "matrices": number_slices(values[r.value], d.forward.grids[r].latex, base),
        }
        for r in d.forward.grids
        if r.value in values
    ]
    return {
        "source": options.values_source,
        "given": given,
        "forward": forward_rows(d.forward, d.forward.grids[Role.OUTPUT].symbols, z, p, nump),
        "output": number_slices(z, d.forward.grids[Role.OUTPUT].latex, base),
        "gradients": gradients,
        "sgd": _sgd(d, values, grads, options.lr),
        "lr": Tex(fmt_number(options.lr)),
    }


def _sgd(
    d: Derivation, values: dict[str, np.ndarray], grads: dict[str, np.ndarray], lr: float
) -> list[dict[str, Any]]:
    """``θ(t+1) = θ(t) − η ∂E/∂θ`` for every parameter tensor (none for pooling)."""
    base = d.network.index_base
    out = []
    for role in (Role.WEIGHT, Role.BIAS):
        if role not in d.grads:
            continue
        name = d.forward.grids[role].latex
        old, grad = values[role.value], grads[role.value]
        new = old - lr * grad
        out.append(
            {
                "role": role.value,
                "symbol": Tex(name),
                "steps": list(
                    zip(
                        number_slices(old, name, base),
                        number_slices(grad, name, base),
                        number_slices(new, name, base),
                    )
                ),
            }
        )
    return out

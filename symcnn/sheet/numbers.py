"""The worked example of a sheet: each formula, the same with numbers, the result; then SGD."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.symbols import Grid, Role
from ..derivation.derived import Derivation, DerivedLayer
from ..numeric.engine import LayerValues, Run
from ..render.matrices import Matrix, tex_width
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from .identities import numbers_of, written_numbers
from .layout import (
    LINE_WIDTH,
    WORKED_CAP,
    elided_rows,
    equation_row,
    pack,
    representative,
    via_label,
)
from .merges import read_context
from .numbers_graph import matrices, merge_numbers, merge_rows, results, staged_numbers, term_rows
from .options import SheetOptions
from .printers import GIVEN, NumberLatexPrinter, fmt_number

#: The step of gradient descent writes out every parameter's matrices up to this many; past
#: it (a network), the first matrix stands for the others unless the detail is full.
SGD_SHOWN = 4


def symbol_values(d: Derivation, run: Run) -> dict[str, float]:
    r"""Symbol name → number for every tensor of the run: input, target or given δ,
    parameters, every layer's output and error.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.numeric.engine import Engine
        >>> from symcnn.numeric.values import random_values
        >>> net = preset("seed003")
        >>> d = derive(net)
        >>> values = symbol_values(d, Engine(d).run(random_values(net, 0)))
        >>> len(values), values["x_11"] == float(random_values(net, 0).input[0, 0, 0])
        (37, True)
    """
    out: dict[str, float] = {}

    def put(grid: Grid, arr: np.ndarray) -> None:
        for sym, value in zip(grid.symbols.ravel(), np.asarray(arr, dtype=float).ravel()):
            out[str(sym)] = float(value)

    put(d.input_grid, run.values.input)
    if d.loss is not None and run.values.target is not None:
        put(d.target_grid, run.values.target)
    for layer, lv in zip(d.layers, run.layers):
        put(layer.grid(Role.OUTPUT), lv.output)
        put(layer.grid(Role.DELTA), lv.delta)
        for stage, value, delta in zip(layer.stages, lv.stages, lv.stage_deltas):
            put(stage.grid, value)
            put(stage.delta, delta)
        for role, name in layer.params.items():
            put(layer.grid(role), run.values.params[name])
    return out


def calc_row(
    lhs: Tex, symbolic: list[str], numbers: list[str], result: float, p: SymcnnLatexPrinter
) -> dict[str, Any]:
    """One three-part row: the formula, the same with numbers substituted, the result.

    The template shows the three on one line when they fit (``inline``) and drops the
    numbers when they are just the result.
    """
    row = equation_row(lhs, symbolic, p)
    filled = equation_row(lhs, numbers, p)
    text = fmt_number(result)
    row.update(numbers=filled["lines"], numbers_omitted=filled["omitted"], result=Tex(text))
    row["numbers_shown"] = not (len(numbers) == 1 and numbers[0].strip("()") == text)
    parts = [*row["lines"], *(row["numbers"] if row["numbers_shown"] else []), text]
    row["inline"] = (
        len(row["lines"]) == 1
        and len(row["numbers"]) == 1
        and not row["omitted"]
        and sum(tex_width(x) + 1.3 for x in parts) < LINE_WIDTH
    )
    return row


def _rows(count: int, rep: int, row: Any, detail: str) -> list[dict[str, Any]]:
    return elided_rows(count, row, WORKED_CAP) if detail == "full" else [row(rep)]


def forward_rows(
    layer: DerivedLayer,
    out: np.ndarray,
    p: SymcnnLatexPrinter,
    nump: NumberLatexPrinter,
    detail: str,
) -> list[dict[str, Any]]:
    """``z_k = formula = numbers = result`` for one output entry (every entry in full detail)."""
    names = layer.grid(Role.OUTPUT).symbols
    return term_rows(names, layer.forward.terms, out, p, nump, detail, calc_row)


def sum_rows(
    sums: np.ndarray,
    numbers: np.ndarray,
    p: SymcnnLatexPrinter,
    nump: NumberLatexPrinter,
    detail: str,
    names: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """``[δ_k =] ∂E/∂x_k = Σ δ·∂z/∂x = numbers = result`` for one entry (or all)."""
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

    return _rows(len(flat), representative(sums), row, detail)


def copied(d: Derivation, layer: DerivedLayer) -> bool:
    """True when the layer's δ is the δ of the one layer that reads its output, entry by
    entry and in the same shape (after an addition): its matrices would repeat those."""
    if layer.delta is None or len(layer.delta_sources) != 1 or layer.delta_sources[0] is None:
        return False
    reader = d.layers[layer.delta_sources[0]]
    if reader.output_shape != layer.output_shape:
        return False
    return all(len(cs.terms) == 1 and cs.terms[0].partial == 1 for cs in layer.delta.ravel())


def _winners(layer: DerivedLayer, lv: LayerValues, p: SymcnnLatexPrinter) -> list[dict[str, Tex]]:
    """For every window of a max-pool layer: its output, the input cell that won, the value."""
    assert lv.winners is not None
    cells = layer.grid(Role.INPUT).symbols
    outs = layer.grid(Role.OUTPUT).symbols
    return [
        {
            "out": Tex(p.symbol(outs[idx])),
            "cell": Tex(p.symbol(cells[lv.winners[idx]])),
            "value": Tex(fmt_number(float(lv.output[idx]))),
        }
        for idx in np.ndindex(*layer.output_shape)
    ]


def _sgd_line(old: dict, grad: dict, new: dict, lr: float) -> dict[str, Any]:
    """``θ(t+1) = θ − η·∂E/∂θ = θ'`` for one slice; on two lines when the three are wide."""
    eta, body = fmt_number(lr), grad["body"]
    if isinstance(body, Matrix):
        step = f"{eta} {body}"
    else:  # a number: the product needs its dot (and a negative one its brackets)
        step = rf"{eta} \cdot ({body})" if body.startswith("-") else rf"{eta} \cdot {body}"
    width = sum(getattr(m["body"], "width", tex_width(m["body"])) for m in (old, grad, new))
    return {
        "label": old["label"],
        "old": old["body"],
        "step": Tex(step),
        "new": new["body"],
        "split": width > LINE_WIDTH,
    }


def worked(d: Derivation, run: Run, options: SheetOptions) -> dict[str, Any]:
    r"""Numbers through every layer: one entry of each tensor computed from its formula (every
    entry in full detail), each tensor's matrix, the identities with numbers, one SGD step.

    Every number is the run's (the compiled formulas); this only prints them next to the
    formulas they came from.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.numeric.engine import Engine
        >>> from symcnn.numeric.values import random_values
        >>> net = preset("seed003")
        >>> d = derive(net)
        >>> run = Engine(d).run(random_values(net, 0))
        >>> run.sgd = Engine(d).sgd(run, 0.1)
        >>> print(*[b["delta"] for b in worked(d, run, SheetOptions())["backward"]])
        \nabla a^{(1)} \delta^{(0)}
    """
    p = SymcnnLatexPrinter(d.table)
    values = symbol_values(d, run)
    detail = options.detail
    lone = d.loss is None
    grids = [(run.values.input, d.input_grid)]
    for layer in d.layers:
        for role, name in layer.params.items():
            grids.append((run.values.params[name], layer.grid(role)))
    if lone:
        grids.append((run.layers[-1].delta, d.layers[-1].grid(Role.DELTA)))
    else:
        assert run.values.target is not None
        grids.append((run.values.target, d.target_grid))
    given = [m for arr, grid in grids for m in matrices(arr, grid, digits=GIVEN)]
    given_names = frozenset(str(s) for _, grid in grids for s in grid.symbols.ravel())
    nump = NumberLatexPrinter(d.table, values, given_names)

    # over a mini-batch: one sample's entries and the summed parameter gradients, no tensor
    # of the layers' outputs or errors, no identities with numbers (the merges and batch
    # norm's closed form are kept, for the first sample)
    batched = d.input_grid.batch
    given_params = run.values.params
    staged = {}
    seen: set[type] = set()
    for layer, lv in zip(reversed(d.layers), reversed(run.layers)):  # the backward pass's order
        if layer.stages:  # the closed form with numbers: once per kind
            first = type(layer.layer) not in seen
            seen.add(type(layer.layer))
            staged[layer.index] = staged_numbers(
                layer, lv, p, nump, detail, calc_row, sum_rows, given_params, first
            )
    forward = [
        {
            "index": layer.index,
            "title": layer.layer.title,
            "stages": staged[layer.index]["forward"] if layer.index in staged else [],
            "rows": forward_rows(layer, lv.output, p, nump, detail),
            # over a mini-batch, one sample's entries (the rows) and no tensors: short
            "matrices": [] if batched else results(lv.output, layer.grid(Role.OUTPUT)),
            "winners": _winners(layer, lv, p) if lv.winners is not None else None,
        }
        for layer, lv in zip(d.layers, run.layers)
    ]
    loss = None
    if d.loss is not None and run.loss is not None:
        loss_out = np.array(run.loss)
        loss = {
            "rows": forward_rows(d.loss, loss_out.reshape(()), p, nump, "full"),
            "value": Tex(fmt_number(run.loss)),
        }

    number = numbers_of(values, given_names)
    backward = []
    first_index = d.layers[0].index
    into_input = merge_numbers(d, run, None) if not lone else None
    passed_first: list[dict[str, Tex]] = []
    first_whole = False
    for layer, lv in zip(reversed(d.layers), reversed(run.layers)):
        delta = layer.grid(Role.DELTA)
        planar = layer.layer.input_shape[0] == layer.layer.output_shape[0] == 1
        by_role: dict[Role | None, list[dict[str, Any]]] = {}
        labels: dict[Role | None, str] = {}
        read = read_context(d, layer)[0]
        merged = merge_numbers(d, run, layer.index)
        for proof in layer.proofs:
            if proof.form is None or proof.form.shown is None or proof.role is None:
                continue
            if batched:
                continue
            label: Tex | None
            if proof.role is Role.INPUT:
                grid = layer.grid(Role.INPUT)
                label = via_label(rf"\frac{{\partial E}}{{\partial {grid.latex}}}", read["via"])
                if read["alone"] and read["source"] is not None:
                    label = Tex(d.layers[read["source"]].grid(Role.DELTA).latex)
            else:
                label = Tex(rf"\frac{{\partial E}}{{\partial {layer.grid(proof.role).latex}}}")
            label = label if planar else None
            by_role[proof.role] = written_numbers(layer, proof.form.shown, p, number, label)
            if label:
                labels[proof.role] = label
        # an identity written out to its end names the gradient: no second matrix
        whole = {
            role
            for role, rows in by_role.items()
            if rows and planar and rows[-1]["rhs"].startswith(labels.get(role, "\0"))
        }
        params = [
            {
                "name": name,
                "symbol": Tex(layer.grid(role).latex),
                "rows": sum_rows(layer.grads[role], lv.grads[name], p, nump, detail),
                "matrices": []
                if role in whole
                else results(lv.grads[name], layer.grid(role), gradient=True),
                "identity": by_role.get(role, []),
            }
            for role, name in layer.params.items()
        ]
        passback = by_role.get(Role.INPUT, [])
        if layer.index == first_index and into_input is None:
            passed_first, passback = passback, []
            first_whole = Role.INPUT in whole
        backward.append(
            {
                "index": layer.index,
                "title": layer.layer.title,
                "delta": Tex(delta.latex),
                "from": layer.delta_from,
                "merge": merged,
                "staged": staged.get(layer.index),
                "rows": (
                    merge_rows(d, run, layer.index, p, detail, calc_row)
                    if merged
                    else sum_rows(layer.delta, lv.delta, p, nump, detail, delta.symbols)
                    if layer.delta is not None
                    else []
                ),
                "matrices": [] if batched or copied(d, layer) else results(lv.delta, delta),
                "params": params,
                "passback": passback,
            }
        )
    input_grad = {
        "rows": merge_rows(d, run, None, p, detail, calc_row)
        if into_input
        else sum_rows(d.input_grad(), run.grads["input"], p, nump, detail),
        "matrices": []
        if first_whole or into_input
        else results(run.grads["input"], d.input_grid, gradient=True),
        "identity": passed_first,
        "merge": into_input,
    }
    sgd = []
    lr = options.lr
    for layer in d.layers:
        for role, name in layer.params.items():
            grid = layer.grid(role)
            # the engine's step for a network (its loss after the step is quoted); a lone
            # layer has no loss, so its step is written from its gradients here
            new = (
                run.sgd.params[name]
                if run.sgd is not None
                else run.values.params[name] - lr * run.grads[name]
            )
            steps = zip(
                matrices(run.values.params[name], grid, digits=GIVEN),
                matrices(run.grads[name], grid),
                matrices(new, grid),
            )
            sgd.append({"name": name, "steps": [_sgd_line(*s, lr) for s in steps]})
    # a pattern stated once: past a few matrices, the first one stands for the others
    slices = sum(len(q["steps"]) for q in sgd)
    sgd_more = slices - 1 if options.detail == "short" and slices > SGD_SHOWN else 0
    if sgd_more:
        sgd = [{"name": sgd[0]["name"], "steps": sgd[0]["steps"][:1]}]
    return {
        "source": options.values_source,
        "seed": options.values_seed,
        "file": options.values_file,
        "given": pack(given),
        "forward": forward,
        "loss": loss,
        "backward": backward,
        "input_grad": input_grad,
        "sgd": sgd,
        "sgd_more": sgd_more,
        "lr": Tex(fmt_number(options.lr)),
        "loss_after": Tex(fmt_number(run.sgd.loss_after)) if run.sgd is not None else None,
    }

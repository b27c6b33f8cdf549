"""A layer that goes through named quantities (batch norm's μ, σ², x̂) on a sheet: each
quantity's formula, SymPy's chain rule through them step by step, and the proven lemmas."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from ..core.indexed import NM, General
from ..core.symbols import Role
from ..derivation.derived import DerivedLayer
from ..derivation.index import StageRule
from ..kinds.base import TexNames
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from . import layout
from .printers import IndexedLatexPrinter


def quantity_bases(layer: DerivedLayer, formulas: dict[str, General]) -> dict[str, str]:
    r"""The names the index formulas give the quantities and their δ (``mean``, ``dmean`` …),
    as the layer's LaTeX: ``\mu^{(1)}``, ``\delta \mu^{(1)}`` ….

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.derivation.index import staged_rules
        >>> d = derive(preset("residual"))
        >>> bn = d.layers[1]
        >>> quantity_bases(bn, staged_rules(bn.layer, 1, 2)[0])["dmean"]
        '\\delta \\mu^{(1)}'
    """
    labels = [name for name in formulas if name != "output"]
    out: dict[str, str] = {}
    for label, stage in zip(labels, layer.stages):
        out[label] = stage.grid.latex
        out["d" + label] = stage.delta.latex
    return out


def _rows(
    names: np.ndarray, sums: np.ndarray, p: SymcnnLatexPrinter, detail: str, gradient: bool
) -> list[dict[str, Any]]:
    """One entry (every entry in full detail): ``μ_1 = …`` for a quantity's terms, or
    ``δμ_1 = ∂E/∂μ_1 = …`` for its δ."""
    flat_names, flat = names.ravel(), sums.ravel()

    def row(k: int) -> dict[str, Any]:
        if gradient:
            lhs = f"{p.symbol(flat_names[k])} = {p.gradient_name(flat[k].wrt)}"
            terms = [term_string(p, t) for t in flat[k].terms]
        else:
            lhs = p.symbol(flat_names[k])
            terms = [p.product([s]) for s in flat[k]]
        return layout.equation_row(Tex(lhs), terms, p)

    if detail == "full":
        return layout.elided_rows(len(flat), row)
    counts = [len(t.terms) if gradient else len(t) for t in flat]
    return [row(int(np.argmax(counts)))]


def staged_context(
    layer: DerivedLayer,
    p: SymcnnLatexPrinter,
    ip: IndexedLatexPrinter,
    formulas: dict[str, General],
    rules: list[StageRule],
    names: TexNames,
    detail: str,
) -> dict[str, Any]:
    """Everything a sheet shows of the named quantities: each one's index formula and one
    entry; SymPy's chain rule through them, one step per quantity then the input, each with
    the part that comes back through every formula that reads it and one entry; and the
    lemmas the closed form was proven with (a quantity's δ in the output's δ)."""
    labels = [name for name in formulas if name != "output"]
    stages = dict(zip(labels, layer.stages))
    deltas = dict(zip(labels, layer.stage_deltas))
    symbol = {label: Tex(stage.grid.latex) for label, stage in stages.items()}
    symbol["output"] = Tex(layer.grid(Role.OUTPUT).latex)
    forward = [
        {
            "label": label,
            "symbol": symbol[label],
            "lhs": Tex(ip.doprint(formulas[label].z)),
            "rhs": Tex(ip.doprint(formulas[label].rhs)),
            "rows": _rows(stages[label].grid.symbols, stages[label].terms, p, detail, False),
        }
        for label in labels
    ]
    backward = []
    for rule in rules:
        parts = [
            {"via": label, "symbol": symbol[label], "tex": Tex(ip.doprint(term))}
            for label, term in rule.parts
        ]
        step = {
            "label": rule.name,
            "symbol": symbol.get(rule.name, Tex("")),
            "lhs": Tex(rf"\frac{{\partial E}}{{\partial {ip.doprint(rule.wrt)}}}"),
            "parts": parts,
            "result": Tex(ip.doprint(rule.result)),
            "lines": signed([part["tex"] for part in parts]),
            "rows": [],
        }
        if rule.name in stages:
            delta = stages[rule.name].delta
            step["delta"] = Tex(ip.doprint(sympy.IndexedBase("d" + rule.name)[rule.wrt.indices]))
            step["rows"] = _rows(delta.symbols, deltas[rule.name], p, detail, True)
        backward.append(step)
    lemmas = []
    for proof in layer.proofs:
        if proof.form is None:
            continue
        for lemma in proof.form.lemmas:
            if lemma.tex is not None:
                lhs, rhs = lemma.tex(names)
                lemmas.append({"label": labels[lemma.quantity], "lhs": Tex(lhs), "rhs": Tex(rhs)})
    sizes = formulas[labels[0]].sizes if labels else {}
    return {
        "forward": forward,
        "backward": {step["label"]: step for step in backward},
        "lemmas": {lemma["label"]: lemma for lemma in lemmas},
        "m": sizes.get(NM, 0),
        "sizes_tex": Tex(", ".join(f"${ip.doprint(k)} = {v}$" for k, v in sizes.items())),
    }


def signed(terms: list[str]) -> list[Tex]:
    """Summands for lines of their own: the first as it is, each next one with its sign.

    Example:
        >>> signed(["a", "- b", "c"])
        ['a', '- b', '+ c']
    """
    out = [Tex(terms[0])] if terms else []
    for term in terms[1:]:
        out.append(Tex(term if term.startswith("-") else f"+ {term}"))
    return out

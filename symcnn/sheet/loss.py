"""The loss part of a network's sheet: E written out, ∂E/∂ŷ by SymPy, and the output error."""

from __future__ import annotations

from typing import Any

from ..core.symbols import Role
from ..derivation.derived import Derivation, DerivedLayer
from ..derivation.index import loss_steps
from ..kinds.activation import _Elementwise
from ..kinds.loss import Loss
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from . import layout
from .parts import representative, step_context
from .printers import IndexedLatexPrinter


def delta_rows(layer: DerivedLayer, p: SymcnnLatexPrinter, detail: str) -> list[dict[str, Any]]:
    r"""``δˡ_k = ∂E/∂(output entry k) = …``: one entry, or every entry in full detail.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("seed003"))
        >>> row = delta_rows(d.layers[1], SymcnnLatexPrinter(d.table), "short")[0]
        >>> print(row["lhs"], "=", row["lines"][0])
        \nabla a^{(1)}_{11} = \frac{\partial E}{\partial a^{(1)}_{11}} = a^{(1)}_{11} - t_{11}
    """
    assert layer.delta is not None
    names, sums = layer.grid(Role.DELTA).symbols.ravel(), layer.delta.ravel()

    def row(k: int) -> dict[str, Any]:
        lhs = Tex(f"{p.symbol(names[k])} = {p.gradient_name(sums[k].wrt)}")
        return layout.equation_row(lhs, [term_string(p, t) for t in sums[k].terms], p)

    if detail == "full":
        return layout.elided_rows(len(sums), row)
    return [row(representative(layer.delta))]


def loss_context(d: Derivation, p: SymcnnLatexPrinter, detail: str) -> dict[str, Any]:
    r"""The loss written out, ∂E/∂ŷ derived by SymPy, the last layer's error, and the seeds'
    output error ``(ŷ − t) ⊙ f'(z)`` when the network ends in an activation.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("seed003"))
        >>> print(loss_context(d, SymcnnLatexPrinter(d.table), "short")["steps"][-1]["rhs"])
        a^{(1)}_{i',\,j'} - t_{i',\,j'}
    """
    loss, last = d.loss, d.layers[-1]
    assert loss is not None and isinstance(loss.layer, Loss)
    act = last.layer if isinstance(last.layer, _Elementwise) else None
    net = d.network
    steps = loss_steps(loss.layer, net.index_base, act, net.batch, net.reduction == "mean")
    bases = {
        "y": last.grid(Role.OUTPUT).latex,
        "t": loss.grid(Role.TARGET).latex,
        "z": last.grid(Role.INPUT).latex,
    }
    ip = IndexedLatexPrinter(d.table, bases)
    terms = [p.product([s]) for s in loss.forward.terms[()]]
    out: dict[str, Any] = {
        "kind": loss.kind,
        "title": loss.layer.title,
        "output_error": Tex(loss.layer.output_error_tex),
        "template": loss.layer.template,
        "yhat": Tex(bases["y"]),
        "target": Tex(bases["t"]),
        "definition": step_context(ip, steps.definition),
        "sizes": [{"sym": Tex(ip.doprint(s)), "value": v} for s, v in steps.sizes],
        "written": layout.equation_row(Tex("E"), terms, p),
        "steps": [step_context(ip, s) for s in steps.steps],
        "last": {
            "index": last.index,
            "title": last.layer.title,
            "delta": Tex(last.grid(Role.DELTA).latex),
        },
        "rows": delta_rows(last, p, detail),
        "output": None,
    }
    if act is not None and steps.factors is not None and len(d.layers) > 1:
        before = d.layers[-2]
        out["output"] = {
            "title": act.title,
            "prime": Tex(act.prime_tex),
            "input": Tex(bases["z"]),
            "delta": Tex(before.grid(Role.DELTA).latex),
            "index": before.index,
            "lhs": Tex(ip.doprint(steps.output[0].lhs)),
            "factors": [Tex(ip.doprint(f)) for f in steps.factors if f != 1],  # identity: f' = 1
            "derived": Tex(ip.doprint(steps.output[0].rhs)),
        }
    return out

"""The data of a layer's part of a sheet: every formula already printed, for the templates."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core import indexed as ix
from ..core.indexed import General, Step
from ..core.symbols import Role
from ..derivation import index
from ..derivation.derived import Derivation, DerivedLayer
from ..render.matrices import shape_tex, slices, track_matrix_columns
from ..render.printers import SymcnnLatexPrinter, with_channels
from ..render.tex import Tex, escape_tex
from . import layout
from .figures import figures
from .options import SheetOptions
from .printers import IndexedLatexPrinter
from .tex import render
from .worked import worked_example

#: The IndexedBase labels of the index formulas, by the tensor they stand for.
INDEXED_BASES = {
    Role.INPUT: "a",
    Role.WEIGHT: "w",
    Role.BIAS: "b",
    Role.OUTPUT: "z",
    Role.DELTA: "delta",
}

#: Chain-rule derivations are shown in this order (seed 001 starts with the weights).
CHAIN_ORDER = (Role.WEIGHT, Role.INPUT, Role.BIAS)


def sheet_tex(d: Derivation, options: SheetOptions | None = None) -> str:
    r"""The complete LaTeX document of a lone layer's derivation sheet.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn.kinds.conv2d import Conv2d
        >>> from symcnn.derivation.derived import derive
        >>> tex = sheet_tex(derive(Network.of(Conv2d(kernel=2, bias="untied", input=(3, 3)))))
        >>> r"\documentclass" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    options = options or SheetOptions()
    values = options.values.arrays() if options.values is not None else None
    with track_matrix_columns() as columns:
        layer = layer_context(d, d.layers[0], options, values=values)
    context = {
        "title": options.title if options.title is not None else default_title(d),
        "subtitle": escape_tex(d.spec.describe()),
        "layers": [layer],
        "max_matrix_cols": max(columns, default=0),
    }
    return render("sheet.tex.j2", **context)


def default_title(d: Derivation) -> str:
    """``Backpropagation through a convolution layer`` (or a max pooling layer …).

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn.kinds.pool2d import MaxPool2d
        >>> from symcnn.derivation.derived import derive
        >>> default_title(derive(Network.of(MaxPool2d(window=2, input=(4, 4)))))
        'Backpropagation through a max pooling layer'
    """
    return f"Backpropagation through a {d.spec.title} layer"


def layer_context(
    d: Derivation,
    layer: DerivedLayer,
    options: SheetOptions,
    layer_id: int = 1,
    standalone: bool = True,
    values: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Everything the templates need about one layer: printed formulas, numbers, figures.

    A sheet is ``sheet.tex.j2`` around a list of these, each rendered by its own
    ``template``; ``layer_id`` keeps figure labels apart when there are several, and
    ``standalone`` (one layer alone) adds the section on where δ comes from, which a
    network sheet replaces by its own loss section. ``values`` (input and δ) are the numbers
    the routing figure of a max-pool layer shows.
    """
    p = SymcnnLatexPrinter(d.table)
    base = d.network.index_base
    general, rules = index.derive_general(layer.layer, base)
    grids = layer.forward.grids
    sym = {role.value: Tex(grids[role].latex) for role in INDEXED_BASES if role in grids}
    ip = IndexedLatexPrinter(d.table, {INDEXED_BASES[Role(r)]: name for r, name in sym.items()})
    layer_names = names(layer, p)
    return {
        "id": layer_id,
        "standalone": standalone,
        "template": layer.layer.template,
        "sym": sym,
        "chan": {
            "input": Tex(with_channels(sym["input"], "c")),
            "weight": Tex(with_channels(sym.get("weight", "w"), "o,c")),
        },
        "spec": setup(layer, base),
        "names": layer_names,
        "name_lines": layout.pack(named(layer_names.values())),
        "forward": forward(layer, p, ip, general),
        "forward_matrix": forward_matrix(layer, layer_names),
        "delta_steps": [step_context(ip, s) for s in index.output_delta_steps()]
        if standalone
        else [],
        "chain": chain(ip, general, rules),
        "entries": [layout.entries(layer, p, role) for role in layer.grads],
        "identities": identities(layer, p),
        "figures": figures(layer, p, values, options.illustrative_seed),
        "numbers": (
            worked_example(d, options) if options.values is not None and standalone else None
        ),
    }


def step_context(ip: IndexedLatexPrinter, step: Step) -> dict[str, Any]:
    """One derivation step for the templates: its kind and both sides printed."""
    return {
        "kind": step.kind.value,
        "lhs": Tex(ip.doprint(step.lhs)),
        "rhs": Tex(ip.doprint(step.rhs)),
    }


def setup(layer: DerivedLayer, base: int) -> dict[str, Any]:
    """The layer's sizes and options (its kind's `facts`), with the shapes as LaTeX."""
    info = dict(layer.layer.facts())
    info["base"] = base
    info["input_shape"] = shape_tex(layer.input_shape)
    info["output_shape"] = shape_tex(layer.output_shape)
    info["shape"] = shape_tex(layer.input_shape)
    for role in (Role.WEIGHT, Role.BIAS):
        info[f"{role.value}_shape"] = (
            shape_tex(layer.grid(role).shape) if role in layer.forward.grids else Tex("")
        )
    if "product" in info:
        info["product"] = Tex(r" \cdot ".join(str(n) for n in info["product"]))
    for ax, axis in enumerate(info.get("axes", [])):
        axis.update(
            sym=Tex(("H", "W")[ax]),
            ksym=Tex(("k_1", "k_2")[ax]),
            osym=Tex((r"H_{\mathrm{out}}", r"W_{\mathrm{out}}")[ax]),
        )
    return info


def named(groups: Any) -> list[dict[str, Any]]:
    """The slices worth a ``name = entries`` display (not ``b = b`` for a single bias)."""
    return [m for group in groups for m in group if m["body"] != m["label"]]


def names(layer: DerivedLayer, p: SymcnnLatexPrinter) -> dict[str, Any]:
    """The symbol grids of the layer as bmatrix slices (``a``, ``w``, ``b``, ``z``, ``δ``)."""
    out: dict[str, Any] = {}
    for role, grid in layer.forward.grids.items():
        cells = np.vectorize(p.symbol, otypes=[object])(grid.symbols)
        out[role.value] = slices(cells, grid.latex, grid.index_base)
    return out


def forward(
    layer: DerivedLayer, p: SymcnnLatexPrinter, ip: IndexedLatexPrinter, general: General
) -> dict[str, Any]:
    """The general index formula and every output entry written out."""
    z = layer.grid(Role.OUTPUT).symbols
    indices = list(np.ndindex(*layer.output_shape))

    def row(k: int) -> dict[str, Any]:
        idx = indices[k]
        return layout.equation_row(
            Tex(p.symbol(z[idx])), [p.product([s]) for s in layer.forward.terms[idx]], p
        )

    used = general.rhs.free_symbols | {
        b for s in general.outer for b in general.ranges[s][1].free_symbols
    }
    sizes = [
        {"sym": Tex(ip.doprint(sym)), "value": value}
        for sym, value in general.sizes.items()
        if sym in used or sym in (ix.H, ix.WD)
    ]
    return {
        "general": Tex(f"{ip.doprint(general.z)} = {ip.doprint(general.rhs)}"),
        "sizes": sizes,
        "entries": layout.elided_rows(len(indices), row),
    }


def forward_matrix(layer: DerivedLayer, layer_names: dict[str, Any]) -> Tex | None:
    """``a ⋆ w + b = z`` with the matrices written out (seed 003).

    Only for a one-channel conv with stride 1, no padding and no dilation (the kind's fact
    ``plain``): otherwise the plain correlation ``a ⋆ w`` is not the layer's output.
    """
    if not layer.layer.facts().get("plain"):
        return None
    body = f"{layer_names['input'][0]['body']} \\star {layer_names['weight'][0]['body']}"
    if "bias" in layer_names:
        body += f" + {layer_names['bias'][0]['body']}"
    return Tex(f"{body} = {layer_names['output'][0]['body']}")


def chain(
    ip: IndexedLatexPrinter, general: General, rules: list[index.ChainRule]
) -> list[dict[str, Any]]:
    """The size-independent derivations (SymPy's steps) in the order of `CHAIN_ORDER`."""
    by_role = {r.role: r for r in rules}
    out = []
    for role in CHAIN_ORDER:
        rule = by_role.get(role)
        if rule is None:
            continue
        out.append(
            {
                "role": role.value,
                "wrt": Tex(ip.doprint(general.wrt[role])),
                "steps": {s.kind.value: step_context(ip, s) for s in rule.steps},
                "zero_outside": [Tex(ip.doprint(t)) for t in rule.zero_outside],
                "fractional": any(
                    i.is_integer is not True for t in rule.zero_outside for i in t.indices
                ),
            }
        )
    return out


def identities(layer: DerivedLayer, p: SymcnnLatexPrinter) -> list[dict[str, Any]]:
    """Each proven matrix identity with its status and its operands, as they were proven."""
    return [
        {
            "name": escape_tex(r.name),
            "statement": Tex(r.latex),
            "proven": r.proven,
            "entries": r.entries,
            "mismatches": r.mismatches,
            "operands": layout.operands(layer, r, p),
            "first_slice": layer.output_shape[0] > 1 or layer.input_shape[0] > 1,
            # with padding, the input gradient's full convolution is cropped
            "crop": r.form is not None
            and r.form.shown is not None
            and r.form.shown.crop is not None,
        }
        for r in layer.proofs
    ]

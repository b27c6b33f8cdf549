"""One layer's part of a sheet: its formulas, printed once, for the layer kind's template."""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy

from ..core import indexed as ix
from ..core.indexed import General, Step
from ..core.symbols import Role, with_channels
from ..derivation import index
from ..derivation.backprop import ChainSum
from ..derivation.derived import Derivation, DerivedLayer
from ..kinds.base import SINGLE, Layer, TexNames
from ..render.matrices import shape_tex, slices
from ..render.printers import SymcnnLatexPrinter, term_string
from ..render.tex import Tex
from . import layout
from .figures import figures
from .identities import identity
from .layout import representative
from .merges import merge_context, part_name, read_context, read_rows
from .options import SheetOptions
from .printers import IndexedLatexPrinter, fmt_number
from .staged import quantity_bases, staged_context

#: The IndexedBase labels of the index formulas, by the tensor they stand for.
INDEXED_BASES = {
    Role.INPUT: "a",
    Role.WEIGHT: "w",
    Role.BIAS: "b",
    Role.OUTPUT: "z",
    Role.DELTA: "delta",
}

#: Gradients are shown in this order (seed 001 starts with the weights).
GRADIENT_ORDER = (Role.WEIGHT, Role.BIAS, Role.INPUT)


def layer_part(
    d: Derivation,
    layer: DerivedLayer,
    options: SheetOptions,
    values: dict[str, np.ndarray] | None = None,
    first: bool = True,
) -> dict[str, Any]:
    r"""Everything a kind's template needs about one layer, every formula already printed.

    ``first`` is False for a layer whose kind appeared earlier on the sheet: its template
    then refers to the derivation shown there instead of repeating it. ``values`` (the
    layer's input and δ) are the numbers of the max-pool routing figure.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("seed003"))
        >>> part = layer_part(d, d.layers[0], SheetOptions())
        >>> print(part["sym"]["input"], part["sym"]["delta"], part["in_grad"])
        x \delta^{(0)} \frac{\partial E}{\partial x}
    """
    p = SymcnnLatexPrinter(d.table)
    base, batch = d.network.index_base, d.network.batch
    grids = layer.forward.grids
    sym = {role.value: Tex(grids[role].latex) for role in INDEXED_BASES if role in grids}
    reads = read_context(d, layer)
    bases: dict[str, str] = {INDEXED_BASES[Role(r)]: str(name) for r, name in sym.items()}
    bases |= {str(ix.read_base(k + 1)): str(r["name"]) for k, r in enumerate(reads)}
    staged = None
    if layer.stages:
        formulas, stage_rules = index.staged_rules(layer.layer, base, batch)
        general = formulas["output"]
        rules = [index.chain_rule(general, role) for role in general.wrt]
        bases |= quantity_bases(layer, formulas)
    elif has_index_formula(layer):
        general, rules = index.derive_general(layer.layer, base, batch)
    else:
        general, rules = None, []
    ip = IndexedLatexPrinter(d.table, bases)
    names = tex_names(layer)
    if layer.stages:
        staged = staged_context(layer, p, ip, formulas, stage_rules, names, options.detail)
    by_role = {r.role: r for r in rules}
    gradients = []
    for role in GRADIENT_ORDER:
        if role not in layer.grads:
            continue
        gradients.append(
            gradient(d, layer, p, ip, general, by_role.get(role), role, names, options, reads[0])
        )
    index_ = layer.index
    batched = grids[Role.INPUT].batch
    return {
        "index": index_,
        "id": 0 if index_ is None else index_ + 1,
        "node_id": layer.node.id if layer.node is not None else None,
        "kind": layer.kind,
        "letter": layer.layer.letter,
        "title": layer.layer.title,
        "template": layer.layer.template,
        "first": first,
        "lone": index_ is None,
        "sym": sym,
        "chan": {
            "input": Tex(with_channels(sym["input"], "c")),
            "weight": Tex(with_channels(sym.get("weight", "w"), "o,c")),
        },
        "reads": reads,
        "pieces": pieces(layer, reads, base),
        "read_rows": [read_rows(d, layer, k, p, options.detail) for k in range(len(reads))],
        "in_grad": reads[0]["grad"],
        "in_error": reads[0]["source"] is not None,
        "spec": setup(layer, base),
        "shapes": {
            "input": shape_tex(layer.layer.input_shape),
            "output": shape_tex(layer.layer.output_shape),
        },
        "params": [
            {"name": name, "symbol": Tex(layer.grid(role).latex), "shape": shape_tex(shape)}
            for role, name in layer.params.items()
            for shape in [layer.grid(role).shape]
        ],
        "forward": forward(layer, p, ip, general, options.detail) if general else None,
        "gradients": gradients,
        "grad": {g["role"]: g for g in gradients},
        "staged": staged,
        "figures": {}
        if batched
        else figures(layer, p, values, options.illustrative_seed, options.lang),
        "delta_from": layer.delta_from,
        "merge": merge_context(d, layer.index, p, options.detail) if index_ is not None else None,
    }


def pieces(layer: DerivedLayer, reads: list[dict[str, Any]], base: int) -> list[dict[str, Any]]:
    r"""A concatenation's inputs as the output's channels (entries, for vectors) they fill:
    ``u^{(2+c)} = y^{(3)(c)}`` for ``c`` from the index base, with their count (from the
    kind's ``facts()["parts"]``; none for other kinds)."""
    found = layer.layer.facts().get("parts")
    if not found:
        return []
    flat = len(layer.layer.output_shape) == 1
    out = layer.grid(Role.OUTPUT).latex
    shown = []
    for part, read in zip(found, reads):
        index = f"{part['start']} + c" if part["start"] else "c"
        if flat:
            lhs, rhs = f"{out}_{{{index}}}", f"{read['name']}_{{c}}"
        else:
            lhs, rhs = with_channels(out, index), with_channels(read["name"], "c")
        last = part["count"] - 1 + base
        shown.append({"lhs": Tex(lhs), "rhs": Tex(rhs), "first": base, "last": last})
    return shown


def has_index_formula(layer: DerivedLayer) -> bool:
    """True when the layer's kind writes its forward rule as an index formula."""
    return type(layer.layer).index_formula is not Layer.index_formula


def tex_names(layer: DerivedLayer) -> TexNames:
    r"""The layer's own names for its identities: ``a`` → ``z^{(0)}``, ``δ`` → ``\delta^{(1)}`` ….

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> tex_names(derive(preset("seed003")).layers[0]).a
        'x'
    """
    grids = layer.forward.grids

    def name(role: Role, default: str) -> str:
        return grids[role].latex if role in grids else default

    return TexNames(
        a=name(Role.INPUT, "a"),
        w=name(Role.WEIGHT, "w"),
        b=name(Role.BIAS, "b"),
        z=name(Role.OUTPUT, "z"),
        d=name(Role.DELTA, r"\delta"),
        q=tuple(stage.grid.latex for stage in layer.stages),
        dq=tuple(stage.delta.latex for stage in layer.stages),
    )


def step_context(ip: IndexedLatexPrinter, step: Step) -> dict[str, Any]:
    """One derivation step for the templates: its kind and both sides printed."""
    return {
        "kind": step.kind.value,
        "lhs": Tex(ip.doprint(step.lhs)),
        "rhs": Tex(ip.doprint(step.rhs)),
    }


def setup(layer: DerivedLayer, base: int) -> dict[str, Any]:
    """The layer's sizes and options (its kind's `facts`), with the shapes (of one sample) as
    LaTeX."""
    info = dict(layer.layer.facts())
    info["base"] = base
    info["input_shape"] = shape_tex(layer.layer.input_shape)
    info["output_shape"] = shape_tex(layer.layer.output_shape)
    for role in (Role.WEIGHT, Role.BIAS):
        info[f"{role.value}_shape"] = (
            shape_tex(layer.grid(role).shape) if role in layer.forward.grids else Tex("")
        )
    for key, value in info.items():  # a float option (batch norm's ε) as LaTeX
        if isinstance(value, float):
            info[key] = Tex(fmt_number(value))
    if "product" in info:
        info["product"] = Tex(r" \cdot ".join(str(n) for n in info["product"]))
    for key in ("function", "derivative"):  # LaTeX formulas of the kind
        if key in info:
            info[key] = Tex(info[key])
    for ax, axis in enumerate(info.get("axes", [])):
        axis.update(
            sym=Tex(("H", "W")[ax]),
            ksym=Tex(("k_1", "k_2")[ax]),
            osym=Tex((r"H_{\mathrm{out}}", r"W_{\mathrm{out}}")[ax]),
        )
    return info


def forward(
    layer: DerivedLayer,
    p: SymcnnLatexPrinter,
    ip: IndexedLatexPrinter,
    general: General,
    detail: str,
) -> dict[str, Any]:
    """The general index formula, its sizes, and one output entry (every entry in full detail)."""
    z = layer.grid(Role.OUTPUT).symbols
    indices = list(np.ndindex(*layer.output_shape))
    counts = [len(layer.forward.terms[idx]) for idx in indices]

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
    full = detail == "full"
    return {
        "general": Tex(f"{ip.doprint(general.z)} = {ip.doprint(general.rhs)}"),
        "lhs": Tex(ip.doprint(general.z)),
        "rhs": Tex(ip.doprint(general.rhs)),
        "sizes": sizes,
        "sizes_tex": Tex(", ".join(f"${s['sym']} = {s['value']}$" for s in sizes)),
        "rows": layout.elided_rows(len(indices), row) if full else [row(int(np.argmax(counts)))],
        "all": full or len(indices) == 1,
        "count": len(indices),
    }


def gradient(
    d: Derivation,
    layer: DerivedLayer,
    p: SymcnnLatexPrinter,
    ip: IndexedLatexPrinter,
    general: General | None,
    rule: index.ChainRule | None,
    role: Role,
    names: TexNames,
    options: SheetOptions,
    read: dict[str, Any],
) -> dict[str, Any]:
    """The gradient of one tensor of a layer: SymPy's general derivation, one entry (or all),
    the matrix form, the proven identity written out with its operands, and the NumPy code.

    ``read`` says where the input's gradient goes (see `read_context`): it is named as the
    error of the layer before when this layer alone reads that layer's output, and as this
    layer's part of the gradient when other layers read the tensor too."""
    sums = layer.grads[role]
    grid = layer.grid(role)
    named, via = None, None
    if role is Role.INPUT:
        named, via = read["named"], read["via"]
    z = layer.grid(Role.OUTPUT).symbols
    flat = sums.ravel()

    def row(k: int) -> dict[str, Any]:
        cs: ChainSum = flat[k]
        lhs = part_name(p, cs.wrt, via)
        if named is not None:
            lhs = f"{p.symbol(named.ravel()[k])} = {lhs}"
        out = layout.equation_row(Tex(lhs), [term_string(p, t) for t in cs.terms], p)
        if 1 < len(cs.terms) <= 6 and not layer.stages:  # (a quantity's term has no z)
            out["chain"] = Tex(
                p.total([layout.chain_term(p, t.delta, z[t.source], cs.wrt) for t in cs.terms])
            )
        return out

    full = options.detail == "full"
    rep = representative(sums)
    proofs = [pr for pr in layer.proofs if pr.role is role]
    zeros = sum(1 for cs in flat if not cs.terms)
    identities = [identity(layer, pr, p, names, d.network.index_base) for pr in proofs]
    for found in identities:  # another layer reads the input too: this layer's part of it
        found["lhs"] = layout.via_label(found["lhs"], via)
    # an identity written out for one channel ends in the whole gradient: no second matrix
    shown_whole = any(
        i["written"]
        and i["written"]["chains"]
        and len(i["written"]["rows"]) > 1
        and not (pr.form and pr.form.shown and pr.form.shown.after)
        for i, pr in zip(identities, proofs)
    )
    return {
        "role": role.value,
        "symbol": Tex(grid.latex),
        "count": sums.size,
        "rule": rule_context(ip, general, rule, via) if rule and general else None,
        "rows": layout.elided_rows(len(flat), row) if full else [row(rep)],
        "all": full or sums.size == 1,
        "zeros": zeros,
        "matrices": [] if shown_whole else layout.gradient_matrices(layer, p, role, named, via),
        "identities": identities,
        "key": key_rows(d, rule, proofs),
        "numpy": numpy_context(layer, role),
    }


def numpy_context(layer: DerivedLayer, role: Role) -> dict[str, Any] | None:
    """The kind's NumPy code for one gradient, as verbatim text (None when it gives none)."""
    code = layer.layer.numpy_code(role)
    return None if code is None else {"text": Tex(code.text), "planar": code.planar}


def key_rows(
    d: Derivation, rule: index.ChainRule | None, proofs: list[Any]
) -> list[tuple[Tex, Tex]]:
    """The gradient's key formulas in a single layer's names (``a``, ``w``, ``b``, ``z``, ``δ``):
    its proven identities, or SymPy's general result when it has none."""
    found = [pr.form.tex(SINGLE) for pr in proofs if pr.form is not None]
    if found:
        return [(Tex(lhs), Tex(rhs)) for lhs, rhs in found]
    if rule is None:
        return []
    plain = IndexedLatexPrinter(d.table)
    result = next(s for s in rule.steps if s.kind.value == "result")
    return [(Tex(plain.doprint(result.lhs)), Tex(plain.doprint(result.rhs)))]


def rule_context(
    ip: IndexedLatexPrinter, general: General, rule: index.ChainRule, via: int | None = None
) -> dict[str, Any]:
    """SymPy's size-independent derivation of one gradient, step by step (seed 001); with
    ``via``, its left-hand sides are the part of the gradient that comes back through that
    layer (another layer reads the tensor too)."""
    result = next(s for s in rule.steps if s.kind.value == "result")
    kernel = [e for e in result.rhs.atoms(sympy.Indexed) if str(e.base) == "w"]
    steps = {s.kind.value: step_context(ip, s) for s in rule.steps}
    for kind in ("chain", "delta", "result"):
        if kind in steps:
            steps[kind]["lhs"] = layout.via_label(steps[kind]["lhs"], via)
    return {
        "role": rule.role.value,
        "kernel_index": Tex(ip._index(kernel[0].indices[-2])) if kernel else None,
        "wrt": Tex(ip.doprint(general.wrt[rule.role])),
        "steps": steps,
        "zero_outside": [Tex(ip.doprint(t)) for t in rule.zero_outside],
        "fractional": any(i.is_integer is not True for t in rule.zero_outside for i in t.indices),
    }


def names_matrices(layer: DerivedLayer, p: SymcnnLatexPrinter) -> list[Tex]:
    """The symbol grids of a lone layer as ``name = matrix`` displays, packed into lines."""
    shown = []
    for _role, grid in layer.forward.grids.items():
        cells = np.vectorize(p.symbol, otypes=[object])(grid.symbols)
        found = slices(cells, grid.latex, grid.index_base, batch=grid.batch)
        shown += [m for m in found if m["body"] != m["label"]]
    return layout.pack(shown)

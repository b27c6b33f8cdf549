"""The data of a derivation sheet: every formula already printed, for the templates to lay out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import singledispatch
from typing import Any

import numpy as np

from . import indexed, layout
from .derive import Derivation
from .figures import figures
from .netspec import Activation, Dense, Flatten
from .printing import SymcnnLatexPrinter, describe
from .render import Tex, escape_tex, render
from .sheetprint import IndexedLatexPrinter, track_matrix_columns
from .spec import AvgPool2D, Bias, Conv2D, MaxPool2D
from .symbols import Role
from .worked import worked_example

#: Template of each layer kind (it extends layer_base.tex.j2 with the kind's prose).
LAYER_TEMPLATES = {
    Conv2D: "layer_conv2d.tex.j2",
    MaxPool2D: "layer_maxpool2d.tex.j2",
    AvgPool2D: "layer_avgpool2d.tex.j2",
    Dense: "layer_dense.tex.j2",
    Activation: "layer_activation.tex.j2",
    Flatten: "layer_flatten.tex.j2",
}
#: The IndexedBase labels of symcnn.indexed's formulas, by the tensor they stand for.
INDEXED_BASES = {
    Role.INPUT: "a",
    Role.WEIGHT: "w",
    Role.BIAS: "b",
    Role.OUTPUT: "z",
    Role.DELTA: "delta",
}
SPATIAL = (Conv2D, MaxPool2D, AvgPool2D)

#: Chain-rule derivations are shown in this order (seed 001 starts with the weights).
CHAIN_ORDER = (Role.WEIGHT, Role.INPUT, Role.BIAS)


@dataclass
class SheetOptions:
    """What to put on a sheet besides the derivation: title, numbers, learning rate."""

    title: str | None = None
    values: dict[str, np.ndarray] | None = None
    values_source: str = ""
    illustrative_seed: int = 0
    lr: float = 0.1


def sheet_tex(d: Derivation, options: SheetOptions | None = None) -> str:
    r"""The complete LaTeX document of a one-layer derivation sheet.

    Example:
        >>> from symcnn import Conv2D
        >>> tex = sheet_tex(Conv2D(input=(3, 3), kernel=(2, 2), bias="untied").derive())
        >>> r"\documentclass" in tex and tex.rstrip().endswith(r"\end{document}")
        True
    """
    options = options or SheetOptions()
    with track_matrix_columns() as columns:
        layer = layer_context(d, options)
    context = {
        "title": options.title if options.title is not None else default_title(d),
        "subtitle": escape_tex(describe(d.spec)),
        "layers": [layer],
        "max_matrix_cols": max(columns, default=0),
    }
    return render("sheet.tex.j2", **context)


def default_title(d: Derivation) -> str:
    """``Backpropagation through a convolution layer`` (or max-pooling, average-pooling)."""
    kind = {Conv2D: "convolution", MaxPool2D: "max-pooling"}.get(type(d.spec), "average-pooling")
    return f"Backpropagation through a {kind} layer"


def layer_context(
    d: Derivation, options: SheetOptions, layer_id: int = 1, standalone: bool = True
) -> dict[str, Any]:
    """Everything the templates need about one layer: printed formulas, numbers, figures.

    A sheet is ``sheet.tex.j2`` around a list of these, each rendered by its own
    ``template``; ``layer_id`` keeps figure labels apart when there are several, and
    ``standalone`` (one layer alone) adds the section on where δ comes from, which a
    network sheet replaces by its own loss section.
    """
    p = SymcnnLatexPrinter(d.table)
    general, rules = indexed.derive_general(d.spec)
    grids = d.forward.grids
    sym = {role.value: Tex(grids[role].latex) for role in INDEXED_BASES if role in grids}
    ip = IndexedLatexPrinter(d.table, {INDEXED_BASES[Role(r)]: name for r, name in sym.items()})
    layer_names = names(d, p)
    return {
        "id": layer_id,
        "standalone": standalone,
        "template": LAYER_TEMPLATES[type(d.spec)],
        "sym": sym,
        "chan": {
            "input": Tex(layout.with_sup(sym["input"], "(c)")),
            "weight": Tex(layout.with_sup(sym.get("weight", "w"), "(o,c)")),
        },
        "spec": setup(d.spec, d),
        "names": layer_names,
        "name_lines": layout.pack(named(layer_names.values())),
        "forward": forward(d, p, ip, general),
        "forward_matrix": forward_matrix(d, layer_names),
        "delta_steps": [step_context(ip, s) for s in indexed.output_delta_steps()]
        if standalone
        else [],
        "chain": chain(d, ip, general, rules),
        "entries": [layout.entries(d, p, role) for role in d.grads],
        "identities": identities(d, p),
        "figures": figures(d, p, options) if isinstance(d.spec, SPATIAL) else {},
        "numbers": (
            worked_example(d, options) if options.values is not None and standalone else None
        ),
    }


def step_context(ip: IndexedLatexPrinter, step: indexed.Step) -> dict[str, Any]:
    """One derivation step for the templates: its kind and both sides printed."""
    return {
        "kind": step.kind.value,
        "lhs": Tex(ip.doprint(step.lhs)),
        "rhs": Tex(ip.doprint(step.rhs)),
    }


@singledispatch
def setup(spec: Any, d: Derivation) -> dict[str, Any]:
    """Sizes and options of the layer as numbers (the template writes the arithmetic).

    Every kind gives at least ``base`` (the index base) and ``channels``; the network-only
    kinds are registered by `symcnn.netsheet`.
    """
    raise TypeError(f"no sheet set-up for {type(spec).__name__}")


@setup.register(Conv2D)
@setup.register(MaxPool2D)
@setup.register(AvgPool2D)
def _spatial_setup(spec: Conv2D | MaxPool2D | AvgPool2D, d: Derivation) -> dict[str, Any]:
    window = spec.kernel if isinstance(spec, Conv2D) else spec.window
    pad = spec.padding if isinstance(spec, Conv2D) else (0, 0)
    dil = spec.dilation if isinstance(spec, Conv2D) else (1, 1)
    assert spec.stride is not None
    axes = [
        {
            "size": spec.input[ax],
            "k": window[ax],
            "stride": spec.stride[ax],
            "pad": pad[ax],
            "dil": dil[ax],
            "out": spec.output_size[ax],
            "sym": Tex(("H", "W")[ax]),
            "ksym": Tex(("k_1", "k_2")[ax]),
            "osym": Tex((r"H_{\mathrm{out}}", r"W_{\mathrm{out}}")[ax]),
        }
        for ax in (0, 1)
    ]
    grids = d.forward.grids
    info: dict[str, Any] = {
        "axes": axes,
        "base": spec.index_base,
        "input_shape": layout.shape_tex(grids[Role.INPUT].shape),
        "output_shape": layout.shape_tex(d.output_shape),
        "padded": any(pad),
        "strided": tuple(spec.stride) != (1, 1),
        "dilated": any(x != 1 for x in dil),
        "channels": spec.input_shape[0],
    }
    if isinstance(spec, Conv2D):
        info.update(
            weight_shape=layout.shape_tex(spec.weight_shape),
            bias=spec.bias.value,
            bias_shape=layout.shape_tex(spec.bias_shape) if spec.bias_shape else Tex(""),
            out_channels=spec.out_channels,
        )
    return info


def named(slices: Any) -> list[dict[str, Any]]:
    """The slices worth a ``name = entries`` display (not ``b = b`` for a single bias)."""
    return [m for group in slices for m in group if m["body"] != m["label"]]


def names(d: Derivation, p: SymcnnLatexPrinter) -> dict[str, Any]:
    """The symbol grids of the layer as bmatrix slices (``a``, ``w``, ``b``, ``z``, ``δ``)."""
    out: dict[str, Any] = {}
    for role, grid in d.forward.grids.items():
        symbols = grid.symbols
        cells = np.vectorize(p.symbol, otypes=[object])(symbols)
        out[role.value] = layout.slices(cells, grid.latex, d.spec.index_base)
    return out


def forward(
    d: Derivation, p: SymcnnLatexPrinter, ip: IndexedLatexPrinter, general: indexed.General
) -> dict[str, Any]:
    """The general index formula and every output entry written out."""
    z = d.forward.grids[Role.OUTPUT].symbols
    indices = list(np.ndindex(*d.output_shape))

    def row(k: int) -> dict[str, Any]:
        idx = indices[k]
        return layout.equation_row(
            Tex(p.symbol(z[idx])), [p.product([s]) for s in d.forward.terms[idx]], p
        )

    used = general.rhs.free_symbols | {
        b for s in general.outer for b in general.ranges[s][1].free_symbols
    }
    sizes = [
        {"sym": Tex(ip.doprint(sym)), "value": value}
        for sym, value in general.sizes.items()
        if sym in used or sym in (indexed.H, indexed.WD)
    ]
    return {
        "general": Tex(f"{ip.doprint(general.z)} = {ip.doprint(general.rhs)}"),
        "sizes": sizes,
        "entries": layout.elided_rows(len(indices), row),
    }


def forward_matrix(d: Derivation, layer_names: dict[str, Any]) -> Tex | None:
    """``a ⋆ w + b = z`` with the matrices written out (seed 003).

    Only for a one-channel conv with stride 1, no padding and no dilation: otherwise the
    plain correlation ``a ⋆ w`` is not the layer's output.
    """
    spec = d.spec
    if (
        not isinstance(spec, Conv2D)
        or spec.in_channels > 1
        or spec.out_channels > 1
        or (spec.stride, spec.padding, spec.dilation) != ((1, 1), (0, 0), (1, 1))
    ):
        return None
    body = f"{layer_names['input'][0]['body']} \\star {layer_names['weight'][0]['body']}"
    if spec.bias is not Bias.NONE:
        body += f" + {layer_names['bias'][0]['body']}"
    return Tex(f"{body} = {layer_names['output'][0]['body']}")


def chain(
    d: Derivation,
    ip: IndexedLatexPrinter,
    general: indexed.General,
    rules: list[indexed.ChainRule],
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
                    idx.is_integer is not True for t in rule.zero_outside for idx in t.indices
                ),
            }
        )
    return out


def identities(d: Derivation, p: SymcnnLatexPrinter) -> list[dict[str, Any]]:
    """Each proven matrix identity with its status and, when small, its operands written out."""
    operands = layout.identity_operands(d.spec, d, p)
    return [
        {
            "name": escape_tex(r.name),
            "statement": Tex(r.latex),
            "proven": r.proven,
            "entries": r.entries,
            "mismatches": r.mismatches,
            "operands": operands[i] if i < len(operands) else None,
            "first_slice": d.output_shape[0] > 1 or d.forward.grids[Role.INPUT].shape[0] > 1,
            # with padding, the input gradient's full convolution is cropped
            "crop": r.role is Role.INPUT and isinstance(d.spec, Conv2D) and any(d.spec.padding),
        }
        for i, r in enumerate(d.identities)
    ]


def sheet_name(d: Derivation) -> str:
    """A file name stem describing the layer: ``conv2d-3x3-k2x2-untied``, ``maxpool2d-4x4-w2x2-s1``.

    Example:
        >>> from symcnn import Conv2D
        >>> sheet_name(Conv2D(input=(5, 5), kernel=(3, 3), stride=2, padding=1).derive())
        'conv2d-5x5-k3x3-s2-p1-shared'
    """
    spec = d.spec
    size = lambda pair: f"{pair[0]}x{pair[1]}" if pair[0] != pair[1] else str(pair[0])  # noqa: E731
    parts = [type(spec).__name__.lower(), "x".join(map(str, spec.input))]
    if isinstance(spec, Conv2D):
        parts.append("k" + "x".join(map(str, spec.kernel)))
        if spec.stride != (1, 1):
            parts.append("s" + size(spec.stride))
        if spec.padding != (0, 0):
            parts.append("p" + size(spec.padding))
        if spec.dilation != (1, 1):
            parts.append("d" + size(spec.dilation))
        if spec.in_channels > 1 or spec.out_channels > 1:
            parts.append(f"c{spec.in_channels}o{spec.out_channels}")
        parts.append(spec.bias.value)
    else:
        assert spec.stride is not None
        parts.append("w" + "x".join(map(str, spec.window)))
        if spec.stride != spec.window:
            parts.append("s" + size(spec.stride))
        if spec.channels > 1:
            parts.append(f"c{spec.channels}")
    if spec.index_base == 0:
        parts.append("base0")
    return "-".join(parts)

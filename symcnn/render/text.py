"""The text output of `symcnn grad` and `symcnn run`: a derivation or a run, one line per entry."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core.progress import report
from ..core.shapes import shape_text
from ..core.symbols import Role
from ..derivation.derived import DerivedLayer
from ..document.model import DeltaBlock, Document, ForwardBlock, GradientBlock, QuantityBlock
from ..kinds.registry import letters, nabla_kinds
from .bulk import chain_strings, forward_strings
from .printers import TextPrinter, ascii_text, forward_string

if TYPE_CHECKING:
    from ..derivation.derived import Derivation
    from ..numeric.engine import Run

NAMES_NOTE = (
    f"x is the input and t the target; the output of layer l is {letters()}; the error at "
    "an output is δˡ = ∂E/∂zˡ (or ∂E/∂pˡ), and ∇aˡ = ∂E/∂aˡ, ∇vˡ = ∂E/∂vˡ at the output of "
    f"{nabla_kinds()}; the parameters of layer l are wˡ (l.weight) and bˡ (l.bias)"
)
#: Added to the names note when the network has a mini-batch.
BATCH_NOTE = (
    "with a mini-batch, _n<k> in a name is sample k (x_n2_11: entry 11 of sample 2); the "
    "parameters are shared by the samples, so their gradients sum over them"
)


def _status(proven: bool, mismatches: int) -> str:
    return "proven" if proven else f"NOT PROVEN ({mismatches} entries differ)"


def layer_summary(layer: DerivedLayer) -> str:
    """``layer 0 <type> (kernel 2x2, …): 1x3x3 → 1x2x2`` or ``loss mse: 1x2x2 → E``.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> layer_summary(derive(preset("seed003")).loss)
        'loss mse: 1x2x2 → E'
    """
    hidden = ("input", "shape", "input_shape", "in_channels", "channels", "in_features")
    cfg = {
        k: ("x".join(map(str, v)) if isinstance(v, list) else v)
        for k, v in layer.layer.config().items()
        if k not in hidden and k not in ("loss", "function")
    }
    if layer.node is not None and not layer.node.chained:
        cfg = {"reads": ", ".join(g.text for g in layer.forward.reads), **cfg}
    opts = ", ".join(f"{k} {v}" for k, v in cfg.items())
    head = f"loss {layer.kind}" if layer.index is None else f"layer {layer.index} {layer.kind}"
    out = "E" if layer.index is None else shape_text(layer.output_shape)
    return f"{head}{f' ({opts})' if opts else ''}: {shape_text(layer.input_shape)} → {out}"


def delta_origin(d: Derivation, source: int | None, sources: tuple[int | None, ...] = ()) -> str:
    """Where the error symbols of a formula come from: ``∇a¹ of layer 1`` or ``the loss``; for
    an output several layers read, all of them (their errors add up).

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> d = derive(preset("seed003"))
        >>> delta_origin(d, 1), delta_origin(d, None)
        ('∇a¹ of layer 1', 'the loss')
        >>> delta_origin(d, 0, (0, 1))
        'δ⁰ of layer 0 and ∇a¹ of layer 1 (paths merge: their errors add up)'
    """
    if len(sources) > 1:
        parts = [delta_origin(d, s) for s in sources]
        return ", ".join(parts[:-1]) + f" and {parts[-1]} (paths merge: their errors add up)"
    if source is None:
        return "the loss"
    return f"{d.layers[source].grid(Role.DELTA).text} of layer {source}"


def _forward_lines(block: ForwardBlock, p: TextPrinter, indent: str) -> list[str]:
    layer = block.layer
    lines = []
    for stage in layer.stages:
        lines += [
            f"{indent}{p.symbol(stage.grid.symbols[idx])} = {forward_string(p, stage.terms[idx])}"
            for idx in np.ndindex(*stage.grid.shape)
        ]
    out = layer.grid(Role.OUTPUT).symbols.reshape(-1)
    rhs = forward_strings(p, layer.forward).reshape(-1)
    return lines + [f"{indent}{p.symbol(z)} = {text}" for z, text in zip(out, rhs)]


def _quantity_lines(block: QuantityBlock, p: TextPrinter) -> list[str]:
    stage = block.layer.stages[block.stage]
    meaning = f" ({stage.meaning})" if stage.meaning else ""
    head = f"  {stage.delta.text} = ∂E/∂{stage.grid.text}{meaning}, in the errors of what it feeds:"
    return [head, *_gradient_lines(block.sums, p, stage.delta.symbols)]


def _gradient_lines(sums: np.ndarray, p: TextPrinter, names: np.ndarray | None = None) -> list[str]:
    lines = []
    rhs = chain_strings(p, sums).reshape(-1)
    for k, cs in enumerate(sums.ravel()):
        lhs = p.gradient_name(cs.wrt)
        if names is not None:
            lhs = f"{p.symbol(names.ravel()[k])} = {lhs}"
        lines.append(f"    {lhs} = {rhs[k]}")
    return lines


def lone_text(doc: Document, unicode: bool = True) -> str:
    """A lone layer: its description, forward entries, each gradient, notes and proofs.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.document.build import document
        >>> text = lone_text(document(derive(Network.of(Linear(1, input=(2,))))))
        >>> print(text.splitlines()[text.splitlines().index("gradient of the bias:") + 1])
          ∂E/∂b_1 = δ_1
    """
    d = doc.derivation
    p = TextPrinter(d.table, unicode=unicode)
    arrow = "→" if unicode else "->"
    lines = [d.spec.describe().replace("->", arrow), "", "forward:"]
    for block in doc.forward:
        lines += _forward_lines(block, p, "  ")
    for done, grad in enumerate(doc.backward):
        report("printing", done, len(doc.backward))
        if isinstance(grad, QuantityBlock):
            lines += ["", *[line[2:] for line in _quantity_lines(grad, p)]]
            continue
        assert isinstance(grad, GradientBlock)
        lines += ["", f"gradient of the {grad.role.value}:"]
        lines += [line[2:] for line in _gradient_lines(grad.sums, p)]
    for note in doc.notes:
        lines += ["", note + "."]
    if doc.proofs:
        lines += ["", "identities:"]
        for line in doc.proofs:
            r = line.proof
            noun = "entry" if r.entries == 1 else "entries"
            lines.append(
                f"  [{_status(r.proven, r.mismatches)}] {r.statement}  ({r.entries} {noun})"
            )
    text = "\n".join(lines)
    return text if unicode else ascii_text(text)


def network_text(doc: Document, unicode: bool = True, substitute: str | None = None) -> str:
    """Every layer's forward terms, δ links and parameter gradients as plain text.

    ``substitute`` adds the fully substituted forms: ``"deltas"`` (δ symbols eliminated) or
    ``"all"`` (only x, the parameters and t remain).

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.document.build import document
        >>> text = network_text(document(derive(preset("seed003"))))
        >>> "    δ⁰_11 = ∂E/∂z⁰_11 = ∇a¹_11·σ(z⁰_11)·(1 - σ(z⁰_11))" in text.splitlines()
        True
    """
    d = doc.derivation
    assert d.network.loss is not None
    p = TextPrinter(d.table, unicode=unicode)
    lines = [f"network: {d.network.describe()}", f"loss: {d.network.loss_definition}"]
    note = NAMES_NOTE + ("; " + BATCH_NOTE if d.network.batch is not None else "")
    lines += [f"names: {note}", "", "forward:"]
    for fwd in doc.forward:
        lines.append(f"  {layer_summary(fwd.layer)}")
        lines += _forward_lines(fwd, p, "    ")
    lines += ["", "backward, from the loss to the input:"]
    for done, block in enumerate(doc.backward):
        report("printing", done, len(doc.backward))
        layer = block.layer
        error = layer.grid(Role.DELTA).text
        if isinstance(block, DeltaBlock):
            out = layer.grid(Role.OUTPUT).text
            origin = delta_origin(d, block.source, block.sources)
            lines.append(f"  {error} = ∂E/∂{out}, at the output of {layer.name}, from {origin}:")
            lines += _gradient_lines(block.sums, p, layer.grid(Role.DELTA).symbols)
        elif isinstance(block, QuantityBlock):
            lines += _quantity_lines(block, p)
        elif block.role is Role.INPUT:
            errors = " and ".join(d.layers[s].grid(Role.DELTA).text for s in block.sources or (0,))
            lines.append(f"  gradient of the input {layer.grid(Role.INPUT).text}, in {errors}:")
            lines += _gradient_lines(block.sums, p)
        else:
            lines.append(f"  gradient of {block.name} ({layer.grid(block.role).text}), in {error}:")
            lines += _gradient_lines(block.sums, p)
    if doc.proofs:
        lines += ["", "identities (closed matrix forms, proven exactly):"]
        for line in doc.proofs:
            r = line.proof
            lines.append(f"  {line.layer.name}: [{_status(r.proven, r.mismatches)}] {r.statement}")
    if substitute:
        title = (
            "fully substituted (in x, the parameters and t only):"
            if substitute == "all"
            else "fully substituted (every δ replaced by its formula):"
        )
        lines += ["", title]
        for key, arr in d.substituted(forward=substitute == "all").items():
            lines.append(f"  {key}:")
            lines += [f"    {p.doprint(e)}" for e in arr.ravel()]
    if doc.notes:
        lines += ["", "notes:"] + [f"  {n}" for n in doc.notes]
    text = "\n".join(lines)
    return text if unicode else ascii_text(text)


def _array(arr: np.ndarray, indent: str = "    ") -> list[str]:
    text = np.array2string(  # + 0.0 turns −0.0 into 0.0
        np.asarray(arr, dtype=float) + 0.0, precision=6, suppress_small=True, max_line_width=96
    )
    return [indent + line for line in text.splitlines()]


def run_text(d: Derivation, run: Run, unicode: bool = True) -> str:
    """A run layer by layer: outputs, max-pool winners, δ (naming its source), gradients.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> from symcnn.numeric.engine import Engine
        >>> from symcnn.numeric.values import random_values
        >>> net = preset("seed003")
        >>> d = derive(net)
        >>> run_text(d, Engine(d).run(random_values(net, 0))).splitlines()[1][:9]
        'loss E = '
    """
    p = TextPrinter(d.table, unicode=unicode)
    assert run.loss is not None and run.values.target is not None
    lines = [f"network: {d.network.describe()}", f"loss E = {run.loss:.10g}", ""]
    lines += [f"input x ({shape_text(run.values.input.shape)}):", *_array(run.values.input)]
    for lv, layer in zip(run.layers, d.layers):
        out = layer.grid(Role.OUTPUT)
        lines += ["", f"{layer.name}: output {out.text} ({shape_text(layer.output_shape)}):"]
        lines += _array(lv.output)
        if lv.winners is not None:
            cells = layer.grid(Role.INPUT).symbols
            lines.append("  winners (the first maximum of each window gets its δ):")
            lines += [
                f"    {p.symbol(out.symbols[idx])} ← {p.symbol(cells[lv.winners[idx]])}"
                for idx in np.ndindex(*layer.output_shape)
            ]
        for stage, value in zip(layer.stages, lv.stages):
            if not stage.grid.batch:  # the batch statistics (x̂ is as large as the input)
                lines += [f"  {stage.grid.text}:", *_array(value)]
        if lv.delta_from is not None or len(lv.delta_sources) > 1:
            origin = "from " + delta_origin(d, lv.delta_from, lv.delta_sources)
        elif run.delta_at is None:
            origin = "from the loss"
        elif lv.index == run.delta_at:
            origin = "given"
        else:
            origin = f"0: no layer up to layer {run.delta_at} reads this output"
        lines.append(f"  {layer.grid(Role.DELTA).text} = ∂E/∂{out.text}, {origin}:")
        lines += _array(lv.delta)
        for name in layer.params.values():
            lines += [f"  ∂E/∂{name}:", *_array(lv.grads[name])]
    lines += ["", "gradient of the input, ∂E/∂x:", *_array(run.grads["input"])]
    lines += ["", "output ŷ:", *_array(run.output), "target t:", *_array(run.values.target)]
    if run.sgd is not None:
        s = run.sgd
        lines += ["", f"SGD step p ← p − η·∂E/∂p with η = {s.lr:g}:"]
        for name, value in s.params.items():
            lines += [f"  {name}:", *_array(value)]
        lines.append(f"  loss {s.loss_before:.10g} → {s.loss_after:.10g}")
    text = "\n".join(lines)
    return text if unicode else ascii_text(text)

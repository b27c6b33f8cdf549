"""Network derivations as text and LaTeX: forward, then δ and gradients from the loss back."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .netderive import superscript
from .netspec import Activation, ActivationKind, shape_text
from .printing import (
    SymcnnLatexPrinter,
    TextPrinter,
    bmatrix,
    chain_sum_string,
    forward_string,
    slices_2d,
)
from .spec import MaxPool2D
from .symbols import Role

if TYPE_CHECKING:
    from .netderive import NetLayer, NetworkDerivation
    from .netnumeric import NetworkRun

NAMES_NOTE = (
    "x is the input and t the target; the output of layer l is zˡ (conv2d, dense), pˡ "
    "(pooling), aˡ (activation) or vˡ (flatten); δˡ = ∂E/∂(output of layer l); the parameters "
    "of layer l are wˡ (l.weight) and bˡ (l.bias)"
)


def layer_summary(layer: NetLayer) -> str:
    """``layer 0 conv2d (kernel 2x2, …): 1x3x3 → 1x2x2`` or ``loss mse: 1x2x2 → E``.

    Example:
        >>> from symcnn.presets import preset
        >>> layer_summary(preset("seed003").derive().layers[1])
        'layer 1 sigmoid: 1x2x2 → 1x2x2'
    """
    cfg = {
        k: ("x".join(map(str, v)) if isinstance(v, list) else v)
        for k, v in layer.spec.config().items()
        if k not in ("input", "shape", "input_shape", "in_channels", "channels", "in_features")
        and k not in ("index_base", "loss", "function")
    }
    opts = ", ".join(f"{k} {v}" for k, v in cfg.items())
    head = f"loss {layer.kind.value}" if layer.index is None else layer.name.replace("(", "")
    head = head.replace(")", "")
    out = "E" if layer.index is None else shape_text(layer.output_shape)
    return f"{head}{f' ({opts})' if opts else ''}: {shape_text(layer.input_shape)} → {out}"


def delta_origin(layer: NetLayer) -> str:
    """Where the δ symbols in a layer's δ formulas come from: ``δ¹ of layer 1`` or the loss.

    Example:
        >>> from symcnn.presets import preset
        >>> [delta_origin(layer) for layer in preset("seed003").derive().layers]
        ['δ¹ of layer 1', 'the loss']
    """
    if layer.delta_from is None:
        return "the loss"
    return f"δ{superscript(layer.delta_from)} of layer {layer.delta_from}"


def _uses_max(d: NetworkDerivation) -> bool:
    return any(isinstance(layer.spec, MaxPool2D) for layer in d.layers)


def _notes(d: NetworkDerivation) -> list[str]:
    kinds = {layer.spec.kind for layer in d.layers if isinstance(layer.spec, Activation)}
    notes = []
    if ActivationKind.SIGMOID in kinds:
        notes.append("σ(z) = 1/(1 + e^(−z)) and σ'(z) = σ(z)·(1 − σ(z))")
    if ActivationKind.TANH in kinds:
        notes.append("tanh'(z) = 1 − tanh(z)²")
    if ActivationKind.RELU in kinds:
        notes.append("relu(z) = max(0, z); relu'(z) = [z > 0], 0 at z = 0 (PyTorch's choice)")
    if _uses_max(d):
        notes.append(
            "[x = max(...)] is 1 when x is the first maximum of its window (row-major order, "
            "PyTorch's rule for ties), else 0"
        )
    return notes


def network_text(d: NetworkDerivation, unicode: bool = True, substitute: str | None = None) -> str:
    """Every layer's forward terms, δ links and parameter gradients as plain text.

    ``substitute`` adds the fully substituted forms: ``"deltas"`` (δ symbols eliminated) or
    ``"all"`` (only x, the parameters and t remain).

    Example:
        >>> from symcnn.presets import preset
        >>> text = preset("seed003").derive().text()
        >>> "    δ⁰_11 = ∂E/∂z⁰_11 = δ¹_11·σ(z⁰_11)·(1 - σ(z⁰_11))" in text.splitlines()
        True
    """
    p = TextPrinter(d.table, unicode=unicode)
    lines = [f"network: {d.network.describe()}", f"loss: {d.network.loss.definition}"]
    lines += [f"names: {NAMES_NOTE}", "", "forward:"]
    for layer in [*d.layers, d.loss]:
        lines.append(f"  {layer_summary(layer)}")
        out = layer.grid(Role.OUTPUT).symbols
        for idx in np.ndindex(*layer.output_shape):
            terms: Any = layer.forward.terms[idx]
            lines.append(f"    {p.symbol(out[idx])} = {forward_string(p, terms)}")
    lines += ["", "backward, from the loss to the input:"]
    for layer in reversed(d.layers):
        assert layer.delta is not None
        lines.append(
            f"  δ{superscript(layer.index or 0)} = ∂E/∂(output of {layer.name}), "
            f"from {delta_origin(layer)}:"
        )
        dsyms = layer.grid(Role.DELTA).symbols
        for idx in np.ndindex(*layer.output_shape):
            cs: Any = layer.delta[idx]
            lines.append(
                f"    {p.symbol(dsyms[idx])} = {p.gradient_name(cs.wrt)} = {chain_sum_string(p, cs)}"
            )
        for role, name in layer.params.items():
            lines.append(
                f"  gradient of {name} ({layer.grid(role).text}), in δ{superscript(layer.index or 0)}:"
            )
            lines += [
                f"    {p.gradient_name(cs.wrt)} = {chain_sum_string(p, cs)}"
                for cs in layer.grads[role].ravel()
            ]
    lines.append("  gradient of the input x, in δ⁰:")
    lines += [
        f"    {p.gradient_name(cs.wrt)} = {chain_sum_string(p, cs)}"
        for cs in d.input_grad().ravel()
    ]
    proofs = [(layer, r) for layer in d.layers for r in layer.identities]
    if proofs:
        lines += ["", "identities (closed matrix forms, proven exactly):"]
        for layer, r in proofs:
            status = "proven" if r.proven else f"NOT PROVEN ({r.mismatches} entries differ)"
            lines.append(f"  {layer.name}: [{status}] {r.statement}")
    if substitute:
        lines += ["", _substituted_title(substitute)]
        for key, arr in d.substituted(forward=substitute == "all").items():
            lines.append(f"  {key}:")
            lines += [f"    {p.doprint(e)}" for e in arr.ravel()]
    notes = _notes(d)
    if notes:
        lines += ["", "notes:"] + [f"  {n}" for n in notes]
    text = "\n".join(lines)
    return text if unicode else _ascii(text)


def _substituted_title(level: str) -> str:
    if level == "all":
        return "fully substituted (in x, the parameters and t only):"
    return "fully substituted (every δ replaced by its formula):"


_ASCII = str.maketrans(
    {c: str(i) for i, c in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")}
    | {
        "∂": "d",
        "⋆": "*",
        "δ": "d",
        "σ": "sigmoid",
        "·": "*",
        "→": "->",
        "ŷ": "y",
        "½": "1/2",
        "Σ": "sum",
        "−": "-",
        "²": "^2",
        "≥": ">=",
        "←": "<-",
        "η": "eta",
        "⌊": "floor(",
        "⌋": ")",
        "ˡ": "^l",
    }
)


def _ascii(text: str) -> str:
    return text.translate(_ASCII)


def network_latex(d: NetworkDerivation) -> str:
    r"""One ``align*`` block per layer: forward, δ (naming its source), parameter gradients.

    Example:
        >>> from symcnn.presets import preset
        >>> r"\delta^{(0)}_{11}" in preset("seed003").derive().latex()
        True
    """
    p = SymcnnLatexPrinter(d.table)
    out = [f"% symcnn network: {d.network.describe()}"]
    rows = []
    for layer in [*d.layers, d.loss]:
        z = layer.grid(Role.OUTPUT).symbols
        terms: Any = layer.forward.terms
        rows += [
            f"{p.symbol(z[idx])} &= {forward_string(p, terms[idx])}"
            for idx in np.ndindex(*layer.output_shape)
        ]
    out.append("% forward\n\\begin{align*}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    for layer in reversed(d.layers):
        assert layer.delta is not None
        dsyms = layer.grid(Role.DELTA).symbols
        deltas: Any = layer.delta
        rows = [
            f"{p.symbol(dsyms[idx])} = {p.gradient_name(deltas[idx].wrt)} "
            f"&= {chain_sum_string(p, deltas[idx])}"
            for idx in np.ndindex(*layer.output_shape)
        ]
        origin = "the loss" if layer.delta_from is None else f"layer {layer.delta_from}"
        out.append(
            f"% {layer.name}: delta from {origin}\n\\begin{{align*}}\n"
            + " \\\\\n".join(rows)
            + "\n\\end{align*}"
        )
        for role, name in layer.params.items():
            grads = layer.grads[role]
            rows = [
                f"{p.gradient_name(cs.wrt)} &= {chain_sum_string(p, cs)}" for cs in grads.ravel()
            ]
            out.append(f"% {name}\n\\begin{{align*}}\n" + " \\\\\n".join(rows) + "\n\\end{align*}")
    grads = d.input_grad()
    for _lead, sl in slices_2d(grads):
        cells = np.vectorize(lambda cs: chain_sum_string(p, cs), otypes=[object])(sl)
        out.append(
            f"% input gradient\n\\[\n\\frac{{\\partial E}}{{\\partial x}} = {bmatrix(cells)}\n\\]"
        )
    return "\n\n".join(out) + "\n"


def _array(arr: np.ndarray, indent: str = "    ") -> list[str]:
    text = np.array2string(  # + 0.0 turns −0.0 into 0.0
        np.asarray(arr, dtype=float) + 0.0, precision=6, suppress_small=True, max_line_width=96
    )
    return [indent + line for line in text.splitlines()]


def run_text(d: NetworkDerivation, run: NetworkRun, unicode: bool = True) -> str:
    """A run layer by layer: outputs, max-pool winners, δ (naming its source), gradients.

    Example:
        >>> from symcnn.presets import preset
        >>> from symcnn.netfile import random_values
        >>> net = preset("seed003")
        >>> d = net.derive()
        >>> run_text(d, d.evaluate(random_values(net, 0))).splitlines()[1][:9]
        'loss E = '
    """
    p = TextPrinter(d.table, unicode=unicode)
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
        if lv.delta_from is not None:
            origin = f"from δ{superscript(lv.delta_from)} of layer {lv.delta_from}"
        else:
            origin = "from the loss" if run.delta_at is None else "given"
        lines.append(f"  δ{superscript(lv.index)} = ∂E/∂{out.text}, {origin}:")
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
    return text if unicode else _ascii(text)

"""Build the `Document` of a derivation: the one place that decides what is shown, in which order."""

from __future__ import annotations

from ..core.symbols import Role
from ..derivation.derived import Derivation
from .model import DeltaBlock, Document, ForwardBlock, GradientBlock, ProofLine, QuantityBlock


def document(d: Derivation) -> Document:
    """The document of a derivation.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> from symcnn.derivation.derived import derive
        >>> doc = document(derive(preset("seed003")))
        >>> [type(b).__name__ for b in doc.backward]
        ['DeltaBlock', 'DeltaBlock', 'GradientBlock', 'GradientBlock', 'GradientBlock']
        >>> doc.notes
        ("σ(z) = 1/(1 + e^(−z)) and σ'(z) = σ(z)·(1 − σ(z))",)
    """
    forward = [ForwardBlock(layer) for layer in d.layers]
    backward: list[DeltaBlock | QuantityBlock | GradientBlock] = []
    if d.lone:
        layer = d.layers[0]
        backward = [QuantityBlock(layer, k) for k in reversed(range(len(layer.stages)))]
        backward += [GradientBlock(layer, role, role.value) for role in layer.grads]
    else:
        assert d.loss is not None
        forward.append(ForwardBlock(d.loss))
        for layer in reversed(d.layers):
            backward.append(DeltaBlock(layer, layer.delta_from, layer.delta_sources))
            backward += [QuantityBlock(layer, k) for k in reversed(range(len(layer.stages)))]
            backward += [GradientBlock(layer, role, name) for role, name in layer.params.items()]
        reader = d.layers[d.input_sources[0]] if d.input_sources else d.layers[0]
        backward.append(GradientBlock(reader, Role.INPUT, "input", d.input_grad(), d.input_sources))
    proofs = tuple(ProofLine(layer, p) for layer in d.layers for p in layer.proofs)
    notes = tuple(dict.fromkeys(layer.layer.note for layer in d.layers if layer.layer.note))
    return Document(d, tuple(forward), tuple(backward), proofs, notes)

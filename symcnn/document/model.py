"""A derivation as a document: forward blocks, δ and gradient blocks, proofs and notes, in order.

Every output (text, LaTeX, JSON, sheets) renders the same `Document`, so the order of the
parts, which proof goes with which layer, where each δ comes from and which notes a reader
needs are decided once, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.symbols import Role
from ..derivation.derived import Derivation, DerivedLayer
from ..derivation.proofs import Proof

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class ForwardBlock:
    """A layer's forward pass: each output entry and the summands it adds up."""

    layer: DerivedLayer


@dataclass(frozen=True)
class DeltaBlock:
    """A layer's δ = ∂E/∂(its output), in the δ of the layer that read it (``source``), or of
    the loss (``source`` None). ``sources`` lists every layer whose δ it adds up when
    several read the output (paths merge: their δ add)."""

    layer: DerivedLayer
    source: int | None
    sources: tuple[int | None, ...] = ()

    @property
    def sums(self) -> np.ndarray:
        """The `ChainSum` of every entry."""
        assert self.layer.delta is not None
        return self.layer.delta


@dataclass(frozen=True)
class QuantityBlock:
    """The δ of one of a layer's named intermediate quantities (batch norm's x̂, σ², μ), in
    the layer's δ and the δ of its later quantities."""

    layer: DerivedLayer
    stage: int

    @property
    def sums(self) -> np.ndarray:
        """The `ChainSum` of every entry."""
        return self.layer.stage_deltas[self.stage]


@dataclass(frozen=True)
class GradientBlock:
    """The gradient of one tensor of a layer (its input or a parameter), in the layer's δ.

    ``name`` is the parameter's name (``0.weight``), ``input`` for the network's input; the
    network input's gradient is ``merged`` over every layer that reads it (``sources``).
    """

    layer: DerivedLayer
    role: Role
    name: str
    merged: np.ndarray | None = None
    sources: tuple[int, ...] = ()

    @property
    def sums(self) -> np.ndarray:
        """The `ChainSum` of every entry."""
        return self.layer.grads[self.role] if self.merged is None else self.merged


@dataclass(frozen=True)
class ProofLine:
    """A proven (or not) closed form of one layer."""

    layer: DerivedLayer
    proof: Proof


@dataclass(frozen=True)
class Document:
    """What every output shows of a derivation, in reading order.

    ``backward`` runs from the loss to the input: for a network, each layer's δ, the δ of its
    named quantities (last computed first), its parameter gradients, and last the gradient
    of the input; for a lone layer, the δ of its named quantities, then the gradient of its
    input and of each parameter in its given δ.
    """

    derivation: Derivation
    forward: tuple[ForwardBlock, ...]
    backward: tuple[DeltaBlock | QuantityBlock | GradientBlock, ...]
    proofs: tuple[ProofLine, ...]
    notes: tuple[str, ...]

    @property
    def lone(self) -> bool:
        """True for a lone layer (its δ is given)."""
        return self.derivation.lone

    @property
    def all_proven(self) -> bool:
        """True when every closed form was proven."""
        return all(line.proof.proven for line in self.proofs)

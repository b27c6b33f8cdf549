"""Check a hand-written backward pass of a whole network (a residual block …) against the formulas.

The function under test gets the network input, its parameters by name and δ at the network
output, and returns ∂E/∂x and every parameter's gradient. Where paths merge (a tensor read by
several layers) the classic mistake is to keep the δ of one reader only: the report names the
tensor and the reader whose δ is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..derivation.derived import derive
from ..errors import ContractViolation, SymcnnError
from ..kinds.base import signed
from ..numeric.engine import Engine
from ..numeric.values import Values
from .diagnose import close

if TYPE_CHECKING:
    from ..graph.network import Network


@dataclass(repr=False)
class NetworkCheck:
    """Outcome of a network check: true when every trial matched; ``message`` is the report."""

    ok: bool
    message: str

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message


def _tensor(network: Network, index: int | None) -> str:
    if index is None:
        return "the network input x"
    node = network.nodes[index]
    named = f" {node.id!r}" if node.id else ""
    return f"the output of layer {index} ({node.kind}{named})"


def merge_mistakes(network: Network) -> list[tuple[str, frozenset[tuple[int, int | None]]]]:
    """Named backward passes that forgot a δ where paths merge: for every tensor several layers
    read, the δ of one of them left out (as `Engine.run`'s ``ignore``).

    Example:
        >>> from symcnn.graph.network import Network
        >>> net = Network([{"type": "relu", "id": "r"}, {"type": "add", "inputs": ["input", "r"]}],
        ...               input=(2,))
        >>> [name.split(":")[0] for name, _ in merge_mistakes(net)]
        ['δ not summed where paths merge', 'δ not summed where paths merge']
    """
    out = []
    for tensor in (None, *range(len(network.nodes))):
        readers = network.readers(tensor)
        if len(readers) < 2:
            continue
        for reader in readers:
            node = network.nodes[reader]
            out.append(
                (
                    f"δ not summed where paths merge: {_tensor(network, tensor)} is read by "
                    f"layers {', '.join(map(str, readers))}, but the δ that layer {reader} "
                    f"({node.kind}) sends back is missing",
                    frozenset({(reader, tensor)}),
                )
            )
    return out


def _as_arrays(result: Any, names: list[str]) -> dict[str, np.ndarray]:
    if not isinstance(result, Mapping):
        raise ContractViolation(
            f"fn returned {type(result).__name__}; expected a dict with keys {', '.join(names)}"
        )
    missing = [n for n in names if n not in result]
    if missing:
        raise ContractViolation(f"fn's result has no {', '.join(missing)}")
    out = {}
    for name in names:
        value = result[name]
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        out[name] = np.asarray(value, dtype=float)
    return out


def compare_network_backward(
    network: Network,
    fn: Callable[..., Any],
    *,
    trials: int = 2,
    seed: int = 0,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> NetworkCheck:
    """Run ``fn(x, params, delta) -> {"input": gx, "<l>.weight": …}`` on random numbers and
    compare with the network's formulas (δ given at the network output; the loss is not used).

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn.derivation.derived import derive
        >>> net = Network([{"type": "identity", "id": "i"},
        ...                {"type": "add", "inputs": ["input", "i"]}], input=(3,))
        >>> compare_network_backward(net, lambda x, p, d: {"input": d}).ok
        False
        >>> compare_network_backward(net, lambda x, p, d: {"input": 2 * d}).ok
        True
    """
    if not callable(fn):
        raise SymcnnError(f"the function to check is not callable: {fn!r}")
    engine = Engine(derive(network, prove_forms=False))
    names = ["input", *network.param_shapes()]
    rng = np.random.default_rng(seed)
    last = len(network.nodes) - 1
    out_shape = network.batched(network.output_shape)
    for trial in range(trials):
        x = signed(rng, network.batched(network.input))
        params = {n: signed(rng, s) for n, s in network.param_shapes().items()}
        delta = signed(rng, out_shape)
        values = Values(x, params, target=np.zeros(out_shape))
        right = engine.run(values, delta_at=(last, delta)).grads
        got = _as_arrays(
            fn(x.copy(), {k: v.copy() for k, v in params.items()}, delta.copy()), names
        )
        wrong = [n for n in names if not close(got[n], right[n], rtol, atol)]
        if not wrong:
            continue
        lines = [
            f"network backward does not match symcnn's formulas (trial {trial + 1} of "
            f"{trials}, seed {seed})",
            f"  network:  {network.describe()}",
            "  contract: fn(x, params, delta) -> {'input': gx, '<l>.weight': …}; delta = "
            "∂E/∂(network output)",
            "",
        ]
        for name in names:
            if name not in wrong:
                lines.append(f"  {name}: ok")
            elif got[name].shape != right[name].shape:
                lines.append(
                    f"  {name}: wrong shape {got[name].shape}; expected {right[name].shape}"
                )
            else:
                bad = ~np.isclose(got[name], right[name], rtol=rtol, atol=atol)
                lines.append(f"  {name}: {int(bad.sum())} of {bad.size} entries wrong")
        causes = [
            label
            for label, ignore in merge_mistakes(network)
            if all(
                close(got[n], engine.run(values, (last, delta), ignore).grads[n], rtol, atol)
                for n in wrong
            )
        ]
        if causes:
            lines += ["", "likely mistake:", *[f"  - {c}" for c in causes]]
        return NetworkCheck(False, "\n".join(lines))
    return NetworkCheck(
        True, f"network backward matches symcnn's formulas: {trials} random trial(s), seed {seed}"
    )

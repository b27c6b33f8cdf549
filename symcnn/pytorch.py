"""`from_torch`: a torch.nn.Sequential of supported modules as a symcnn network, with its weights.

A façade like `symcnn.api`: torch is imported here only when called (symcnn does not need
it otherwise), and each layer kind says which torch modules it stands for and how to read
their settings (`symcnn.kinds.base.Layer.from_torch`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from .api import Network
from .core.shapes import DEFAULT_MAX_TERMS, Shape
from .errors import SpecError, SymcnnError
from .kinds.base import Layer
from .kinds.registry import LAYERS
from .numeric.values import Values


def _modules(model: Any, path: str) -> Iterator[tuple[str, Any]]:
    """The leaf modules of a Sequential (nested Sequentials opened), with their place."""
    for name, module in model.named_children():
        place = f"{path}[{name}]"
        if type(module).__name__ == "Sequential":
            yield from _modules(module, place)
        else:
            yield place, module


def _array(value: Any, what: str) -> np.ndarray | None:
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach().cpu().double().numpy()
    return np.asarray(value, dtype=float)


def from_torch(
    model: Any,
    input_shape: Any,
    *,
    loss: str = "mse",
    reduction: str = "sum",
    index_base: int = 1,
    max_terms: int = DEFAULT_MAX_TERMS,
    x: Any = None,
    target: Any = None,
) -> tuple[Network, Values]:
    """A `torch.nn.Sequential` as a symcnn `Network` and its parameters (a `Values`).

    ``input_shape`` is one sample's shape, ``(C, H, W)`` or ``(F,)``, or a mini-batch's,
    ``(N, C, H, W)`` or ``(N, F)`` (the network then has ``batch = N``). Supported modules:
    every kind's ``torch_modules`` (Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d,
    AdaptiveAvgPool2d(1), Linear, Flatten, ReLU, LeakyReLU, Sigmoid, Tanh, Identity,
    BatchNorm1d/2d in training mode); parameters keep their
    layer's index (``"0.weight"``). ``x`` and ``target`` (arrays or tensors) fill the
    returned `Values`; zeros of the right shapes stand in for them otherwise. The loss is
    symcnn's (``mse``: ½ Σ (ŷ − t)², ``cross_entropy``), summed or averaged over the batch.

    Example:
        >>> import torch  # doctest: +SKIP
        >>> model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(),
        ...                             torch.nn.Flatten(), torch.nn.Linear(8, 3))  # doctest: +SKIP
        >>> net, values = from_torch(model, (1, 4, 4))  # doctest: +SKIP
        >>> net.describe()  # doctest: +SKIP
        'input 1x4x4 → 0 conv2d 2x2x2 → 1 relu 2x2x2 → 2 flatten 8 → 3 dense 3 → loss mse'
    """
    try:
        import torch  # noqa: F401  (only to be sure what we read are torch modules)
    except ImportError:
        raise SymcnnError("from_torch needs PyTorch (pip install torch)") from None
    if type(model).__name__ != "Sequential" or not hasattr(model, "named_children"):
        raise SymcnnError(
            f"from_torch takes a torch.nn.Sequential, got {type(model).__name__}; write the "
            "model as a Sequential, or as a network file (it can branch and merge)"
        )
    by_name: dict[str, type[Layer]] = {
        name: cls for cls in LAYERS.values() for name in cls.torch_modules
    }
    layers: list[Layer] = []
    found: dict[str, np.ndarray] = {}
    for place, module in _modules(model, "model"):
        name = type(module).__name__
        cls = by_name.get(name)
        if cls is None:
            raise SymcnnError(
                f"{place} is {name}, which symcnn does not derive; supported modules: "
                + ", ".join(by_name)
            )
        try:
            layer, params = cls.from_torch(module)
        except SpecError as err:
            raise SymcnnError(f"{place} ({name}): {err}") from None
        for role, arr in params.items():
            found[f"{len(layers)}.{role.value}"] = arr
        layers.append(layer)
    if not layers:
        raise SymcnnError("the Sequential has no modules")
    shape: Shape = tuple(int(v) for v in input_shape)
    batch = None
    if len(shape) in (2, 4):
        batch, shape = shape[0], shape[1:]
    net = Network(
        tuple(layers),
        input=shape,
        loss=loss,  # type: ignore[arg-type]  # a loss's name is read like the loss
        index_base=index_base,
        max_terms=max_terms,
        batch=batch,
        reduction=reduction,
    )
    for key, want in net.param_shapes().items():
        if found[key].shape != tuple(want):
            raise SymcnnError(f"parameter {key} has shape {found[key].shape}, expected {want}")
    inputs = _array(x, "x")
    outputs = _array(target, "target")
    values = Values(
        np.zeros(net.batched(net.input)) if inputs is None else inputs,
        found,
        target=np.zeros(net.batched(net.output_shape)) if outputs is None else outputs,
    )
    return net, values


__all__ = ["from_torch"]

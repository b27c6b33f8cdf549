"""Every layer kind and loss a network file may name, listed explicitly (nothing registers itself)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.shapes import suggest
from ..errors import LayerKeyError, SpecError
from .activation import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .add import Add
from .base import Layer
from .batchnorm import BatchNorm1d, BatchNorm2d
from .concat import Concat
from .conv2d import Conv2d
from .conv_transpose2d import ConvTranspose2d
from .dense import Linear
from .flatten import Flatten
from .global_avgpool2d import GlobalAvgPool2d
from .loss import CrossEntropyLoss, Loss, MSELoss
from .pool2d import AvgPool2d, MaxPool2d

#: Layer kinds by their ``type`` in a network file.
LAYERS: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (
        Conv2d,
        MaxPool2d,
        AvgPool2d,
        Sigmoid,
        Tanh,
        ReLU,
        Identity,
        Flatten,
        Linear,
        ConvTranspose2d,
        GlobalAvgPool2d,
        LeakyReLU,
        BatchNorm2d,
        BatchNorm1d,
        Add,
        Concat,
    )
}
#: Losses by their name in a network file.
LOSSES: dict[str, type[Loss]] = {cls.kind: cls for cls in (MSELoss, CrossEntropyLoss)}


def letters() -> str:
    """What the output of layer l is called in a network, by kind: ``zˡ (conv2d, dense), …``.

    Example:
        >>> letters().startswith("zˡ (")
        True
    """
    kinds: dict[str, list[str]] = {}
    for kind, cls in LAYERS.items():
        kinds.setdefault(cls.letter, []).append(kind)
    parts = [f"{letter}ˡ ({', '.join(names)})" for letter, names in kinds.items()]
    return ", ".join(parts[:-1]) + " or " + parts[-1]


def nabla_kinds() -> str:
    """The kinds whose output error is written ∇ (their output is not a pre-activation).

    Example:
        >>> "relu" in nabla_kinds()
        True
    """
    return ", ".join(kind for kind, cls in LAYERS.items() if cls.nabla)


def conventions() -> dict[str, str]:
    """What the tensors and operations of every kind mean, for the JSON contract.

    The ``shapes`` of the kinds are joined into one entry; other keys are one kind's own.

    Example:
        >>> conventions()["shapes"].startswith("PyTorch's without the batch axis")
        True
    """
    shapes = ["PyTorch's without the batch axis: tensors [C, H, W]"]
    out: dict[str, str] = {}
    for cls in LAYERS.values():
        for key, text in cls.conventions.items():
            if key == "shapes":
                shapes.append(text)
            elif key != "convolution":
                out[key] = text
    return {"shapes": ", ".join(shapes), **out}


def layer_from_table(table: Mapping[str, Any]) -> Layer:
    """A layer from a network file's table: ``{"type": "conv2d", "kernel": [2, 2], …}``.

    Example:
        >>> layer_from_table({"type": "conv2d", "kernel": [2, 2], "bias": "untied"}).bias
        <Bias.UNTIED: 'untied'>
    """
    if "type" not in table:
        raise LayerKeyError(None, 'a layer needs a type, e.g. type = "conv2d"')
    name = table["type"]
    cls = LAYERS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise LayerKeyError(
            "type",
            f"unknown layer type {name!r}{suggest(str(name), list(LAYERS))}; "
            f"valid: {', '.join(LAYERS)}",
        )
    return cls.from_table({k: v for k, v in table.items() if k != "type"})


def loss_from_name(value: Loss | str) -> Loss:
    """A loss from its name (``"mse"``, ``"cross_entropy"``; ``-`` read as ``_``) or itself.

    Example:
        >>> loss_from_name("cross-entropy").kind
        'cross_entropy'
    """
    if isinstance(value, Loss):
        return value
    cls = LOSSES.get(str(value).lower().replace("-", "_"))
    if cls is None:
        raise SpecError(f"unknown loss {value!r}; valid: {', '.join(LOSSES)}")
    return cls()

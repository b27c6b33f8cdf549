"""Every layer kind and loss a network file may name, listed explicitly (nothing registers itself)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.shapes import suggest
from ..errors import LayerKeyError, SpecError
from .activation import Identity, ReLU, Sigmoid, Tanh
from .base import Layer
from .conv2d import Conv2d
from .dense import Linear
from .flatten import Flatten
from .loss import CrossEntropyLoss, Loss, MSELoss
from .pool2d import AvgPool2d, MaxPool2d

#: Layer kinds by their ``type`` in a network file.
LAYERS: dict[str, type[Layer]] = {
    cls.kind: cls
    for cls in (Conv2d, MaxPool2d, AvgPool2d, Sigmoid, Tanh, ReLU, Identity, Flatten, Linear)
}
#: Losses by their name in a network file.
LOSSES: dict[str, type[Loss]] = {cls.kind: cls for cls in (MSELoss, CrossEntropyLoss)}


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

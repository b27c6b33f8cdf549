"""conv2d's options that other kinds share: the bias modes and the input shape rule."""

from __future__ import annotations

import enum
from typing import Any

from ...core.shapes import (
    Shape,
    parse_enum,
    parse_size,
    positive,
    shape_of,
)
from ...errors import SpecError


class Bias(enum.Enum):
    """How a conv layer's bias is shared: not at all, per output channel, or per output entry."""

    NONE = "none"
    SHARED = "shared"
    UNTIED = "untied"

    @classmethod
    def parse(cls, value: Bias | str) -> Bias:
        """Accept a `Bias` or its name: ``Bias.parse("untied") is Bias.UNTIED``."""
        return parse_enum(cls, value, "bias mode")


def spatial_input(value: Any, channels: int | None) -> Shape:
    """(C, H, W) from (C, H, W), or from (H, W) / ``"HxW"`` and the channel count."""
    if isinstance(value, (tuple, list)) and len(value) == 3:
        c, h, w = (positive(v, "input") for v in value)
        if channels is not None and channels != c:
            raise SpecError(f"in_channels = {channels}, but the input has {c}")
        return (c, h, w)
    if isinstance(value, (tuple, list)) and len(value) == 1:
        raise SpecError("needs a [C, H, W] input but gets a flat vector")
    if isinstance(value, str) and value.lower().count("x") == 2:
        return spatial_input(shape_of(value, "input"), channels)
    return (channels or 1, *parse_size(value, "input"))

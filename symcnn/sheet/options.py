"""What a sheet shows besides the derivation: title, numbers, learning rate, detail, language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..numeric.values import Values

#: How much a sheet writes out: ``short`` (one representative entry per tensor and the matrix
#: form) or ``full`` (every entry of every tensor).
Detail = Literal["short", "full"]


@dataclass
class SheetOptions:
    """What to put on a sheet besides the derivation (one set of options for layers and networks).

    Example:
        >>> SheetOptions(detail="full").lang
        'en'
    """

    title: str | None = None
    values: Values | None = None
    #: Where the numbers come from: ``values_seed`` (``--random``, one decimal, see
    #: `symcnn.numeric.values.hand_values`), ``values_file`` (``--values``), or in words.
    values_source: str = ""
    values_seed: int | None = None
    values_file: str | None = None
    illustrative_seed: int = 0
    lr: float = 0.1
    detail: Detail = "short"
    lang: str = "en"

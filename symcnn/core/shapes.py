"""Sizes, shapes and option values: parsing, validation and the output-size arithmetic."""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from ..errors import SpecError

Pair = tuple[int, int]
Shape = tuple[int, ...]

#: Default ceiling on the number of product terms a derivation may build.
DEFAULT_MAX_TERMS = 3_000_000

_SIZE_RE = re.compile(r"^\s*(\d+)\s*(?:[x×X*]\s*(\d+)\s*)?$")

E = TypeVar("E", bound=enum.Enum)


def parse_enum(cls: type[E], value: E | str, what: str) -> E:
    """An enum member from itself or its value (case-insensitive, ``-`` read as ``_``).

    Example:
        >>> class Mode(enum.Enum):
        ...     SHARED = "shared"
        >>> parse_enum(Mode, "Shared", "bias mode") is Mode.SHARED
        True
    """
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value).lower().replace("-", "_"))
    except ValueError:
        valid = ", ".join(str(k.value) for k in cls)
        raise SpecError(f"unknown {what} {value!r}; valid: {valid}") from None


def parse_size(text: Any, what: str = "size", minimum: int = 1) -> Pair:
    """Parse ``"5x4"``, ``"3"`` (square), ``3`` or ``(5, 4)`` into a (rows, cols) pair.

    Example:
        >>> parse_size("5x4")
        (5, 4)
        >>> parse_size(2)
        (2, 2)
    """
    if isinstance(text, bool):
        raise SpecError(f"{what} must be a size like 5x5, not {text!r}")
    if isinstance(text, int):
        pair: Pair = (text, text)
    elif isinstance(text, (tuple, list)):
        if len(text) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in text):
            raise SpecError(f"{what} must be two integers (rows, cols), got {text!r}")
        pair = (int(text[0]), int(text[1]))
    elif isinstance(text, str):
        m = _SIZE_RE.match(text)
        if not m:
            raise SpecError(
                f"{what} {text!r} is not a size: write N or HxW with whole numbers, e.g. 5x5"
            )
        rows = int(m.group(1))
        pair = (rows, int(m.group(2)) if m.group(2) is not None else rows)
    else:
        raise SpecError(f"{what} must be a size like 5x5, not {text!r}")
    if min(pair) < minimum:
        raise SpecError(f"{what} {pair[0]}x{pair[1]} is invalid: each value must be ≥ {minimum}")
    return pair


def positive(value: Any, what: str) -> int:
    """A whole number ≥ 1 (not a bool), or a `SpecError` naming ``what``.

    Example:
        >>> positive(3, "channels")
        3
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{what} must be a whole number ≥ 1, got {value!r}")
    return value


def shape_of(value: Any, what: str) -> Shape:
    """Validate a tensor shape: ``(C, H, W)`` or ``(N,)`` with every size ≥ 1.

    Text is read as ``N``, ``HxW`` (one channel) or ``CxHxW``.

    Example:
        >>> shape_of([1, 5, 5], "input"), shape_of("3x4", "input"), shape_of("8", "input")
        ((1, 5, 5), (1, 3, 4), (8,))
    """
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, str):
        parts = value.strip().replace("×", "x").lower().split("x")
        if not all(p.strip().isdigit() for p in parts) or len(parts) > 3:
            raise SpecError(f"{what} {value!r} is not a shape: write N, HxW or CxHxW, e.g. 5x5")
        value = [int(p) for p in parts]
        value = [1, *value] if len(value) == 2 else value
    if not isinstance(value, (tuple, list)) or len(value) not in (1, 3):
        raise SpecError(
            f"{what} must be [C, H, W] (e.g. [1, 5, 5]) or [N] for a flat vector, got {value!r}"
        )
    return tuple(positive(v, what) for v in value)


def shape_text(shape: Sequence[int]) -> str:
    """``1x5x5``; a flat vector of 4 is ``4``.

    Example:
        >>> shape_text((1, 5, 5)), shape_text((4,))
        ('1x5x5', '4')
    """
    return "x".join(str(s) for s in shape)


def channel_axes(shape: Shape) -> int:
    """How many leading axes of an activation tensor are channels: 1 for [C, H, W], 0 for [N].

    Example:
        >>> channel_axes((2, 4, 4)), channel_axes((8,))
        (1, 0)
    """
    return 1 if len(shape) == 3 else 0


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length along one axis: ``⌊(in + 2·pad − dil·(k − 1) − 1) / stride⌋ + 1``.

    Example:
        >>> conv_out_size(5, 2, 1, 0, 1)
        4
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def check_index_base(base: Any) -> int:
    """0 or 1, the first index printed in symbol names.

    Example:
        >>> check_index_base(0)
        0
    """
    if base not in (0, 1) or isinstance(base, bool):
        raise SpecError(f"index base must be 0 or 1, got {base!r}")
    return int(base)


def check_max_terms(limit: Any) -> int:
    """A term limit: a whole number ≥ 1.

    Example:
        >>> check_max_terms(10)
        10
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise SpecError(f"max_terms must be a whole number ≥ 1, got {limit!r}")
    return limit


def suggest(word: str, valid: Sequence[str]) -> str:
    """`` (did you mean 'kernel'?)`` when a close match exists, else an empty string.

    Example:
        >>> suggest("kernal", ["kernel", "stride"])
        " (did you mean 'kernel'?)"
    """
    close = difflib.get_close_matches(word, list(valid), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

"""Layer specifications: frozen, validated dataclasses describing one conv or pooling layer."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import SpecError, TooLargeError

if TYPE_CHECKING:
    from .derive import Derivation

Pair = tuple[int, int]

#: Default ceiling on the number of product terms a derivation may build.
DEFAULT_MAX_TERMS = 3_000_000

_SIZE_RE = re.compile(r"^\s*(\d+)\s*(?:[x×X*]\s*(\d+)\s*)?$")


class Bias(enum.Enum):
    """How a conv layer's bias is shared: not at all, per output channel, or per output entry."""

    NONE = "none"
    SHARED = "shared"
    UNTIED = "untied"

    @classmethod
    def parse(cls, value: Bias | str) -> Bias:
        """Accept a `Bias` or its name: ``Bias.parse("untied") is Bias.UNTIED``."""
        return parse_enum(cls, value, "bias mode")


E = TypeVar("E", bound=enum.Enum)


def parse_enum(cls: type[E], value: E | str, what: str) -> E:
    """An enum member from itself or its value (case-insensitive, ``-`` read as ``_``).

    Example:
        >>> parse_enum(Bias, "Shared", "bias mode") is Bias.SHARED
        True
    """
    if isinstance(value, cls):
        return value
    try:
        return cls(str(value).lower().replace("-", "_"))
    except ValueError:
        valid = ", ".join(str(k.value) for k in cls)
        raise SpecError(f"unknown {what} {value!r}; valid: {valid}") from None


def parse_size(text: str | int | Pair | list[int], what: str = "size", minimum: int = 1) -> Pair:
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


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{what} must be a whole number ≥ 1, got {value!r}")
    return value


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Output length along one axis: ``⌊(in + 2·pad − dil·(k − 1) − 1) / stride⌋ + 1``.

    Example:
        >>> conv_out_size(5, 2, 1, 0, 1)
        4
    """
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class Conv2D:
    """A 2-D convolution (cross-correlation, as in every framework) with zero padding.

    Example:
        >>> layer = Conv2D(input=(3, 3), kernel=(2, 2), bias="untied")
        >>> layer.output_shape
        (1, 2, 2)
    """

    input: Pair
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    in_channels: int = 1
    out_channels: int = 1
    bias: Bias = Bias.SHARED
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input", parse_size(self.input, "input"))
        set_(self, "kernel", parse_size(self.kernel, "kernel"))
        set_(self, "stride", parse_size(self.stride, "stride"))
        set_(self, "padding", parse_size(self.padding, "padding", minimum=0))
        set_(self, "dilation", parse_size(self.dilation, "dilation"))
        set_(self, "in_channels", _positive(self.in_channels, "in_channels"))
        set_(self, "out_channels", _positive(self.out_channels, "out_channels"))
        set_(self, "bias", Bias.parse(self.bias))
        _check_index_base(self.index_base)
        for axis, name in enumerate(("rows", "cols")):
            size, k = self.input[axis], self.kernel[axis]
            p, d = self.padding[axis], self.dilation[axis]
            span = d * (k - 1) + 1
            if span > size + 2 * p:
                dil = f" (dilation {d} makes it span {span})" if d > 1 else ""
                raise SpecError(
                    f"kernel {self.kernel[0]}x{self.kernel[1]}{dil} does not fit the input "
                    f"{self.input[0]}x{self.input[1]} padded by {p} along {name}: "
                    f"need {span} ≤ {size} + 2·{p}"
                )
        _check_terms(self.term_count, self.max_terms)

    @property
    def output_size(self) -> Pair:
        """Spatial output size (OH, OW)."""
        return (
            conv_out_size(
                self.input[0], self.kernel[0], self.stride[0], self.padding[0], self.dilation[0]
            ),
            conv_out_size(
                self.input[1], self.kernel[1], self.stride[1], self.padding[1], self.dilation[1]
            ),
        )

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """Shape of the output and of δ: (O, OH, OW)."""
        return (self.out_channels, *self.output_size)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of the input: (C, H, W)."""
        return (self.in_channels, *self.input)

    @property
    def weight_shape(self) -> tuple[int, int, int, int]:
        """Shape of the kernel tensor: (O, C, KH, KW)."""
        return (self.out_channels, self.in_channels, *self.kernel)

    @property
    def bias_shape(self) -> tuple[int, ...] | None:
        """(O,) for shared bias, (O, OH, OW) for untied bias, None without bias."""
        if self.bias is Bias.SHARED:
            return (self.out_channels,)
        if self.bias is Bias.UNTIED:
            return self.output_shape
        return None

    @property
    def term_count(self) -> int:
        """Upper bound on the product terms of one gradient tensor (before dropping padding)."""
        oh, ow = self.output_size
        return self.out_channels * self.in_channels * oh * ow * self.kernel[0] * self.kernel[1]

    def config(self) -> dict[str, Any]:
        """Every option, resolved, as plain JSON-able values."""
        return {
            "input": list(self.input),
            "kernel": list(self.kernel),
            "stride": list(self.stride),
            "padding": list(self.padding),
            "dilation": list(self.dilation),
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "bias": self.bias.value,
            "index_base": self.index_base,
        }

    def derive(self, prove: bool = True) -> Derivation:
        """Build the forward expressions, differentiate them and prove the matrix identities."""
        from .derive import derive

        return derive(self, prove=prove)


@dataclass(frozen=True)
class _Pool2D:
    """Shared fields and checks of the pooling layers (no padding, no parameters)."""

    input: Pair
    window: Pair
    stride: Pair | None = None
    channels: int = 1
    index_base: int = 1
    max_terms: int = field(default=DEFAULT_MAX_TERMS, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "input", parse_size(self.input, "input"))
        set_(self, "window", parse_size(self.window, "window"))
        stride = self.window if self.stride is None else self.stride
        set_(self, "stride", parse_size(stride, "stride"))
        set_(self, "channels", _positive(self.channels, "channels"))
        _check_index_base(self.index_base)
        for axis, name in enumerate(("rows", "cols")):
            if self.window[axis] > self.input[axis]:
                raise SpecError(
                    f"window {self.window[0]}x{self.window[1]} is larger than the input "
                    f"{self.input[0]}x{self.input[1]} along {name}"
                )
        _check_terms(self.term_count, self.max_terms)

    @property
    def output_size(self) -> Pair:
        """Spatial output size (OH, OW)."""
        assert self.stride is not None
        return (
            conv_out_size(self.input[0], self.window[0], self.stride[0], 0, 1),
            conv_out_size(self.input[1], self.window[1], self.stride[1], 0, 1),
        )

    @property
    def output_shape(self) -> tuple[int, int, int]:
        """Shape of the output and of δ: (C, OH, OW)."""
        return (self.channels, *self.output_size)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of the input: (C, H, W)."""
        return (self.channels, *self.input)

    @property
    def term_count(self) -> int:
        """Number of (window, cell) pairs: the terms of the input gradient."""
        oh, ow = self.output_size
        return self.channels * oh * ow * self.window[0] * self.window[1]

    def config(self) -> dict[str, Any]:
        """Every option, resolved, as plain JSON-able values."""
        assert self.stride is not None
        return {
            "input": list(self.input),
            "window": list(self.window),
            "stride": list(self.stride),
            "channels": self.channels,
            "index_base": self.index_base,
        }

    def derive(self, prove: bool = True) -> Derivation:
        """Build the forward expressions, differentiate them and prove the upsampling rule."""
        from .derive import derive

        return derive(self, prove=prove)  # type: ignore[arg-type]


@dataclass(frozen=True)
class MaxPool2D(_Pool2D):
    """Max pooling; the gradient goes to the first maximum of each window (PyTorch's tie rule).

    Example:
        >>> MaxPool2D(input=(4, 4), window=(2, 2)).output_shape
        (1, 2, 2)
    """


@dataclass(frozen=True)
class AvgPool2D(_Pool2D):
    """Average pooling; each window cell receives δ divided by the window size.

    Example:
        >>> AvgPool2D(input=(4, 4), window=(2, 2), stride=1).output_shape
        (1, 3, 3)
    """


LayerSpec = Conv2D | MaxPool2D | AvgPool2D


def _check_index_base(base: Any) -> None:
    if base not in (0, 1) or isinstance(base, bool):
        raise SpecError(f"index base must be 0 or 1, got {base!r}")


def _check_terms(count: int, limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise SpecError(f"max_terms must be a whole number ≥ 1, got {limit!r}")
    if count > limit:
        raise TooLargeError(
            f"this derivation would build about {count:,} product terms per gradient tensor, "
            f"more than the limit of {limit:,}; use a smaller configuration or raise --max-terms"
        )

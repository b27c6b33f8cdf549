"""Every exception symcnn raises on purpose; the command line turns a `SymcnnError` into one line."""

from __future__ import annotations

from typing import Any


class SymcnnError(Exception):
    """Base class of every error caused by the user's request (not by a bug in symcnn).

    Example:
        >>> from symcnn.core.shapes import parse_size
        >>> try:
        ...     parse_size("5x")
        ... except SymcnnError as err:
        ...     print(err)
        size '5x' is not a size: write N or HxW with whole numbers, e.g. 5x5
    """


class SpecError(SymcnnError, ValueError):
    """A layer or network description is invalid (sizes, strides, unknown options)."""


class LayerKeyError(SpecError):
    """A bad key or value in a layer's table; ``key`` names it (None: the table as a whole)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key


class NetworkShapeError(SpecError):
    """A layer does not fit what it reads; ``layer`` is its index (the loss: the layer count)."""

    def __init__(self, layer: int | None, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.layer = layer
        self.key = key


class TooLargeError(SymcnnError):
    """The requested derivation would build more product terms than the allowed maximum."""


class ValuesError(SymcnnError):
    """Numbers given for a derivation are missing, misshapen or not finite."""


class LanguageError(SymcnnError, ValueError):
    """A sheet was asked for in a language symcnn has no catalogue for (the message lists them)."""


class TexEngineMissing(SymcnnError):
    """No TeX engine is installed for the sheet's language."""


class TexCompileError(SymcnnError):
    """The TeX engine ran and failed (its first error is in the message) or timed out."""


class ContractViolation(SymcnnError):
    """A backward function under test returned what its contract does not allow."""


class BackwardMismatch(SymcnnError, AssertionError):
    """A backward function under test is wrong; the message is the full report.

    An ``AssertionError`` too, so that pytest shows the report as a test failure.
    """

    def __init__(self, result: Any) -> None:
        super().__init__(result.message)
        self.result = result

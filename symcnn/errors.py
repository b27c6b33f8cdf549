"""The exceptions symcnn raises for bad user input; the CLI turns them into one-line messages."""


class SymcnnError(Exception):
    """Base class of every error caused by the user's request (not by a bug in symcnn).

    Example:
        >>> try:
        ...     parse_size("5x")
        ... except SymcnnError as err:
        ...     print(err)  # doctest: +SKIP
    """


class SpecError(SymcnnError, ValueError):
    """A layer or network description is invalid (sizes, strides, unknown options)."""


class TooLargeError(SymcnnError):
    """The requested derivation would build more product terms than the allowed maximum."""

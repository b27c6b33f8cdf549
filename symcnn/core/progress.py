"""Progress of long work: the stages report it through a hook; the command line draws it.

The derivation, the proofs, the printers and the numeric engine call `report` (it does
nothing unless a hook is installed) and import no UI. ``symcnn``'s command line installs a
hook with `reporting` that shows a progress bar on standard error (see `symcnn.cli.progress`).

Example:
    >>> seen = []
    >>> with reporting(lambda stage, done, total: seen.append((stage, done, total))):
    ...     report("deriving", 1, 2)
    >>> report("deriving", 2, 2)  # no hook: nothing happens
    >>> seen
    [('deriving', 1, 2)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

#: A hook: ``hook(stage, done, total)``, ``done`` out of ``total`` units of the named stage.
Hook = Callable[[str, int, int], None]

_HOOK: ContextVar[Hook | None] = ContextVar("symcnn_progress", default=None)


def report(stage: str, done: int, total: int) -> None:
    """Tell the installed hook (if any) that ``done`` of ``total`` units of ``stage`` are done."""
    hook = _HOOK.get()
    if hook is not None:
        hook(stage, done, total)


@contextmanager
def reporting(hook: Hook | None) -> Iterator[None]:
    """Install a hook for the work done inside the ``with`` block."""
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)

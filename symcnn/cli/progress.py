"""The command line's progress bar: rich's, on standard error, only on a terminal, only for
work still running after about two seconds (a pipe or CI sees nothing)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from ..core.progress import reporting

#: Work that has not finished after this many seconds gets a progress bar.
DELAY_S = 2.0


class Bar:
    """A progress hook (``bar(stage, done, total)``) drawing one bar per stage with rich.

    Nothing is drawn when ``stream`` is not a terminal, nor before ``delay`` seconds.

    Example:
        >>> import io
        >>> bar = Bar(io.StringIO(), delay=0.0)
        >>> bar("deriving", 1, 2); bar.close()
        >>> bar.shown
        False
    """

    def __init__(self, stream: TextIO | None = None, delay: float = DELAY_S) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.delay = delay
        self.start = time.monotonic()
        self.progress: Any = None
        self.tasks: dict[str, Any] = {}

    @property
    def shown(self) -> bool:
        """True once the bar has been drawn."""
        return self.progress is not None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            if time.monotonic() - self.start < self.delay:
                return
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn

            self.progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=True,
                redirect_stdout=False,  # the output (often large) goes straight to its file
                redirect_stderr=False,
            )
            self.progress.start()
        task = self.tasks.get(stage)
        if task is None:
            task = self.tasks[stage] = self.progress.add_task(stage, total=max(total, 1))
        self.progress.update(task, completed=done, total=max(total, 1))

    def close(self) -> None:
        """Remove the bar (it is transient: the terminal keeps only the command's output)."""
        if self.progress is not None:
            self.progress.stop()


@contextmanager
def progress_bar(stream: TextIO | None = None) -> Iterator[Bar]:
    """Install a `Bar` as the progress hook for the work inside the ``with`` block."""
    bar = Bar(stream)
    try:
        with reporting(bar):
            yield bar
    finally:
        bar.close()

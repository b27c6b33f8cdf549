"""The ``symcnn`` command: one module per sub-command, `main` parses and dispatches."""

from .main import main

__all__ = ["main"]

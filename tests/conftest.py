"""Test-session set-up shared by every test module."""

from __future__ import annotations

import os


def pytest_sessionstart(session: object) -> None:
    """Under mutation testing, start from cold caches.

    mutmut runs each mutant's tests in a process forked from one that has already run the
    suite, so symcnn's memo caches hold results the unmutated code computed: a mutant of
    a kind's forward rule (cached per configuration) or of the chain rule's derivative
    templates would never run. (SymPy's own cache is off: scripts/mutation sets
    SYMPY_USE_CACHE=no.) The dummy arguments of the templates stay: objects built at
    collection hold them.
    """
    if "MUTANT_UNDER_TEST" not in os.environ:
        return
    from symcnn import testing
    from symcnn.derivation import backprop, derived
    from symcnn.numeric import vectorised

    derived.layer_parts.cache_clear()
    testing.compiled.cache_clear()
    backprop._TEMPLATES.clear()
    vectorised._COMPILED.clear()

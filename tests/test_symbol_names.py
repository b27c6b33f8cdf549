"""How symbols and LaTeX names carry channel indices (issue 14: mutation survivors)."""

from __future__ import annotations

from symcnn.core.symbols import with_channels


def test_channel_indices_join_the_superscript() -> None:
    """How a layer's LaTeX names take channel indices (written by hand)."""
    assert with_channels("a", "2") == "a^{(2)}"
    assert with_channels("z^{(0)}", "1,2") == "z^{(0)(1,2)}"
    assert with_channels(r"\delta^{(3)}", "o") == r"\delta^{(3)(o)}"
    assert with_channels("x^{T}", "c") == "{x^{T}}^{(c)}"
    assert with_channels("w)}", "c") == "w)}^{(c)}"

"""How the tensors of a derivation are named: a, w, b, z, δ for a lone layer; x, w⁰, z⁰, δ⁰ … in a network."""

from __future__ import annotations

from ..core.shapes import Shape, channel_axes
from ..core.symbols import Grid, Role, Stem

_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")

DELTA = Stem("d", r"\delta", "δ")
INPUT = Stem("x", "x", "x")
TARGET = Stem("t", "t", "t")
LOSS = Stem("E", "E", "E")
PREDICTION = Stem("y", "y", "ŷ")


def superscript(n: int) -> str:
    """A layer index as superscript digits.

    Example:
        >>> superscript(12)
        '¹²'
    """
    return str(n).translate(_SUPERSCRIPT)


def layer_stem(letter: str, index: int, latex: str | None = None) -> Stem:
    """The stem of a tensor of layer ``index``: ``w0`` / ``w^{(0)}`` / ``w⁰``.

    Example:
        >>> layer_stem("d", 1, r"\\delta")
        Stem(name='d1', latex='\\\\delta^{(1)}', text='δ¹')
    """
    text = {"d": "δ"}.get(letter, letter)
    return Stem(
        f"{letter}{index}", f"{latex or letter}^{{({index})}}", f"{text}{superscript(index)}"
    )


def error_stem(output: str, nabla: bool, index: int | None = None) -> Stem:
    r"""The stem of a layer's error: δ = ∂E/∂z for a pre-activation output, ∇a = ∂E/∂a for an
    activation's (the seeds keep δ for ∂E/∂z); its identifier is ``d`` (``d<l>``) either way.

    Example:
        >>> error_stem("a", True, 2).text, error_stem("z", False, 0).latex
        ('∇a²', '\\delta^{(0)}')
    """
    if not nabla:
        return DELTA if index is None else layer_stem("d", index, r"\delta")
    if index is None:
        return Stem("d", rf"\nabla {output}", f"∇{output}")
    return Stem(f"d{index}", rf"\nabla {output}^{{({index})}}", f"∇{output}{superscript(index)}")


def plain(letter: str) -> Stem:
    """The stem of a lone layer's tensor: ``a``, ``w``, ``z`` (δ is ``d``, printed δ)."""
    return DELTA if letter == "d" else Stem(letter, letter, letter)


def grid(stem: Stem, role: Role, shape: Shape, channels: int, base: int) -> Grid:
    """A grid of symbols named by ``stem`` whose first ``channels`` axes are channel axes.

    Example:
        >>> str(grid(plain("a"), Role.INPUT, (1, 2, 2), 1, 1).symbols[0, 1, 0])
        'a_21'
    """
    flags = tuple(k < channels for k in range(len(shape)))
    return Grid(stem.name, role, shape, flags, base, stem.latex, stem.text)


def activation_grid(stem: Stem, role: Role, shape: Shape, base: int) -> Grid:
    """A grid of an activation tensor: [C, H, W] has one channel axis, a vector none."""
    return grid(stem, role, shape, channel_axes(shape), base)

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


def param_stem(stems: tuple[str, str, str] | None, role: Role, index: int | None) -> Stem:
    """A parameter's stem: ``w0``/``b0`` (``w``/``b`` alone), or the kind's own (``gamma3``).

    Example:
        >>> param_stem(("gamma", r"\\gamma", "γ"), Role.WEIGHT, 3).text
        'γ³'
    """
    name, latex, text = stems or (role.value[0],) * 3
    if index is None:
        return Stem(name, latex, text)
    return Stem(f"{name}{index}", f"{latex}^{{({index})}}", f"{text}{superscript(index)}")


def quantity_stems(name: str, latex: str, text: str, index: int | None) -> tuple[Stem, Stem]:
    """The stems of a layer's named quantity and of its δ: ``mu3`` (μ⁽³⁾), ``dmu3`` (δμ⁽³⁾).

    Example:
        >>> [s.text for s in quantity_stems("mu", r"\\mu", "μ", 3)]
        ['μ⁽³⁾', 'δμ⁽³⁾']
    """
    sup = "" if index is None else f"⁽{superscript(index)}⁾"
    tex = "" if index is None else f"^{{({index})}}"
    tail = "" if index is None else str(index)
    return (
        Stem(f"{name}{tail}", f"{latex}{tex}", f"{text}{sup}"),
        Stem(f"d{name}{tail}", rf"\delta {latex}{tex}", f"δ{text}{sup}"),
    )


def grid(
    stem: Stem, role: Role, shape: Shape, channels: int, base: int, batch: bool = False
) -> Grid:
    """A grid of symbols named by ``stem`` whose first ``channels`` axes are channel axes (after
    the batch axis, with ``batch``).

    Example:
        >>> str(grid(plain("a"), Role.INPUT, (1, 2, 2), 1, 1).symbols[0, 1, 0])
        'a_21'
    """
    lead = 1 if batch else 0
    flags = tuple(lead <= k < lead + channels for k in range(len(shape)))
    return Grid(stem.name, role, shape, flags, base, stem.latex, stem.text, batch)


def activation_grid(
    stem: Stem, role: Role, shape: Shape, base: int, batch: int | None = None
) -> Grid:
    """A grid of an activation tensor: [C, H, W] has one channel axis, a vector none; with a
    mini-batch of ``batch`` samples it gets a leading sample axis.

    Example:
        >>> str(activation_grid(INPUT, Role.INPUT, (1, 2, 2), 1, batch=3).symbols[2, 0, 1, 1])
        'x_n3_22'
    """
    if batch is None:
        return grid(stem, role, shape, channel_axes(shape), base)
    return grid(stem, role, (batch, *shape), channel_axes(shape), base, batch=True)

"""What conv2d shares with conv_transpose2d: the bias modes, the input shape rule, and a base
class for the options, shapes, parameters and bias gradient both handle the same way."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ...core import indexed as ix
from ...core.arrays import add_all
from ...core.shapes import (
    Pair,
    Shape,
    parse_enum,
    parse_size,
    positive,
    shape_of,
)
from ...core.symbols import Role
from ...errors import SpecError
from ..base import Arrays, ClosedForm, Layer, NumpyCode, torch_array


class Bias(enum.Enum):
    """How a conv layer's bias is shared: not at all, per output channel, or per output entry."""

    NONE = "none"
    SHARED = "shared"
    UNTIED = "untied"

    @classmethod
    def parse(cls, value: Bias | str) -> Bias:
        """Accept a `Bias` or its name: ``Bias.parse("untied") is Bias.UNTIED``."""
        return parse_enum(cls, value, "bias mode")


def spatial_input(value: Any, channels: int | None) -> Shape:
    """(C, H, W) from (C, H, W), or from (H, W) / ``"HxW"`` and the channel count."""
    if isinstance(value, (tuple, list)) and len(value) == 3:
        c, h, w = (positive(v, "input") for v in value)
        if channels is not None and channels != c:
            raise SpecError(f"in_channels = {channels}, but the input has {c}")
        return (c, h, w)
    if isinstance(value, (tuple, list)) and len(value) == 1:
        raise SpecError("needs a [C, H, W] input but gets a flat vector")
    if isinstance(value, str) and value.lower().count("x") == 2:
        return spatial_input(shape_of(value, "input"), channels)
    return (channels or 1, *parse_size(value, "input"))


class Convolutional(Layer):
    """What a convolution and a transposed convolution share: the options they parse the same
    way, their input's (H, W), output shape, bias and its gradient's closed form, and
    PyTorch's parameters (no fields: each kind declares its own).

    Example:
        >>> from symcnn import Conv2d, ConvTranspose2d
        >>> [k(kernel=2, bias="untied", input=(3, 3)).param_shapes()[Role.BIAS] for k in (Conv2d, ConvTranspose2d)]
        [((1, 2, 2), 1), ((1, 4, 4), 1)]
    """

    if TYPE_CHECKING:
        kernel: Pair
        out_channels: int
        stride: Pair
        padding: Pair
        dilation: Pair
        bias: Bias

        @property
        def output_size(self) -> Pair: ...

        @property
        def weight_shape(self) -> Shape: ...

    def _parse_options(self) -> None:
        """Kernel, output channels, stride, padding, dilation and bias, checked and normalised."""
        set_ = object.__setattr__
        set_(self, "kernel", parse_size(self.kernel, "kernel"))
        set_(self, "out_channels", positive(self.out_channels, "out_channels"))
        set_(self, "stride", parse_size(self.stride, "stride"))
        set_(self, "padding", parse_size(self.padding, "padding", minimum=0))
        set_(self, "dilation", parse_size(self.dilation, "dilation"))
        set_(self, "bias", Bias.parse(self.bias))

    @staticmethod
    def torch_params(module: Any) -> dict[Role, np.ndarray]:
        """A PyTorch convolution's weight and bias (if it has one) as arrays."""
        params = {Role.WEIGHT: torch_array(module.weight)}
        if module.bias is not None:
            params[Role.BIAS] = torch_array(module.bias)
        return params

    @property
    def spatial(self) -> Pair:
        """The input's (H, W)."""
        return (self.input_shape[1], self.input_shape[2])

    @property
    def output_shape(self) -> Shape:
        return (self.out_channels, *self.output_size)

    @property
    def bias_shape(self) -> Shape | None:
        """(O,) for a shared bias, (O, OH, OW) for an untied one, None without bias."""
        if self.bias is Bias.SHARED:
            return (self.out_channels,)
        if self.bias is Bias.UNTIED:
            return self.output_shape
        return None

    def param_shapes(self) -> dict[Role, tuple[Shape, int]]:
        out = {Role.WEIGHT: (self.weight_shape, 2)}
        if self.bias_shape is not None:
            out[Role.BIAS] = (self.bias_shape, 1)
        return out

    @property
    def _o(self) -> str:
        """The output-channel index a name carries (none with one output channel)."""
        return "o" if self.out_channels > 1 else ""

    @property
    def _c(self) -> str:
        """The input-channel index a name carries (none with one input channel)."""
        return "c" if self.input_shape[0] > 1 else ""

    def bias_forms(self, delta: np.ndarray) -> list[ClosedForm]:
        """The bias gradient's closed form: Σ_ij δ for a shared bias, δ itself for an untied
        one (none without bias); ``delta`` is [O, OH, OW] of symbols or proof atoms."""
        if self.bias is Bias.SHARED:
            total = np.empty((self.out_channels,), dtype=object)
            for o in range(self.out_channels):
                total[o] = add_all(list(delta[o].ravel()))
            return [
                ClosedForm(
                    Role.BIAS,
                    "bias gradient: sum of δ",
                    "∂E/∂b_o = Σ_ij δ_o,ij" if self._o else "∂E/∂b = Σ_ij δ_ij",
                    lambda n: (
                        rf"\frac{{\partial E}}{{\partial {n.ch(n.b, self._o)}}}",
                        rf"\sum_{{i,j}} {n.ch(n.d, self._o)}_{{ij}}",
                    ),
                    total,
                )
            ]
        if self.bias is Bias.UNTIED:
            return [
                ClosedForm(
                    Role.BIAS,
                    "bias gradient: δ itself (untied bias)",
                    "∂E/∂b_o,ij = δ_o,ij" if self._o else "∂E/∂b_ij = δ_ij",
                    lambda n: (
                        rf"\frac{{\partial E}}{{\partial {n.ch(n.b, self._o)}_{{ij}}}}",
                        rf"{n.ch(n.d, self._o)}_{{ij}}",
                    ),
                    delta.copy(),
                )
            ]
        return []

    def with_bias(self, rhs: Any, wrt: dict[Role, Any], o_idx: tuple[Any, ...]) -> Any:
        """The index formula ``rhs`` plus its bias term (``b[o]`` shared, ``b[o,i,j]`` untied),
        the bias entry it is differentiated by added to ``wrt`` (``o_idx``: the output channel
        index, empty with one output channel)."""
        primed_o = tuple(ix.primed(ix.O_) for _ in o_idx)
        if self.bias is Bias.SHARED:
            wrt[Role.BIAS] = ix.B[ix.primed(ix.O_)] if o_idx else ix.BIAS
            return rhs + (ix.B[ix.O_] if o_idx else ix.BIAS)
        if self.bias is Bias.UNTIED:
            wrt[Role.BIAS] = ix.B[(*primed_o, ix.primed(ix.I_), ix.primed(ix.J_))]
            return rhs + ix.B[(*o_idx, ix.I_, ix.J_)]
        return rhs

    def _bias_axes(self) -> str:
        return "[O]" if self.bias is Bias.SHARED else "[O, OH, OW]"

    # --- what the checker and the sheets say of the bias ----------------------------------

    def wrong_results(self, role: Role, arrays: Arrays) -> list[tuple[str, np.ndarray]]:
        delta = arrays[Role.DELTA]
        if role is not Role.BIAS or delta is None:
            return []
        return list(bias_variants(self, delta))

    def bias_code(self, planar: bool) -> NumpyCode | None:
        """The bias gradient in NumPy: δ itself (untied) or its sum over the positions."""
        if self.bias is Bias.NONE:
            return None
        if self.bias is Bias.UNTIED:
            return NumpyCode("grad_b = delta", planar)
        return NumpyCode(
            "grad_b = delta.sum()" if planar else "grad_b = delta.sum(axis=(1, 2))", planar
        )


def bias_variants(layer: Any, delta: np.ndarray) -> Iterator[tuple[str, np.ndarray]]:
    """Wrong bias gradients of a layer with a `Bias` (``layer.bias``), named; δ is [O, OH, OW]."""
    right = (1, 2) if layer.bias is Bias.SHARED else ()
    if layer.bias is Bias.SHARED:
        yield (
            "bias gradient not summed (δ returned as it is; shared bias needs Σ_ij δ[o,i,j])",
            delta,
        )
    for count in (1, 2, 3):
        for axes in itertools.combinations((0, 1, 2), count):
            if axes == right:
                continue
            if layer.bias is Bias.UNTIED and axes == (1, 2):
                name = "bias gradient summed, but untied bias has one entry per output (∂E/∂b[o,i,j] = δ[o,i,j])"
            else:
                want = "(1, 2)" if layer.bias is Bias.SHARED else "none (untied: ∂E/∂b = δ)"
                name = (
                    f"bias gradient summed over the wrong axes: {axes} of δ [O, OH, OW], not {want}"
                )
            yield name, delta.sum(axis=axes)
    if layer.bias is Bias.SHARED:
        yield "bias gradient averaged (mean over positions), not summed", delta.mean(axis=(1, 2))
        yield (
            "bias gradient summed with keepdims: shape [O, 1, 1], not [O]",
            delta.sum(axis=(1, 2), keepdims=True),
        )

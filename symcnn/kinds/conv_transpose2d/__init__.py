"""conv_transpose2d: a transposed convolution (PyTorch's ConvTranspose2d), each input entry
spreading the kernel onto a larger output; stride, padding, output_padding, dilation, bias.
One package: spec, identities, sheet parts, classic mistakes, layer."""

from .layer import ConvTranspose2d
from .spec import transposed_size

__all__ = ["ConvTranspose2d", "transposed_size"]

"""conv2d: a 2-D convolution (cross-correlation) with stride, padding, dilation, channels, groups
and bias; one package: the layer, its identities, its sheet parts, its classic mistakes."""

from .layer import Conv2d
from .options import Bias, bias_variants, spatial_input

__all__ = ["Bias", "Conv2d", "bias_variants", "spatial_input"]

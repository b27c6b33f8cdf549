"""symcnn: derive, prove, print and check the backpropagation formulas of convolutional networks.

The pipeline, one subpackage a stage: ``core`` (names, functions, shapes) → ``kinds`` (one
module per layer kind) → ``graph`` (networks, files, presets) → ``derivation`` (the chain rule
and the proofs) → ``numeric`` (numbers) → ``document`` (what is shown) → ``render`` (text,
LaTeX, JSON) → ``sheet`` (derivation sheets) → ``checking`` (hand-written backward code) →
``cli``. This module and `symcnn.api` are the public face.
"""

from __future__ import annotations

from typing import Any

from .api import Derivation, Network, derive, load_network, parse_network, preset
from .compat import deprecated
from .core.symbols import Role
from .errors import SpecError, SymcnnError, TooLargeError, ValuesError
from .kinds.activation import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .kinds.add import Add
from .kinds.batchnorm import BatchNorm1d, BatchNorm2d
from .kinds.concat import Concat
from .kinds.conv2d import Bias, Conv2d
from .kinds.conv_transpose2d import ConvTranspose2d
from .kinds.dense import Linear
from .kinds.flatten import Flatten
from .kinds.global_avgpool2d import GlobalAvgPool2d
from .kinds.loss import CrossEntropyLoss, MSELoss
from .kinds.pool2d import AvgPool2d, MaxPool2d
from .kinds.registry import LAYERS, LOSSES
from .numeric.values import Values, load_values, random_values
from .pytorch import from_torch

__version__ = "0.2.0"

__all__ = [
    "LAYERS",
    "LOSSES",
    "Add",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Bias",
    "Concat",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Derivation",
    "Flatten",
    "GlobalAvgPool2d",
    "Identity",
    "LeakyReLU",
    "Linear",
    "MSELoss",
    "MaxPool2d",
    "Network",
    "ReLU",
    "Role",
    "Sigmoid",
    "SpecError",
    "SymcnnError",
    "Tanh",
    "TooLargeError",
    "Values",
    "ValuesError",
    "derive",
    "from_torch",
    "load_network",
    "load_values",
    "parse_network",
    "preset",
    "random_values",
]


def __getattr__(name: str) -> Any:
    """The names of symcnn 0.1 (``Conv2D``, ``ConvLayer`` …), with a deprecation warning."""
    return deprecated(name)

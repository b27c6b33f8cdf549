"""symcnn: derive, prove, print and check the backpropagation formulas of CNN layers."""

from .derive import ChainSum, Derivation, Term, derive
from .errors import SpecError, SymcnnError, TooLargeError
from .netfile import load_network, load_values, parse_network, random_values
from .netspec import ActivationKind, LossKind
from .network import (
    ActivationLayer,
    AvgPoolLayer,
    ConvLayer,
    DenseLayer,
    FlattenLayer,
    LayerKind,
    MaxPoolLayer,
    Network,
)
from .presets import preset
from .spec import AvgPool2D, Bias, Conv2D, MaxPool2D, parse_size
from .symbols import Role

__all__ = [
    "ActivationKind",
    "ActivationLayer",
    "AvgPool2D",
    "AvgPoolLayer",
    "Bias",
    "ChainSum",
    "Conv2D",
    "ConvLayer",
    "DenseLayer",
    "Derivation",
    "FlattenLayer",
    "LayerKind",
    "LossKind",
    "MaxPool2D",
    "MaxPoolLayer",
    "Network",
    "Role",
    "SpecError",
    "SymcnnError",
    "Term",
    "TooLargeError",
    "derive",
    "load_network",
    "load_values",
    "parse_network",
    "parse_size",
    "preset",
    "random_values",
]
__version__ = "0.1.0"

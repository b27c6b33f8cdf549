"""symcnn: derive, prove, print and check the backpropagation formulas of CNN layers."""

from .derive import ChainSum, Derivation, Term, derive
from .errors import SpecError, SymcnnError, TooLargeError
from .spec import AvgPool2D, Bias, Conv2D, MaxPool2D, parse_size
from .symbols import Role

__all__ = [
    "AvgPool2D",
    "Bias",
    "ChainSum",
    "Conv2D",
    "Derivation",
    "MaxPool2D",
    "Role",
    "SpecError",
    "SymcnnError",
    "Term",
    "TooLargeError",
    "derive",
    "parse_size",
]
__version__ = "0.1.0"

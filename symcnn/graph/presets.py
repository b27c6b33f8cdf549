"""The seed networks as presets: their TOML text (also shipped as examples/<name>.toml)."""

from __future__ import annotations

import tomllib

from ..core.shapes import suggest
from ..errors import SymcnnError
from .files import parse_network
from .network import Network

SEED000 = """\
# Seed 000 (es): a learner's network. 5x5 input -> conv 2x2, stride 1 -> 4x4
# -> max-pool 2x2, stride 2 -> 2x2 -> logistic sigmoid -> fully connected layer of
# 2 neurons (H1, H2) -> output layer. The seed does not give the output layer's size:
# here one sigmoid neuron, and the loss is E = 1/2 sum (y - t)^2 as in seed 001.
# The seed's dH1, dH2 are the deltas of layer 4 (d4_1, d4_2 = dE/dz4).
description = "seed 000: conv 2x2 -> max-pool 2x2/2 -> sigmoid -> dense 2 -> dense 1"
input = [1, 5, 5]
loss = "mse"

[[layer]]  # 0: 5x5 -> 4x4
type = "conv2d"
kernel = [2, 2]
stride = 1

[[layer]]  # 1: 4x4 -> 2x2, the winner of each window is recorded
type = "maxpool2d"
window = [2, 2]
stride = 2

[[layer]]  # 2
type = "sigmoid"

[[layer]]  # 3: 1x2x2 -> 4 features, row-major
type = "flatten"

[[layer]]  # 4: the hidden neurons H1, H2
type = "dense"
out_features = 2

[[layer]]  # 5
type = "sigmoid"

[[layer]]  # 6: the output layer
type = "dense"
out_features = 1

[[layer]]  # 7
type = "sigmoid"
"""

SEED003 = """\
# Seed 003 (zh): 3x3 input a -> conv 2x2 with an untied (per-position) bias b_11 ... b_22
# -> z (2x2) -> sigmoid -> y^, and the loss J = 1/2 sum (y^ - y)^2.
description = "seed 003: conv 2x2 with untied bias -> sigmoid -> mse"
input = [1, 3, 3]
loss = "mse"

[[layer]]  # 0: z = a conv w + b
type = "conv2d"
kernel = [2, 2]
bias = "untied"

[[layer]]  # 1: y^ = sigmoid(z)
type = "sigmoid"
"""

#: Preset name → TOML text.
PRESETS: dict[str, str] = {"seed000": SEED000, "seed003": SEED003}


def preset_text(name: str) -> str:
    """The TOML text of a preset; an unknown name is a one-line error listing the valid ones.

    Example:
        >>> preset_text("seed003").splitlines()[-1]
        'type = "sigmoid"'
    """
    if name not in PRESETS:
        raise SymcnnError(
            f"unknown preset {name!r}{suggest(name, list(PRESETS))}; "
            f"valid: {', '.join(PRESETS)} (see symcnn presets)"
        )
    return PRESETS[name]


def preset(name: str, cls: type[Network] = Network) -> Network:
    """The preset as a `Network` (or ``cls``).

    Example:
        >>> preset("seed000").describe()
        'input 1x5x5 → 0 conv2d 1x4x4 → 1 maxpool2d 1x2x2 → 2 sigmoid 1x2x2 → 3 flatten 4 → 4 dense 2 → 5 sigmoid 2 → 6 dense 1 → 7 sigmoid 1 → loss mse'
    """
    return parse_network(preset_text(name), f"preset {name}", cls=cls)


def preset_summary(name: str) -> str:
    """The preset's ``description`` line.

    Example:
        >>> preset_summary("seed003")
        'seed 003: conv 2x2 with untied bias -> sigmoid -> mse'
    """
    return str(tomllib.loads(preset_text(name)).get("description", ""))

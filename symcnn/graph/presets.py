"""Built-in networks: the network files in ``networks/`` (also in the repository's ``examples/``)."""

from __future__ import annotations

import importlib.resources
import tomllib

from ..core.shapes import suggest
from ..errors import SymcnnError
from .files import parse_network
from .network import Network

#: Preset name → TOML text, read from the network files shipped in ``symcnn/graph/networks``.
PRESETS: dict[str, str] = {
    entry.name.removesuffix(".toml"): entry.read_text(encoding="utf-8")
    for entry in sorted(
        importlib.resources.files(__package__).joinpath("networks").iterdir(),
        key=lambda e: e.name.removesuffix(".toml"),  # by preset name: lenet5 before lenet5-bn
    )
    if entry.name.endswith(".toml")
}


def preset_text(name: str) -> str:
    """The TOML text of a preset; an unknown name is a one-line error listing the valid ones.

    Example:
        >>> preset_text("seed003").startswith("# Seed 003")
        True
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
        >>> net = preset("seed000")
        >>> net.input, len(net.nodes), net.output_shape
        ((1, 5, 5), 8, (1,))
    """
    return parse_network(preset_text(name), f"preset {name}", cls=cls)


def preset_summary(name: str) -> str:
    """The preset's ``description`` line.

    Example:
        >>> preset_summary("seed003").startswith("seed 003: ")
        True
    """
    return str(tomllib.loads(preset_text(name)).get("description", ""))

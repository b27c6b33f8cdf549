"""Built-in networks: the network files in ``networks/`` (also in the repository's ``examples/``)."""

from __future__ import annotations

import importlib.resources
import tomllib
from typing import Any

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

#: Older names → preset (``seed000`` is ``conv-pool-dense``): a file's ``aliases``.
ALIASES: dict[str, str] = {
    alias: name
    for name, text in PRESETS.items()
    for alias in tomllib.loads(text).get("aliases", [])
}


def resolve(name: str) -> str:
    """The preset a name or an alias stands for; an unknown name is a one-line error.

    Example:
        >>> resolve("seed003"), resolve("conv-sigmoid")
        ('conv-sigmoid', 'conv-sigmoid')
    """
    if name in PRESETS:
        return name
    if name in ALIASES:
        return ALIASES[name]
    known = [*PRESETS, *ALIASES]
    raise SymcnnError(
        f"unknown preset {name!r}{suggest(name, known)}; "
        f"valid: {', '.join(PRESETS)} (see symcnn presets)"
    )


def preset_text(name: str) -> str:
    """The TOML text of a preset (by name or alias).

    Example:
        >>> preset_text("seed003").startswith("# A convolution")
        True
    """
    return PRESETS[resolve(name)]


def preset(name: str, cls: type[Network] = Network) -> Network:
    """The preset as a `Network` (or ``cls``).

    Example:
        >>> net = preset("conv-pool-dense")
        >>> net.input, len(net.nodes), net.output_shape
        ((1, 5, 5), 8, (1,))
    """
    return parse_network(preset_text(name), f"preset {resolve(name)}", cls=cls)


def preset_info(name: str) -> dict[str, Any]:
    """What ``symcnn presets`` says of a preset: its description, aliases, and which reference
    explanation it reproduces (empty when none).

    Example:
        >>> preset_info("seed003")["aliases"]
        ['seed003']
    """
    data = tomllib.loads(preset_text(name))
    return {
        "description": str(data.get("description", "")),
        "aliases": list(data.get("aliases", [])),
        "explains": str(data.get("explains", "")),
    }


def preset_summary(name: str) -> str:
    """The preset's ``description`` line.

    Example:
        >>> preset_summary("seed003").startswith("conv 2x2")
        True
    """
    return str(preset_info(name)["description"])

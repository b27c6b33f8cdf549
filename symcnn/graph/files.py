"""Network files (TOML, read with tomllib), with the file's line in every error."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.shapes import DEFAULT_MAX_TERMS, suggest
from ..errors import LayerKeyError, NetworkShapeError, SpecError, SymcnnError, TooLargeError
from ..kinds.registry import LAYERS, layer_from_table
from .network import WIRING_KEYS, Network, Wiring

#: ``aliases`` and ``explains`` describe a preset (``symcnn presets``); they change nothing.
TOP_KEYS = (
    "input", "batch", "loss", "reduction", "index_base", "description", "aliases", "explains",
    "layer",
)  # fmt: skip
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")


class _Lines:
    """Finds the line of a table header or key in a TOML text (1-based), for error messages."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.layer_headers: list[int] = []
        self.tables: dict[str, int] = {}
        for no, line in enumerate(self.lines, 1):
            m = _HEADER.match(line)
            if not m:
                continue
            name = m.group(1).strip().strip("\"'")
            if line.lstrip().startswith("[[") and name == "layer":
                self.layer_headers.append(no)
            else:
                self.tables.setdefault(name, no)

    def _span(self, layer: int | None) -> tuple[int, int]:
        """First and last line (1-based) of the top level (None) or of [[layer]] ``layer``."""
        starts = sorted([*self.layer_headers, *self.tables.values()])
        if layer is None:
            return 1, (starts[0] - 1 if starts else len(self.lines))
        begin = self.layer_headers[layer]
        later = [s for s in starts if s > begin]
        return begin, (later[0] - 1 if later else len(self.lines))

    def table_key(self, table: str, key: str) -> int | None:
        """Line of ``key`` inside the ``[table]`` table (its header if not found)."""
        begin = self.tables.get(table)
        if begin is None:
            return None
        later = [s for s in [*self.layer_headers, *self.tables.values()] if s > begin]
        end = min(later) - 1 if later else len(self.lines)
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for no in range(begin, end + 1):
            if pattern.match(self.lines[no - 1]):
                return no
        return begin

    def key(self, layer: int | None, key: str | None) -> int | None:
        """Line of ``key`` in the top level or in [[layer]] ``layer`` (its header if not found)."""
        if layer is not None and layer >= len(self.layer_headers):
            return None
        begin, end = self._span(layer)
        if key is not None:
            pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
            for no in range(begin, end + 1):
                if pattern.match(self.lines[no - 1]):
                    return no
            if layer is None and key in self.tables:
                return self.tables[key]
        return begin if layer is not None else None


@dataclass(frozen=True)
class _Where:
    source: str
    lines: _Lines

    def error(self, line: int | None, message: str) -> SpecError:
        where = f"{self.source} line {line}" if line else self.source
        return SpecError(f"{where}: {message}")


def parse_network(
    text: str,
    source: str = "<network>",
    max_terms: int = DEFAULT_MAX_TERMS,
    cls: type[Network] = Network,
) -> Network:
    """Build a `Network` (or ``cls``) from TOML text; errors name the file and the line.

    Example:
        >>> net = parse_network('input = [1, 3, 3]\\nloss = "mse"\\n[[layer]]\\n'
        ...                     'type = "tanh"\\n')
        >>> net.describe()
        'input 1x3x3 → 0 tanh 1x3x3 → loss mse'
    """
    where = _Where(source, _Lines(text))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise where.error(None, f"invalid TOML: {err}{_semicolon_hint(text, str(err))}") from None
    for key in data:
        if key not in TOP_KEYS:
            raise where.error(
                where.lines.key(None, key),
                f"unknown key {key!r}{suggest(key, TOP_KEYS)}; valid: {', '.join(TOP_KEYS)}",
            )
    if "input" not in data:
        raise where.error(None, "missing input, e.g. input = [1, 5, 5] (channels, rows, cols)")
    raw_layers = data.get("layer")
    if not isinstance(raw_layers, list) or not raw_layers:
        example = next(iter(LAYERS))
        raise where.error(
            None, f'no layers: add [[layer]] tables, e.g. [[layer]] type = "{example}"'
        )
    layers = []
    wiring = []
    for index, table in enumerate(raw_layers):
        if not isinstance(table, Mapping):
            raise where.error(where.lines.key(None, "layer"), "layer must be [[layer]] tables")
        if "loss" in table:
            raise where.error(
                where.lines.key(index, "loss"),
                f"'loss' belongs at the top of the file, before the first [[layer]] (in TOML, "
                f"keys after a [[layer]] header belong to that layer, here layer {index})",
            )
        try:
            wiring.append(Wiring.of(table))
            layers.append(
                layer_from_table({k: v for k, v in table.items() if k not in WIRING_KEYS})
            )
        except LayerKeyError as err:
            raise where.error(where.lines.key(index, err.key), f"layer {index}: {err}") from None
    loss = data.get("loss", "mse")
    if isinstance(loss, Mapping):  # a [loss] table with type = "mse"
        for key in loss:
            if key != "type":
                raise where.error(
                    where.lines.table_key("loss", key),
                    f"unknown key {key!r} in [loss]; valid: type",
                )
        loss = loss.get("type", "")
    batch = data.get("batch")
    checked = {  # the TOML types first (errors with their line, not wrapped twice below)
        "input": _value(where, "input", data["input"]),
        "loss": _value(where, "loss", loss),
        "index_base": _value(where, "index_base", data.get("index_base", 1)),
        "batch": None if batch is None else _value(where, "batch", batch),
        "reduction": _value(where, "reduction", data.get("reduction", "sum")),
    }
    try:
        return cls(tuple(layers), max_terms=max_terms, wiring=tuple(wiring), **checked)
    except NetworkShapeError as err:
        if err.layer is not None and err.layer < len(layers):
            line = where.lines.key(err.layer, err.key)
        else:
            line = where.lines.key(None, "loss")
        raise where.error(line, str(err)) from None
    except TooLargeError:
        raise
    except SpecError as err:
        raise where.error(_line_of_top(where, str(err)), str(err)) from None


def _value(where: _Where, key: str, value: Any) -> Any:
    """Reject values of the wrong TOML type before the spec sees them."""
    expected = {"input": list, "loss": str, "index_base": int, "batch": int, "reduction": str}[key]
    if not isinstance(value, expected) or isinstance(value, bool):
        kind = {list: "an array", str: "a string", int: "an integer"}[expected]
        raise where.error(where.lines.key(None, key), f"{key} must be {kind}, got {value!r}")
    return value


def _line_of_top(where: _Where, message: str) -> int | None:
    for key in ("input", "batch", "reduction", "loss", "index_base"):
        words = key.replace("_", " ")
        if message.startswith((key, words)) or f" {key} " in message:
            return where.lines.key(None, key)
    return None


def _semicolon_hint(text: str, message: str) -> str:
    m = re.search(r"line (\d+)", message)
    lines = text.splitlines()
    if m and 0 < int(m.group(1)) <= len(lines) and ";" in lines[int(m.group(1)) - 1]:
        return " (TOML has one key = value per line; ';' does not separate keys)"
    return ""


def load_network(
    path: str | Path, max_terms: int = DEFAULT_MAX_TERMS, cls: type[Network] = Network
) -> Network:
    """Read a network file; a missing file is a one-line error.

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "net.toml")
        >>> _ = open(f, "w").write('input = [4]\\n[[layer]]\\ntype = "tanh"\\n')
        >>> load_network(f).describe()
        'input 4 → 0 tanh 4 → loss mse'
    """
    return parse_network(read_text(path), str(path), max_terms, cls)


def read_text(path: str | Path) -> str:
    """A file's text; a missing or unreadable file is a one-line `SymcnnError`."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SymcnnError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SymcnnError(f"{path}: cannot read: {err}") from None

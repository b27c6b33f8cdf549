"""Network files (TOML, read with tomllib) and value files (JSON), with line numbers in errors."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SpecError, SymcnnError, TooLargeError
from .netlayers import LayerKeyError, NetworkShapeError, layer_from_dict, suggest
from .netspec import LossKind
from .network import Network
from .spec import DEFAULT_MAX_TERMS

TOP_KEYS = ("input", "loss", "index_base", "description", "layer")
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
    text: str, source: str = "<network>", max_terms: int = DEFAULT_MAX_TERMS
) -> Network:
    """Build a `Network` from TOML text; errors name the file and the line.

    Example:
        >>> net = parse_network('input = [1, 3, 3]\\nloss = "mse"\\n[[layer]]\\n'
        ...                     'type = "conv2d"\\nkernel = [2, 2]\\n')
        >>> net.describe()
        'input 1x3x3 → 0 conv2d 1x2x2 → loss mse'
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
        raise where.error(None, 'no layers: add [[layer]] tables, e.g. [[layer]] type = "conv2d"')
    layers = []
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
            layers.append(layer_from_dict(table))
        except LayerKeyError as err:
            raise where.error(where.lines.key(index, err.key), f"layer {index}: {err}") from None
    loss = data.get("loss", LossKind.MSE.value)
    if isinstance(loss, Mapping):  # a [loss] table with type = "mse"
        for key in loss:
            if key != "type":
                raise where.error(
                    where.lines.table_key("loss", key),
                    f"unknown key {key!r} in [loss]; valid: type",
                )
        loss = loss.get("type", "")
    try:
        return Network(
            tuple(layers),
            input=_value(where, "input", data["input"]),
            loss=_value(where, "loss", loss),
            index_base=_value(where, "index_base", data.get("index_base", 1)),
            max_terms=max_terms,
        )
    except NetworkShapeError as err:
        line = where.lines.key(err.layer, None) if err.layer is not None else None
        raise where.error(line or where.lines.key(None, "loss"), str(err)) from None
    except TooLargeError:
        raise
    except SpecError as err:
        raise where.error(_line_of_top(where, str(err)), str(err)) from None


def _value(where: _Where, key: str, value: Any) -> Any:
    """Reject values of the wrong TOML type before the spec sees them."""
    expected = {"input": list, "loss": str, "index_base": int}[key]
    if not isinstance(value, expected) or isinstance(value, bool):
        kind = {list: "an array", str: "a string", int: "an integer"}[expected]
        raise where.error(where.lines.key(None, key), f"{key} must be {kind}, got {value!r}")
    return value


def _line_of_top(where: _Where, message: str) -> int | None:
    for key in ("input", "loss", "index_base"):
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


def load_network(path: str | Path, max_terms: int = DEFAULT_MAX_TERMS) -> Network:
    """Read a network file; a missing file is a one-line error.

    Example:
        >>> load_network("examples/seed003.toml").describe()  # doctest: +SKIP
        'input 1x3x3 → 0 conv2d 1x2x2 → 1 sigmoid 1x2x2 → loss mse'
    """
    return parse_network(_read(path), str(path), max_terms)


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SymcnnError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SymcnnError(f"{path}: cannot read: {err}") from None


# --- values ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkValues:
    """Numbers for a network: ``input`` [C, H, W], ``target`` (output shape), ``params``.

    Example:
        >>> from symcnn.presets import preset
        >>> v = random_values(preset("seed003"), seed=0)
        >>> sorted(v.params), v.target.shape
        (['0.bias', '0.weight'], (1, 2, 2))
    """

    input: np.ndarray
    target: np.ndarray
    params: dict[str, np.ndarray]


def check_values(network: Network, data: Any, source: str = "values") -> NetworkValues:
    """Validate ``{"input": …, "target": …, "params": {"0.weight": …}}`` against a network.

    Missing, unknown or wrongly shaped arrays are one-line `SymcnnError` messages.

    Example:
        >>> from symcnn.presets import preset
        >>> check_values(preset("seed003"), {"input": [[[0] * 3] * 3]})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        symcnn.errors.SymcnnError: values: missing target (an array of shape [1, 2, 2])
    """
    if not isinstance(data, Mapping):
        raise SymcnnError(f"{source}: expected an object with input, target and params")
    valid = ("input", "target", "params")
    for key in data:
        if key not in valid:
            raise SymcnnError(
                f"{source}: unknown key {key!r}{suggest(key, valid)}; valid: {', '.join(valid)}"
            )
    inputs = _array(data, "input", network.input, source)
    target = _array(data, "target", network.output_shape, source)
    if network.loss is LossKind.CROSS_ENTROPY and (
        np.any(target < 0) or abs(float(target.sum()) - 1.0) > 1e-9
    ):
        raise SymcnnError(
            f"{source}: for cross_entropy the target must be a probability vector "
            f"(entries ≥ 0, sum 1), got sum {float(target.sum()):g}"
        )
    raw = data.get("params", {})
    if not isinstance(raw, Mapping):
        raise SymcnnError(f'{source}: "params" must be an object like {{"0.weight": [...]}}')
    shapes = network.param_shapes()
    for name in raw:
        if name not in shapes:
            names = ", ".join(shapes) or "none"
            raise SymcnnError(
                f"{source}: unknown parameter {name!r}{suggest(name, list(shapes))}; "
                f"this network's parameters: {names}"
            )
    params = {name: _array(raw, name, shape, source, "params.") for name, shape in shapes.items()}
    return NetworkValues(inputs, target, params)


def _array(
    data: Mapping[str, Any], key: str, shape: tuple[int, ...], source: str, prefix: str = ""
) -> np.ndarray:
    want = list(shape)
    if key not in data:
        raise SymcnnError(f"{source}: missing {prefix}{key} (an array of shape {want})")
    try:
        arr = np.asarray(data[key], dtype=float)
    except (TypeError, ValueError):
        raise SymcnnError(
            f"{source}: {prefix}{key} is not a rectangular array of numbers (shape {want})"
        ) from None
    if arr.shape != tuple(shape):
        raise SymcnnError(f"{source}: {prefix}{key} has shape {list(arr.shape)}, expected {want}")
    if not np.all(np.isfinite(arr)):
        raise SymcnnError(f"{source}: {prefix}{key} contains a value that is not finite")
    return arr


def load_values(path: str | Path, network: Network) -> NetworkValues:
    """Read and validate a ``--values`` JSON file (see `check_values`).

    Example:
        >>> load_values("values.json", net)  # doctest: +SKIP
    """
    text = _read(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SymcnnError(
            f"{path}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None
    return check_values(network, data, str(path))


def random_values(network: Network, seed: int) -> NetworkValues:
    """Reproducible random values: input, parameters ~ U(−1, 1); targets in [0, 1] (mse) or a
    one-hot class (cross_entropy).

    Example:
        >>> from symcnn.presets import preset
        >>> random_values(preset("seed000"), 0).params["4.weight"].shape
        (2, 4)
    """
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-1.0, 1.0, network.input)
    params = {name: rng.uniform(-1.0, 1.0, shape) for name, shape in network.param_shapes().items()}
    if network.loss is LossKind.CROSS_ENTROPY:
        target = np.zeros(network.output_shape)
        target[int(rng.integers(target.size))] = 1.0
    else:
        target = rng.uniform(0.0, 1.0, network.output_shape)
    return NetworkValues(inputs, target, params)


def values_json(values: NetworkValues) -> dict[str, Any]:
    """A `NetworkValues` as the JSON object ``--values`` reads.

    Example:
        >>> from symcnn.presets import preset
        >>> sorted(values_json(random_values(preset("seed003"), 0)))
        ['input', 'params', 'target']
    """
    return {
        "input": values.input.tolist(),
        "target": values.target.tolist(),
        "params": {k: v.tolist() for k, v in values.params.items()},
    }

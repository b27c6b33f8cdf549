"""The numbers of a derivation: one `Values` type, read from JSON, drawn at random, checked once."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.shapes import Shape, suggest
from ..core.symbols import Role
from ..errors import ValuesError

if TYPE_CHECKING:
    from ..graph.network import Network


@dataclass(frozen=True)
class Values:
    """Numbers for a network or a lone layer.

    ``input`` is the input tensor, ``params`` maps parameter names (``0.weight`` in a
    network, ``weight`` for a lone layer) to arrays, ``target`` is the target (a network)
    and ``delta`` the δ given at a lone layer's output.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> v = random_values(preset("seed003"), seed=0)
        >>> sorted(v.params), v.target.shape
        (['0.bias', '0.weight'], (1, 2, 2))
    """

    input: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)
    target: np.ndarray | None = None
    delta: np.ndarray | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array by the name a values file gives it (``params`` taken out of their table).

        Example:
            >>> sorted(Values(np.zeros(2), {"weight": np.ones(2)}, delta=np.ones(1)).arrays())
            ['delta', 'input', 'weight']
        """
        out = {"input": self.input, **self.params}
        if self.target is not None:
            out["target"] = self.target
        if self.delta is not None:
            out["delta"] = self.delta
        return out


def needed(network: Network) -> dict[str, Shape]:
    """Name → shape of every array a network (or a lone layer) needs, as a values file names them.

    Example:
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Linear
        >>> needed(Network.of(Linear(2, input=(3,))))
        {'input': (3,), 'weight': (2, 3), 'bias': (2,), 'delta': (2,)}
    """
    out: dict[str, Shape] = {"input": network.batched(network.input), **network.param_shapes()}
    if network.lone:
        out["delta"] = network.batched(network.output_shape)
    else:
        out["target"] = network.batched(network.output_shape)
    return out


def _array(
    data: Mapping[str, Any], key: str, shape: Shape, source: str, prefix: str = ""
) -> np.ndarray:
    """One array of a values file, checked: present, numbers, the right shape, finite.

    Axes of length 1 may be left out (a 3x3 list for a one-channel 3x3 input, a number for a
    single bias).
    """
    want = list(shape)
    if key not in data:
        hint = " (δ = ∂E/∂z comes from the layer after this one)" if key == "delta" else ""
        raise ValuesError(f"{source}: missing {prefix}{key} (an array of shape {want}){hint}")
    try:
        arr = np.asarray(data[key], dtype=float)
    except (TypeError, ValueError):
        raise ValuesError(
            f"{source}: {prefix}{key} is not a rectangular array of numbers (shape {want})"
        ) from None
    if arr.shape != tuple(shape):
        if arr.size != int(np.prod(shape)) or _squeezed(arr.shape) != _squeezed(shape):
            raise ValuesError(
                f"{source}: {prefix}{key} has shape {list(arr.shape)}, expected {want}"
            )
        arr = arr.reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise ValuesError(f"{source}: {prefix}{key} contains a value that is not finite")
    return arr


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)


def _no_unknown(data: Mapping[str, Any], valid: list[str], source: str, what: str = "key") -> None:
    for key in data:
        if key not in valid:
            listed = ", ".join(valid) or "none"
            raise ValuesError(
                f"{source}: unknown {what} {key!r}{suggest(str(key), valid)}; valid: {listed}"
            )


def check_values(network: Network, data: Any, source: str = "values") -> Values:
    """Validate numbers for a network or a lone layer; one line says what is wrong.

    A network reads ``{"input": …, "target": …, "params": {"0.weight": …}}``; a lone layer
    ``{"input": …, "weight": …, "bias": …, "delta": …}``.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> check_values(preset("seed003"), {"input": [[[0] * 3] * 3]})
        Traceback (most recent call last):
        symcnn.errors.ValuesError: values: missing target (an array of shape [1, 2, 2])
    """
    shapes = network.param_shapes()
    if isinstance(data, Values):
        data = {
            "input": data.input,
            "target": data.target,
            "delta": data.delta,
            "params": data.params,
        }
        data = {k: v for k, v in data.items() if v is not None}
        if network.lone:
            data = {k: v for k, v in data.items() if k != "params"} | dict(data.get("params", {}))
    if not isinstance(data, Mapping):
        keys = ", ".join(needed(network))
        raise ValuesError(f"{source}: expected an object with {keys}")
    if network.lone:
        _no_unknown(data, list(needed(network)), source)
        params = {name: _array(data, name, shape, source) for name, shape in shapes.items()}
        delta = _array(data, "delta", network.batched(network.output_shape), source)
        inputs = _array(data, "input", network.batched(network.input), source)
        return Values(inputs, params, delta=delta)
    _no_unknown(data, ["input", "target", "params"], source)
    inputs = _array(data, "input", network.batched(network.input), source)
    target = _array(data, "target", network.batched(network.output_shape), source)
    assert network.loss is not None
    for n, sample in enumerate(target if network.batch is not None else [target]):
        where = source if network.batch is None else f"{source} (sample {n + network.index_base})"
        network.loss.check_target(sample, where)
    raw = data.get("params", {})
    if not isinstance(raw, Mapping):
        raise ValuesError(f'{source}: "params" must be an object like {{"0.weight": [...]}}')
    _no_unknown(raw, list(shapes), source, "parameter")
    params = {name: _array(raw, name, shape, source, "params.") for name, shape in shapes.items()}
    return Values(inputs, params, target=target)


def read_json(path: str | Path) -> Any:
    """The JSON content of a file; a missing, unreadable or invalid file is one line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValuesError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValuesError(f"{path}: cannot read: {err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValuesError(
            f"{path}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None


def load_values(path: str | Path, network: Network) -> Values:
    """Read and validate a ``--values`` JSON file (see `check_values`).

    Example:
        >>> import tempfile, os
        >>> from symcnn.graph.network import Network
        >>> from symcnn import Tanh
        >>> f = os.path.join(tempfile.mkdtemp(), "v.json")
        >>> _ = open(f, "w").write('{"input": [[1, 2], [3, 4]], "delta": [[0, 1], [1, 0]]}')
        >>> load_values(f, Network.of(Tanh(input=(1, 2, 2)))).input.tolist()
        [[[1.0, 2.0], [3.0, 4.0]]]
    """
    return check_values(network, read_json(path), str(path))


def one_decimal(shapes: dict[str, Shape], seed: int) -> dict[str, np.ndarray]:
    """Reproducible numbers with one decimal in [−1, 1], easy to follow by hand.

    Example:
        >>> v = one_decimal({"input": (1, 2, 2)}, seed=3)
        >>> v["input"].shape, bool(np.all(np.abs(v["input"]) <= 1))
        ((1, 2, 2), True)
    """
    rng = np.random.default_rng(seed)
    return {
        name: rng.integers(-10, 11, size=shape).astype(float) / 10 for name, shape in shapes.items()
    }


def random_values(network: Network, seed: int) -> Values:
    """Reproducible random numbers for a network or a lone layer.

    A lone layer gets numbers with one decimal in [−1, 1], easy to follow by hand. A network
    gets what PyTorch starts from: every weight and bias uniform in ±1/√fan_in (fan_in = the
    inputs one output entry reads: C·KH·KW for a convolution, in_features for a fully connected layer),
    an input drawn like ``torch.randn`` (standard normal), and a target its loss can take
    (in [0, 1] for mse, a one-hot class for cross-entropy), so a classifier's loss starts
    near ln(classes).

    Example:
        >>> from symcnn.graph.presets import preset
        >>> random_values(preset("seed000"), 0).params["4.weight"].shape
        (2, 4)
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValuesError(f"--random needs a seed ≥ 0, got {seed}")
    if network.lone:
        drawn = one_decimal(needed(network), seed)
        delta = drawn.pop("delta")
        return Values(drawn.pop("input"), drawn, delta=delta)
    rng = np.random.default_rng(seed)
    inputs = rng.standard_normal(network.batched(network.input))
    params = {}
    for node in network.nodes:
        # PyTorch's default for a weight of two axes or more (conv, dense): uniform in
        # ±1/√fan_in, its bias alike; a per-channel scale (batch norm) keeps ±1
        weight = node.layer.param_shapes().get(Role.WEIGHT)
        bound = 1.0 / math.sqrt(node.layer.fan_in) if weight and len(weight[0]) > 1 else 1.0
        for role, name in node.param_names(network.lone).items():
            params[name] = rng.uniform(-bound, bound, node.layer.param_shapes()[role][0])
    assert network.loss is not None
    shape = network.output_shape
    if network.batch is None:
        return Values(inputs, params, target=network.loss.draw_target(rng, shape))
    target = np.stack([network.loss.draw_target(rng, shape) for _ in range(network.batch)])
    return Values(inputs, params, target=target)


def hand_values(network: Network, seed: int) -> Values:
    """Reproducible numbers a student can follow by hand: one decimal in [−1, 1] for the
    input and the parameters, a target its loss can take (one decimal in [0, 1] for the
    squared error, a one-hot class for cross-entropy). A lone layer's δ alike.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> v = hand_values(preset("seed003"), 1)
        >>> bool(np.all(np.round(v.input * 10) == v.input * 10))
        True
    """
    if network.lone:
        return random_values(network, seed)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValuesError(f"--random needs a seed ≥ 0, got {seed}")
    drawn = one_decimal({"input": network.batched(network.input), **network.param_shapes()}, seed)
    inputs = drawn.pop("input")
    for node in network.nodes:  # a batch norm's scale of 0 would silence its channel
        name = node.param_names().get(Role.WEIGHT)
        if node.layer.couples_samples and name is not None:
            drawn[name][drawn[name] == 0] = 1.0
    assert network.loss is not None
    rng = np.random.default_rng(seed + 1)
    shape = network.output_shape
    if network.batch is None:
        target = np.round(network.loss.draw_target(rng, shape), 1)
    else:  # one target per sample
        target = np.stack(
            [np.round(network.loss.draw_target(rng, shape), 1) for _ in range(network.batch)]
        )
    return Values(inputs, drawn, target=target)


def values_json(values: Values) -> dict[str, Any]:
    """`Values` as the JSON object ``--values`` reads.

    Example:
        >>> from symcnn.graph.presets import preset
        >>> sorted(values_json(random_values(preset("seed003"), 0)))
        ['input', 'params', 'target']
    """
    if values.target is None:
        return {name: arr.tolist() for name, arr in values.arrays().items()}
    return {
        "input": values.input.tolist(),
        "target": values.target.tolist(),
        "params": {k: v.tolist() for k, v in values.params.items()},
    }

"""Numbers for a worked example: read from a JSON file or drawn from a seeded generator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import SymcnnError
from .symbols import Role

#: The arrays a single layer's worked example needs, in the order they are reported.
VALUE_ROLES = (Role.INPUT, Role.WEIGHT, Role.BIAS, Role.DELTA)


def needed(grids: dict[Role, Any]) -> dict[str, tuple[int, ...]]:
    """Name → shape of every array a layer with these grids needs (input, weight, bias, delta)."""
    return {r.value: tuple(grids[r].shape) for r in VALUE_ROLES if r in grids}


def random_values(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Reproducible small numbers with one decimal in [-1, 1], easy to follow by hand.

    Example:
        >>> v = random_values({"input": (1, 2, 2)}, seed=3)
        >>> v["input"].shape, bool(np.all(np.abs(v["input"]) <= 1))
        ((1, 2, 2), True)
    """
    if seed < 0:
        raise SymcnnError(f"--random needs a seed ≥ 0, got {seed}")
    rng = np.random.default_rng(seed)
    return {
        name: rng.integers(-10, 11, size=shape).astype(float) / 10 for name, shape in shapes.items()
    }


def load_values(path: str | Path, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """Arrays from a JSON object ``{"input": [[…]], "weight": …, "bias": …, "delta": …}``.

    Shapes follow the JSON contract (input ``[C, H, W]`` …); axes of length 1 may be left
    out (a 3x3 list for a one-channel 3x3 input, a number for a single bias).

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "v.json")
        >>> _ = open(f, "w").write('{"input": [[1, 2], [3, 4]]}')
        >>> load_values(f, {"input": (1, 2, 2)})["input"].tolist()
        [[[1.0, 2.0], [3.0, 4.0]]]
    """
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SymcnnError(f"values file {str(path)!r} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SymcnnError(f"cannot read values file {str(path)!r}: {err}") from None
    except json.JSONDecodeError as err:
        raise SymcnnError(
            f"values file {str(path)!r} is not JSON: {err.msg} at line {err.lineno}"
        ) from None
    return check_values(raw, shapes, source=str(path))


def check_values(
    raw: Any, shapes: dict[str, tuple[int, ...]], source: str = "values"
) -> dict[str, np.ndarray]:
    """Validate a mapping of arrays against the needed shapes; one clear error if wrong."""
    if not isinstance(raw, dict):
        raise SymcnnError(f"{source}: expected a JSON object with keys {', '.join(shapes)}")
    missing = [k for k in shapes if k not in raw]
    if missing:
        want = "; ".join(f"{k} of shape {list(shapes[k])}" for k in missing)
        hint = " (δ = ∂E/∂z comes from the layer after this one)" if "delta" in missing else ""
        raise SymcnnError(f"{source}: missing {want}{hint}")
    unknown = sorted(set(raw) - set(shapes))
    if unknown:
        raise SymcnnError(
            f"{source}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(shapes)}"
        )
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        try:
            arr = np.asarray(raw[name], dtype=float)
        except (TypeError, ValueError):
            raise SymcnnError(f"{source}: {name} must be a (nested) list of numbers") from None
        if arr.shape != shape:
            if arr.size != int(np.prod(shape)) or _squeezed(arr.shape) != _squeezed(shape):
                raise SymcnnError(
                    f"{source}: {name} has shape {list(arr.shape)}, expected {list(shape)}"
                )
            arr = arr.reshape(shape)
        if not np.all(np.isfinite(arr)):
            raise SymcnnError(f"{source}: {name} contains a value that is not a finite number")
        out[name] = arr
    return out


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for s in shape if s != 1)

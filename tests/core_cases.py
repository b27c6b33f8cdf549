"""Layer configurations the core tests sweep over, plus helpers to derive and evaluate them.

Every case has a readable id (used as the pytest id). Derivations are cached per spec and index base, so the
many tests that look at one configuration derive it once.

Example:
    >>> case = CONV_CASES[0]
    >>> case.id, case.spec().output_shape
    ('seed003-3x3-k2x2-untied', (1, 2, 2))
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import pytest
import sympy

import symcnn

Pair = tuple[int, int]


@dataclass(frozen=True)
class ConvCase:
    """One conv2d configuration; ``small`` ones are also checked through parsed JSON."""

    id: str
    input: Pair
    kernel: Pair
    stride: Pair = (1, 1)
    padding: Pair = (0, 0)
    dilation: Pair = (1, 1)
    cin: int = 1
    cout: int = 1
    bias: str = "shared"
    base: int = 1
    small: bool = False

    def spec(self) -> symcnn.Conv2d:
        """The sized layer; its index base is ``base`` (give it to `derivation`)."""
        return symcnn.Conv2d(
            kernel=self.kernel,
            out_channels=self.cout,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            bias=self.bias,
            input=(self.cin, *self.input),
        )

    def arrays(self, salt: str = "") -> dict[str, Any]:
        """Random input, weight, bias (or None) and delta in the contract's shapes."""
        rng = rng_for(self.id + salt)
        spec = self.spec()
        bias_shape = spec.bias_shape
        return {
            "input": rng.standard_normal(spec.input_shape),
            "weight": rng.standard_normal(spec.weight_shape),
            "bias": None if bias_shape is None else rng.standard_normal(bias_shape),
            "delta": rng.standard_normal(spec.output_shape),
        }

    @property
    def geometry(self) -> dict[str, Pair]:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}


@dataclass(frozen=True)
class PoolCase:
    """One pooling configuration (used for both max and average pooling)."""

    id: str
    input: Pair
    window: Pair
    stride: Pair | None = None
    channels: int = 1
    base: int = 1
    small: bool = False

    @property
    def resolved_stride(self) -> Pair:
        return self.window if self.stride is None else self.stride

    def spec(self, kind: str) -> symcnn.MaxPool2d | symcnn.AvgPool2d:
        """The sized layer; its index base is ``base`` (give it to `derivation`)."""
        cls = {"maxpool2d": symcnn.MaxPool2d, "avgpool2d": symcnn.AvgPool2d}[kind]
        return cls(window=self.window, stride=self.stride, input=(self.channels, *self.input))


CONV_CASES = [
    ConvCase("seed003-3x3-k2x2-untied", (3, 3), (2, 2), bias="untied", small=True),
    ConvCase("seed001-5x5-k2x2-untied-base0", (5, 5), (2, 2), bias="untied", base=0, small=True),
    ConvCase("5x4-k3x2-shared", (5, 4), (3, 2), small=True),
    ConvCase("4x6-k2x3-none", (4, 6), (2, 3), bias="none", small=True),
    ConvCase("3x4-k1x1-p2-shared", (3, 4), (1, 1), padding=(2, 2), small=True),
    ConvCase(
        "3x3-k5x5-p1-untied-1x1out", (3, 3), (5, 5), padding=(1, 1), bias="untied", small=True
    ),
    ConvCase("4x4-k2x2-p1-d2-shared", (4, 4), (2, 2), padding=(1, 1), dilation=(2, 2), small=True),
    ConvCase(
        "4x5-k2x2-s2-c2o2-untied",
        (4, 5),
        (2, 2),
        stride=(2, 2),
        cin=2,
        cout=2,
        bias="untied",
        small=True,
    ),
    ConvCase("7x6-k3x3-s2-shared", (7, 6), (3, 3), stride=(2, 2)),
    ConvCase("8x7-k2x3-s3-p1-untied", (8, 7), (2, 3), stride=(3, 3), padding=(1, 1), bias="untied"),
    ConvCase("7x7-k2x2-s3-none-gaps", (7, 7), (2, 2), stride=(3, 3), bias="none"),
    ConvCase("6x5-k3x2-p2-d2-shared", (6, 5), (3, 2), padding=(2, 2), dilation=(2, 2)),
    ConvCase(
        "7x9-k2x3-s1x2-p2x0-d1x2-untied",
        (7, 9),
        (2, 3),
        stride=(1, 2),
        padding=(2, 0),
        dilation=(1, 2),
        bias="untied",
    ),
    ConvCase(
        "6x5-k3x3-s2-p1-c3o2-untied",
        (6, 5),
        (3, 3),
        stride=(2, 2),
        padding=(1, 1),
        cin=3,
        cout=2,
        bias="untied",
    ),
    ConvCase("7x7-k2x2-d2-c2o3-none", (7, 7), (2, 2), dilation=(2, 2), cin=2, cout=3, bias="none"),
    ConvCase("5x5-k2x2-c3o1-shared", (5, 5), (2, 2), cin=3),
    ConvCase(
        "8x6-k3x2-s2-p2-d2-c1o3-shared-base0",
        (8, 6),
        (3, 2),
        stride=(2, 2),
        padding=(2, 2),
        dilation=(2, 2),
        cout=3,
        base=0,
    ),
    ConvCase(
        "9x8-k3x3-s3x2-p2x1-c2o2-shared",
        (9, 8),
        (3, 3),
        stride=(3, 2),
        padding=(2, 1),
        cin=2,
        cout=2,
    ),
    ConvCase("11x10-k2x3-twodigit-untied", (11, 10), (2, 3), bias="untied"),
]

#: Every bias mode on geometries that mix stride, padding, dilation and channels.
BIAS_SWEEP = [
    ConvCase(
        f"6x7-k3x2-s2x1-p1-d1x2-c2o3-{mode}", (6, 7), (3, 2), (2, 1), (1, 1), (1, 2), 2, 3, mode
    )
    for mode in ("none", "shared", "untied")
]

ALL_CONV = CONV_CASES + BIAS_SWEEP
SMALL_CONV = [c for c in ALL_CONV if c.small]

POOL_CASES = [
    PoolCase("seed003-4x4-w2x2", (4, 4), (2, 2), small=True),
    PoolCase("5x4-w3x2-s1-overlap", (5, 4), (3, 2), (1, 1), small=True),
    PoolCase("7x7-w3x3-s2-overlap", (7, 7), (3, 3), (2, 2)),
    PoolCase("5x6-w2x3-s1x2-overlap", (5, 6), (2, 3), (1, 2), small=True),
    PoolCase("6x5-w2x2-s1-c3", (6, 5), (2, 2), (1, 1), channels=3),
    PoolCase("7x7-w2x2-s3-gaps", (7, 7), (2, 2), (3, 3)),
    PoolCase("3x4-w3x4-whole", (3, 4), (3, 4), small=True),
    PoolCase("4x5-w2x2-s1-base0", (4, 5), (2, 2), (1, 1), base=0, small=True),
    PoolCase("10x11-w3x3-s2-twodigit-c2", (10, 11), (3, 3), (2, 2), channels=2),
]
SMALL_POOL = [c for c in POOL_CASES if c.small]
POOL_KINDS = ("maxpool2d", "avgpool2d")


def ids(cases: list[Any]) -> list[str]:
    """pytest ids of a list of cases."""
    return [c.id for c in cases]


def conv_params(cases: list[ConvCase]) -> Any:
    """``pytest.mark.parametrize("case", …)`` with readable ids."""
    return pytest.mark.parametrize("case", cases, ids=ids(cases))


def pool_params(cases: list[PoolCase]) -> Any:
    """Parametrize over pooling cases × both pooling kinds."""
    params = [pytest.param(k, c, id=f"{k}-{c.id}") for c in cases for k in POOL_KINDS]
    return pytest.mark.parametrize("kind, case", params)


def rng_for(key: str) -> np.random.Generator:
    """A generator seeded from a string, so every case draws the same numbers every run."""
    return np.random.default_rng(zlib.crc32(key.encode()))


@cache
def derivation(spec: Any, index_base: int = 1) -> symcnn.Derivation:
    """The derivation of a spec, computed once per test session."""
    return symcnn.derive(spec, index_base=index_base)


@cache
def numeric(spec: Any, index_base: int = 1) -> Any:
    """The lambdified functions of a spec, built once per test session."""
    return derivation(spec, index_base).numeric()


@cache
def contract(spec: Any, index_base: int = 1) -> dict[str, Any]:
    """The JSON contract of a spec."""
    return derivation(spec, index_base).to_json()


def symbol_values(contract_json: dict[str, Any], arrays: dict[str, Any]) -> dict[str, float]:
    """Name → number, pairing the contract's symbol grids with arrays of the same shape."""
    values: dict[str, float] = {}
    for role, names in contract_json["symbols"].items():
        arr = arrays.get(role)
        if arr is None:
            continue
        grid = np.array(names, dtype=object)
        assert grid.shape == np.shape(arr), (
            f"{role}: contract {grid.shape} vs array {np.shape(arr)}"
        )
        values.update(zip(grid.ravel().tolist(), np.asarray(arr, dtype=float).ravel().tolist()))
    return values


def evaluate_strings(nested: Any, values: dict[str, float], method: str = "xreplace") -> np.ndarray:
    """Parse every expression string with ``sympy.parse_expr`` and substitute the numbers.

    This is what a user of the JSON contract does: only SymPy built-ins, a ``local_dict``
    of plain Symbols, then ``xreplace`` (or ``subs``, 60 times slower on max-pool brackets).
    """
    local = {name: sympy.Symbol(name) for name in values}
    subs = {local[name]: v for name, v in values.items()}
    strings = np.array(nested, dtype=object)
    out = np.empty(strings.shape, dtype=float)
    for index in np.ndindex(*strings.shape):
        expr = sympy.parse_expr(strings[index], local_dict=local)
        unknown = expr.free_symbols - set(subs)
        assert not unknown, f"{strings[index]!r} uses symbols outside the contract: {unknown}"
        out[index] = float(getattr(expr, method)(subs))
    return out

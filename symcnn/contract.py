"""The calling contract of a user's backward function per layer kind, and its random test inputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import singledispatch
from typing import Any

import numpy as np

from .spec import Conv2D, MaxPool2D, _Pool2D
from .symbols import Role

Arrays = dict[Role, "np.ndarray | None"]


@dataclass(frozen=True)
class Slot:
    """One gradient the user's function returns: its role, its name in the contract, its shape.

    ``shape`` is None when the contract wants ``None`` there (``gb`` of a layer without bias).
    """

    role: Role
    name: str
    axes: str
    shape: tuple[int, ...] | None

    def describe_shape(self) -> str:
        """``(1, 5, 5) = [C, H, W]``."""
        return f"{self.shape} = {self.axes}"


@dataclass(frozen=True)
class Contract:
    """Argument and result layout of a backward function for one layer configuration.

    Example:
        >>> contract(Conv2D(input=(3, 3), kernel=(2, 2))).signature
        'fn(x, w, b, delta) -> (gx, gw, gb)'
    """

    arg_names: tuple[str, ...]
    arg_roles: tuple[Role, ...]
    slots: tuple[Slot, ...]

    @property
    def signature(self) -> str:
        """The documented call, e.g. ``fn(x, delta) -> gx``."""
        outs = ", ".join(s.name for s in self.slots)
        result = f"({outs})" if len(self.slots) > 1 else outs
        return f"fn({', '.join(self.arg_names)}) -> {result}"

    def slot(self, role: Role) -> Slot:
        """The result slot of one role."""
        return next(s for s in self.slots if s.role is role)


@singledispatch
def contract(spec: object) -> Contract:
    """The contract of a layer spec: ``fn(x, w, b, delta) -> (gx, gw, gb)`` for conv2d,
    ``fn(x, delta) -> gx`` for pooling.

    Example:
        >>> contract(MaxPool2D(input=(4, 4), window=(2, 2))).signature
        'fn(x, delta) -> gx'
    """
    raise TypeError(f"no backward contract for {type(spec).__name__}")


@contract.register
def _conv_contract(spec: Conv2D) -> Contract:
    bias_axes = "[O]" if spec.bias_shape == (spec.out_channels,) else "[O, OH, OW]"
    return Contract(
        ("x", "w", "b", "delta"),
        (Role.INPUT, Role.WEIGHT, Role.BIAS, Role.DELTA),
        (
            Slot(Role.INPUT, "gx", "[C, H, W]", spec.input_shape),
            Slot(Role.WEIGHT, "gw", "[O, C, KH, KW]", spec.weight_shape),
            Slot(
                Role.BIAS, "gb", "None" if spec.bias_shape is None else bias_axes, spec.bias_shape
            ),
        ),
    )


@contract.register
def _pool_contract(spec: _Pool2D) -> Contract:
    return Contract(
        ("x", "delta"),
        (Role.INPUT, Role.DELTA),
        (Slot(Role.INPUT, "gx", "[C, H, W]", spec.input_shape),),
    )


# --- random inputs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One set of test inputs: a label (``trial 2 of 3``, ``tie trial``) and the arrays by role."""

    label: str
    arrays: Arrays

    def args(self, con: Contract) -> tuple[Any, ...]:
        """Fresh copies of the arguments in the contract's order (the user may modify them)."""
        return tuple(_copy(self.arrays.get(role)) for role in con.arg_roles)


def _copy(arr: np.ndarray | None) -> np.ndarray | None:
    return None if arr is None else arr.copy()


def signed(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random values of magnitude 0.5–1.5 and random sign: never near 0, all distinct."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


@singledispatch
def draw(spec: object, rng: np.random.Generator, ties: bool = False) -> Arrays:
    """Random arrays for every argument of a layer's backward function.

    Example:
        >>> a = draw(Conv2D(input=(3, 3), kernel=(2, 2)), np.random.default_rng(0))
        >>> a[Role.WEIGHT].shape, a[Role.DELTA].shape
        ((1, 1, 2, 2), (1, 2, 2))
    """
    raise TypeError(f"no test inputs for {type(spec).__name__}")


@draw.register
def _draw_conv(spec: Conv2D, rng: np.random.Generator, ties: bool = False) -> Arrays:
    bias = spec.bias_shape
    return {
        Role.INPUT: signed(rng, spec.input_shape),
        Role.WEIGHT: signed(rng, spec.weight_shape),
        Role.BIAS: None if bias is None else signed(rng, bias),
        Role.DELTA: signed(rng, spec.output_shape),
    }


@draw.register
def _draw_pool(spec: _Pool2D, rng: np.random.Generator, ties: bool = False) -> Arrays:
    return {Role.INPUT: signed(rng, spec.input_shape), Role.DELTA: signed(rng, spec.output_shape)}


@draw.register
def _draw_maxpool(spec: MaxPool2D, rng: np.random.Generator, ties: bool = False) -> Arrays:
    shape = spec.input_shape
    n = int(np.prod(shape))
    if ties:
        x = rng.integers(-1, 2, size=shape).astype(float)
        if not _has_tied_max(spec, x):
            kh, kw = spec.window
            x[0, :kh, :kw] = 1.0  # the first window: every cell a maximum
    else:
        # distinct values at least 1.5/n apart: no window has a near-tie
        x = ((rng.permutation(n) + rng.uniform(0.25, 0.75, n)) * (3.0 / n) - 1.5).reshape(shape)
    return {Role.INPUT: x, Role.DELTA: signed(rng, spec.output_shape)}


def _has_tied_max(spec: MaxPool2D, x: np.ndarray) -> bool:
    assert spec.stride is not None
    (sh, sw), (kh, kw) = spec.stride, spec.window
    for c, i, j in np.ndindex(*spec.output_shape):
        win = x[c, i * sh : i * sh + kh, j * sw : j * sw + kw]
        if np.count_nonzero(win == win.max()) > 1:
            return True
    return False


def trial_inputs(spec: object, trials: int = 3, seed: int = 0, ties: bool = True) -> list[Trial]:
    """The test inputs of a check: ``trials`` random sets, plus a tie trial for max pooling.

    Reproducible from ``seed``; random max-pool inputs have no near-ties, the tie trial has
    many (every window's gradient must then go to its first maximum in row-major order).

    Example:
        >>> [t.label for t in trial_inputs(MaxPool2D(input=(4, 4), window=(2, 2)), trials=2)]
        ['trial 1 of 2', 'trial 2 of 2', 'tie trial']
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        from .errors import SymcnnError

        raise SymcnnError(f"trials must be a whole number ≥ 1, got {trials!r}")
    rng = np.random.default_rng(seed)
    out = [Trial(f"trial {k + 1} of {trials}", draw(spec, rng)) for k in range(trials)]
    if ties and isinstance(spec, MaxPool2D):
        out.append(Trial("tie trial", draw(spec, rng, ties=True)))
    return out


# --- calling the user's function -----------------------------------------------------------


class ContractViolation(Exception):
    """The user's function returned something the contract does not allow (count, type, None)."""


def with_article(noun: str) -> str:
    """``a list``, ``an int``, ``an ndarray``."""
    return f"an {noun}" if noun[:1].lower() in "aeiou" or noun == "ndarray" else f"a {noun}"


def _is_tensor(value: Any) -> bool:
    return all(hasattr(value, a) for a in ("detach", "cpu", "numpy"))


def to_array(value: Any, slot: Slot) -> np.ndarray:
    """One returned gradient as a float64 array; a `ContractViolation` naming it otherwise."""
    want = f"an array of shape {slot.describe_shape()}"
    if value is None:
        raise ContractViolation(f"{slot.name} is None; expected {want}")
    if _is_tensor(value):
        value = value.detach().cpu().numpy()
    if isinstance(value, (list, tuple, dict, set, str, bytes, int, float, complex)):
        raise ContractViolation(
            f"{slot.name} is {with_article(type(value).__name__)}, not an array; expected {want} "
            "(a NumPy array, or a PyTorch/JAX tensor)"
        )
    if not isinstance(value, (np.ndarray, np.generic)) and not hasattr(value, "__array__"):
        raise ContractViolation(
            f"{slot.name} is {with_article(type(value).__name__)}; expected {want}"
        )
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ContractViolation(
            f"{slot.name} has dtype {arr.dtype}; expected real numbers (float) in {want}"
        )
    return arr.astype(np.float64)


def call_backward(fn: Callable[..., Any], con: Contract, trial: Trial) -> Arrays:
    """Call ``fn`` on copies of the trial's arrays and check what it returns against ``con``.

    Shapes are not checked here (a wrong shape is reported, and diagnosed, with the values).
    """
    result = fn(*trial.args(con))
    return read_result(result, con)


def read_result(result: Any, con: Contract) -> Arrays:
    """Split and convert a backward function's return value per the contract's slots."""
    slots = con.slots
    if len(slots) == 1:
        if isinstance(result, (tuple, list)):
            raise ContractViolation(
                f"fn returned a {type(result).__name__} of {len(result)}; expected one array "
                f"{slots[0].name} ({con.signature})"
            )
        values: tuple[Any, ...] = (result,)
    else:
        names = ", ".join(s.name for s in slots)
        if not isinstance(result, (tuple, list)):
            kind = "one array" if hasattr(result, "shape") else with_article(type(result).__name__)
            raise ContractViolation(
                f"fn returned {kind}; expected a tuple of {len(slots)} ({names}): {con.signature}"
            )
        if len(result) != len(slots):
            raise ContractViolation(
                f"fn returned {len(result)} values; expected {len(slots)} ({names}): "
                f"{con.signature}" + ("; gb is None without bias" if len(result) == 2 else "")
            )
        values = tuple(result)
    out: Arrays = {}
    for slot, value in zip(slots, values):
        if slot.shape is None:
            if value is not None:
                raise ContractViolation(
                    f"{slot.name} should be None: this layer has no bias (got "
                    f"{with_article(type(value).__name__)})"
                )
            out[slot.role] = None
        else:
            out[slot.role] = to_array(value, slot)
    return out

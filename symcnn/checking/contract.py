"""The calling contract of a user's backward function for any layer, and its random test inputs.

A layer with parameters is checked as ``fn(x, w, b, delta) -> (gx, gw, gb)`` (``b`` and
``gb`` None without a bias), a layer without as ``fn(x, delta) -> gx``: NumPy arrays in the
layer's own shapes, no batch axis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.symbols import Role
from ..errors import ContractViolation, SymcnnError
from ..kinds.base import Arrays, Layer
from ..kinds.registry import LAYERS

#: The argument of each role, and the name of its gradient.
ARG_NAMES = {Role.INPUT: "x", Role.WEIGHT: "w", Role.BIAS: "b", Role.DELTA: "delta"}


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
        >>> from symcnn import Linear
        >>> contract(Linear(2, input=(3,))).signature
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


def contract(layer: Layer, batch: int | None = None) -> Contract:
    """The contract of a sized layer: ``fn(x, w, b, delta) -> (gx, gw, gb)`` when it has
    weights, ``fn(x, delta) -> gx`` otherwise; with a mini-batch of ``batch`` samples x, δ
    and gx have a leading sample axis N (the parameters are shared).

    Example:
        >>> from symcnn import ReLU
        >>> contract(ReLU(input=(4,))).signature
        'fn(x, delta) -> gx'
        >>> contract(ReLU(input=(1, 2, 2)), batch=3).slots[0].describe_shape()
        '(3, 1, 2, 2) = [N, C, H, W]'
    """
    if not isinstance(layer, Layer):
        kinds = ", ".join(cls.__name__ for cls in LAYERS.values())
        raise SymcnnError(f"expected a sized layer ({kinds}), got {type(layer).__name__}")
    if layer.arity != 1:
        raise SymcnnError(
            f"{layer.kind} reads several tensors: check it inside a network "
            "(symcnn.testing.check_network_backward)"
        )
    params = layer.param_shapes()
    roles = (Role.INPUT, Role.WEIGHT, Role.BIAS) if params else (Role.INPUT,)
    slots = []
    for role in roles:
        if role is Role.INPUT:
            shape: tuple[int, ...] | None = layer.input_shape
            if batch is not None:
                shape = (batch, *layer.input_shape)
        else:
            shape = params[role][0] if role in params else None
        axes = layer.axes(role) if shape is not None else "None"
        if role is Role.INPUT and batch is not None:  # a vector's own N becomes F
            axes = "[N, F]" if axes == "[N]" else "[N, " + axes[1:]
        slots.append(Slot(role, "g" + ARG_NAMES[role], axes, shape))
    args = (*roles, Role.DELTA)
    return Contract(tuple(ARG_NAMES[r] for r in args), args, tuple(slots))


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


def trial_inputs(
    layer: Layer, trials: int = 3, seed: int = 0, ties: bool = True, batch: int | None = None
) -> list[Trial]:
    """The test inputs of a check: ``trials`` random sets, plus a tie trial for max pooling.

    Reproducible from ``seed``; random max-pool inputs have no near-ties, the tie trial has
    many (every window's gradient must then go to its first maximum in row-major order).
    With a mini-batch, x and δ stack ``batch`` samples drawn alike.

    Example:
        >>> from symcnn import ReLU
        >>> [t.label for t in trial_inputs(ReLU(input=(4,)), trials=2)]
        ['trial 1 of 2', 'trial 2 of 2']
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise SymcnnError(f"trials must be a whole number ≥ 1, got {trials!r}")
    rng = np.random.default_rng(seed)

    def draw(tied: bool) -> Arrays | None:
        if batch is None:
            return layer.test_inputs(rng, tied)
        samples = [layer.test_inputs(rng, tied) for _ in range(batch)]
        first = samples[0]
        if first is None:
            return None
        arrays = dict(first)
        for role in (Role.INPUT, Role.DELTA):
            arrays[role] = np.stack([s[role] for s in samples if s is not None])  # type: ignore[misc]
        return arrays

    out = []
    for k in range(trials):
        arrays = draw(False)
        assert arrays is not None
        out.append(Trial(f"trial {k + 1} of {trials}", arrays))
    if ties:
        tie = draw(True)
        if tie is not None:
            out.append(Trial("tie trial", tie))
    return out


# --- calling the user's function -----------------------------------------------------------


def with_article(noun: str) -> str:
    """``a list``, ``an int``, ``an ndarray``.

    Example:
        >>> with_article("int"), with_article("list")
        ('an int', 'a list')
    """
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
    return read_result(fn(*trial.args(con)), con)


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

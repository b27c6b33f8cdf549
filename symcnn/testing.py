"""Check your own backward code against symcnn's derived formulas, naming each wrong entry and why.

The function under test follows the layer contract (NumPy arrays in, arrays out, no batch axis):

- conv2d: ``fn(x, w, b, delta) -> (gx, gw, gb)`` with x ``[C, H, W]``, w ``[O, C, KH, KW]``,
  b ``[O]`` (shared bias), ``[O, OH, OW]`` (untied) or ``None`` (no bias), delta ``[O, OH, OW]``;
  the gradients have the shapes of x, w and b, and ``gb`` is ``None`` without bias.
- maxpool2d / avgpool2d: ``fn(x, delta) -> gx`` with x ``[C, H, W]``, delta ``[C, OH, OW]``.
- batchnorm2d / batchnorm1d (training mode): ``fn(x, w, b, delta) -> (gx, gw, gb)`` with x and
  delta ``[N, C, H, W]`` (``[N, C]``), w = γ and b = β ``[C]``: a mini-batch, whose samples it
  couples. Any layer takes ``batch=N`` to be checked on a mini-batch (x, delta, gx get a leading
  sample axis, the parameters' gradients sum over the samples).
- a whole network (a residual block …): `check_network_backward`.

Returned PyTorch tensors (also with ``requires_grad``) and JAX arrays are converted; a function
written for torch tensors is wrapped with `torch_fn`. The expected values come from the
lambdified formulas (``Derivation.numeric()``), compiled once per configuration.

Example (in a pytest test; the check raises ``AssertionError`` with the report on mismatch):
    >>> import numpy as np
    >>> def avg_backward(x, delta):
    ...     return np.repeat(np.repeat(delta, 2, axis=1), 2, axis=2) / 4
    >>> bool(check_avgpool2d_backward(avg_backward, input_shape=(4, 4), window=(2, 2)))
    True
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .checking import terms
from .checking.contract import Contract, Trial, contract, read_result, trial_inputs
from .checking.network import NetworkCheck, compare_network_backward
from .checking.report import Failure, header
from .core.shapes import parse_size
from .core.symbols import Role
from .derivation.derived import Derivation, derive
from .errors import BackwardMismatch, ContractViolation, SpecError, SymcnnError
from .graph.network import Network
from .kinds.base import Arrays, Layer
from .kinds.batchnorm import BatchNorm1d, BatchNorm2d
from .kinds.conv2d import Conv2d
from .kinds.pool2d import AvgPool2d, MaxPool2d
from .kinds.registry import LAYERS
from .numeric.engine import Gradients
from .render.printers import TextPrinter, chain_sum_string

__all__ = [
    "BackwardMismatch",
    "CheckResult",
    "Trial",
    "check_avgpool2d_backward",
    "check_batchnorm1d_backward",
    "check_batchnorm2d_backward",
    "check_conv2d_backward",
    "check_layer_backward",
    "check_maxpool2d_backward",
    "check_network_backward",
    "compare_layer_backward",
    "compare_network_backward",
    "configurations",
    "fixture_arrays",
    "parametrize",
    "spec_id",
    "torch_fn",
    "trial_inputs",
]

DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-6


@dataclass(repr=False)
class CheckResult:
    """Outcome of a check: true when every trial matched; ``message`` is the report."""

    ok: bool
    message: str
    layer: Any
    failing_trial: Trial | None = None

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"CheckResult(ok={self.ok}, layer={spec_id(self.layer)})"


@functools.lru_cache(maxsize=64)
def compiled(
    layer: Layer, index_base: int = 1, batch: int | None = None
) -> tuple[Derivation, Gradients]:
    """The derivation (proofs skipped) and its compiled gradients, cached per configuration."""
    d: Derivation = derive(Network.of(layer, index_base, batch=batch), prove_forms=False)
    return d, Gradients(d)


def _expected(num: Gradients, arrays: Arrays) -> dict[Role, np.ndarray]:
    values = {role.value: arr for role, arr in arrays.items() if arr is not None}
    return {Role(name): arr for name, arr in num(**values).items()}


def compare_layer_backward(
    layer: Layer,
    fn: Callable[..., Any],
    *,
    trials: int = 3,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    seed: int = 0,
    ties: bool = True,
    max_entries: int = 5,
    probe: bool = True,
    index_base: int = 1,
    batch: int | None = None,
) -> CheckResult:
    """Run ``fn`` on random inputs and compare with the formulas; never raises on a mismatch.

    ``ties`` adds a trial full of tied maxima for max pooling; ``max_entries`` caps the wrong
    entries shown; ``probe`` allows calling ``fn`` once per δ entry to name missing and extra
    terms; ``index_base`` is the first index of the formulas in the report; ``batch`` checks
    on a mini-batch of that many samples. Exceptions raised by ``fn`` itself propagate
    unchanged.

    Example:
        >>> r = compare_layer_backward(MaxPool2d(window=2, input=(2, 2)), lambda x, d: 0 * x)
        >>> r.ok, r.message.splitlines()[0]
        (False, "maxpool2d backward does not match symcnn's formulas (trial 1 of 3, seed 0)")
    """
    con = contract(layer, batch)
    if not callable(fn):
        raise SymcnnError(f"the function to check is not callable: {fn!r}")
    problem = _arity_problem(fn, con)
    if problem:
        text = "\n".join([*header(layer, con, "cannot be called", rtol, atol), "", f"  {problem}"])
        return CheckResult(False, text, layer)
    derivation, num = compiled(layer, index_base, batch)
    worst = 0.0
    runs = trial_inputs(layer, trials, seed, ties, batch)
    for trial in runs:
        args = trial.args(con)
        result = fn(*args)
        try:
            got = read_result(result, con)
        except ContractViolation as err:
            what = f"returned something its contract does not allow ({trial.label})"
            text = "\n".join([*header(layer, con, what, rtol, atol), "", f"  {err}"])
            return CheckResult(False, text, layer, trial)
        expected = _expected(num, trial.arrays)
        if not _all_close(got, expected, rtol, atol):
            shape = derivation.output_shape
            prober = _prober(fn, con, trial, shape) if probe else lambda: None
            notes = _mutations(con, args, trial)
            fail = Failure(
                derivation, con, trial, seed, expected, got, rtol, atol, prober, max_entries, notes
            )
            return CheckResult(False, fail.text(), layer, trial)
        for s in con.slots:
            g = got[s.role]
            if g is not None and g.size:
                worst = max(worst, float(np.max(np.abs(g - expected[s.role]))))
    extra = " and a tie trial" if len(runs) > trials else ""
    text = (
        f"{layer.kind} backward matches symcnn's formulas: {trials} random trial(s)"
        f"{extra}, seed {seed}, largest difference {worst:.2g}"
    )
    return CheckResult(True, text, layer)


def _all_close(got: Arrays, expected: dict[Role, np.ndarray], rtol: float, atol: float) -> bool:
    for role, value in got.items():
        if value is not None and not (
            value.shape == expected[role].shape
            and np.allclose(value, expected[role], rtol=rtol, atol=atol)
        ):
            return False
    return True


def _mutations(con: Contract, args: tuple[Any, ...], trial: Trial) -> list[str]:
    """Notes on arguments the function changed in place (it got copies; harmless but odd)."""
    return [
        f"fn modified its argument {name} in place"
        for name, role, arg in zip(con.arg_names, con.arg_roles, args)
        if arg is not None and not np.array_equal(arg, trial.arrays[role])  # type: ignore[arg-type]
    ]


def _arity_problem(fn: Callable[..., Any], con: Contract) -> str:
    """A sentence when ``fn`` cannot take the contract's arguments (empty when it can)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return ""
    try:
        sig.bind(*con.arg_names)
    except TypeError as err:
        name = getattr(fn, "__name__", "fn")
        return f"{name}{sig} cannot be called as {con.signature} ({err})"
    return ""


def _prober(
    fn: Callable[..., Any], con: Contract, trial: Trial, delta_shape: tuple[int, ...]
) -> Callable[[], dict[Role, np.ndarray] | str]:
    def call(delta: np.ndarray) -> Arrays:
        arrays = {**trial.arrays, Role.DELTA: delta}
        return read_result(fn(*Trial(trial.label, arrays).args(con)), con)

    return lambda: terms.probe(call, delta_shape)


def check_layer_backward(layer: Layer, fn: Callable[..., Any], **options: Any) -> CheckResult:
    """Check ``fn`` against the formulas of ``layer``; raise `BackwardMismatch` (an
    ``AssertionError``) carrying the report when it is wrong, return a true result otherwise.

    Options as in `compare_layer_backward`: trials, rtol, atol, seed, ties, max_entries, probe,
    index_base.

    Example:
        >>> import numpy as np
        >>> layer = AvgPool2d(window=2, input=(2, 2))
        >>> check_layer_backward(layer, lambda x, d: np.ones((1, 2, 2)))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        symcnn.errors.BackwardMismatch: avgpool2d backward does not match ...
    """
    __tracebackhide__ = True  # pytest shows the report, not this frame
    result = compare_layer_backward(layer, fn, **options)
    if not result:
        raise BackwardMismatch(result)
    return result


def _split(value: Any, what: str, lead: int) -> tuple[tuple[int, ...], tuple[int, int]]:
    """``(C, H, W)`` → ((C,), (H, W)); ``"5x5"``, ``5`` or ``(H, W)`` → ((), (H, W))."""
    if isinstance(value, (tuple, list)) and len(value) == lead + 2:
        return tuple(int(v) for v in value[:lead]), parse_size(tuple(value[lead:]), what)
    return (), parse_size(value, what)


def _channels(name: str, *values: int | None) -> int | None:
    given = {v for v in values if v is not None}
    if len(given) > 1:
        raise SpecError(f"{name} given twice with different values: {sorted(given)}")
    return given.pop() if given else None


def check_conv2d_backward(
    fn: Callable[..., Any],
    input_shape: Any,
    kernel: Any,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    in_channels: int | None = None,
    out_channels: int | None = None,
    bias: str = "shared",
    groups: int = 1,
    *,
    index_base: int = 1,
    **options: Any,
) -> CheckResult:
    """Check ``fn(x, w, b, delta) -> (gx, gw, gb)`` for one conv2d configuration.

    ``input_shape`` is ``(H, W)``, ``"HxW"`` or ``(C, H, W)``; ``kernel`` is ``(KH, KW)`` or the
    weight shape ``(O, C/groups, KH, KW)``; other options as in `compare_layer_backward`.

    Example:
        >>> def conv_backward(x, w, b, delta):  # a 1x1 kernel, one channel, no padding
        ...     return w[0, 0, 0, 0] * delta, (x * delta).sum().reshape(1, 1, 1, 1), delta.sum((1, 2))
        >>> bool(check_conv2d_backward(conv_backward, (3, 3), 1))
        True
    """
    __tracebackhide__ = True
    lead_in, size = _split(input_shape, "input", 1)
    c1 = lead_in[0] if lead_in else None
    lead, kern = _split(kernel, "kernel", 2)
    o2, c2 = lead if lead else (None, None)
    if c2 is not None and isinstance(groups, int):
        c2 *= groups  # the weight holds the channels of one group
    channels = _channels("in_channels", c1, c2, in_channels) or 1
    layer = Conv2d(
        kernel=kern,
        out_channels=_channels("out_channels", o2, out_channels) or 1,
        stride=stride,
        padding=padding,
        dilation=dilation,
        bias=bias,  # type: ignore[arg-type]
        groups=groups,
        input=(channels, *size),
    )
    return check_layer_backward(layer, fn, index_base=index_base, **options)


def _pool(
    cls: type, fn: Callable[..., Any], input_shape: Any, window: Any, stride: Any,
    channels: int | None, index_base: int, options: dict[str, Any],
) -> CheckResult:  # fmt: skip
    __tracebackhide__ = True
    lead, size = _split(input_shape, "input", 1)
    c = _channels("channels", *lead, channels) or 1
    layer = cls(window=window, stride=stride, input=(c, *size))
    return check_layer_backward(layer, fn, index_base=index_base, **options)


def check_maxpool2d_backward(
    fn: Callable[..., Any],
    input_shape: Any,
    window: Any,
    stride: Any = None,
    channels: int | None = None,
    *,
    index_base: int = 1,
    **options: Any,
) -> CheckResult:
    """Check ``fn(x, delta) -> gx`` for max pooling (stride defaults to the window).

    Random trials have no near-ties; a tie trial checks that each window's δ goes to its first
    maximum in row-major order (PyTorch's rule). Options as in `compare_layer_backward`.

    Example:
        >>> import numpy as np
        >>> def max_backward(x, delta):  # 2x2 windows, stride 2
        ...     gx = np.zeros_like(x)
        ...     for c, i, j in np.ndindex(*delta.shape):
        ...         k = np.argmax(x[c, 2*i:2*i+2, 2*j:2*j+2])
        ...         gx[c, 2*i + k // 2, 2*j + k % 2] += delta[c, i, j]
        ...     return gx
        >>> bool(check_maxpool2d_backward(max_backward, (4, 6), 2))
        True
    """
    __tracebackhide__ = True
    return _pool(MaxPool2d, fn, input_shape, window, stride, channels, index_base, options)


def check_avgpool2d_backward(
    fn: Callable[..., Any],
    input_shape: Any,
    window: Any,
    stride: Any = None,
    channels: int | None = None,
    *,
    index_base: int = 1,
    **options: Any,
) -> CheckResult:
    """Check ``fn(x, delta) -> gx`` for average pooling (see the module example)."""
    __tracebackhide__ = True
    return _pool(AvgPool2d, fn, input_shape, window, stride, channels, index_base, options)


def _batchnorm(
    cls: Any, fn: Callable[..., Any], input_shape: Any, eps: float, affine: bool,
    rank: int, index_base: int, options: dict[str, Any],
) -> CheckResult:  # fmt: skip
    __tracebackhide__ = True
    shape = tuple(int(v) for v in input_shape)
    if len(shape) not in (rank, rank + 1):
        want = "(N, C, H, W) or (C, H, W)" if rank == 3 else "(N, C)"
        raise SpecError(f"input_shape of {cls.kind} is {want}, got {input_shape!r}")
    batch = shape[0] if len(shape) == rank + 1 else None
    layer = cls(eps=eps, affine=affine, input=shape[-rank:])
    return check_layer_backward(layer, fn, index_base=index_base, batch=batch, **options)


def check_batchnorm2d_backward(
    fn: Callable[..., Any],
    input_shape: Any,
    eps: float = 1e-5,
    affine: bool = True,
    *,
    index_base: int = 1,
    **options: Any,
) -> CheckResult:
    """Check ``fn(x, w, b, delta) -> (gx, gw, gb)`` for training-mode batch norm of a
    mini-batch ``input_shape = (N, C, H, W)``; w = γ, b = β are ``[C]`` (None, with their
    gradients, without ``affine``). The report names the classic mistakes: the path through
    the batch mean dropped, the unbiased variance, γ forgotten in ∂E/∂x.

    Example:
        >>> import numpy as np
        >>> def bn_backward(x, w, b, delta):
        ...     axes = (0, 2, 3)
        ...     mu = x.mean(axes, keepdims=True)
        ...     xhat = (x - mu) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
        ...     g = w.reshape(1, -1, 1, 1)
        ...     gx = g / np.sqrt(x.var(axes, keepdims=True) + 1e-5) * (
        ...         delta - delta.mean(axes, keepdims=True)
        ...         - xhat * (delta * xhat).mean(axes, keepdims=True))
        ...     return gx, (delta * xhat).sum(axes), delta.sum(axes)
        >>> bool(check_batchnorm2d_backward(bn_backward, (2, 3, 2, 2)))
        True
    """
    __tracebackhide__ = True
    return _batchnorm(BatchNorm2d, fn, input_shape, eps, affine, 3, index_base, options)


def check_batchnorm1d_backward(
    fn: Callable[..., Any],
    input_shape: Any,
    eps: float = 1e-5,
    affine: bool = True,
    *,
    index_base: int = 1,
    **options: Any,
) -> CheckResult:
    """Check ``fn(x, w, b, delta) -> (gx, gw, gb)`` for training-mode batch norm of a
    mini-batch of feature vectors, ``input_shape = (N, C)`` (see `check_batchnorm2d_backward`).
    """
    __tracebackhide__ = True
    return _batchnorm(BatchNorm1d, fn, input_shape, eps, affine, 1, index_base, options)


def check_network_backward(
    network: Network, fn: Callable[..., Any], **options: Any
) -> NetworkCheck:
    """Check a whole network's backward pass ``fn(x, params, delta) -> {"input": gx,
    "<l>.weight": gw, …}`` (δ at the network output); raise `BackwardMismatch` with the report
    when it is wrong. Where paths merge (a residual block's input feeds the block and the
    skip) the report names a δ left out of the sum.

    Example:
        >>> net = Network([{"type": "tanh", "id": "t"},
        ...                {"type": "add", "inputs": ["input", "t"]}], input=(2,))
        >>> def block_backward(x, params, delta):
        ...     return {"input": delta * (1 - np.tanh(x) ** 2)}  # the skip's δ forgotten
        >>> check_network_backward(net, block_backward)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        symcnn.errors.BackwardMismatch: network backward does not match ...
    """
    __tracebackhide__ = True
    result = compare_network_backward(network, fn, **options)
    if not result:
        raise BackwardMismatch(result)
    return result


def torch_fn(fn: Callable[..., Any], dtype: Any = None, device: str = "cpu") -> Callable[..., Any]:
    """Wrap a backward written for PyTorch tensors: NumPy arguments become tensors (float64 by
    default; ``None`` stays ``None``); returned tensors are converted back by the check.

    Example:
        >>> check_layer_backward(layer, torch_fn(my_torch_backward))  # doctest: +SKIP
    """
    try:
        import torch
    except ImportError:
        raise SymcnnError("torch_fn needs PyTorch (pip install torch)") from None
    kind = torch.float64 if dtype is None else dtype

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        tensors = [
            None if a is None else torch.as_tensor(a, dtype=kind, device=device) for a in args
        ]
        return fn(*tensors)

    return call


def fixture_arrays(
    layer: Layer,
    trials: int = 3,
    seed: int = 0,
    ties: bool = True,
    index_base: int = 1,
    batch: int | None = None,
) -> dict[str, np.ndarray]:
    """Inputs and expected gradients for ``np.savez``: one leading trial axis per array.

    Keys: the contract's argument names (``x``, ``w``, ``b``, ``delta``), its result names
    (``gx``, ``gw``, ``gb``), ``formula_<result>`` (each entry's formula as text), ``trial``
    (labels), ``config`` (JSON) and ``contract`` (the call signature). No pickled objects.

    Example:
        >>> f = fixture_arrays(AvgPool2d(window=2, input=(4, 4)), trials=2)
        >>> f["x"].shape, f["gx"].shape, str(f["formula_gx"][0, 0, 0])
        ((2, 1, 4, 4), (2, 1, 4, 4), '∂E/∂a_11 = δ_11/4')
    """
    derivation, num = compiled(layer, index_base, batch)
    con = contract(layer, batch)
    runs = trial_inputs(layer, trials, seed, ties, batch)
    config = {"layer": layer.kind, **layer.config(), "index_base": index_base, "batch": batch}
    out: dict[str, np.ndarray] = {
        "config": np.array(json.dumps(config)),
        "contract": np.array(con.signature),
        "trial": np.array([t.label for t in runs]),
    }
    for name, role in zip(con.arg_names, con.arg_roles):
        if runs[0].arrays.get(role) is not None:
            out[name] = np.stack([t.arrays[role] for t in runs])  # type: ignore[misc]
    expected = [_expected(num, t.arrays) for t in runs]
    printer = TextPrinter(derivation.table)
    for slot in con.slots:
        if slot.shape is not None:
            out[slot.name] = np.stack([e[slot.role] for e in expected])
            grads = derivation.grads[slot.role]
            text = [
                f"{printer.gradient_name(cs.wrt)} = {chain_sum_string(printer, cs)}"
                for cs in grads.ravel()
            ]
            out[f"formula_{slot.name}"] = np.array(text).reshape(grads.shape)
    return out


def configurations(kind: type | str, **options: Any) -> list[Layer]:
    """Every combination of the options (a list means alternatives), skipping those that do not
    fit (kernel larger than the padded input …). Field names are those of the layer class.

    Example:
        >>> specs = configurations(Conv2d, input=["5x5", "4x6"], kernel=[2, 3], stride=[1, 2])
        >>> len(specs), spec_id(specs[-1])
        (8, 'conv2d-4x6-k3-s2')
    """
    cls: Any = LAYERS.get(kind) if isinstance(kind, str) else kind
    if cls not in LAYERS.values():
        raise SpecError(f"unknown layer {kind!r}; valid: {', '.join(LAYERS)}")
    if cls.required is not None and cls.required[0] not in options:
        key, example = cls.required
        raise SpecError(f"{cls.kind} needs {key}, e.g. {example.replace(' = ', '=')}")
    axes = {k: v if isinstance(v, list) else [v] for k, v in options.items()}
    out: list[Layer] = []
    for combo in itertools.product(*axes.values()):
        try:
            out.append(cls(**dict(zip(axes, combo))))
        except SpecError:
            continue
        except TypeError as err:
            raise SpecError(f"{cls.__name__}: {err}") from None
    return out


def spec_id(layer: Layer) -> str:
    """A short readable test id: ``conv2d-5x5-k3-s2-p1-d2-c2o3-untied``, ``maxpool2d-4x4-w2-s1``.

    Example:
        >>> spec_id(MaxPool2d(window=2, stride=1, channels=2, input=(4, 4)))
        'maxpool2d-4x4-w2-s1-c2'
    """
    return layer.slug()


def parametrize(kind: type | str, argname: str = "layer", **options: Any) -> Any:
    """A pytest mark over `configurations`, with readable ids: one line per test.

    Example:
        >>> @parametrize(Conv2d, input=["5x5", "6x4"], kernel=[2, 3], padding=[0, 1])  # doctest: +SKIP
        ... def test_my_conv(layer):
        ...     check_layer_backward(layer, my_conv_backward)
    """
    import pytest

    return pytest.mark.parametrize(argname, configurations(kind, **options), ids=spec_id)

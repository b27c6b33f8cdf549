"""``symcnn check``: test a user's backward function (MODULE:FUNC or file.py:FUNC) against the formulas."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from ..checking.contract import with_article
from ..errors import SpecError, SymcnnError
from ..kinds.base import Layer
from ..kinds.registry import LAYERS
from ..testing import DEFAULT_ATOL, DEFAULT_RTOL, compare_layer_backward, torch_fn
from . import help
from .options import add_layer_arguments
from .options import layer_from_args as sized_layer

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


def add_layer_option(parser: argparse.ArgumentParser) -> None:
    """The layer options of ``symcnn grad``, with the layer kind also accepted as ``--layer``."""
    add_layer_arguments(parser, required=False)
    parser.add_argument(
        "--layer",
        dest="layer_option",
        metavar="KIND",
        help=f"layer kind: {', '.join(LAYERS)} (or give it as the LAYER argument)",
    )


def layer_from_args(args: argparse.Namespace) -> Layer:
    """The layer spec from ``--layer KIND`` or the positional LAYER, and the size options."""
    given = {k for k in (args.layer, args.layer_option) if k is not None}
    if len(given) > 1:
        raise SpecError(f"two different layers given: {' and '.join(sorted(given))}")
    if not given:
        raise SpecError(f"name the layer: --layer {', '.join(LAYERS)}")
    args.layer = given.pop()
    return sized_layer(args)


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}".replace("\n", " ")


def _load_file(path: Path) -> ModuleType:
    name = "_symcnn_check_" + "".join(ch if ch.isalnum() else "_" for ch in path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SymcnnError(f"cannot load {path} as Python code")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.resolve().parent))
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_function(target: str) -> Callable[..., Any]:
    """Import ``MODULE:FUNC`` or ``path/to/file.py:FUNC``; a one-line `SymcnnError` otherwise.

    Example:
        >>> load_function("os.path:join")("a", "b")
        'a/b'
    """
    where, _, name = target.rpartition(":")
    if not where or not name:
        raise SymcnnError(
            f"name the function as MODULE:FUNC or path/to/file.py:FUNC, not {target!r}"
        )
    try:
        if where.endswith(".py") or "/" in where or os.sep in where:
            path = Path(where)
            if not path.is_file():
                raise SymcnnError(f"no such file: {where}")
            module = _load_file(path)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(where)
    except SymcnnError:
        raise
    except ModuleNotFoundError as err:
        raise SymcnnError(f"cannot import module {where!r}: {err}") from None
    except (Exception, SystemExit) as err:
        raise SymcnnError(f"importing {where} failed: {_one_line(err)}") from None
    fn = getattr(module, name, None)
    if fn is None:
        found = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        hint = f" (it has: {', '.join(found[:8])})" if found else ""
        raise SymcnnError(f"{where} has no function {name!r}{hint}")
    if not callable(fn):
        raise SymcnnError(f"{where}:{name} is {with_article(type(fn).__name__)}, not a function")
    return fn


def _user_traceback(err: BaseException) -> str:
    frames = [
        f
        for f in traceback.extract_tb(err.__traceback__)
        if not f.filename.startswith(_PACKAGE_DIR)
    ]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    lines += traceback.format_exception_only(type(err), err)
    return "".join(lines)


def _check(args: argparse.Namespace) -> int:
    layer = layer_from_args(args)
    fn = load_function(args.target)
    if args.torch:
        fn = torch_fn(fn)
    try:
        result = compare_layer_backward(
            layer,
            fn,
            trials=args.trials,
            rtol=args.rtol,
            atol=args.atol,
            seed=args.seed,
            ties=not args.no_ties,
            max_entries=args.max_entries,
            probe=not args.no_probe,
            index_base=args.index_base,
            batch=args.batch,
        )
    except SymcnnError:
        raise
    except Exception as err:
        sys.stdout.write(f"{args.target} raised {_one_line(err)}\n{_user_traceback(err)}")
        return 1
    sys.stdout.write(result.message + "\n")
    return 0 if result else 1


def add_trial_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--trials``, ``--seed`` and ``--no-ties`` (shared with ``symcnn fixtures``)."""
    parser.add_argument(
        "--trials", type=_positive, default=3, metavar="N", help="random trials (default 3)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the inputs (default 0)")
    parser.add_argument(
        "--no-ties", action="store_true", help="max pooling: skip the trial full of tied maxima"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be ≥ 1")
    return value


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text} must be ≥ 0")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="check your own backward function against the derived formulas",
        description="Call a backward function on random inputs and compare every entry with "
        "symcnn's formulas. Contract: a layer with weights fn(x, w, b, delta) -> (gx, gw, gb), "
        "in the layer's shapes (a convolution: x [C,H,W], w [O,C,KH,KW], b [O] / [O,OH,OW] / "
        "None, delta [O,OH,OW]; b and gb None without bias); a layer without "
        "fn(x, delta) -> gx. Exit 0 when it matches, 1 with a report when it does not, 2 for "
        "bad usage.",
        epilog=help.CHECK,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="MODULE:FUNC|FILE.py:FUNC", help="the backward function")
    add_layer_option(p)
    g = p.add_argument_group("check options")
    add_trial_arguments(g)
    g.add_argument(
        "--rtol",
        type=_tolerance,
        default=DEFAULT_RTOL,
        help=f"relative tolerance (default {DEFAULT_RTOL:g})",
    )
    g.add_argument(
        "--atol",
        type=_tolerance,
        default=DEFAULT_ATOL,
        help=f"absolute tolerance (default {DEFAULT_ATOL:g})",
    )
    g.add_argument(
        "--max-entries",
        type=_positive,
        default=5,
        metavar="N",
        help="wrong entries shown (default 5)",
    )
    g.add_argument(
        "--no-probe",
        action="store_true",
        help="do not call the function once per δ entry to analyse terms",
    )
    g.add_argument(
        "--torch", action="store_true", help="the function takes PyTorch tensors (float64)"
    )
    p.set_defaults(func=_check)

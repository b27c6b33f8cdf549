"""``symcnn fixtures``: write inputs and expected gradients of a layer to an .npz file for other projects."""

from __future__ import annotations

import argparse
import io
import sys

import numpy as np

from ..fileio import write_atomic
from ..testing import fixture_arrays
from . import help
from .check import add_layer_option, add_trial_arguments, layer_from_args


def _fixtures(args: argparse.Namespace) -> int:
    layer = layer_from_args(args)
    arrays = fixture_arrays(
        layer,
        trials=args.trials,
        seed=args.seed,
        ties=not args.no_ties,
        index_base=args.index_base,
        batch=args.batch,
    )
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # type: ignore[arg-type]
    write_atomic(args.output, buf.getvalue())
    keys = ", ".join(arrays)
    sys.stdout.write(f"wrote {args.output}: {len(arrays['trial'])} trial(s); arrays {keys}\n")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fixtures",
        help="write inputs and expected gradients to an .npz file",
        description="Write random inputs and the gradients symcnn's formulas give for them, "
        "one leading trial axis per array, for tests in projects that cannot import symcnn. "
        "Keys: x, w, b, delta (inputs), gx, gw, gb (expected), formula_gx … (each entry's "
        "formula), trial, config (JSON), contract.",
        epilog=help.FIXTURES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_layer_option(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE.npz", help="where to write")
    add_trial_arguments(p)
    p.set_defaults(func=_fixtures)

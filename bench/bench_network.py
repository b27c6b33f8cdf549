"""Benchmark of networks, LeNet-5 first: whole processes before/after, and where the time goes.

Run from the repository root:  python3 bench/bench_network.py [--quick] [--before REV | --no-before]

Issue 13's goal: ``symcnn run --network lenet5.toml --random 0 --format json`` as a whole
process in at most 5 s here, less than naive SymPy needs for one 16x16/3x3 conv layer
(measured in the same run), with less memory than before (23 s and 600 MB). ``run`` derives
and compiles without the proofs; the proofs are timed as the whole process of ``symcnn grad
--network lenet5.toml --format json`` (derive, prove every closed form, print every formula)
and in process, stage by stage, against the physical limit of about a microsecond per
product term. Then smaller networks, stage by stage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import symcnn
from bench.bench_derive import naive_sympy
from bench.common import BEFORE, ROOT, best, checkout, line, timed
from symcnn.derivation.backprop import chains_of
from symcnn.derivation.derived import prove_layer
from symcnn.numeric.engine import Engine

LENET = str(ROOT / "examples" / "lenet5.toml")
RUN = ["run", "--network", LENET, "--random", "0", "--format", "json"]
GRAD = ["grad", "--network", LENET, "--format", "json"]
GENERAL = ["grad", "--network", LENET, "--general"]

NETWORKS: dict[str, tuple[list[Any], tuple[int, ...], str]] = {
    "seed000": (list(symcnn.preset("seed000").layers), (1, 5, 5), "mse"),
    "1x28x28: conv 5x5x4, maxpool 2, sigmoid, dense 10, cross-entropy": (
        [
            {"type": "conv2d", "kernel": 5, "out_channels": 4},
            {"type": "maxpool2d", "window": 2},
            {"type": "sigmoid"},
            {"type": "flatten"},
            {"type": "dense", "out_features": 10},
        ],
        (1, 28, 28),
        "cross_entropy",
    ),
    "1x16x16: conv 3x3x2, relu, avgpool 2, conv 3x3x2 stride 2, tanh, mse": (
        [
            {"type": "conv2d", "kernel": 3, "out_channels": 2},
            {"type": "relu"},
            {"type": "avgpool2d", "window": 2},
            {"type": "conv2d", "kernel": 3, "out_channels": 2, "stride": 2},
            {"type": "tanh"},
        ],
        (1, 16, 16),
        "mse",
    ),
}


def term_count(d: Any) -> int:
    """Product terms of a derivation: every forward summand and every chain-rule term."""
    total = 0
    for layer in [*d.layers, d.loss]:
        structure = layer.forward.structure
        total += sum(p.size for p in structure.parts) + len(structure.opaque.exprs)
        for grads in layer.grads.values():
            chains = chains_of(grads)
            total += sum(len(b.rank) for b in chains.blocks) + len(chains.opaque)
    return total


def stages(net: Any) -> dict[str, float]:
    """CPU seconds of each stage of a network in this process."""
    row: dict[str, float] = {}
    row["derive"], d = timed(lambda: net.derive(prove=False))
    row["prove"], _ = timed(lambda: [prove_layer(layer) for layer in d.layers])
    row["compile"], engine = timed(lambda: Engine(d))
    values = symcnn.random_values(net, 0)
    row["run"], run = timed(lambda: engine.run(values))
    row["sgd"], _ = timed(lambda: engine.sgd(run, 0.1))
    row["json"], _ = timed(lambda: json.dumps(d.to_json()))
    row["terms"] = term_count(d)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per process")
    parser.add_argument(
        "--before", default=BEFORE, help=f"git revision to compare (default {BEFORE})"
    )
    parser.add_argument("--no-before", action="store_true", help="do not run the code before")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else 3

    naive = naive_sympy(16, 3)
    print(f"naive SymPy, one 16x16/3x3 conv layer: {naive:.2f} s CPU")
    old = None if args.no_before else checkout(args.before)
    print(
        f"\nLeNet-5, whole processes (best of {runs}; before = {args.before if old else 'not run'}):"
    )
    results = {}
    for name, cmd in (("run --random 0 --format json", RUN), ("grad --format json", GRAD)):
        before = best(old, cmd, 1) if old else None
        after = results[name] = best(ROOT, cmd, runs)
        print(line(name, before, after), flush=True)
    print(line("grad --general", None, best(ROOT, GENERAL, runs)))
    start = best(ROOT, ["--version"], runs)
    print(f"  start-up alone (python, SymPy, NumPy): {start.cpu:.2f} s CPU")
    run = results["run --random 0 --format json"]
    print(
        f"\n  run / naive 16x16: {run.cpu:.2f} / {naive:.2f} = {run.cpu / naive:.2f} "
        f"({'met' if run.cpu < min(naive, 5.0) else 'MISSED'}: < 5 s and < naive)"
    )

    row = stages(symcnn.preset("lenet5"))
    work = sum(row[s] for s in ("derive", "prove", "compile", "run"))
    print(f"\nLeNet-5 in process ({int(row['terms']):,} product terms, forward and chain rule):")
    print(
        "  "
        + ", ".join(
            f"{s} {row[s]:.2f} s" for s in ("derive", "prove", "compile", "run", "sgd", "json")
        )
    )
    print(
        f"  derive + prove + compile + run: {work:.2f} s CPU = {1e6 * work / row['terms']:.2f} us/term"
    )

    print("\nsmaller networks, in process (CPU s):")
    for name, (layers, shape, loss) in NETWORKS.items():
        r = stages(symcnn.Network(layers, input=shape, loss=loss))
        print(f"  {name}\n    " + ", ".join(f"{k} {v:.3f}" for k, v in r.items() if k != "terms"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

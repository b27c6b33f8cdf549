"""Benchmark of one conv layer: every stage, the naive SymPy way, whole processes before/after.

Run from the repository root:  python3 bench/bench_derive.py [--quick] [--before REV | --no-before]

For each size (in fresh processes, best of three) it prints the CPU seconds spent deriving (forward terms + chain rule), proving the
matrix identities, printing text / LaTeX / JSON, compiling the numbers and evaluating them,
and the cost per product term. Beside it, the approach a user writes by hand in SymPy (build
the loss Σ δ·z and ``diff`` it with respect to every symbol) at 8x8/3x3 and 16x16/3x3. Then
whole processes, the code of ``--before`` (default: the last commit before issue 13) beside
the working tree, in the same run: ``symcnn grad conv2d --input 100x100 --kernel 12x12``
(issue 13: 42 s and 1.2 GB before) and the 64x64/5x5 JSON of issue 2; and the size-independent
form of ImageNet's first layer (``--general``). The machine is shared and noisy: stages are
timed in CPU seconds and the figures that matter are ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import sympy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BEFORE, ROOT, best, checkout, line, timed
from symcnn import Conv2d, derive
from symcnn.derivation.derived import prove_layer
from symcnn.derivation.general import general_layer

SIZES = [(8, 3), (16, 3), (28, 5), (32, 5), (64, 5), (128, 5)]
QUICK_SIZES = [(8, 3), (16, 3), (28, 5), (64, 5)]
NAIVE_SIZES = [(8, 3), (16, 3)]
BIG = ["grad", "conv2d", "--input", "100x100", "--kernel", "12x12"]
ISSUE2 = ["grad", "conv2d", "--input", "64x64", "--kernel", "5x5", "--format", "json"]
IMAGENET = ["conv2d", "--input", "224x224", "--in-channels", "3", "--out-channels", "64"]
IMAGENET += ["--kernel", "7", "--stride", "2", "--padding", "3"]
STAGES = ("derive", "prove", "text", "latex", "json", "compile", "evaluate")


def bench_size(n: int, k: int) -> dict[str, float]:
    """Every stage of the symcnn pipeline for an n×n input and a k×k kernel (shared bias)."""
    spec = Conv2d(kernel=(k, k), input=(n, n))
    row: dict[str, float] = {"terms": float(spec.term_count)}
    row["derive"], d = timed(lambda: derive(spec, prove=False, max_terms=10**8))
    row["prove"], proofs = timed(lambda: prove_layer(d.layers[0]))
    d.layers[0].proofs = proofs
    assert d.all_proven, f"identities not proven at {n}x{n}/{k}x{k}"
    row["text"], _ = timed(d.text)
    row["latex"], _ = timed(d.latex)
    row["json"], _ = timed(lambda: json.dumps(d.to_json()))
    row["compile"], num = timed(d.numeric)
    rng = np.random.default_rng(0)
    arrays = {
        "input": rng.standard_normal(spec.input_shape),
        "weight": rng.standard_normal(spec.weight_shape),
        "bias": rng.standard_normal(spec.bias_shape or ()),
        "delta": rng.standard_normal(spec.output_shape),
    }
    row["evaluate"], grads = timed(lambda: num(**arrays))
    assert np.isclose(grads["bias"][0], arrays["delta"].sum())
    row["total"] = sum(row[s] for s in STAGES)
    return row


def best_size(n: int, k: int, runs: int) -> dict[str, float]:
    """`bench_size` in fresh processes (a clean heap, warmed up once), each stage's best of
    ``runs``: the cost of one size, not of the sizes measured before it."""
    rows = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, __file__, "--size", str(n), str(k)],
            capture_output=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        rows.append(json.loads(done.stdout))
    return {key: min(r[key] for r in rows) for key in rows[0]}


def naive_sympy(n: int, k: int) -> float:
    """The hand-written way: build L = Σ δ_ij z_ij in SymPy, then diff L by every symbol."""

    def build() -> tuple[sympy.Expr, list[sympy.Symbol]]:
        a = [[sympy.Symbol(f"a_{i}_{j}") for j in range(n)] for i in range(n)]
        w = [[sympy.Symbol(f"w_{m}_{q}") for q in range(k)] for m in range(k)]
        b = sympy.Symbol("b")
        out = n - k + 1
        loss = sympy.Integer(0)
        for i in range(out):
            for j in range(out):
                z = sum(w[m][q] * a[i + m][j + q] for m in range(k) for q in range(k)) + b
                loss += sympy.Symbol(f"d_{i}_{j}") * z
        return loss, [s for row in a for s in row] + [s for row in w for s in row] + [b]

    t_build, (loss, symbols) = timed(build)
    t_diff, _ = timed(lambda: [sympy.diff(loss, s) for s in symbols])
    return t_build + t_diff


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, one run per process")
    parser.add_argument(
        "--before", default=BEFORE, help=f"git revision to compare (default {BEFORE})"
    )
    parser.add_argument("--no-before", action="store_true", help="do not run the code before")
    parser.add_argument("--stages-only", action="store_true", help="no whole processes")
    parser.add_argument("--size", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.size:  # one size in this (fresh) process, as the command line runs it
        bench_size(4, 2)  # warm up: imports, caches
        gc.collect()
        gc.disable()
        print(json.dumps(bench_size(*args.size)))
        return 0
    sizes = QUICK_SIZES if args.quick else SIZES
    runs = 1 if args.quick else 3

    print("symcnn, conv2d with shared bias (CPU seconds; 'terms' = product terms per tensor)")
    print(f"{'size':>12} {'terms':>9} " + " ".join(f"{c:>8}" for c in STAGES) + f" {'us/term':>8}")
    rows: dict[tuple[int, int], dict[str, float]] = {}
    for n, k in sizes:
        row = rows[(n, k)] = best_size(n, k, runs)
        per_term = 1e6 * row["total"] / row["terms"]
        cells = " ".join(f"{row[c]:>8.3f}" for c in STAGES)
        print(f"{n:>5}x{n}/{k}x{k} {int(row['terms']):>9d} {cells} {per_term:>8.2f}", flush=True)

    print("\nnaive SymPy (build L = sum(delta*z), then diff L by every symbol), CPU s")
    naive = {}
    for n, k in NAIVE_SIZES[: 1 if args.quick else 2]:
        naive[(n, k)] = naive_sympy(n, k)
        print(f"  {n}x{n}/{k}x{k}: {naive[(n, k)]:.2f}", flush=True)

    big = [s for s in sizes if s[0] >= 28]
    print(f"\ncost per term, {big[-1][0]}x{big[-1][0]} / {big[0][0]}x{big[0][0]} (1.0 = flat):")
    lo, hi = rows[big[0]], rows[big[-1]]
    for stage in (*STAGES, "total"):
        print(f"  {stage:>8}: {(hi[stage] / hi['terms']) / (lo[stage] / lo['terms']):5.2f}")

    general_cpu, _ = timed(
        lambda: general_layer(
            Conv2d(kernel=7, stride=2, padding=3, out_channels=64, input=(3, 224, 224))
        )
    )
    print(
        f"\nsize-independent form of ImageNet's first layer (in process): {general_cpu:.2f} s CPU"
    )

    if args.stages_only:
        return 0
    old = None if args.no_before else checkout(args.before)
    print(f"\nwhole processes (best of {runs}; before = {args.before if old else 'not run'}):")
    for name, cmd in (("grad 100x100/12x12 (text)", BIG), ("grad 64x64/5x5 --format json", ISSUE2)):
        before = best(old, cmd, 1) if old else None
        after = best(ROOT, cmd, runs)
        print(line(name, before, after), flush=True)
        if name.startswith("grad 100"):
            big_after = after
    general = best(ROOT, ["grad", *IMAGENET, "--general"], runs)
    start = best(ROOT, ["--version"], runs)
    print(line("grad ImageNet conv1 --general", None, general))
    print(f"    (of which {start.cpu:.2f} s CPU start-up: python, SymPy, NumPy)")
    if (16, 3) in naive:
        print(
            f"\n  100x100/12x12 whole process / naive SymPy 16x16/3x3: "
            f"{big_after.cpu:.2f} / {naive[(16, 3)]:.2f} = {big_after.cpu / naive[(16, 3)]:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

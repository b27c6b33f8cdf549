"""Benchmark of the conv2d pipeline (derive, prove, print, lambdify) beside the naive SymPy way.

Run from the repository root:  python3 bench/bench_derive.py [--quick]

For each size it prints the CPU seconds spent deriving (forward terms + chain rule), proving the
matrix identities, printing text / LaTeX / JSON, and the numeric check (lambdify build +
compile, then one evaluation). Beside it, the approach a user writes by hand in SymPy (build
the loss Σ δ·z and ``diff`` it with respect to every symbol) at 8x8/3x3 and 16x16/3x3, and the
whole-process time of ``python3 -m symcnn grad conv2d --input 64x64 --kernel 5x5 --format json``.
The machine is shared and noisy: stages are timed in CPU seconds (time.process_time), the
whole process in wall and CPU seconds (best of three), and ratios are printed; the targets of
issue 2 are checked at the end. 'us/term' is derive+prove+print time per product term.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sympy

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from symcnn import Conv2d, derive  # noqa: E402
from symcnn.derivation.derived import prove_layer  # noqa: E402

SIZES = [(8, 3), (16, 3), (28, 5), (32, 5), (64, 5)]
QUICK_SIZES = [(8, 3), (16, 3), (28, 5)]
NAIVE_SIZES = [(8, 3), (16, 3)]
WHOLE_PROCESS = ["grad", "conv2d", "--input", "64x64", "--kernel", "5x5", "--format", "json"]

TARGET_WHOLE_S = 5.0
TARGET_NUMERIC_28_S = 2.0


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """CPU seconds one call takes (steadier than wall time on a shared machine), and its result."""
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def bench_size(n: int, k: int) -> dict[str, float]:
    """Every stage of the symcnn pipeline for an n×n input and a k×k kernel (shared bias)."""
    spec = Conv2d(kernel=(k, k), input=(n, n))
    row: dict[str, float] = {"terms": float(spec.term_count)}
    row["derive"], d = timed(lambda: derive(spec, prove=False))
    row["prove"], proofs = timed(lambda: prove_layer(d.layers[0]))
    d.layers[0].proofs = proofs
    assert d.all_proven, f"identities not proven at {n}x{n}/{k}x{k}"
    row["text"], _ = timed(d.text)
    row["latex"], _ = timed(d.latex)
    row["json"], _ = timed(lambda: json.dumps(d.to_json()))
    row["lambdify"], num = timed(d.numeric)
    rng = np.random.default_rng(0)
    arrays = {
        "input": rng.standard_normal(spec.input_shape),
        "weight": rng.standard_normal(spec.weight_shape),
        "bias": rng.standard_normal(spec.bias_shape or ()),
        "delta": rng.standard_normal(spec.output_shape),
    }
    row["evaluate"], grads = timed(lambda: num(**arrays))
    assert np.isclose(grads["bias"][0], arrays["delta"].sum())
    row["numeric"] = row["derive"] + row["lambdify"] + row["evaluate"]
    row["total"] = sum(
        row[key] for key in ("derive", "prove", "text", "latex", "json", "lambdify", "evaluate")
    )
    return row


def naive_sympy(n: int, k: int) -> tuple[float, float]:
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
    return t_build, t_diff


def whole_process() -> tuple[float, float]:
    """Wall and CPU seconds of ``python3 -m symcnn grad conv2d --input 64x64 …`` (one run)."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "symcnn", *WHOLE_PROCESS], capture_output=True, env=env, cwd=ROOT
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(
            f"whole-process run failed ({run.returncode}): {run.stderr.decode()[-500:]}"
        )
    json.loads(run.stdout)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes up to 28x28 and naive 8x8 only")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    naive_sizes = NAIVE_SIZES[:1] if args.quick else NAIVE_SIZES

    cols = ["terms", "derive", "prove", "text", "latex", "json", "lambdify", "evaluate", "total"]
    print(
        "symcnn pipeline, conv2d with shared bias (CPU seconds; 'terms' = product terms per tensor)"
    )
    print(f"{'size':>12} " + " ".join(f"{c:>9}" for c in cols) + f" {'us/term':>8}")
    rows = {}
    for n, k in sizes:
        row = bench_size(n, k)
        rows[(n, k)] = row
        cells = [f"{int(row['terms']):>9d}"] + [f"{row[c]:>9.3f}" for c in cols[1:]]
        per_term = 1e6 * (row["total"] - row["lambdify"] - row["evaluate"]) / row["terms"]
        print(f"{n:>5}x{n}/{k}x{k} " + " ".join(cells) + f" {per_term:>8.2f}", flush=True)

    print("\nnaive SymPy (build L = sum(delta*z), then diff L by every symbol)")
    naive = {}
    for n, k in naive_sizes:
        t_build, t_diff = naive_sympy(n, k)
        naive[(n, k)] = t_build + t_diff
        print(
            f"{n:>5}x{n}/{k}x{k}  build {t_build:7.3f}  diff {t_diff:7.3f}  total {t_build + t_diff:7.3f}",
            flush=True,
        )

    runs = 1 if args.quick else 3
    whole = [whole_process() for _ in range(runs)]
    print(f"\nwhole process `python3 -m symcnn {' '.join(WHOLE_PROCESS)}`:")
    print("  " + ", ".join(f"{wall:.2f} s wall ({cpu:.2f} s CPU)" for wall, cpu in whole))

    print("\nratios and targets (issue 2)")
    best = min(wall for wall, _ in whole)
    best_cpu = min(cpu for _, cpu in whole)
    status = "met" if best < TARGET_WHOLE_S else "MISSED"
    print(
        f"  whole process 64x64/5x5 JSON: best {best:.2f} s wall, {best_cpu:.2f} s CPU "
        f"vs target {TARGET_WHOLE_S:.0f} s -> {status}"
    )
    if (16, 3) in naive:
        ratio = best_cpu / naive[(16, 3)]
        status = "met" if ratio < 1 else "MISSED"
        print(
            f"  whole process 64x64 / naive 16x16 (CPU): {best_cpu:.2f} / {naive[(16, 3)]:.2f} "
            f"= {ratio:.2f} -> {status}"
        )
    if (8, 3) in naive and (8, 3) in rows:
        print(
            f"  naive 8x8 / symcnn derive+prove 8x8: {naive[(8, 3)] / (rows[(8, 3)]['derive'] + rows[(8, 3)]['prove']):.0f}x"
        )
    if (28, 5) in rows:
        r = rows[(28, 5)]
        status = "met" if r["numeric"] < TARGET_NUMERIC_28_S else "MISSED"
        print(
            f"  numeric check 28x28/5x5 (build {r['derive']:.2f} + compile {r['lambdify']:.2f} + evaluate "
            f"{r['evaluate']:.3f}) = {r['numeric']:.2f} s vs target {TARGET_NUMERIC_28_S:.0f} s -> {status}"
        )
    big = [s for s in sizes if s[0] >= 28]
    if len(big) >= 2:
        lo, hi = rows[big[0]], rows[big[-1]]
        for stage in ("derive", "prove", "text", "latex", "json", "lambdify"):
            scale = (hi[stage] / hi["terms"]) / (lo[stage] / lo["terms"])
            print(
                f"  cost per term {big[-1][0]}x{big[-1][0]} / {big[0][0]}x{big[0][0]} for {stage:>8}: "
                f"{scale:5.2f} (1.0 = linear in terms)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

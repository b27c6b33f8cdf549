"""Time whole-network derivations: derive (+ proofs), print, compile the numbers, run, SGD.

Run: python3 bench/bench_network.py
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import symcnn
from symcnn.numeric.engine import Engine

NETWORKS: dict[str, tuple[list[Any], tuple[int, ...], str]] = {
    "seed003": (list(symcnn.preset("seed003").layers), (1, 3, 3), "mse"),
    "seed000": (list(symcnn.preset("seed000").layers), (1, 5, 5), "mse"),
    "lenet-ish 1x28x28: conv 5x5x4, maxpool 2, sigmoid, dense 10, cross-entropy": (
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
    "two convs 1x16x16: conv 3x3x2, relu, avgpool 2, conv 3x3x2 stride 2, tanh, mse": (
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


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    """Print one line of timings per network."""
    for name, (layers, shape, loss) in NETWORKS.items():
        net = symcnn.Network(layers, input=shape, loss=loss)
        t_derive, d = _time(lambda net=net: net.derive(prove=False))
        t_prove, _ = _time(lambda net=net: net.derive(prove=True))
        t_text, _ = _time(lambda d=d: d.text())
        t_latex, _ = _time(lambda d=d: d.latex())
        t_json, _ = _time(lambda d=d: json.dumps(d.to_json()))
        t_compile, num = _time(lambda d=d: Engine(d))
        values = symcnn.random_values(net, 0)
        t_run, run = _time(lambda num=num, values=values: num.run(values))
        t_sgd, _ = _time(lambda num=num, run=run: num.sgd(run, 0.1))
        print(
            f"{name}\n  derive {t_derive:.2f}s, with proofs {t_prove:.2f}s, text {t_text:.2f}s, "
            f"latex {t_latex:.2f}s, json {t_json:.2f}s, compile {t_compile:.2f}s, "
            f"run {t_run * 1000:.1f}ms, sgd {t_sgd * 1000:.1f}ms"
        )


if __name__ == "__main__":
    main()

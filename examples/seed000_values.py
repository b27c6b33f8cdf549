"""Write examples/seed000-values.json: numbers for seed 000's network that reproduce the seeds.

Seed 000 asks how δH1 = 0.25 and δH2 = −0.15, the errors of its two hidden neurons, travel
back through the sigmoid and the max-pool to the kernel; seed 001 answers with a 5x5 input
``o``, a 4x4 error ``d`` whose only non-zero entries sit at the max-pool winners, and the
weight gradient [[0.044606, 0.094061], [0.011262, 0.068288]]. These values make the whole
backward pass, started from the loss, pass through exactly those numbers:

- the input x is seed 001's ``o``;
- the kernel has seed 001's w_11 = −0.13 (w_12, w_21, w_22 chosen so that each window's
  maximum sits where ``d`` has its non-zero entry) and the bias makes z_11 = 0.25, as in
  seed 001's text;
- the first row of layer 4's weights is solved so that δ of the max-pool output equals
  ``d``'s non-zero entries (0.0364, 0.0686, 0.0467, −0.0681) given δH = (0.25, −0.15);
- w6_12 and b6 are solved so that the target t = 0 gives δ of layer 4 = (0.25, −0.15).

Plain NumPy, independent of symcnn: ``python3 examples/seed000_values.py``.
"""

import json
from pathlib import Path

import numpy as np
from scipy.optimize import brentq


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def dsigmoid(x):
    return sigmoid(x) * (1 - sigmoid(x))


SEED_O = np.array(
    [
        [0.51, 0.9, 0.88, 0.84, 0.05],
        [0.4, 0.62, 0.22, 0.59, 0.1],
        [0.11, 0.2, 0.74, 0.33, 0.14],
        [0.47, 0.01, 0.85, 0.7, 0.09],
        [0.76, 0.19, 0.72, 0.17, 0.57],
    ]
)
D_WINNERS = {(1, 1): 0.0364, (0, 2): 0.0686, (2, 1): 0.0467, (3, 3): -0.0681}  # seed 001's d
DELTA_H = np.array([0.25, -0.15])  # seed 000's δH1, δH2


def values():
    w0 = np.array([[-0.13, -0.1], [-0.3, 0.4]])
    b0 = 0.25 - np.sum(SEED_O[:2, :2] * w0)  # z_11 = 0.25 (seed 001)
    z0 = np.array(
        [[np.sum(SEED_O[i : i + 2, j : j + 2] * w0) + b0 for j in range(4)] for i in range(4)]
    )
    p1, d1 = np.zeros(4), np.zeros(4)
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        window = z0[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
        r, c = np.unravel_index(np.argmax(window), window.shape)
        winner = (2 * i + r, 2 * j + c)
        assert winner in D_WINNERS, winner
        p1[k], d1[k] = z0[winner], D_WINNERS[winner]
    delta3 = d1 / dsigmoid(p1)  # δ of the flatten output, one per feature
    w4 = np.zeros((2, 4))
    w4[1] = [0.3, -0.2, 0.1, 0.4]
    w4[0] = (delta3 - DELTA_H[1] * w4[1]) / DELTA_H[0]  # Σ_i δH_i w_ij = δ3_j
    b4 = np.array([-0.7, -0.4])
    z4 = w4 @ sigmoid(p1) + b4
    a5 = sigmoid(z4)
    w60 = 7.0
    delta6 = DELTA_H[0] / (w60 * dsigmoid(z4[0]))  # δH_1 = δ6·w6_11·σ'(z4_1)
    w61 = DELTA_H[1] / (delta6 * dsigmoid(z4[1]))
    # with t = 0: δ6 = (σ(z6) − 0)·σ'(z6); take the root with σ(z6) > 2/3
    z6 = brentq(lambda z: sigmoid(z) * dsigmoid(z) - delta6, np.log(2), 20)
    b6 = z6 - w60 * a5[0] - w61 * a5[1]
    return {
        "input": [SEED_O.tolist()],
        "target": [0.0],
        "params": {
            "0.weight": [[w0.tolist()]],
            "0.bias": [float(b0)],
            "4.weight": w4.tolist(),
            "4.bias": b4.tolist(),
            "6.weight": [[w60, float(w61)]],
            "6.bias": [float(b6)],
        },
    }


def as_json(v):
    """The values as JSON, one array per line."""
    params = ",\n".join(f"    {json.dumps(k)}: {json.dumps(a)}" for k, a in v["params"].items())
    return (
        f'{{\n  "input": {json.dumps(v["input"])},\n  "target": {json.dumps(v["target"])},\n'
        f'  "params": {{\n{params}\n  }}\n}}\n'
    )


if __name__ == "__main__":
    out = Path(__file__).with_name("seed000-values.json")
    out.write_text(as_json(values()), encoding="utf-8")
    print(f"wrote {out}")

"""The seed networks: seed 000 by hand in NumPy, seed 003's printed formulas, max-pool ties."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
from scipy import signal

import symcnn
from symcnn.core.symbols import Role
from symcnn.kinds.activation import sigmoid as Sigmoid
from symcnn.numeric.values import check_values


def _sig(v):
    return 1.0 / (1.0 + np.exp(-v))


def seed000_by_hand(x, w0, b0, w4, b4, w6, b6, t):
    """Seed 000's network written out: forward with recorded max-pool winners, then backward."""
    z0 = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            z0[i, j] = sum(w0[m, n] * x[i + m, j + n] for m in range(2) for n in range(2)) + b0
    p1, winner = np.zeros((2, 2)), {}
    for i in range(2):
        for j in range(2):
            best = (2 * i, 2 * j)
            for m in range(2):
                for n in range(2):
                    if z0[2 * i + m, 2 * j + n] > z0[best]:
                        best = (2 * i + m, 2 * j + n)
            p1[i, j], winner[i, j] = z0[best], best
    a2 = _sig(p1)
    v3 = np.array([a2[0, 0], a2[0, 1], a2[1, 0], a2[1, 1]])
    z4 = w4 @ v3 + b4
    a5 = _sig(z4)
    z6 = w6 @ a5 + b6
    a7 = _sig(z6)
    loss = 0.5 * np.sum((a7 - t) ** 2)
    d = {7: a7 - t}
    d[6] = d[7] * a7 * (1 - a7)
    d[5] = w6.T @ d[6]
    d[4] = d[5] * a5 * (1 - a5)
    d[3] = w4.T @ d[4]
    d[2] = np.array([[d[3][0], d[3][1]], [d[3][2], d[3][3]]])
    d[1] = d[2] * a2 * (1 - a2)
    d[0] = np.zeros((4, 4))
    for (i, j), cell in winner.items():
        d[0][cell] += d[1][i, j]
    return (
        loss,
        d,
        winner,
        z0,
        _grads_0(x, w0, d[0])
        | {
            "4.weight": np.outer(d[4], v3),
            "4.bias": d[4],
            "6.weight": np.outer(d[6], a5),
            "6.bias": d[6],
        },
    )


def _grads_0(x, w0, d0):
    dw = np.zeros((2, 2))
    dx = np.zeros((5, 5))
    for i in range(4):
        for j in range(4):
            for m in range(2):
                for n in range(2):
                    dw[m, n] += d0[i, j] * x[i + m, j + n]
                    dx[i + m, j + n] += d0[i, j] * w0[m, n]
    return {"0.weight": dw, "0.bias": np.array([d0.sum()]), "input": dx}


def _seed000_values(seed):
    rng = np.random.default_rng(seed)
    return {
        "input": rng.uniform(-1, 1, (1, 5, 5)),
        "target": rng.uniform(0, 1, (1,)),
        "params": {
            "0.weight": rng.uniform(-1, 1, (1, 1, 2, 2)),
            "0.bias": rng.uniform(-1, 1, (1,)),
            "4.weight": rng.uniform(-1, 1, (2, 4)),
            "4.bias": rng.uniform(-1, 1, (2,)),
            "6.weight": rng.uniform(-1, 1, (1, 2)),
            "6.bias": rng.uniform(-1, 1, (1,)),
        },
    }


@pytest.mark.parametrize("seed", range(5))
def test_seed000_network_equals_a_numpy_forward_and_backward_written_by_hand(seed):
    net = symcnn.preset("seed000")
    raw = _seed000_values(seed)
    run = net.derive().evaluate(check_values(net, raw))
    p = raw["params"]
    loss, deltas, winner, _z0, grads = seed000_by_hand(
        raw["input"][0],
        p["0.weight"][0, 0],
        p["0.bias"][0],
        p["4.weight"],
        p["4.bias"],
        p["6.weight"],
        p["6.bias"],
        raw["target"],
    )
    assert run.loss == pytest.approx(loss, rel=1e-12)
    for lv in run.layers:
        np.testing.assert_allclose(
            lv.delta.ravel(), deltas[lv.index].ravel(), rtol=1e-10, atol=1e-15
        )
    assert {(i, j): cell[1:] for (_, i, j), cell in np.ndenumerate(run.layers[1].winners)} == winner
    for name, expected in grads.items():
        np.testing.assert_allclose(
            run.grads[name].reshape(expected.shape), expected, rtol=1e-10, atol=1e-15
        )
    # the seed's closing line: gradient = signal.convolve2d(np.rot90(np.rot90(d)), o, 'valid')
    seed_formula = signal.convolve2d(np.rot90(np.rot90(deltas[0])), raw["input"][0], "valid")
    np.testing.assert_allclose(run.grads["0.weight"][0, 0], seed_formula, rtol=1e-10, atol=1e-15)


def test_seed000_question_given_delta_h_pushes_back_through_sigmoid_and_max_pool():
    net = symcnn.preset("seed000")
    raw = _seed000_values(7)
    p = raw["params"]
    delta_h = np.array([0.25, -0.15])  # the seed's δH1, δH2
    run = net.derive().numeric().run(check_values(net, raw), delta_at=(4, delta_h))
    *_, z0, _ = seed000_by_hand(
        raw["input"][0],
        p["0.weight"][0, 0],
        p["0.bias"][0],
        p["4.weight"],
        p["4.bias"],
        p["6.weight"],
        p["6.bias"],
        raw["target"],
    )
    assert [lv.index for lv in run.layers] == [0, 1, 2, 3, 4]
    d3 = p["4.weight"].T @ delta_h  # Σ_i δH_i W_ij (seed 004)
    np.testing.assert_allclose(run.layers[3].delta, d3, rtol=1e-12)
    a2 = _sig(run.layers[1].output[0])
    d1 = d3.reshape(2, 2) * a2 * (1 - a2)
    np.testing.assert_allclose(run.layers[1].delta[0], d1, rtol=1e-12)
    d0 = run.layers[0].delta[0]
    assert np.count_nonzero(d0) == 4  # "set every value filtered out by max-pooling to 0"
    for i in range(2):
        for j in range(2):
            window = z0[2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            m, n = np.unravel_index(np.argmax(window), (2, 2))
            assert d0[2 * i + m, 2 * j + n] == pytest.approx(d1[i, j], rel=1e-12)
    expected = signal.correlate2d(raw["input"][0], d0, "valid")
    np.testing.assert_allclose(run.grads["0.weight"][0, 0], expected, rtol=1e-12)
    np.testing.assert_allclose(run.grads["4.weight"], np.outer(delta_h, run.layers[3].output))


# --- seed 003 ----------------------------------------------------------------------------

# The seed's entries, typed from its text (a: input, w: kernel, δ written d, b: bias).
SEED003_INPUT_GRAD = {
    (1, 1): "d11*w11",
    (1, 2): "d12*w11 + d11*w12",
    (1, 3): "d12*w12",
    (2, 1): "d11*w21 + d21*w11",
    (2, 2): "d11*w22 + d12*w21 + d21*w12 + d22*w11",
    (2, 3): "d12*w22 + d22*w12",
    (3, 1): "d21*w21",
    (3, 2): "d21*w22 + d22*w21",
    (3, 3): "d22*w22",
}
SEED003_WEIGHT_GRAD = {
    (1, 1): "d11*a11 + d12*a12 + d21*a21 + d22*a22",
    (1, 2): "d11*a12 + d12*a13 + d21*a22 + d22*a23",
    (2, 1): "d11*a21 + d12*a22 + d21*a31 + d22*a32",
    (2, 2): "d11*a22 + d12*a23 + d21*a32 + d22*a33",
}


def _seed_names():
    """Seed 003's names → symcnn's: a_ij → x_ij, w_ij → w0_ij, δ_ij → d0_ij, b → b0."""
    out = {}
    for i in range(1, 4):
        for j in range(1, 4):
            out[f"a{i}{j}"] = sympy.Symbol(f"x_{i}{j}")
    for i in range(1, 3):
        for j in range(1, 3):
            out[f"w{i}{j}"] = sympy.Symbol(f"w0_{i}{j}")
            out[f"d{i}{j}"] = sympy.Symbol(f"d0_{i}{j}")
            out[f"b{i}{j}"] = sympy.Symbol(f"b0_{i}{j}")
            out[f"z{i}{j}"] = sympy.Symbol(f"z0_{i}{j}")
            out[f"yhat{i}{j}"] = sympy.Symbol(f"a1_{i}{j}")
            out[f"y{i}{j}"] = sympy.Symbol(f"t_{i}{j}")
    return out


def _seed(text):
    return sympy.parse_expr(text, local_dict={**_seed_names(), "sigma": Sigmoid})


def test_seed003_entry_formulas_are_the_seeds():
    d = symcnn.preset("seed003").derive()
    layer = d.layers[0]
    for (i, j), text in SEED003_INPUT_GRAD.items():
        assert sympy.expand(layer.grads[Role.INPUT][0, i - 1, j - 1].sympy() - _seed(text)) == 0
    for (i, j), text in SEED003_WEIGHT_GRAD.items():
        got = layer.grads[Role.WEIGHT][0, 0, i - 1, j - 1].sympy()
        assert sympy.expand(got - _seed(text)) == 0
    for i in range(1, 3):
        for j in range(1, 3):  # untied bias: ∂J/∂b_ij = δ_ij
            assert layer.grads[Role.BIAS][0, i - 1, j - 1].sympy() == _seed(f"d{i}{j}")
    assert all(r.proven for r in layer.identities)


def test_seed003_output_delta_is_yhat_minus_y_times_sigma_prime():
    d = symcnn.preset("seed003").derive()
    # δ^l = (ŷ − y) ⊙ σ'(z^l), σ' = σ(1 − σ)  (the seed's equations 6-8)
    subs = d.substituted()["delta0"]
    for i in range(1, 3):
        for j in range(1, 3):
            seed = _seed(f"(yhat{i}{j} - y{i}{j})*sigma(z{i}{j})*(1 - sigma(z{i}{j}))")
            assert sympy.expand(subs[0, i - 1, j - 1] - seed) == 0
    # the δ link names layer 1: δ⁰ is written in δ¹, and δ¹ comes from the loss
    assert d.layers[0].delta_from == 1 and d.layers[1].delta_from is None
    partial = d.layers[0].delta[0, 0, 0].terms[0].partial
    z = sympy.Symbol("z0_11")
    assert sympy.simplify(partial.rewrite(sympy.exp) - sympy.diff(1 / (1 + sympy.exp(-z)), z)) == 0


def test_seed003_prints_sigma_prime_as_sigma_times_one_minus_sigma():
    d = symcnn.preset("seed003").derive()
    assert "    δ⁰_11 = ∂E/∂z⁰_11 = ∇a¹_11·σ(z⁰_11)·(1 - σ(z⁰_11))" in d.text().splitlines()
    assert "    ∇a¹_11 = ∂E/∂a¹_11 = a¹_11 - t_11" in d.text().splitlines()
    latex = d.latex()
    assert (
        r"\nabla a^{(1)}_{11} \sigma\left(z^{(0)}_{11}\right) "
        r"\left(1 - \sigma\left(z^{(0)}_{11}\right)\right)" in latex
    )


def test_shared_bias_gradient_is_the_sum_of_delta():
    net = symcnn.Network(
        [symcnn.Conv2d(kernel=2, bias="shared"), symcnn.Sigmoid()],
        input=(1, 3, 3),
    )
    got = net.derive().layers[0].grads[Role.BIAS][0].sympy()
    assert sympy.expand(got - _seed("d11 + d12 + d21 + d22")) == 0  # the seed's (20)


# --- max-pool ties through a whole network ---------------------------------------------------

TIE_NET = [
    {"type": "conv2d", "kernel": 1, "bias": "none"},
    {"type": "maxpool2d", "window": 2, "stride": 1},
    {"type": "flatten"},
    {"type": "dense", "out_features": 1, "bias": False},
]


def test_max_pool_ties_go_to_the_first_maximum_through_a_network():
    net = symcnn.Network(TIE_NET, input=(1, 3, 3))
    values = {
        "input": [[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]],
        "target": [0.0],
        "params": {"0.weight": [[[[1.0]]]], "3.weight": [[1.0, 2.0, 3.0, 4.0]]},
    }
    run = net.derive().evaluate(check_values(net, values))
    # every window holds a tie of 1s: the first in row-major order wins
    winners = run.layers[1].winners[0]
    assert [[winners[0, 0], winners[0, 1]], [winners[1, 0], winners[1, 1]]] == [
        [(0, 0, 0), (0, 0, 1)],
        [(0, 1, 0), (0, 1, 1)],
    ]
    # ŷ = 1+2+3+4 = 10, δ of the pool = 10·W, each routed to its window's first maximum
    expected = [[[10.0, 20.0, 0.0], [30.0, 40.0, 0.0], [0.0, 0.0, 0.0]]]
    np.testing.assert_allclose(run.grads["input"], expected)
    np.testing.assert_allclose(run.grads["0.weight"], [[[[100.0]]]])


def test_max_pool_ties_agree_with_torch():
    torch = pytest.importorskip("torch")
    net = symcnn.Network(TIE_NET, input=(1, 3, 3))
    x = np.array([[[2.0, 2.0, 2.0], [2.0, 2.0, 1.0], [0.0, 2.0, 2.0]]])
    w = np.array([[1.0, -2.0, 3.0, 0.5]])
    values = {"input": x, "target": [1.0], "params": {"0.weight": [[[[1.0]]]], "3.weight": w}}
    run = net.derive().evaluate(check_values(net, values))
    tx = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.max_pool2d(tx[None], 2, 1)[0].flatten() @ torch.tensor(w[0])
    (0.5 * (y - 1.0) ** 2).backward()
    np.testing.assert_allclose(run.grads["input"], tx.grad.numpy())


def test_presets_are_the_example_files():
    from pathlib import Path

    from symcnn.graph.presets import PRESETS

    examples = Path(__file__).resolve().parent.parent / "examples"
    for name, text in PRESETS.items():
        assert (examples / f"{name}.toml").read_text(encoding="utf-8") == text
        assert symcnn.load_network(examples / f"{name}.toml") == symcnn.preset(name)

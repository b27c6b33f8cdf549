"""Numbers given by a user (a values file, a dict, the API): each mistake is one line naming
the array, the shape wanted and the source; what is right is read, with axes of length 1
left out if the user left them out, and random and by-hand numbers have the shapes needed.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import symcnn
from symcnn.errors import ValuesError
from symcnn.numeric.values import (
    check_values,
    hand_values,
    load_values,
    needed,
    one_decimal,
    random_values,
    read_json,
    values_json,
)

LONE = symcnn.Network.of(symcnn.Conv2d(kernel=2, input=(3, 3)))
NET = symcnn.parse_network(
    'input = [1, 3, 3]\nloss = "mse"\n[[layer]]\ntype = "conv2d"\nkernel = [2, 2]\n'
)
GOOD_LONE = {
    "input": np.ones((3, 3)),  # [1, 3, 3] with its axis of length 1 left out
    "weight": np.ones((1, 1, 2, 2)),
    "bias": 0.5,  # one number for a bias of shape [1]
    "delta": np.ones((1, 2, 2)),
}
GOOD_NET = {
    "input": np.ones((1, 3, 3)),
    "target": np.zeros((1, 2, 2)),
    "params": {"0.weight": np.ones((1, 1, 2, 2)), "0.bias": [0.5]},
}


def test_what_a_lone_layer_and_a_network_need() -> None:
    assert needed(LONE) == {
        "input": (1, 3, 3), "weight": (1, 1, 2, 2), "bias": (1,), "delta": (1, 2, 2),
    }  # fmt: skip
    assert needed(NET) == {
        "input": (1, 3, 3), "0.weight": (1, 1, 2, 2), "0.bias": (1,), "target": (1, 2, 2),
    }  # fmt: skip


def test_right_numbers_are_read_with_the_axes_of_length_one_put_back() -> None:
    v = check_values(LONE, GOOD_LONE, "arrays")
    assert v.input.shape == (1, 3, 3) and v.params["bias"].tolist() == [0.5]
    assert v.delta is not None and v.delta.shape == (1, 2, 2) and v.target is None
    assert v.input.dtype == float
    n = check_values(NET, GOOD_NET)
    assert n.params["0.bias"].tolist() == [0.5] and n.target is not None and n.delta is None
    assert sorted(n.arrays()) == ["0.bias", "0.weight", "input", "target"]
    again = check_values(NET, n)  # a Values goes through the same checks
    np.testing.assert_array_equal(again.params["0.weight"], n.params["0.weight"])


@pytest.mark.parametrize(
    ("network", "data", "message"),
    [
        (LONE, {**GOOD_LONE, "delta": "x"},
         "arrays: delta is not a rectangular array of numbers (shape [1, 2, 2])"),
        (LONE, {k: v for k, v in GOOD_LONE.items() if k != "delta"},
         "arrays: missing delta (an array of shape [1, 2, 2]) (δ = ∂E/∂z comes from the layer "
         "after this one)"),
        (LONE, {k: v for k, v in GOOD_LONE.items() if k != "weight"},
         "arrays: missing weight (an array of shape [1, 1, 2, 2])"),
        (LONE, {**GOOD_LONE, "input": np.ones((3, 4))},
         "arrays: input has shape [3, 4], expected [1, 3, 3]"),
        (LONE, {**GOOD_LONE, "input": np.ones(9)},
         "arrays: input has shape [9], expected [1, 3, 3]"),
        (LONE, {**GOOD_LONE, "weight": [[[[1, 2], [3, float("nan")]]]]},
         "arrays: weight contains a value that is not finite"),
        (LONE, {**GOOD_LONE, "wieght": 1},
         "arrays: unknown key 'wieght' (did you mean 'weight'?); valid: input, weight, bias, "
         "delta"),
        (LONE, [1, 2], "arrays: expected an object with input, weight, bias, delta"),
        (NET, {**GOOD_NET, "params": [1]},
         'arrays: "params" must be an object like {"0.weight": [...]}'),
        (NET, {**GOOD_NET, "params": {**GOOD_NET["params"], "1.weight": 0}},
         "arrays: unknown parameter '1.weight' (did you mean '0.weight'?); valid: 0.weight, "
         "0.bias"),
        (NET, {k: v for k, v in GOOD_NET.items() if k != "target"},
         "arrays: missing target (an array of shape [1, 2, 2])"),
        (NET, {**GOOD_NET, "params": {"0.weight": np.ones((1, 1, 2, 2))}},
         "arrays: missing params.0.bias (an array of shape [1])"),
        (NET, {**GOOD_NET, "extra": 1},
         "arrays: unknown key 'extra'; valid: input, target, params"),
    ],
    ids=["not-numbers", "no-delta", "no-weight", "shape", "flat", "nan", "typo", "a-list",
         "params-list", "unknown-param", "no-target", "no-bias", "extra"],
)  # fmt: skip
def test_each_mistake_is_one_line_naming_it(network, data, message) -> None:
    with pytest.raises(ValuesError, match="^" + re.escape(message) + "$"):
        check_values(network, data, "arrays")


def test_a_parameter_free_network_lists_no_parameters() -> None:
    net = symcnn.parse_network('input = [4]\nloss = "mse"\n[[layer]]\ntype = "sigmoid"\n')
    with pytest.raises(ValuesError, match=r"^v: unknown parameter 'w'; valid: none$"):
        check_values(net, {"input": [0] * 4, "target": [0] * 4, "params": {"w": 1}}, "v")


def test_a_values_file_is_read_or_refused_in_one_line(tmp_path) -> None:
    good = tmp_path / "v.json"
    good.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in GOOD_LONE.items()}))
    assert load_values(good, LONE).input.shape == (1, 3, 3)
    with pytest.raises(
        ValuesError, match=rf"^{re.escape(str(tmp_path / 'no.json'))}: no such file$"
    ):
        read_json(tmp_path / "no.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"input": [1, 2,]}')
    with pytest.raises(ValuesError, match=r"bad\.json: invalid JSON at line 1 column 17: "):
        load_values(bad, LONE)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValuesError, match=r"bin\.json: cannot read: "):
        read_json(binary)


def test_generated_numbers_have_the_shapes_needed_and_read_back() -> None:
    for network in (LONE, NET):
        for make in (random_values, hand_values):
            v = make(network, seed=3)
            arrays = v.arrays()
            assert {k: a.shape for k, a in arrays.items()} == needed(network)
            assert check_values(network, v).input.shape == needed(network)["input"]
            written = json.loads(json.dumps(values_json(v)))  # as a --values file holds it
            np.testing.assert_array_equal(check_values(network, written).input, v.input)
    hand = hand_values(NET, seed=1).arrays()
    for a in hand.values():  # one decimal in [−1, 1]: a student can follow them by hand
        assert np.all(np.abs(a) <= 1) and np.allclose(a * 10, np.round(a * 10))
    d = one_decimal({"x": (2, 3)}, seed=0)["x"]
    assert d.shape == (2, 3) and np.allclose(d * 10, np.round(d * 10)) and np.all(abs(d) <= 1)


def test_a_network_input_a_missing_params_table_and_a_values_file_are_named() -> None:
    with pytest.raises(ValuesError, match=r"^arrays: input has shape \[4\], expected \[1, 3, 3\]$"):
        check_values(NET, {**GOOD_NET, "input": np.ones(4)}, "arrays")
    no_params = {k: v for k, v in GOOD_NET.items() if k != "params"}
    with pytest.raises(ValuesError, match=r"^v: missing params\.0\.weight \(an array of shape "):
        check_values(NET, no_params, "v")
    lone = check_values(LONE, check_values(LONE, GOOD_LONE))  # a lone layer's Values, again
    assert lone.params["bias"].tolist() == [0.5]


def test_a_values_file_names_itself_in_its_messages(tmp_path) -> None:
    path = tmp_path / "numbers.json"
    path.write_text(json.dumps({"input": [[1, 2, 3]] * 3}))
    with pytest.raises(ValuesError, match="^" + re.escape(f"{path}: missing target")):
        load_values(path, NET)


def test_a_wrong_target_in_a_mini_batch_names_its_sample() -> None:
    net = symcnn.parse_network(
        'input = [3]\nbatch = 2\nloss = "cross_entropy"\n[[layer]]\ntype = "dense"\n'
        "out_features = 2\n"
    )
    data = {"input": np.ones((2, 3)), "target": [[0.5, 0.5], [0.9, 0.9]],
            "params": {"0.weight": np.ones((2, 3)), "0.bias": np.zeros(2)}}  # fmt: skip
    with pytest.raises(ValuesError, match=r"^v \(sample 2\): "):
        check_values(net, data, "v")


def test_made_up_numbers_are_reproducible_and_drawn_as_documented() -> None:
    """random: PyTorch's start (weights and biases uniform in ±1/√fan_in, a standard normal
    input, a target the loss can take); by hand: one decimal in [−1, 1]; both by seed."""
    net = symcnn.parse_network(
        'input = [2, 6, 6]\nloss = "cross_entropy"\n[[layer]]\ntype = "conv2d"\nkernel = [3, 3]\n'
        'out_channels = 4\n[[layer]]\ntype = "batchnorm2d"\n[[layer]]\ntype = "flatten"\n'
        '[[layer]]\ntype = "dense"\nout_features = 3\n'
    )
    for make in (random_values, hand_values):
        a, b, c = make(net, 7), make(net, 7), make(net, 8)
        for name, arr in a.arrays().items():
            np.testing.assert_array_equal(arr, b.arrays()[name])
        assert not np.array_equal(a.input, c.input)
        assert a.target is not None and sorted(a.target.tolist()) == [0.0, 0.0, 1.0]  # one-hot
        with pytest.raises(ValuesError, match=r"^--random needs a seed ≥ 0, got -1$"):
            make(net, -1)
    r = random_values(net, 3).params
    for name, fan_in in (("0.weight", 2 * 3 * 3), ("0.bias", 2 * 3 * 3), ("3.weight", 64)):
        bound = 1 / np.sqrt(fan_in)
        assert np.all(np.abs(r[name]) <= bound) and np.abs(r[name]).max() > bound / 2, name
    assert np.abs(r["1.weight"]).max() <= 1 and np.abs(r["1.weight"]).max() > 1 / np.sqrt(36)
    big = random_values(symcnn.parse_network('input = [4000]\n[[layer]]\ntype = "tanh"\n'), 1)
    assert abs(big.input.mean()) < 0.1 and 0.9 < big.input.std() < 1.1  # standard normal
    assert big.target is not None and big.target.min() >= 0 and big.target.max() <= 1
    h = hand_values(net, 5)
    assert not np.any(h.params["1.weight"] == 0)  # a batch-norm scale of 0 silences a channel
    d = one_decimal({"x": (4000,)}, seed=0)["x"]
    assert d.min() == -1.0 and d.max() == 1.0 and len(np.unique(d)) == 21
    np.testing.assert_array_equal(d, one_decimal({"x": (4000,)}, seed=0)["x"])


def test_made_up_numbers_go_where_they_belong_for_batches_and_lone_layers() -> None:
    for make in (random_values, hand_values):
        lone = make(LONE, 0)  # seed 0 is a seed
        assert lone.delta is not None and lone.delta.shape == (1, 2, 2) and lone.target is None
        assert sorted(lone.params) == ["bias", "weight"]
        np.testing.assert_array_equal(make(LONE, 0).delta, lone.delta)
        for seed in (True, 1.5, "2"):
            with pytest.raises(ValuesError, match=r"^--random needs a seed ≥ 0, got "):
                make(NET, seed)
    batched = symcnn.parse_network(
        'input = [2]\nbatch = 3\nloss = "cross_entropy"\n[[layer]]\ntype = "dense"\n'
        "out_features = 4\n"
    )
    mse = symcnn.parse_network('input = [50]\nbatch = 2\n[[layer]]\ntype = "tanh"\n')
    for make in (random_values, hand_values):
        v = make(batched, 1)
        assert v.target is not None and v.target.shape == (3, 4)
        assert (v.target.sum(axis=1) == 1).all() and set(np.unique(v.target)) == {0.0, 1.0}
        t = make(mse, 2).target
        assert t is not None and t.shape == (2, 50) and ((t >= 0) & (t <= 1)).all()
        assert len(np.unique(t)) > 2  # not only 0 and 1
    assert np.allclose(hand_values(mse, 2).target * 10, np.round(hand_values(mse, 2).target * 10))
    w = random_values(batched, 4).params["0.weight"]
    assert w.min() < 0 < w.max() and np.abs(w).max() <= 1 / np.sqrt(2)  # ±1/√fan_in


def test_a_batch_norm_scale_drawn_by_hand_is_never_zero() -> None:
    """A scale of 0 would silence its channel: by hand, a 0 drawn for it becomes 1."""
    net = symcnn.parse_network(
        'input = [200, 1, 1]\nbatch = 2\n[[layer]]\ntype = "batchnorm2d"\n'
        '[[layer]]\ntype = "flatten"\n[[layer]]\ntype = "dense"\nout_features = 3\n'
    )
    scale = hand_values(net, 0).params["0.weight"]
    assert not np.any(scale == 0) and np.any(scale == 1.0) and scale.min() < 0
    assert np.abs(scale).max() <= 1  # still one decimal in [−1, 1]
    shift = hand_values(net, 0).params["0.bias"]
    assert np.any(shift == 0)  # the shift keeps its zeros
    assert np.any(hand_values(net, 0).params["2.weight"] == 0)  # and so does a dense weight
    one = symcnn.parse_network('input = [50]\n[[layer]]\ntype = "tanh"\n')
    t = hand_values(one, 2).target  # one decimal in [0, 1], not only 0 and 1
    assert t is not None and len(np.unique(t)) > 2 and np.allclose(t * 10, np.round(t * 10))


def test_numbers_given_without_a_source_are_called_values() -> None:
    with pytest.raises(ValuesError, match=r"^values: missing target \(an array of shape "):
        check_values(NET, {"input": GOOD_NET["input"]})


def test_a_wrong_target_of_one_sample_is_named_without_a_sample_number() -> None:
    net = symcnn.parse_network(
        'input = [3]\nloss = "cross_entropy"\n[[layer]]\ntype = "dense"\nout_features = 2\n'
    )
    data = {"input": [1, 1, 1], "target": [0.9, 0.9],
            "params": {"0.weight": [[1, 1, 1]] * 2, "0.bias": [0, 0]}}  # fmt: skip
    with pytest.raises(ValuesError, match=r"^v: for cross_entropy the target must be a probab"):
        check_values(net, data, "v")


def test_made_up_numbers_for_a_mini_batch_have_one_input_per_sample() -> None:
    net = symcnn.parse_network('input = [2]\nbatch = 3\n[[layer]]\ntype = "tanh"\n')
    for make in (random_values, hand_values):
        v = make(net, 6)
        assert v.input.shape == (3, 2) and v.target is not None and v.target.shape == (3, 2)

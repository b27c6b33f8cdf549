"""Plain-loop NumPy reference of a network (independent of symcnn), and random network makers.

Layers are the TOML-style dicts symcnn reads, with every option spelled out so this file never
relies on symcnn's defaults. Parameters are named "<index>.weight" / "<index>.bias".
"""

from __future__ import annotations

import numpy as np


def conv2d(x, w, b, stride, pad, dil, bias, groups=1):
    """Output channel o reads the c_in/groups input channels of its group o // (o_ch/groups)."""
    c_in, h, wd = x.shape
    o_ch, per_group, kh, kw = w.shape
    assert per_group * groups == c_in
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((o_ch, oh, ow))
    for o in range(o_ch):
        first = (o // (o_ch // groups)) * per_group
        for i in range(oh):
            for j in range(ow):
                acc = 0.0
                for c in range(per_group):
                    for m in range(kh):
                        for n in range(kw):
                            r = i * stride[0] + m * dil[0] - pad[0]
                            s = j * stride[1] + n * dil[1] - pad[1]
                            if 0 <= r < h and 0 <= s < wd:
                                acc += w[o, c, m, n] * x[first + c, r, s]
                if bias == "shared":
                    acc += b[o]
                elif bias == "untied":
                    acc += b[o, i, j]
                out[o, i, j] = acc
    return out


def conv_transpose2d(x, w, b, stride, pad, out_pad, dil, bias):
    """PyTorch's ConvTranspose2d by scattering: x[c,i,j]·w[c,o,m,n] is added at output row
    i·s − p + m·d, column j·s − p + n·d (when that lies in the output)."""
    c_in, h, wd = x.shape
    _, o_ch, kh, kw = w.shape
    oh = (h - 1) * stride[0] - 2 * pad[0] + dil[0] * (kh - 1) + out_pad[0] + 1
    ow = (wd - 1) * stride[1] - 2 * pad[1] + dil[1] * (kw - 1) + out_pad[1] + 1
    out = np.zeros((o_ch, oh, ow))
    for c in range(c_in):
        for i in range(h):
            for j in range(wd):
                for o in range(o_ch):
                    for m in range(kh):
                        for n in range(kw):
                            r = i * stride[0] - pad[0] + m * dil[0]
                            t = j * stride[1] - pad[1] + n * dil[1]
                            if 0 <= r < oh and 0 <= t < ow:
                                out[o, r, t] += x[c, i, j] * w[c, o, m, n]
    for o in range(o_ch):
        for r in range(oh):
            for t in range(ow):
                if bias == "shared":
                    out[o, r, t] += b[o]
                elif bias == "untied":
                    out[o, r, t] += b[o, r, t]
    return out


def pool(x, window, stride, kind):
    """Max (first maximum in row-major window order wins) or average pooling; also the winners."""
    c_in, h, w = x.shape
    oh = (h - window[0]) // stride[0] + 1
    ow = (w - window[1]) // stride[1] + 1
    out = np.zeros((c_in, oh, ow))
    winners = {}
    for c in range(c_in):
        for i in range(oh):
            for j in range(ow):
                cells = [
                    (c, i * stride[0] + m, j * stride[1] + n)
                    for m in range(window[0])
                    for n in range(window[1])
                ]
                if kind == "maxpool2d":
                    best = cells[0]
                    for cell in cells[1:]:
                        if x[cell] > x[best]:
                            best = cell
                    out[c, i, j] = x[best]
                    winners[(c, i, j)] = best
                else:
                    out[c, i, j] = sum(x[cell] for cell in cells) / len(cells)
    return out, winners


ACTIVATIONS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "identity": lambda z: z,
}


def forward(layers, x, params, loss, target):
    """The loss E and the output of every layer (index 0: the input)."""
    outs = [np.asarray(x, dtype=float)]
    for index, layer in enumerate(layers):
        a = outs[-1]
        kind = layer["type"]
        if kind == "conv2d":
            bias = layer["bias"]
            b = params.get(f"{index}.bias")
            z = conv2d(
                a,
                params[f"{index}.weight"],
                b,
                layer["stride"],
                layer["padding"],
                layer["dilation"],
                bias,
                layer.get("groups", 1),  # absent: an ordinary (ungrouped) convolution
            )
        elif kind == "conv_transpose2d":
            z = conv_transpose2d(
                a,
                params[f"{index}.weight"],
                params.get(f"{index}.bias"),
                layer["stride"],
                layer["padding"],
                layer["output_padding"],
                layer["dilation"],
                layer["bias"],
            )
        elif kind in ("maxpool2d", "avgpool2d"):
            z, _ = pool(a, layer["window"], layer["stride"], kind)
        elif kind == "global_avgpool2d":
            z = np.zeros((a.shape[0], 1, 1))
            for c in range(a.shape[0]):
                z[c, 0, 0] = sum(a[c, r, t] for r in range(a.shape[1]) for t in range(a.shape[2]))
                z[c, 0, 0] /= a.shape[1] * a.shape[2]
        elif kind == "flatten":
            z = np.array([a[idx] for idx in np.ndindex(*a.shape)])
        elif kind == "dense":
            w = params[f"{index}.weight"]
            z = np.array([sum(w[i, j] * a[j] for j in range(a.size)) for i in range(w.shape[0])])
            if layer["bias"]:
                z = z + params[f"{index}.bias"]
        elif kind == "leaky_relu":
            z = np.where(a > 0, a, layer["negative_slope"] * a)
        else:
            z = ACTIVATIONS[kind](a)
        outs.append(z)
    y = outs[-1]
    if loss == "mse":
        e = 0.5 * float(np.sum((y - target) ** 2))
    else:
        shifted = y - np.max(y)
        log_softmax = shifted - np.log(np.sum(np.exp(shifted)))
        e = -float(np.sum(target * log_softmax))
    return e, outs


def finite_differences(layers, x, params, loss, target, h=1e-6):
    """Central differences of the reference loss for the input and every parameter."""

    def fd(arr, evaluate):
        grad = np.zeros_like(arr)
        for idx in np.ndindex(*arr.shape):
            keep = arr[idx]
            arr[idx] = keep + h
            up = evaluate()
            arr[idx] = keep - h
            down = evaluate()
            arr[idx] = keep
            grad[idx] = (up - down) / (2 * h)
        return grad

    x = np.array(x, dtype=float)
    params = {k: np.array(v, dtype=float) for k, v in params.items()}

    def evaluate():
        return forward(layers, x, params, loss, target)[0]

    grads = {"input": fd(x, evaluate)}
    for name, arr in params.items():
        grads[name] = fd(arr, evaluate)
    return grads


def _out(size, k, s, p, d):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _random_conv(rng, current):
    """A conv2d layer that fits ``current`` (maybe grouped), and its output shape; or None."""
    for _attempt in range(20):
        k = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
        s = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
        p = [int(rng.integers(0, 2)), int(rng.integers(0, 2))]
        d = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
        oh, ow = (_out(current[a + 1], k[a], s[a], p[a], d[a]) for a in range(2))
        if (
            oh >= 1
            and ow >= 1
            and all(d[a] * (k[a] - 1) + 1 <= current[a + 1] + 2 * p[a] for a in range(2))
        ):
            break
    else:
        return None
    o = int(rng.choice([1, 2, 4])) if current[0] == 2 else int(rng.integers(1, 3))
    # groups: a common divisor of both channel counts (depthwise when it is both)
    groups = int(rng.choice([g for g in (1, 2) if current[0] % g == 0 and o % g == 0]))
    layer = {
        "type": "conv2d",
        "kernel": k,
        "stride": s,
        "padding": p,
        "dilation": d,
        "out_channels": o,
        "bias": str(rng.choice(["none", "shared", "untied"])),
        "groups": groups,
    }
    return layer, (o, oh, ow)


def _random_transposed(rng, current):
    """A conv_transpose2d layer on a small ``current`` and its output shape; or None."""
    k = [int(rng.integers(1, 4)), int(rng.integers(1, 4))]
    s = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    d = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
    op = [int(rng.integers(0, max(s[a], d[a]))) for a in range(2)]
    p = [int(rng.integers(0, 2)), int(rng.integers(0, 2))]
    size = [
        (current[a + 1] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op[a] + 1 for a in range(2)
    ]
    if min(size) < 1 or max(size) > 9:
        return None
    o = int(rng.integers(1, 3))
    layer = {
        "type": "conv_transpose2d",
        "kernel": k,
        "stride": s,
        "padding": p,
        "output_padding": op,
        "dilation": d,
        "out_channels": o,
        "bias": str(rng.choice(["none", "shared", "untied"])),
    }
    return layer, (o, *size)


def _random_activation(rng, layers):
    act = str(rng.choice(["sigmoid", "tanh", "relu", "leaky_relu", "identity", "none"]))
    if act == "leaky_relu":
        layers.append({"type": act, "negative_slope": float(rng.choice([0.01, 0.1, 0.3]))})
    elif act != "none":
        layers.append({"type": act})


def random_network(rng):
    """A random small network: conv (or transposed conv) / pool / activation blocks, maybe
    flatten + dense, a loss. Every option of every layer is spelled out."""
    shape = (int(rng.integers(1, 3)), int(rng.integers(3, 7)), int(rng.integers(3, 7)))
    layers = []
    current = shape
    for _ in range(int(rng.integers(1, 3))):
        made = None
        if max(current[1:]) <= 4 and rng.random() < 0.35:
            made = _random_transposed(rng, current)
        made = made or _random_conv(rng, current)
        if made is None:
            break
        layers.append(made[0])
        current = made[1]
        _random_activation(rng, layers)
        kind = str(rng.choice(["maxpool2d", "avgpool2d", "global_avgpool2d", "none"]))
        if kind == "global_avgpool2d":
            layers.append({"type": kind})
            current = (current[0], 1, 1)
        elif kind != "none" and min(current[1:]) >= 2:
            window = [2, 2]
            stride = [int(rng.integers(1, 3)), int(rng.integers(1, 3))]
            layers.append({"type": kind, "window": window, "stride": stride})
            current = (
                current[0],
                (current[1] - 2) // stride[0] + 1,
                (current[2] - 2) // stride[1] + 1,
            )
    loss = "mse"
    if not layers or rng.random() < 0.7:
        layers.append({"type": "flatten"})
        for _ in range(int(rng.integers(1, 3))):
            layers.append(
                {
                    "type": "dense",
                    "out_features": int(rng.integers(1, 4)),
                    "bias": bool(rng.random() < 0.7),
                }
            )
            _random_activation(rng, layers)
        if rng.random() < 0.4:
            loss = "cross_entropy"
    return layers, shape, loss

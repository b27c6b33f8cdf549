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


def batchnorm(x, gamma, beta, eps):
    """Training-mode batch norm of a batch [N, C, ...]: each channel's biased batch statistics."""
    out = np.zeros_like(x)
    for c in range(x.shape[1]):
        values = [x[idx] for idx in np.ndindex(*x.shape) if idx[1] == c]
        mean = sum(values) / len(values)
        var = sum((v - mean) ** 2 for v in values) / len(values)
        for idx in np.ndindex(*x.shape):
            if idx[1] == c:
                xhat = (x[idx] - mean) / np.sqrt(var + eps)
                out[idx] = xhat if gamma is None else gamma[c] * xhat + beta[c]
    return out


def _sample_loss(loss, y, target):
    if loss == "mse":
        return 0.5 * float(np.sum((y - target) ** 2))
    shifted = y - np.max(y)
    log_softmax = shifted - np.log(np.sum(np.exp(shifted)))
    return -float(np.sum(target * log_softmax))


def _layer(layer, index, reads, params):
    """One layer on a batch: ``reads`` are the batched tensors it reads, [N, …] each."""
    kind = layer["type"]
    if kind == "add":
        return sum(reads[1:], reads[0].copy())
    if kind == "concat":
        return np.concatenate(reads, axis=1)
    (a,) = reads
    if kind in ("batchnorm2d", "batchnorm1d"):
        return batchnorm(
            a, params.get(f"{index}.weight"), params.get(f"{index}.bias"), layer["eps"]
        )
    return np.stack([_sample(layer, index, sample, params) for sample in a])


def _sample(layer, index, a, params):
    """One layer on one sample."""
    kind = layer["type"]
    if kind == "conv2d":
        return conv2d(
            a,
            params[f"{index}.weight"],
            params.get(f"{index}.bias"),
            layer["stride"],
            layer["padding"],
            layer["dilation"],
            layer["bias"],
            layer.get("groups", 1),  # absent: an ordinary (ungrouped) convolution
        )
    if kind == "conv_transpose2d":
        return conv_transpose2d(
            a,
            params[f"{index}.weight"],
            params.get(f"{index}.bias"),
            layer["stride"],
            layer["padding"],
            layer["output_padding"],
            layer["dilation"],
            layer["bias"],
        )
    if kind in ("maxpool2d", "avgpool2d"):
        return pool(a, layer["window"], layer["stride"], kind)[0]
    if kind == "global_avgpool2d":
        z = np.zeros((a.shape[0], 1, 1))
        for c in range(a.shape[0]):
            z[c, 0, 0] = sum(a[c, r, t] for r in range(a.shape[1]) for t in range(a.shape[2]))
            z[c, 0, 0] /= a.shape[1] * a.shape[2]
        return z
    if kind == "flatten":
        return np.array([a[idx] for idx in np.ndindex(*a.shape)])
    if kind == "dense":
        w = params[f"{index}.weight"]
        z = np.array([sum(w[i, j] * a[j] for j in range(a.size)) for i in range(w.shape[0])])
        return z + params[f"{index}.bias"] if layer["bias"] else z
    if kind == "leaky_relu":
        return np.where(a > 0, a, layer["negative_slope"] * a)
    return ACTIVATIONS[kind](a)


def reads_of(layers):
    """For each layer, the indices it reads (-1: the network input), from id/from/inputs."""
    ids = {layer["id"]: k for k, layer in enumerate(layers) if "id" in layer}
    ids["input"] = -1
    out = []
    for k, layer in enumerate(layers):
        if "inputs" in layer:
            out.append([ids[name] for name in layer["inputs"]])
        elif "from" in layer:
            out.append([ids[layer["from"]]])
        else:
            out.append([k - 1])
    return out


def forward(layers, x, params, loss, target, batch=None, reduction="sum"):
    """The loss E and the output of every layer (index 0: the input).

    Layers may carry id/from/inputs (a graph); with ``batch`` the input, the target and every
    output have a leading sample axis, and E sums (or, with reduction "mean", averages) the
    samples' losses.
    """
    xb = np.asarray(x, dtype=float)
    xb = xb if batch is not None else xb[None]
    tb = np.asarray(target, dtype=float)
    tb = tb if batch is not None else tb[None]
    outs = [xb]
    for index, (layer, reads) in enumerate(zip(layers, reads_of(layers))):
        outs.append(_layer(layer, index, [outs[r + 1] for r in reads], params))
    e = sum(_sample_loss(loss, y, t) for y, t in zip(outs[-1], tb))
    if reduction == "mean":
        e /= len(tb)
    return e, outs if batch is not None else [o[0] for o in outs]


def finite_differences(layers, x, params, loss, target, h=1e-6, batch=None, reduction="sum"):
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
        return forward(layers, x, params, loss, target, batch, reduction)[0]

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


def _conv(rng, channels, out_channels=None, same=False):
    """A random conv2d table; ``same`` keeps the spatial size (3x3 or 1x1, stride 1, padded);
    grouped when the channels allow it."""
    k = int(rng.choice([1, 3])) if same else int(rng.integers(1, 3))
    out = channels if out_channels is None else out_channels
    shared = [g for g in (2, 3) if channels % g == 0 and out % g == 0]
    return {
        "type": "conv2d",
        "kernel": [k, k],
        "stride": [1, 1],
        "padding": [k // 2, k // 2] if same else [0, 0],
        "dilation": [1, 1],
        "out_channels": out,
        "bias": str(rng.choice(["none", "shared", "untied"])),
        "groups": int(rng.choice([1, *shared])),
    }


def _graph_activation(rng, kinds=("relu", "tanh", "sigmoid", "leaky_relu")):
    kind = str(rng.choice(list(kinds)))
    return {"type": kind, "negative_slope": 0.1} if kind == "leaky_relu" else {"type": kind}


def random_graph_network(rng):
    """A random small network with branches and merges: residual additions, channel
    concatenations, batch norms, a mini-batch (or none) and a reduction.

    Returns (layers, input shape, loss, batch, reduction); layers carry id/from/inputs.
    """
    batch = [None, 2, 3][int(rng.integers(0, 3))]
    shape = (int(rng.integers(1, 3)), int(rng.integers(3, 5)), int(rng.integers(3, 5)))
    layers = []
    current = "input"
    channels, h, w = shape

    def push(table, keep_id=True):
        nonlocal current
        if current != f"t{len(layers) - 1}" or not layers:
            table["from"] = current
        table["id"] = f"t{len(layers)}"
        layers.append(table)
        current = table["id"] if keep_id else current

    for _ in range(int(rng.integers(1, 3))):
        choice = rng.random()
        if choice < 0.4:  # residual: x + f(x), f keeping the shape
            start = current
            push(_conv(rng, channels, same=True))
            push(_graph_activation(rng, ("relu", "tanh", "sigmoid", "identity", "leaky_relu")))
            layers.append({"type": "add", "inputs": [start, current], "id": f"t{len(layers)}"})
            current = layers[-1]["id"]
        elif choice < 0.7:  # two branches from one tensor, concatenated along channels
            start = current
            c1, c2 = int(rng.integers(1, 3)), int(rng.integers(1, 3))
            push(_conv(rng, channels, c1, same=True))
            first = current
            current = start
            push(_conv(rng, channels, c2, same=True))
            layers.append({"type": "concat", "inputs": [first, current], "id": f"t{len(layers)}"})
            current = layers[-1]["id"]
            channels = c1 + c2
        elif choice < 0.85:  # a plain conv, maybe shrinking
            table = _conv(rng, channels, int(rng.integers(1, 3)))
            push(table)
            k = table["kernel"][0]
            channels, h, w = table["out_channels"], h - k + 1, w - k + 1
        else:  # a transposed conv doubling the size
            out = int(rng.integers(1, 3))
            push(
                {
                    "type": "conv_transpose2d",
                    "kernel": [2, 2],
                    "stride": [2, 2],
                    "padding": [0, 0],
                    "output_padding": [0, 0],
                    "dilation": [1, 1],
                    "out_channels": out,
                    "bias": str(rng.choice(["none", "shared", "untied"])),
                }
            )
            channels, h, w = out, 2 * h, 2 * w
        if (batch or 1) * h * w > 1 and rng.random() < 0.5:
            eps = float(rng.choice([1e-5, 0.1]))
            push({"type": "batchnorm2d", "eps": eps, "affine": bool(rng.random() < 0.8)})
        push(_graph_activation(rng))
    if rng.random() < 0.3:
        push({"type": "global_avgpool2d"})
    push({"type": "flatten"})
    push({"type": "dense", "out_features": int(rng.integers(2, 4)), "bias": True})
    if batch is not None and rng.random() < 0.6:
        push({"type": "batchnorm1d", "eps": 1e-5, "affine": bool(rng.random() < 0.8)})
        push({"type": "tanh"})
    loss = "cross_entropy" if rng.random() < 0.4 else "mse"
    if loss == "cross_entropy":
        push({"type": "dense", "out_features": 3, "bias": True})
    reduction = "mean" if rng.random() < 0.5 else "sum"
    return layers, shape, loss, batch, reduction

"""The examples every sub-command's ``--help`` ends with (the command line's one list of them)."""

from __future__ import annotations

#: A one-layer example, for the error that asks for a layer.
LAYER_EXAMPLE = "conv2d --input 5x5 --kernel 2x2"

GRAD = """examples:
  symcnn grad conv2d --input 3x3 --kernel 2x2 --bias untied
  symcnn grad maxpool2d --input 4x4 --window 2x2 --format latex
  symcnn grad conv2d --input 5x5 --kernel 3x3 --stride 2 --padding 1 --format json
  symcnn grad dense --input 4 --out-features 2
  symcnn grad conv2d --input 3x4x4 --kernel 3x3 --out-channels 3 --groups 3
  symcnn grad conv_transpose2d --input 3x3 --kernel 3x3 --stride 2 --padding 1 --output-padding 1
  symcnn grad --preset seed003
  symcnn grad --network examples/conv-pool-dense.toml --format json
  symcnn grad --preset residual          (a skip connection: the input's δ is a sum)
  symcnn grad batchnorm2d --input 2x3x3 --batch 2
  symcnn grad conv2d --input 224x224 --in-channels 3 --out-channels 64 --kernel 7 --stride 2 --padding 3 --general
  symcnn grad --preset lenet5 --general --format latex
"""

SHEET = """examples:
  symcnn sheet conv2d --input 3x3 --kernel 2x2 --bias untied --random 3 --pdf
  symcnn sheet maxpool2d --input 4x4 --window 2x2 --stride 1 -o output/pool.tex
  symcnn sheet conv2d --input 5x5 --kernel 2x2 --values numbers.json --pdf
  symcnn sheet --preset seed000 --values examples/seed000-values.json --pdf
  symcnn sheet --network net.toml --random 0 --lr 0.5 -o net.tex
  symcnn sheet --preset lenet5 --general -o lenet5-general.tex
values files hold JSON arrays: for a layer input, weight, bias and delta (shapes as in
symcnn grad --format json); for a network input, target and params (as symcnn run reads them).
"""

RUN = """examples:
  symcnn run --preset seed003 --random 0
  symcnn run --preset lenet5 --random 0 --format json
  symcnn run --network net.toml --values values.json --format json --lr 0.1
  symcnn run --preset seed000 --random 0 --delta '4=[0.25, -0.15]'
  symcnn run --preset lenet5-bn --random 0 --format json

values.json: {"input": [C][H][W], "target": [...], "params": {"0.weight": ..., "0.bias": ...}}
(a network with batch = N: "input" [N][C][H][W] and "target" [N][...])
"""

CHECK = """examples:
  symcnn check mylayers:conv2d_backward --layer conv2d --input 5x5 --kernel 2x2
  symcnn check src/pool.py:max_backward --layer maxpool2d --input 4x4 --window 2x2
"""

FIXTURES = """example:
  symcnn fixtures --layer conv2d --input 5x5 --kernel 2x2 -o expected.npz
then: d = np.load('expected.npz'); gx, gw, gb = my_backward(d['x'][0], d['w'][0], d['b'][0],
d['delta'][0])
"""

"""The numeric layer-table encoding ``lt-v1``: one float32 row of 14 numbers per layer.

This is the input of every exported cost model (``layers`` float32 ``[L, 14]`` plus
``network_index`` int64 ``[L]``), the form the featurizer reduces, and what the
vectorised spec walker emits. Callers in any language list a network's layers in
execution order and write, per layer (units: pixels, channels, operations):

=====  ===========  ===========================================================
col    name         value
=====  ===========  ===========================================================
0      op           OP_CODES: 1 conv, 2 dwconv, 3 fc, 4 add, 5 mul, 6 relu, 7 relu6,
                    8 hswish, 9 sigmoid, 10 pool, 11 concat, 12 other; 0 = no layer
1, 2   in_h, in_w   input height and width (0 when the layer has none)
3, 4   out_h, out_w output height and width (fc and vectors: 1)
5, 6   cin, cout    input and output channels (fc: features)
7, 8   kernel,      kernel size and stride (0 for elementwise layers)
       stride
9      padding      padding before the input (0 for VALID)
10     groups       1 for dense, cin for depthwise (0: not a convolution)
11     activation   ACT_CODES of the activation fused into the layer: 0 none, 1 relu,
                    2 relu6, 3 hswish, 4 sigmoid, 5 other
12     macs         multiply-accumulates (conv: out_h*out_w*cout*k*k*cin/groups; fc:
                    cin*cout; elementwise, concat and pool: output elements)
13     params       weights and biases
=====  ===========  ===========================================================

Features are computed from the float32 values as sent: integers up to 2**24 are exact.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dnncost.records import Layer

LAYER_ENCODING = "lt-v1"
COLUMNS: tuple[str, ...] = ("op", "in_h", "in_w", "out_h", "out_w", "cin", "cout", "kernel",
                            "stride", "padding", "groups", "activation", "macs", "params")
COL = {name: i for i, name in enumerate(COLUMNS)}
OP_NAMES: tuple[str, ...] = ("", "conv", "dwconv", "fc", "add", "mul", "relu", "relu6",
                             "hswish", "sigmoid", "pool", "concat", "other")
OP_CODES = {name: code for code, name in enumerate(OP_NAMES) if name}
ACT_NAMES: tuple[str | None, ...] = (None, "relu", "relu6", "hswish", "sigmoid", "other")
ACT_CODES = {name: code for code, name in enumerate(ACT_NAMES)}


def _int(value: int | None) -> int:
    return int(value) if value else 0


def default_macs(layer: Layer) -> int:
    """A layer's MACs: its own value, else computed from its shapes as the table says."""
    if layer.macs:
        return int(layer.macs)
    out = _int(layer.out_h) * _int(layer.out_w or layer.out_h) * _int(layer.cout)
    if layer.op_type in ("conv", "dwconv", "fc"):
        per_out = _int(layer.kernel) ** 2 * (_int(layer.cin) // max(_int(layer.groups), 1))
        return out * max(per_out, _int(layer.cin) if layer.op_type == "fc" else 1)
    return out


def encode(layers: Sequence[Layer]) -> np.ndarray:
    """One network's layer table as float32 ``[L, 14]`` rows (widths default to heights)."""
    rows = np.zeros((len(layers), len(COLUMNS)), np.float32)
    for i, layer in enumerate(layers):
        rows[i] = (OP_CODES.get(layer.op_type, OP_CODES["other"]), _int(layer.in_h),
                   _int(layer.in_w or layer.in_h), _int(layer.out_h),
                   _int(layer.out_w or layer.out_h), _int(layer.cin), _int(layer.cout),
                   _int(layer.kernel), _int(layer.stride), _int(layer.padding),
                   _int(layer.groups), ACT_CODES.get(layer.activation, ACT_CODES["other"]),
                   default_macs(layer), _int(layer.params))
    return rows


def encode_many(tables: Sequence[Sequence[Layer]]) -> tuple[np.ndarray, np.ndarray]:
    """Many networks' rows stacked, and each row's network position (int64)."""
    if not tables:
        return np.zeros((0, len(COLUMNS)), np.float32), np.zeros(0, np.int64)
    rows = np.concatenate([encode(layers) for layers in tables])
    index = np.repeat(np.arange(len(tables), dtype=np.int64), [len(t) for t in tables])
    return rows, index


def decode(rows: np.ndarray) -> list[Layer]:
    """Layer records of one network's encoded rows (the inverse of :func:`encode`)."""
    layers = []
    for i, row in enumerate(np.asarray(rows)):
        values = {name: int(row[COL[name]]) for name in COLUMNS[1:]}
        op, act = OP_NAMES[values.pop("op", int(row[0]))], values.pop("activation")
        layers.append(Layer(i, op or "other", **values, activation=ACT_NAMES[act]))
    return layers

"""Tests only: the agg-v2 featurizer as a plain loop over layer records.

dnncost.learn.features computes the same features from encoded rows, vectorised; this
first, readable implementation is kept to check it bit for bit.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from dnncost.learn.features import CLASSES as _CLASSES
from dnncost.learn.features import PAD_CHANNELS
from dnncost.learn.sequence import expand_fused  # fused activations as rows (seq-v1's too)
from dnncost.records import ACTIVATIONS, Layer


def _int(value: int | None) -> int:
    return int(value) if value else 0


def _out_elements(layer: Layer) -> int:
    return _int(layer.out_h) * _int(layer.out_w or layer.out_h) * _int(layer.cout)


def _in_elements(layer: Layer) -> int:
    return _int(layer.in_h) * _int(layer.in_w or layer.in_h) * _int(layer.cin)


def _macs(layer: Layer) -> int:
    if layer.macs:
        return int(layer.macs)
    if layer.op_type in ("conv", "dwconv", "fc"):
        per_out = _int(layer.kernel) ** 2 * (_int(layer.cin) // max(_int(layer.groups), 1))
        return _out_elements(layer) * max(per_out, _int(layer.cin) if layer.op_type == "fc" else 1)
    return _out_elements(layer)


def _up(x: float) -> float:
    return math.ceil(x / PAD_CHANNELS) * PAD_CHANNELS


def _padding(layer: Layer) -> float:
    """The MACs its GEMM adds with depth and width rounded up to blocks of channels."""
    hw = float(_int(layer.out_h) * _int(layer.out_w or layer.out_h))
    k, cin, cout = float(_int(layer.kernel)), float(_int(layer.cin)), float(_int(layer.cout))
    if layer.op_type == "conv":
        g = float(max(_int(layer.groups), 1))
        depth, width = k * k * cin / g, cout / g
        return hw * g * (_up(depth) * _up(width) - depth * width)
    if layer.op_type == "dwconv":
        return hw * k * k * (_up(cout) - cout)
    if layer.op_type == "fc":
        return _up(cin) * _up(cout) - cin * cout
    return 0.0


def _class_of(layer: Layer) -> str:
    op = layer.op_type
    if op == "conv":
        return "conv1x1" if _int(layer.kernel) <= 1 else "convkxk"
    if op in ACTIVATIONS:
        return "act"
    return op if op in _CLASSES else "act"  # "other" counts as an elementwise op


def network_features(layers: Sequence[Layer]) -> np.ndarray:
    """Aggregated features of one network (float32, ``len(FEATURE_NAMES)``)."""
    per_class = {c: np.zeros(3) for c in _CLASSES}
    macs_total = params_total = bytes_total = 0.0
    stride2 = dw_k3 = dw_k5 = lowres = padding = 0.0
    max_channels = 0
    rows = expand_fused(layers)
    for layer in rows:
        macs = float(_macs(layer))
        traffic = float(_in_elements(layer) + _out_elements(layer))
        cls = _class_of(layer)
        per_class[cls] += (1.0, macs, traffic)
        macs_total += macs
        bytes_total += traffic
        params_total += float(layer.params or 0)
        max_channels = max(max_channels, _int(layer.cout))
        if layer.op_type in ("conv", "dwconv") and _int(layer.stride) >= 2:
            stride2 += macs
        if layer.op_type == "dwconv":
            dw_k3, dw_k5 = (dw_k3 + macs, dw_k5) if _int(layer.kernel) <= 3 else (dw_k3, dw_k5 + macs)
        if layer.op_type == "conv" and _int(layer.out_h) and _int(layer.out_h) <= 14:
            lowres += macs
        padding += _padding(layer)
    first = rows[0] if rows else None
    input_pixels = _int(first.in_h) * _int(first.in_w or first.in_h) if first else 0
    head = [np.log1p(macs_total), np.log1p(params_total), np.log1p(bytes_total), len(rows),
            np.log1p(input_pixels), np.log1p(macs_total / max(bytes_total, 1.0)),
            np.log1p(stride2), np.log1p(dw_k3), np.log1p(dw_k5), np.log1p(max_channels),
            np.log1p(lowres), np.log1p(padding)]
    tail = [v for c in _CLASSES for v in (per_class[c][0], np.log1p(per_class[c][1]),
                                            np.log1p(per_class[c][2]))]
    return np.asarray(head + tail, dtype=np.float32)


def reference_matrix(networks_layers: Sequence[Sequence[Layer]]) -> np.ndarray:
    """Aggregated features of many networks, float32 ``[N, F]``."""
    if not networks_layers:
        return np.zeros((0, 12 + 3 * len(_CLASSES)), np.float32)
    return np.stack([network_features(layers) for layers in networks_layers])

"""The ``seq-v1`` feature set: the per-layer sequence the LSTM reads (fused activations
become rows of their own, as agg-v2 counts them; :mod:`dnncost.learn.features`)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dnncost.encoding import default_macs
from dnncost.records import ACTIVATIONS, Layer

SEQUENCE_SET = "seq-v1"
_SEQ_OPS: tuple[str, ...] = ("conv", "dwconv", "fc", "add", "mul", "act", "pool", "other")
SEQUENCE_NAMES: tuple[str, ...] = tuple(f"is_{op}" for op in _SEQ_OPS) + (
    "log_in_hw", "log_out_hw", "log_cin", "log_cout", "kernel", "stride", "log_macs",
    "log_bytes")


def _int(value: int | None) -> int:
    return int(value) if value else 0


def _elements(h: int | None, w: int | None, c: int | None) -> int:
    return _int(h) * _int(w or h) * _int(c)


def expand_fused(layers: Sequence[Layer]) -> list[Layer]:
    """The layer table with fused activations turned into activation rows after their op."""
    expanded: list[Layer] = []
    for layer in layers:
        expanded.append(layer)
        if layer.activation and layer.op_type not in ACTIVATIONS:
            h, w, c = layer.out_h, layer.out_w, layer.cout
            expanded.append(Layer(layer.index, str(layer.activation), h, w, h, w, c, c,
                                  0, 0, 0, None, None, _elements(h, w, c), None))
    return expanded


def layer_sequence(layers: Sequence[Layer]) -> np.ndarray:
    """Per-layer features in execution order, float32 ``[L, len(SEQUENCE_NAMES)]``."""
    rows = []
    for layer in expand_fused(layers):
        op = "act" if layer.op_type in ACTIVATIONS else layer.op_type
        onehot = [1.0 if op == name else 0.0 for name in _SEQ_OPS]
        if op not in _SEQ_OPS:
            onehot[-1] = 1.0
        traffic = (_elements(layer.in_h, layer.in_w, layer.cin)
                   + _elements(layer.out_h, layer.out_w, layer.cout))
        rows.append(onehot + [
            np.log1p(_int(layer.in_h)), np.log1p(_int(layer.out_h)), np.log1p(_int(layer.cin)),
            np.log1p(_int(layer.cout)), float(_int(layer.kernel)), float(_int(layer.stride)),
            np.log1p(default_macs(layer)) / 10.0, np.log1p(traffic) / 10.0])
    return np.asarray(rows, dtype=np.float32).reshape(-1, len(SEQUENCE_NAMES))


def sequence_matrix(networks_layers: Sequence[Sequence[Layer]], max_layers: int) -> np.ndarray:
    """Layer sequences zero-padded (at the end) to ``max_layers`` and flattened:
    float32 ``[N, max_layers * len(SEQUENCE_NAMES)]`` (longer networks are truncated)."""
    width = len(SEQUENCE_NAMES)
    out = np.zeros((len(networks_layers), max_layers * width), np.float32)
    for i, layers in enumerate(networks_layers):
        seq = layer_sequence(layers)[:max_layers]
        out[i, :seq.size] = seq.reshape(-1)
    return out

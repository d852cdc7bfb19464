"""Network features from a layer table, in numpy only (the export runtime uses this).

Two layer-table styles give comparable features:

* IISWC 2020: activations are separate ``relu`` rows; the ``activation`` column is empty.
* generated / TFLite: activations are fused into conv rows (``activation`` column), and
  ``hswish``/``sigmoid``/``mul`` may be standalone rows; ``fc`` rows appear.

A fused activation is counted exactly like an activation layer over the conv's output
(one operation per output element), so both styles describe the same network alike.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dnncost.records import ACTIVATIONS, Layer

FEATURE_SET = "agg-v1"
SEQUENCE_SET = "seq-v1"

# Op classes every feature is counted over (activations share one class).
_CLASSES: tuple[str, ...] = ("conv1x1", "convkxk", "dwconv", "fc", "add", "mul", "act", "pool")
_PER_CLASS = ("count", "log_macs", "log_bytes")

FEATURE_NAMES: tuple[str, ...] = (
    "log_macs_total", "log_params_total", "log_bytes_total", "layers",
    "log_input_pixels", "log_macs_per_byte", "log_macs_stride2",
    "log_dw_macs_k3", "log_dw_macs_k5plus", "log_max_channels", "log_conv_macs_lowres",
) + tuple(f"{c}_{p}" for c in _CLASSES for p in _PER_CLASS)

# Additive cost amounts read back from the agg-v1 columns: per op class its layer count,
# MACs and bytes moved, plus the depthwise MACs by kernel and the stride-2 MACs. A
# network's latency is close to a non-negative sum of these times a per-device cost per
# unit (learn/layercost.py fits it; export computes the same sum in its graphs). Columns
# whose name starts with ``log_`` or has ``_log_`` hold log1p of the amount.
COST_AMOUNT_COLUMNS: tuple[int, ...] = tuple(
    FEATURE_NAMES.index(name) for name in
    tuple(f"{c}_{p}" for c in _CLASSES for p in _PER_CLASS)
    + ("log_dw_macs_k3", "log_dw_macs_k5plus", "log_macs_stride2"))
COST_AMOUNT_LOGGED: tuple[bool, ...] = tuple(
    FEATURE_NAMES[i].startswith("log_") or "_log_" in FEATURE_NAMES[i]
    for i in COST_AMOUNT_COLUMNS)


def cost_amounts(features: np.ndarray, columns: Sequence[int] = COST_AMOUNT_COLUMNS,
                 logged: Sequence[bool] = COST_AMOUNT_LOGGED) -> np.ndarray:
    """The additive cost amounts ``[N, len(columns)]`` (float64) of agg-v1 feature rows:
    expm1 of the logged columns, the counts as they are; a missing (NaN) value is 0."""
    picked = np.nan_to_num(np.asarray(features, np.float64)[:, list(columns)], nan=0.0)
    return np.where(np.asarray(logged, bool), np.expm1(picked), picked)


# Per-layer sequence features (one row per layer; fused activations become own rows).
_SEQ_OPS: tuple[str, ...] = ("conv", "dwconv", "fc", "add", "mul", "act", "pool", "other")
SEQUENCE_NAMES: tuple[str, ...] = tuple(f"is_{op}" for op in _SEQ_OPS) + (
    "log_in_hw", "log_out_hw", "log_cin", "log_cout", "kernel", "stride", "log_macs",
    "log_bytes")


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


def _class_of(layer: Layer) -> str:
    op = layer.op_type
    if op == "conv":
        return "conv1x1" if _int(layer.kernel) <= 1 else "convkxk"
    if op in ACTIVATIONS:
        return "act"
    return op if op in _CLASSES else "act"  # "other" counts as an elementwise op


def expand_fused(layers: Sequence[Layer]) -> list[Layer]:
    """The layer table with fused activations turned into activation rows after their op."""
    expanded: list[Layer] = []
    for layer in layers:
        expanded.append(layer)
        if layer.activation and layer.op_type not in ACTIVATIONS:
            h, w, c = layer.out_h, layer.out_w, layer.cout
            expanded.append(Layer(layer.index, str(layer.activation), h, w, h, w, c, c,
                                  0, 0, 0, None, None, _out_elements(layer), None))
    return expanded


def network_features(layers: Sequence[Layer]) -> np.ndarray:
    """Aggregated features of one network (float32, ``len(FEATURE_NAMES)``)."""
    per_class = {c: np.zeros(3) for c in _CLASSES}
    macs_total = params_total = bytes_total = 0.0
    stride2 = dw_k3 = dw_k5 = lowres = 0.0
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
    first = rows[0] if rows else None
    input_pixels = _int(first.in_h) * _int(first.in_w or first.in_h) if first else 0
    head = [np.log1p(macs_total), np.log1p(params_total), np.log1p(bytes_total), len(rows),
            np.log1p(input_pixels), np.log1p(macs_total / max(bytes_total, 1.0)),
            np.log1p(stride2), np.log1p(dw_k3), np.log1p(dw_k5), np.log1p(max_channels),
            np.log1p(lowres)]
    tail = [v for c in _CLASSES for v in (per_class[c][0], np.log1p(per_class[c][1]),
                                            np.log1p(per_class[c][2]))]
    return np.asarray(head + tail, dtype=np.float32)


def features_matrix(networks_layers: Sequence[Sequence[Layer]]) -> np.ndarray:
    """Aggregated features of many networks, float32 ``[N, F]``."""
    if not networks_layers:
        return np.zeros((0, len(FEATURE_NAMES)), np.float32)
    return np.stack([network_features(layers) for layers in networks_layers])


def layer_sequence(layers: Sequence[Layer]) -> np.ndarray:
    """Per-layer features in execution order, float32 ``[L, len(SEQUENCE_NAMES)]``."""
    rows = []
    for layer in expand_fused(layers):
        op = "act" if layer.op_type in ACTIVATIONS else layer.op_type
        onehot = [1.0 if op == name else 0.0 for name in _SEQ_OPS]
        if op not in _SEQ_OPS:
            onehot[-1] = 1.0
        rows.append(onehot + [
            np.log1p(_int(layer.in_h)), np.log1p(_int(layer.out_h)), np.log1p(_int(layer.cin)),
            np.log1p(_int(layer.cout)), float(_int(layer.kernel)), float(_int(layer.stride)),
            np.log1p(_macs(layer)) / 10.0,
            np.log1p(_in_elements(layer) + _out_elements(layer)) / 10.0])
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

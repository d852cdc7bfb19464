"""Aggregated features (feature set agg-v1) of many spec strings, fast.

``learn.features.network_features(gen.layers.layer_table(parse_spec(s)))`` costs about
a millisecond per network in pure Python. Here each stage token's layer rows are built
by the same gen functions (a one-stage spec with the stage's input resolution and
channels) and summed by learn's own per-row helpers, once per (token, input shape);
networks are then sums of cached stage vectors and the final transform is vectorised.
Every summed quantity is an integer (exact in float64, whatever the order), so the
result equals the reference bit for bit; tests/test_export_runtime.py checks that.
Anything else (another feature set, learn's helpers renamed) uses the reference path.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

import numpy as np

_HEAD = re.compile(r"r(\d+)(?:_i(\d+))?")
FAST_FEATURE_SET = "agg-v1"
# Raw per-stage sums: per class (count, macs, traffic), then the scalar accumulators.
_MACS, _PARAMS, _BYTES, _ROWS, _STRIDE2, _DW3, _DW5, _LOWRES, _MAXC = range(9)


def _helpers() -> tuple:
    from dnncost.learn import features as f

    return (f.FEATURE_SET, f._CLASSES, f.expand_fused, f._macs, f._in_elements,
            f._out_elements, f._class_of, f._int)


def available() -> bool:
    """Whether the fast path computes learn's current agg-v1 features."""
    try:
        return _helpers()[0] == FAST_FEATURE_SET
    except (ImportError, AttributeError):
        return False


_VECTORS: list[np.ndarray] = []  # one row per cached stage: per class, scalars, pixels


@lru_cache(maxsize=None)
def _stage(token: str, h: int, c: int) -> tuple[int, int, int]:
    """(row in _VECTORS, output h, output c) of a stage token given its input shape."""
    from dnncost.gen.layers import layer_table
    from dnncost.gen.spec import parse_spec

    _, classes, expand_fused, macs_of, in_el, out_el, class_of, as_int = _helpers()
    layers = layer_table(parse_spec(f"r{h}_i{c} {token}"))
    rows = expand_fused(layers)
    per_class = [0.0] * (3 * len(classes))
    scalars = [0.0] * 9
    for layer in rows:
        macs = float(macs_of(layer))
        traffic = float(in_el(layer) + out_el(layer))
        k = 3 * classes.index(class_of(layer))
        per_class[k] += 1.0
        per_class[k + 1] += macs
        per_class[k + 2] += traffic
        scalars[_MACS] += macs
        scalars[_PARAMS] += float(layer.params or 0)
        scalars[_BYTES] += traffic
        scalars[_ROWS] += 1.0
        scalars[_MAXC] = max(scalars[_MAXC], float(as_int(layer.cout)))
        op, stride, kernel = layer.op_type, as_int(layer.stride), as_int(layer.kernel)
        if op in ("conv", "dwconv") and stride >= 2:
            scalars[_STRIDE2] += macs
        if op == "dwconv":
            scalars[_DW3 if kernel <= 3 else _DW5] += macs
        if op == "conv" and as_int(layer.out_h) and as_int(layer.out_h) <= 14:
            scalars[_LOWRES] += macs
    first = rows[0]
    pixels = float(as_int(first.in_h) * as_int(first.in_w or first.in_h))
    _VECTORS.append(np.asarray(per_class + scalars + [pixels]))
    last = layers[-1]
    return len(_VECTORS) - 1, int(last.out_h or 0), int(last.cout or 0)


_MATRIX: list[np.ndarray] = []  # np.stack(_VECTORS), rebuilt when stages were added


def _matrix() -> np.ndarray:
    if not _MATRIX or len(_MATRIX[0]) != len(_VECTORS):
        _MATRIX[:] = [np.stack(_VECTORS)]
    return _MATRIX[0]


def _stage_ids(text: str) -> list[int]:
    """Cached stage rows of one spec string, in order."""
    tokens = text.replace(";", " ").split()
    head = _HEAD.fullmatch(tokens[0]) if tokens else None
    if head is None or len(tokens) < 2:
        from dnncost.gen.spec import parse_spec

        parse_spec(text)  # raises gen's InputError naming the problem
    h, c = int(head.group(1)), int(head.group(2) or 3)  # type: ignore[union-attr]
    ids = []
    for token in tokens[1:]:
        stage_id, h, c = _stage(token, h, c)
        ids.append(stage_id)
    return ids


def spec_features(specs: Sequence[str]) -> np.ndarray:
    """agg-v1 features float32 [N, F] of spec strings (InputError on a bad spec)."""
    n_class = len(_helpers()[1])
    ids: list[int] = []
    starts: list[int] = []
    for text in specs:
        starts.append(len(ids))
        ids.extend(_stage_ids(text))
    if not specs:
        return np.zeros((0, 3 * n_class + 11), np.float32)
    table = _matrix()[np.asarray(ids)]
    offsets = np.asarray(starts)
    sums = np.add.reduceat(table, offsets, axis=0)
    per_class, s = sums[:, :3 * n_class], sums[:, 3 * n_class:3 * n_class + 9]
    s[:, _MAXC] = np.maximum.reduceat(table[:, 3 * n_class + _MAXC], offsets)
    pixels = table[offsets, -1]
    head_cols = [np.log1p(s[:, _MACS]), np.log1p(s[:, _PARAMS]), np.log1p(s[:, _BYTES]),
                 s[:, _ROWS], np.log1p(pixels),
                 np.log1p(s[:, _MACS] / np.maximum(s[:, _BYTES], 1.0)),
                 np.log1p(s[:, _STRIDE2]), np.log1p(s[:, _DW3]), np.log1p(s[:, _DW5]),
                 np.log1p(s[:, _MAXC]), np.log1p(s[:, _LOWRES])]
    tail = per_class.reshape(len(specs), n_class, 3).copy()
    tail[:, :, 1:] = np.log1p(tail[:, :, 1:])
    return np.concatenate([np.stack(head_cols, axis=1), tail.reshape(len(specs), -1)],
                          axis=1).astype(np.float32)

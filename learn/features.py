"""The agg-v2 feature set, owned here: names, descriptions and one function from layer
tables (numpy only; the export runtime uses this too).

``agg-v2`` aggregates a network's layers, computed from the encoded rows of
:mod:`dnncost.encoding` (:func:`agg_features`): for one network, for many, for spec
strings (their rows come from gen's vectorised walker) and, op for op, inside the
exported ONNX graph. ``seq-v1``, the per-layer sequence the LSTM reads, is
:mod:`dnncost.learn.sequence`'s.

Two layer-table styles give comparable features:

* IISWC 2020: activations are separate ``relu`` rows; the ``activation`` column is empty.
* generated / TFLite: activations are fused into conv rows (``activation`` column), and
  ``hswish``/``sigmoid``/``mul`` may be standalone rows; ``fc`` rows appear.

A fused activation is counted exactly like an activation layer over the op's output
(one operation per output element), so both styles describe the same network alike.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dnncost.encoding import COL, OP_CODES, LayerTables, encode, encode_many
from dnncost.records import ACTIVATIONS, Layer

FEATURE_SET = "agg-v2"

# Op classes every feature is counted over (activations share one class; so do concat
# and any other elementwise op).
CLASSES: tuple[str, ...] = ("conv1x1", "convkxk", "dwconv", "fc", "add", "mul", "act", "pool")
PER_CLASS: tuple[str, ...] = ("count", "log_macs", "log_bytes")
HEAD_NAMES: tuple[str, ...] = (
    "log_macs_total", "log_params_total", "log_bytes_total", "layers",
    "log_input_pixels", "log_macs_per_byte", "log_macs_stride2",
    "log_dw_macs_k3", "log_dw_macs_k5plus", "log_max_channels", "log_conv_macs_lowres",
    "log_pad4_macs")
FEATURE_NAMES: tuple[str, ...] = HEAD_NAMES + tuple(f"{c}_{p}" for c in CLASSES
                                                    for p in PER_CLASS)
_HEAD_DESCRIPTIONS = (
    "log(1 + multiply-accumulates of all layers)", "log(1 + weights and biases)",
    "log(1 + tensor elements read and written by all layers)",
    "layers, a fused activation counted as a layer of its own",
    "log(1 + pixels of the first layer's input)", "log(1 + MACs per element moved)",
    "log(1 + MACs of stride-2 convolutions)", "log(1 + MACs of depthwise convs with k <= 3)",
    "log(1 + MACs of depthwise convs with k >= 4)", "log(1 + largest output channels)",
    "log(1 + MACs of dense convs with outputs of at most 14 pixels)",
    "log(1 + MACs added by padding GEMM depth and width to multiples of 4)")
_CLASS_WORDS = {"conv1x1": "1x1 dense conv", "convkxk": "kxk dense conv (k > 1)",
                "dwconv": "depthwise conv", "fc": "fully connected", "add": "add",
                "mul": "multiply", "act": "activation and other elementwise",
                "pool": "pool"}
FEATURE_DESCRIPTIONS: tuple[str, ...] = _HEAD_DESCRIPTIONS + tuple(
    text for c in CLASSES for text in (
        f"{_CLASS_WORDS[c]} layers", f"log(1 + MACs of {_CLASS_WORDS[c]} layers)",
        f"log(1 + elements moved by {_CLASS_WORDS[c]} layers)"))

# Additive cost amounts read back from the agg-v2 columns: per op class its layer count,
# MACs and bytes moved, plus the depthwise MACs by kernel, the stride-2 MACs and the MACs
# that padding channels to blocks adds. A network's latency is close to a non-negative
# sum of these times a per-device cost per unit (learn/layercost.py fits it; export
# computes the same sum in its graphs). Columns whose name starts with ``log_`` or has
# ``_log_`` hold log1p of the amount.
COST_AMOUNT_COLUMNS: tuple[int, ...] = tuple(
    FEATURE_NAMES.index(name) for name in
    tuple(f"{c}_{p}" for c in CLASSES for p in PER_CLASS)
    + ("log_dw_macs_k3", "log_dw_macs_k5plus", "log_macs_stride2", "log_pad4_macs"))
COST_AMOUNT_LOGGED: tuple[bool, ...] = tuple(
    FEATURE_NAMES[i].startswith("log_") or "_log_" in FEATURE_NAMES[i]
    for i in COST_AMOUNT_COLUMNS)

# The class of each op code (conv is split by kernel size); activation ops.
CLASS_OF_OP: tuple[int, ...] = tuple(
    CLASSES.index(name) if name in CLASSES else CLASSES.index("act")
    for name in ("", "conv1x1", "dwconv", "fc", "add", "mul", "act", "act", "act", "act",
                 "pool", "act", "act"))
ACTIVATION_OPS: tuple[int, ...] = tuple(OP_CODES[name] for name in ACTIVATIONS)
LOWRES_PIXELS = 14
# SIMD kernels work on channels in blocks (int8 dot products take 4 at a time): a
# convolution computes as if its GEMM depth (k*k*cin per group; a depthwise kernel's
# k*k) and width (cout per group; depthwise channels) were rounded up to this.
# benchmarks/cost_amounts.py: on IISWC's networks never measured, this one amount lifts
# the ceiling of a phone's own cost sum from 77.9 % to 83.8 % within 10 % (blocks of 8: 83.1).
PAD_CHANNELS = 4


def cost_amounts(features: np.ndarray, columns: Sequence[int] = COST_AMOUNT_COLUMNS,
                 logged: Sequence[bool] = COST_AMOUNT_LOGGED) -> np.ndarray:
    """The additive cost amounts ``[N, len(columns)]`` (float64) of agg-v2 feature rows:
    expm1 of the logged columns, the counts as they are; a missing (NaN) value is 0."""
    picked = np.nan_to_num(np.asarray(features, np.float64)[:, list(columns)], nan=0.0)
    return np.where(np.asarray(logged, bool), np.expm1(picked), picked)


# What a network sums over its rows (float64): per op class its layers, MACs and elements
# moved, then its weights and the MACs of stride-2 convs, depthwise k<=3, depthwise k>=4
# and dense convs with outputs of at most 14 pixels, and the MACs that padding channels to
# blocks of PAD_CHANNELS adds. Its largest channel count and the pixels of its first
# layer complete agg-v2.
AMOUNT_NAMES: tuple[str, ...] = tuple(f"{c}_{p}" for c in CLASSES
                                      for p in ("layers", "macs", "moved")) + (
    "params", "stride2_macs", "dw_k3_macs", "dw_k5plus_macs", "lowres_macs", "pad4_macs")
_K = len(CLASSES)
_KXK, _ACT = CLASSES.index("convkxk"), CLASSES.index("act")
_CLASS_OF_OP = np.asarray(CLASS_OF_OP)
_IS_ACTIVATION = np.isin(np.arange(len(CLASS_OF_OP)), ACTIVATION_OPS)
_ROW_FIELDS = ("op", "in_h", "in_w", "out_h", "out_w", "cin", "cout", "kernel", "stride",
               "groups", "activation", "macs", "params")


def padding_macs(op: np.ndarray, out_h: np.ndarray, out_w: np.ndarray, cin: np.ndarray,
                 cout: np.ndarray, kernel: np.ndarray, groups: np.ndarray,
                 block: int = PAD_CHANNELS) -> np.ndarray:
    """Per row (float64 columns), the MACs its GEMM adds when depth and width are
    rounded up to multiples of ``block`` (0 for rows other than conv, dwconv, fc)."""
    def up(x: np.ndarray) -> np.ndarray:
        return np.ceil(x / block) * block

    g = np.where(groups > 1.0, groups, 1.0)  # 0, missing or not a number: dense
    depth, width = kernel * kernel * cin / g, cout / g
    dense = out_h * out_w * g * (up(depth) * up(width) - depth * width)
    depthwise = out_h * out_w * kernel * kernel * (up(cout) - cout)
    fc = up(cin) * up(cout) - cin * cout
    return np.select([op == OP_CODES["conv"], op == OP_CODES["dwconv"], op == OP_CODES["fc"]],
                     [dense, depthwise, fc], 0.0)


def row_amounts(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per encoded row: its amounts ``[L, len(AMOUNT_NAMES)]`` and its channels (for the
    network's largest), float64; a row with op 0 counts for nothing."""
    r = np.asarray(rows, np.float64)
    (op_code, in_h, in_w, out_h, out_w, cin, cout, kernel, stride, groups, activation, macs,
     params) = (r.T[COL[name]] for name in _ROW_FIELDS)
    op = op_code.astype(np.int64)
    real = op > 0
    conv, dwconv = op == OP_CODES["conv"], op == OP_CODES["dwconv"]
    cls = np.where(conv & (kernel > 1), _KXK, _CLASS_OF_OP[op])
    out_elements = out_h * out_w * cout
    moved = in_h * in_w * cin + out_elements
    amounts = np.zeros((len(r), len(AMOUNT_NAMES)))
    per_class = amounts[:, :3 * _K].reshape(len(r), _K, 3)  # a view: layers, MACs, moved
    per_class[np.arange(len(r)), cls] = np.stack([real, macs, moved], axis=1) * real[:, None]
    # A fused activation is one more activation row over the op's output.
    fused = real & (activation > 0) & ~_IS_ACTIVATION[op]
    per_class[:, _ACT] += np.stack([fused, out_elements, 2.0 * out_elements], axis=1) \
        * fused[:, None]
    amounts[:, 3 * _K:] = np.stack([
        params, macs * ((conv | dwconv) & (stride >= 2)), macs * (dwconv & (kernel <= 3)),
        macs * (dwconv & (kernel > 3)), macs * (conv & (out_h != 0) & (out_h <= LOWRES_PIXELS)),
        padding_macs(op, out_h, out_w, cin, cout, kernel, groups)], axis=1) * real[:, None]
    return amounts, cout * real


def features_from_totals(totals: np.ndarray, max_channels: np.ndarray,
                         pixels: np.ndarray) -> np.ndarray:
    """agg-v2 features float32 ``[N, F]`` of networks' summed amounts ``[N, A]``, largest
    channel counts and first-layer pixels ``[N]``."""
    totals = np.asarray(totals, np.float64).reshape(-1, len(AMOUNT_NAMES))
    per_class = totals[:, :3 * _K].reshape(-1, _K, 3).copy()
    count, macs, moved = per_class.sum(axis=1).T
    params, stride2, dw_k3, dw_k5, lowres, padding = totals[:, 3 * _K:].T
    raw = np.column_stack([macs, params, moved, count, pixels, macs / np.maximum(moved, 1.0),
                           stride2, dw_k3, dw_k5, max_channels, lowres, padding])
    head = np.log1p(raw)
    head[:, HEAD_NAMES.index("layers")] = count
    per_class[:, :, 1:] = np.log1p(per_class[:, :, 1:])
    return np.concatenate([head, per_class.reshape(-1, 3 * _K)], axis=1).astype(np.float32)


def _segments(values: np.ndarray, index: np.ndarray, n: int, maximum: bool = False
              ) -> np.ndarray:
    """Sums (or maxima) of ``values`` rows over runs of equal non-decreasing ``index``
    into ``[n, ...]`` (0 for an index without rows)."""
    out = np.zeros((n,) + values.shape[1:])
    if len(index):
        starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
        reduce = np.maximum.reduceat if maximum else np.add.reduceat
        out[index[starts]] = np.maximum(reduce(values, starts, axis=0), 0.0) if maximum \
            else reduce(values, starts, axis=0)
    return out


def agg_features(rows: np.ndarray, network_index: np.ndarray, n: int) -> np.ndarray:
    """agg-v2 features float32 ``[n, F]`` of encoded rows ``[L, 14]`` whose network is
    ``network_index`` (non-decreasing: each network's rows together, in execution order).
    Sums are exact in float64 (integers below 2**53)."""
    index = np.asarray(network_index, np.int64)
    amounts, channels = row_amounts(rows)
    pixels = _segments(np.asarray(rows, np.float64)[:, COL["in_h"]]
                       * np.asarray(rows, np.float64)[:, COL["in_w"]]
                       * np.r_[True, index[1:] != index[:-1]][:len(index)], index, n)
    return features_from_totals(_segments(amounts, index, n), _segments(channels, index, n, True),
                                pixels)


def network_features(layers: Sequence[Layer]) -> np.ndarray:
    """Aggregated features of one network (float32, ``len(FEATURE_NAMES)``)."""
    rows = encode(layers)
    return agg_features(rows, np.zeros(len(rows), np.int64), 1)[0]


def features_matrix(networks_layers: Sequence[Sequence[Layer]]) -> np.ndarray:
    """Aggregated features of many networks, float32 ``[N, F]`` (kept with a LayerTables
    block, whose rows never change, so each is featurized once)."""
    cached = getattr(networks_layers, "agg_features", None)
    if cached is not None:
        return cached
    rows, index = encode_many(networks_layers)
    features = agg_features(rows, index, len(networks_layers))
    if isinstance(networks_layers, LayerTables):
        features.setflags(write=False)
        networks_layers.agg_features = features
    return features


class _StageAmounts:
    """What each stage of gen's stage cache adds to a network: its amounts, its largest
    channel count and its first row's pixels (filled as stages are first asked for)."""

    def __init__(self) -> None:
        self.amounts = np.zeros((0, len(AMOUNT_NAMES)))
        self.channels = np.zeros(0)
        self.pixels = np.zeros(0)
        self.known = np.zeros(0, bool)
        self.generation = -1  # of the stage cache whose entries these are

    def _same_cache(self) -> None:
        from dnncost.gen.stage_cache import StageCache

        if self.generation != StageCache.generation:  # the cache started afresh
            self.__init__()  # type: ignore[misc]
            self.generation = StageCache.generation

    def filled(self, entries: np.ndarray) -> bool:
        """Whether every one of the stages ``entries`` is filled."""
        self._same_cache()
        return entries.max(initial=-1) + 1 < len(self.known) and bool(self.known[entries].all())

    def of(self, entries: np.ndarray) -> None:
        """Fill the stages ``entries`` (1-d cache entries) not filled yet. The arrays
        keep a last row of zeros, which entry -1 (past a spec's end) reads."""
        self._same_cache()
        if len(self.known) <= entries.max(initial=-1) + 1:
            size = max(int(entries.max(initial=-1)) + 2, 2 * len(self.known), 1024)
            for name, width in (("amounts", len(AMOUNT_NAMES)), ("channels", 0),
                                ("pixels", 0), ("known", -1)):
                old = getattr(self, name)
                new = np.zeros((size, width) if width > 0 else size, bool if width < 0
                               else np.float64)
                new[:len(old)] = old
                setattr(self, name, new)
        todo = np.unique(entries[~self.known[entries]])
        for at in range(0, len(todo), _CHUNK):  # small temporaries
            self._fill(todo[at:at + _CHUNK])

    def _fill(self, todo: np.ndarray) -> None:
        from dnncost.gen.fast_layers import entry_rows

        rows, owner = entry_rows(todo)
        amounts, channels = row_amounts(rows)
        self.amounts[todo] = _segments(amounts, owner, len(todo))
        self.channels[todo] = _segments(channels, owner, len(todo), True)
        self.pixels[todo] = 0.0  # a stage without rows (a skip)
        if len(owner):
            first = np.r_[True, owner[1:] != owner[:-1]]
            self.pixels[todo[owner[first]]] = (rows[first, COL["in_h"]].astype(np.float64)
                                               * rows[first, COL["in_w"]])
        self.known[todo] = True


_CHUNK = 2048  # stages (or specs) per block of work: temporaries of a few MB
_STAGES = _StageAmounts()


_SEEN: dict[str, np.ndarray] = {}  # spec string -> its features (a pure function's cache)
SEEN_SPECS = 200_000


def spec_features(specs: Sequence[str]) -> np.ndarray:
    """agg-v2 features float32 ``[N, F]`` of spec strings (InputError on a bad spec):
    the sums of their stages' amounts, each stage's computed once from the rows gen's
    vectorised walker gives it; specs asked for before come from a cache."""
    n = len(specs)
    if not n:
        return np.zeros((0, len(FEATURE_NAMES)), np.float32)
    seen = [_SEEN.get(text) for text in specs]
    if all(row is not None for row in seen):
        return np.stack(seen)  # type: ignore[arg-type]
    features = _spec_features(specs)
    if len(_SEEN) + n > SEEN_SPECS:
        _SEEN.clear()
    _SEEN.update(zip(specs, features.copy()))  # the caller may change what it gets
    return features


def _spec_features(specs: Sequence[str]) -> np.ndarray:
    from dnncost.gen.fast_layers import SMALL_BATCH, entry_rows, reference_tables, stage_entries

    entries, slow = stage_entries(specs)
    known = entries >= 0
    if len(specs) <= SMALL_BATCH and not _STAGES.filled(entries[known]):
        rows, owner = entry_rows(entries[known])  # a few specs with new stages: their rows
        features = agg_features(rows, np.nonzero(known)[0][owner], len(specs))
    else:
        _STAGES.of(entries[known])
        totals = np.zeros((len(specs), len(AMOUNT_NAMES)))
        channels = np.zeros(len(specs))
        for at in range(0, len(specs), _CHUNK // 8):  # sums of integers: exact in any order
            block = entries[at:at + _CHUNK // 8]
            totals[at:at + len(block)] = _STAGES.amounts[block].sum(axis=1)
            channels[at:at + len(block)] = _STAGES.channels[block].max(axis=1)
        pixels = _STAGES.pixels[entries]  # of each network's first row: its first stage's
        features = features_from_totals(totals, channels, pixels[  # that has rows
            np.arange(len(specs)), np.argmax(pixels > 0, axis=1)])
    if slow.any():
        reference = reference_tables(specs, slow)
        rows = np.concatenate([reference[i] for i in sorted(reference)])
        index = np.repeat(np.arange(len(reference)), [len(reference[i]) for i in sorted(reference)])
        features[sorted(reference)] = agg_features(rows, index, len(reference))
    return features

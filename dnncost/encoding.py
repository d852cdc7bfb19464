"""The numeric layer-table encoding ``lt-v1``: one float32 row of 14 numbers per layer.

This is the input of every exported cost model (``layers`` float32 ``[L, 14]`` plus
``network_index`` int64 ``[L]``), the form the featurizer reduces, and what the
vectorised spec walker emits. Callers in any language list a network's layers in
execution order and write, per layer (units: pixels, channels, operations):

=====  ===========  ===========================================================
col    name         value
=====  ===========  ===========================================================
0      op           OP_CODES: 1 conv, 2 dwconv, 3 fc, 4 add, 5 mul, 6 relu, 7 relu6,
                    8 hswish, 9 sigmoid, 10 pool, 11 concat, 12 other (as a channel
                    shuffle); 0 = no layer
1, 2   in_h, in_w   input height and width (0 when the layer has none)
3, 4   out_h, out_w output height and width (fc and vectors: 1)
5, 6   cin, cout    input and output channels (fc: features)
7, 8   kernel,      kernel size and stride (0 for elementwise layers)
       stride
9      padding      padding before the input (0 for VALID)
10     groups       1 for dense, cin for depthwise, g for grouped convolutions and
                    a channel shuffle over g groups (op 12); 0 otherwise
11     activation   ACT_CODES of the activation fused into the layer: 0 none, 1 relu,
                    2 relu6, 3 hswish, 4 sigmoid, 5 other
12     macs         multiply-accumulates (conv: out_h*out_w*cout*k*k*cin/groups; fc:
                    cin*cout; elementwise, concat and pool: output elements)
13     params       weights and biases
=====  ===========  ===========================================================

Features are computed from the float32 values as sent: integers up to 2**24 are exact.
"""

from __future__ import annotations

from typing import Iterator, Sequence, overload

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
    if isinstance(tables, LayerTables):
        return tables.rows, tables.network_index
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


class LayerTables(Sequence[Sequence[Layer]]):
    """Many networks' layer tables as one block of encoded rows (what the featurizer and
    the exported models read), for thousands of networks without a record per layer.

    Item ``i`` is network ``i``'s table as Layer records: those it was made from, or
    :func:`decode` of its rows (walker-made tables are never stored as records)."""

    def __init__(self, rows: np.ndarray, counts: Sequence[int],
                 records: Sequence[Sequence[Layer]] | None = None) -> None:
        self.rows = np.asarray(rows, np.float32).reshape(-1, len(COLUMNS))
        self.counts = np.asarray(counts, np.int64)
        self.offsets = np.r_[0, np.cumsum(self.counts)].astype(np.int64)
        self.records = None if records is None else tuple(tuple(t) for t in records)
        self.agg_features: np.ndarray | None = None  # learn/features.py keeps them here

    @classmethod
    def of(cls, tables: Sequence[Sequence[Layer]]) -> "LayerTables":
        """Tables given as Layer records."""
        if isinstance(tables, LayerTables):
            return tables
        rows, _ = encode_many(tables)
        return cls(rows, [len(t) for t in tables], tables)

    @property
    def network_index(self) -> np.ndarray:
        """Each row's network position (int64)."""
        return np.repeat(np.arange(len(self.counts), dtype=np.int64), self.counts)

    def __len__(self) -> int:
        return len(self.counts)

    @overload
    def __getitem__(self, i: int) -> Sequence[Layer]: ...
    @overload
    def __getitem__(self, i: slice) -> "LayerTables": ...

    def __getitem__(self, i: int | slice) -> "Sequence[Layer] | LayerTables":
        if isinstance(i, slice):
            return self.select(range(len(self))[i])
        if self.records is not None:
            return self.records[i]
        i = range(len(self))[i]
        return tuple(decode(self.rows[self.offsets[i]:self.offsets[i + 1]]))

    def __iter__(self) -> Iterator[Sequence[Layer]]:
        return (self[i] for i in range(len(self)))

    def select(self, positions: Sequence[int]) -> "LayerTables":
        """The tables at ``positions``, in that order."""
        where = np.asarray(positions, np.int64).reshape(-1)
        starts, counts = self.offsets[where], self.counts[where]
        rows = self.rows[np.repeat(starts - np.cumsum(counts) + counts, counts)
                         + np.arange(int(counts.sum()))]
        records = None if self.records is None else [self.records[i] for i in where]
        tables = LayerTables(rows, counts, records)
        if self.agg_features is not None:
            tables.agg_features = self.agg_features[where]
        return tables


def take(tables: Sequence[Sequence[Layer]], positions: Sequence[int]) -> Sequence[Sequence[Layer]]:
    """The layer tables at ``positions`` (kept as one block when they are one)."""
    if isinstance(tables, LayerTables):
        return tables.select(positions)
    return [tables[i] for i in positions]


def compute_macs(tables: Sequence[Sequence[Layer]]) -> np.ndarray:
    """Each network's MACs of its convolution and fully connected rows (float64)."""
    rows, index = encode_many(tables)
    compute = np.isin(rows[:, COL["op"]], [OP_CODES["conv"], OP_CODES["dwconv"], OP_CODES["fc"]])
    return np.bincount(index, np.where(compute, rows[:, COL["macs"]], 0.0), len(tables))

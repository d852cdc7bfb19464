"""Aggregated features (feature set agg-v1) of many spec strings, fast.

A network's agg-v1 features are sums over its stages, and a stage's sums depend only on
(token, input h, input c). So each spec is walked once in Python along gen's shapes
(SAME stages ceil(h / stride), pools h // kernel or 1) and its stages are looked up in a
cache. Stages never seen are computed together with numpy by :class:`_Cells`, which
mirrors ``gen.layers._Table`` method for method (the rows gen emits), while
:meth:`_Cells.row` counts each row as ``learn.features.network_features`` does (its
``expand_fused`` makes a fused ReLU/ReLU6 an activation row, like gen's h-swish row).

All sums are integers, exact in float64 below 2**53 in any order, so the features equal
the reference bit for bit; tests/test_spec_features.py checks that over every search
space and so guards drift from gen/layers.py and learn/features.py. Specs the formulas
do not cover (a stage leaving 0 pixels, sums of 2**53 or more, numbers of 2**31 or
more) take the reference path, which raises gen's InputError for a malformed spec.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence, Union

import numpy as np

_HEAD = re.compile(r"r(\d+)(?:_i(\d+))?")
FAST_FEATURE_SET = "agg-v1"
_EXACT = 2.0 ** 53  # float64 holds every integer below this exactly
_FIELD_LIMIT = 1 << 31  # larger numbers in a spec take the reference path

# A stage token as numbers (_COLUMNS) and its kind; act is 1 for any activation.
CONV, POOL, IR, FR, DS = range(5)
_BLOCK_KINDS = {"ir": IR, "fr": FR, "ds": DS}
_COLUMNS = ("kind", "kernel", "stride", "hidden", "cout", "se", "act", "h_in", "c_in")
# Stage sums: 3 per class (count, macs, traffic), these 5, then max channels.
_PARAMS, _STRIDE2, _DW3, _DW5, _LOWRES = range(5)

Values = Union[np.ndarray, float]
Fields = Optional[tuple[int, ...]]
_TOKENS: dict[str, Fields] = {}  # stage token -> _COLUMNS[:7] (None: not fast)
_HEADS: dict[str, tuple[int, int]] = {}


def _classes() -> tuple[str, ...]:
    from dnncost.learn import features

    return tuple(features._CLASSES)


def available() -> bool:
    """Whether the fast path computes learn's current agg-v1 features."""
    try:
        from dnncost.learn import features

        return features.FEATURE_SET == FAST_FEATURE_SET and len(_classes()) > 0
    except (ImportError, AttributeError):
        return False


def _fields(stage: object) -> Fields:
    """A stage gen parsed as numbers; None if not a stage or a number is too large."""
    from dnncost.gen.spec import BlockSpec, ConvSpec, PoolSpec

    if isinstance(stage, ConvSpec):
        fields = (CONV, stage.kernel, stage.stride, 0, stage.cout, 0, int(bool(stage.act)))
    elif isinstance(stage, BlockSpec):
        fields = (_BLOCK_KINDS[stage.kind], stage.kernel, stage.stride, stage.hidden,
                  stage.cout, stage.se, int(bool(stage.act)))
    elif isinstance(stage, PoolSpec):
        fields = (POOL, stage.kernel, 1, 0, 0, 0, 0)
    else:
        return None
    return fields if max(fields) < _FIELD_LIMIT else None


def _add_tokens(tokens: Iterable[str]) -> None:
    """Parse new stage tokens with gen's parse_spec (all at once when all are valid)."""
    from dnncost.errors import InputError
    from dnncost.gen.spec import parse_spec

    tokens = [t for t in tokens if t not in _TOKENS]
    try:
        _TOKENS.update(zip(tokens, map(_fields, parse_spec(f"r1 {' '.join(tokens)}").stages)))
    except InputError:  # some token is not a valid stage: one at a time
        for token in tokens:
            try:
                _TOKENS[token] = _fields(parse_spec(f"r1 {token}").stages[0])
            except InputError:
                _TOKENS[token] = None


def _head(token: str) -> tuple[int, int]:
    """(resolution, in_channels) of a head token 'r224[_i3]'; (0, 0) if not fast."""
    if token not in _HEADS:
        match = _HEAD.fullmatch(token)
        h, c = (int(match.group(1)), int(match.group(2) or 3)) if match else (0, 0)
        _HEADS[token] = (h, c) if 1 <= min(h, c) <= max(h, c) < _FIELD_LIMIT else (0, 0)
    return _HEADS[token]


class _Cells:
    """``gen.layers._Table`` for many stages of one kind at once (arrays over cells)."""

    def __init__(self, h: np.ndarray, c: np.ndarray, classes: tuple[str, ...]) -> None:
        self.h, self.c = h, c  # the current (square) tensor of each cell
        self.sums: dict[int, Values] = {}  # column of the stage sums -> per cell
        self.max_channels = np.zeros(len(h))
        self._class_columns = {name: 3 * i for i, name in enumerate(classes)}
        self._scalars = 3 * len(classes)

    def _add(self, column: int, values: Values) -> None:
        self.sums[column] = self.sums.get(column, 0.0) + values

    def row(self, op: str, in_h: Values, cin: Values, out_h: Values, cout: Values,
            macs: Values, params: Values = 0.0, kernel: Values = 0.0, stride: Values = 0.0,
            on: Values = 1.0) -> None:
        """One row per cell (where ``on`` is 1), counted as network_features counts it."""
        traffic = (in_h * in_h * cin + out_h * out_h * cout) * on
        macs = macs * on
        small = np.asarray(kernel) <= 1  # a conv is conv1x1 or convkxk
        shares = [("conv1x1", small), ("convkxk", ~small)] if op == "conv" else [(op, True)]
        for name, share in shares:
            for column, values in enumerate((on, macs, traffic), self._class_columns[name]):
                self._add(column, values * share)
        s = self._scalars
        if op in ("conv", "dwconv"):
            self._add(s + _PARAMS, params)
            self._add(s + _STRIDE2, macs * (stride >= 2))
        if op == "dwconv":
            self._add(s + _DW3, macs * (kernel <= 3))
            self._add(s + _DW5, macs * (kernel > 3))
        if op == "conv":
            self._add(s + _LOWRES, macs * ((out_h > 0) & (out_h <= 14)))
        np.maximum(self.max_channels, cout * on, out=self.max_channels)

    def conv(self, kernel: Values, stride: Values, cout: np.ndarray, act: Values,
             depthwise: bool = False) -> None:
        """SAME convolution with bias, then its activation row where ``act`` is 1."""
        h, c = self.h, self.c
        out_h = np.ceil(h / stride)  # exact: integers below 2**31
        cin_per_group = 1.0 if depthwise else c
        cout = c if depthwise else cout
        self.row("dwconv" if depthwise else "conv", h, c, out_h, cout,
                 out_h * out_h * cout * kernel * kernel * cin_per_group,
                 kernel * kernel * cin_per_group * cout + cout, kernel, stride)
        self.h, self.c = out_h, cout
        if np.any(act):
            self.elementwise("act", act)

    def elementwise(self, op: str, on: Values = 1.0) -> None:
        """An elementwise row (activation, add, mul) over the current tensor."""
        h, c = self.h, self.c
        self.row(op, h, c, h, c, h * h * c, on=on)

    def pool(self, kernel: Values) -> None:
        """Global mean (kernel 0), or VALID average pooling with stride = kernel."""
        h, c = self.h, self.c
        out_h = np.where(kernel == 0, 1.0, np.floor(h / np.maximum(kernel, 1)))
        self.row("pool", h, c, out_h, c, out_h * out_h * c)
        self.h = out_h

    def squeeze_excite(self, reduced: np.ndarray) -> None:
        h, c = self.h, self.c
        self.pool(0.0)
        self.conv(1.0, 1.0, reduced, 1.0)  # ReLU (fused)
        self.conv(1.0, 1.0, c, 0.0)
        self.elementwise("act")  # sigmoid
        self.h = h
        self.elementwise("mul")

    def block(self, kind: int, col: dict[str, np.ndarray]) -> None:
        """ir / fr / ds blocks; squeeze-excite when the cells have it (se > 0)."""
        cin, h = self.c, self.h
        if kind == IR:
            self.conv(1.0, 1.0, col["hidden"], col["act"])
        if kind == FR:
            self.conv(col["kernel"], col["stride"], col["hidden"], col["act"])
        else:
            self.conv(col["kernel"], col["stride"], self.c, col["act"], depthwise=True)
        if col["se"][0] > 0:
            self.squeeze_excite(col["se"])
        self.conv(1.0, 1.0, col["cout"], 0.0)
        add = (col["stride"] == 1) & (cin == col["cout"]) & (h == self.h)
        self.elementwise("add", add.astype(np.float64))


def _stage_sums(stages: np.ndarray, classes: tuple[str, ...]) -> np.ndarray:
    """Sums [stages, 3 * classes + 6] of stages given as rows of _COLUMNS, computed one
    group of cells (stage kind, with or without squeeze-excite) at a time."""
    col = dict(zip(_COLUMNS, stages.T))
    group = (col["kind"] * 2 + (col["se"] > 0)).astype(np.int64)
    out = np.zeros((len(stages), 3 * len(classes) + 6))
    for key in np.unique(group):
        cells = np.flatnonzero(group == key)
        part = {name: values[cells] for name, values in col.items()}
        table = _Cells(part["h_in"], part["c_in"], classes)
        kind = int(key) // 2
        if kind == CONV:
            table.conv(part["kernel"], part["stride"], part["cout"], part["act"])
        elif kind == POOL:
            table.pool(part["kernel"])
        else:
            table.block(kind, part)
        for column, values in table.sums.items():
            out[cells, column] = values
        out[cells, -1] = table.max_channels
    return out


class _StageCache:
    """(token, input h, input c) -> (row of the stage sums or -1: not fast, out h, out c)."""

    def __init__(self) -> None:
        self.stages: dict[tuple[str, int, int], tuple[int, int, int]] = {}
        self.table = np.zeros((0, 0))  # stage sums by row (capacity grows by doubling)
        self.pending: list[tuple[int, ...]] = []  # stages to compute: rows of _COLUMNS
        self.rows = 1  # row 0 is a stage of nothing

    def add(self, token: str, h: int, c: int) -> tuple[int, int, int]:
        """Register a stage never seen; its sums are computed by :meth:`fill`."""
        fields = _TOKENS.get(token)
        out: tuple[int, int, int] = (-1, 0, 0)
        if fields is not None:
            kind, kernel, stride, _, cout = fields[:5]
            if kind == POOL:
                out_h, out_c = (h // kernel if kernel else 1), c
            else:
                out_h, out_c = -(-h // stride), cout
            if out_h > 0:
                out = (self.rows + len(self.pending), out_h, out_c)
                self.pending.append(fields + (h, c))
        self.stages[(token, h, c)] = out
        return out

    def fill(self, classes: tuple[str, ...]) -> None:
        """Compute the sums of the stages registered since the last fill."""
        needed = self.rows + len(self.pending)
        if needed > len(self.table):
            grown = np.zeros((max(needed, 2 * len(self.table), 1024), 3 * len(classes) + 6))
            grown[:len(self.table)] = self.table if len(self.table) else 0.0
            self.table = grown
        if self.pending:
            self.table[self.rows:needed] = _stage_sums(np.asarray(self.pending, np.float64),
                                                       classes)
            self.rows = needed
            self.pending.clear()

    def walk(self, specs: Sequence[str]) -> tuple[list[int], list[int], list[int], list[int]]:
        """Stage rows of all specs in order, where each spec starts, resolutions, and
        the specs to take the reference way (their only row is 0)."""
        ids: list[int] = []
        starts, resolutions, slow = [], [], []
        stages_get = self.stages.get
        for number, text in enumerate(specs):
            tokens = text.replace(";", " ").split()
            h, c = _head(tokens[0]) if len(tokens) > 1 else (0, 0)
            resolution, start = h, len(ids)
            for token in tokens[1:] if h else ():
                hit = stages_get((token, h, c))
                if hit is None:
                    if token not in _TOKENS:  # parse all new tokens from here on
                        _add_tokens({t for words in specs[number:] for t in
                                     words.replace(";", " ").split()[1:]})
                    hit = self.add(token, h, c)
                row, h, c = hit
                if row < 0:
                    break
                ids.append(row)
            if len(ids) - start != len(tokens) - 1 or start == len(ids):
                del ids[start:]
                ids.append(0)
                slow.append(number)
                resolution = 0
            starts.append(start)
            resolutions.append(resolution)
        return ids, starts, resolutions, slow


_CACHE = _StageCache()


def spec_features(specs: Sequence[str]) -> np.ndarray:
    """agg-v1 features float32 [N, F] of spec strings (InputError on a bad spec)."""
    classes = _classes()
    n = len(specs)
    if not n:
        return np.zeros((0, 3 * len(classes) + 11), np.float32)
    try:
        ids, starts, resolutions, slow = _CACHE.walk(specs)
    finally:
        _CACHE.fill(classes)
    stages = _CACHE.table[ids]
    sums = np.add.reduceat(stages, starts, axis=0)
    sums[:, -1] = np.maximum.reduceat(stages[:, -1], starts)  # max channels
    per_class, s = sums[:, :3 * len(classes)].reshape(n, -1, 3), sums[:, 3 * len(classes):]
    count, macs, traffic = per_class.sum(axis=1).T
    pixels = np.square(np.asarray(resolutions, np.float64))
    raw = np.array([macs, s[:, _PARAMS], traffic, count, pixels,
                    macs / np.maximum(traffic, 1.0), s[:, _STRIDE2], s[:, _DW3], s[:, _DW5],
                    s[:, -1], s[:, _LOWRES]]).T
    head = np.log1p(raw)
    head[:, 3] = count  # layers
    per_class[:, :, 1:] = np.log1p(per_class[:, :, 1:])
    out = np.concatenate([head, per_class.reshape(n, -1)], axis=1).astype(np.float32)
    large = np.flatnonzero((raw[:, :3] >= _EXACT).any(axis=1)).tolist()
    reference = sorted(set(slow).union(large))
    if reference:  # raises gen's InputError for a malformed spec
        from dnncost.gen.layers import layer_table
        from dnncost.gen.spec import parse_spec
        from dnncost.learn.features import features_matrix

        out[reference] = features_matrix([layer_table(parse_spec(specs[i]))
                                          for i in reference])
    return out

"""Emitters of gen's :class:`~dnncost.gen.walker.Walker` that make encoded layer rows
(dnncost.encoding ``lt-v1``) of stages: over numpy arrays of many stages of one type at
once (:class:`ArrayRows`, their fields from :func:`stage_fields`), or over one stage
in plain Python (:class:`PlainRows`, quicker for a few). The stage cache
(gen/stage_cache.py) keeps what they make."""

from __future__ import annotations

from operator import attrgetter
from types import SimpleNamespace
from typing import Any

import numpy as np

from dnncost.encoding import ACT_CODES, COL, COLUMNS, OP_CODES
from dnncost.gen.walker import ACT_OPS

_KINDS = {"conv": "conv", "dwconv": "dwconv", "add": "add", "mul": "mul", "concat": "concat",
          "avgpool": "pool", "maxpool": "pool", "shuffle": "other", "zeros": "mul"}
_ACT_OPS = np.asarray(ACT_OPS, np.float32)
FIELDS = (  # the integer fields of stage records
    "kernel", "stride", "cout", "hidden", "se", "squeeze", "same", "groups")


class ArrayRows:
    """The emitter over ``n`` stages: one encoded row block and mask per emitted op."""

    def __init__(self, n: int) -> None:
        self.n, self.rows, self.masks = n, [], []

    def emit(self, kind: str, inputs: tuple[Any, ...], on: Any, fields: dict[str, Any]) -> int:
        row = np.zeros((self.n, len(COLUMNS)), np.float64)
        act = fields.pop("act", None)
        row[:, COL["op"]] = _ACT_OPS[act] if kind == "act" else OP_CODES[_KINDS[kind]]
        for name, value in fields.items():
            if name in COL:
                row[:, COL[name]] = value
        self.rows.append(row)
        self.masks.append(np.broadcast_to(np.asarray(on, bool), (self.n,)))
        return len(self.rows) - 1

    def block(self) -> tuple[np.ndarray, np.ndarray]:
        """Each stage's rows one stage after another, and each stage's row count."""
        rows, masks = np.stack(self.rows, 1), np.stack(self.masks, 1)
        return rows[masks], masks.sum(1)


class PlainRows:
    """The emitter over one stage, in plain Python (a stage record, not arrays): for a
    few new stages, quicker than arrays of one."""

    def __init__(self) -> None:
        self.rows: list[list[float]] = []

    def emit(self, kind: str, inputs: tuple[Any, ...], on: Any, fields: dict[str, Any]) -> Any:
        if not on:
            return inputs[0]
        row = [0.0] * len(COLUMNS)
        act = fields.pop("act", None)
        row[COL["op"]] = _ACT_OPS[act] if kind == "act" else OP_CODES[_KINDS[kind]]
        for name, value in fields.items():
            if name in COL:
                row[COL[name]] = float(value)
        self.rows.append(row)
        return len(self.rows) - 1


def stage_fields(stages: list[Any]) -> SimpleNamespace:
    """Stages of one type as arrays of their fields (activation names as codes)."""
    names = [name for name in FIELDS if hasattr(stages[0], name)]
    values: dict[str, Any] = {}
    if names:
        table = np.asarray(list(map(attrgetter(*names), stages)), np.int64)
        values.update(zip(names, table.reshape(len(stages), -1).T))
    acts = map(attrgetter("act"), stages) if hasattr(stages[0], "act") else [None] * len(stages)
    values["act"] = np.fromiter(map(ACT_CODES.__getitem__, acts), np.int64, len(stages))
    if hasattr(stages[0], "ops"):  # cells: one column per edge
        values["ops"] = np.asarray([[int(d) for d in s.ops] for s in stages], np.int64)
    values["kind"] = getattr(stages[0], "kind", "avg")  # block kind: one per group
    return SimpleNamespace(**values)

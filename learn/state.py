"""A data-only format for fitted estimators: JSON, numpy arrays and XGBoost's JSON.

:func:`dump_state` writes an object tree into a directory as ``estimator.json`` (every
node typed), ``arrays.npz`` (the arrays; read back with ``allow_pickle=False``) and one
``booster_K.json`` per XGBoost booster; :func:`load_state` rebuilds it. Only the classes
of :data:`KNOWN_CLASSES` are rebuilt, and only from their field values, so reading a
directory of any age or origin never runs code that came with it.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dnncost.artifacts import write_atomic
from dnncost.errors import ModelError
from dnncost.learn.exportable import StoredBooster

STATE_FILE, ARRAYS_FILE = "estimator.json", "arrays.npz"
_BOOSTER = re.compile(r"booster_\d+\.json")
MAX_BOOSTER_BYTES = 256 << 20


def _known_classes() -> dict[str, type]:
    from dnncost.learn.layercost import AnchorSpace
    from dnncost.learn.lowrank import Factors
    from dnncost.learn.lstm import LSTMCostModel
    from dnncost.learn.models import XGBCostModel
    from dnncost.learn.placement import HybridCostModel, LowRankCostModel
    from dnncost.learn.training import Trained, TrainOptions

    return {cls.__name__: cls for cls in (Trained, TrainOptions, Factors, AnchorSpace,
                                          XGBCostModel, LowRankCostModel, HybridCostModel,
                                          LSTMCostModel)}


@dataclass
class _Writer:
    directory: Path
    classes: dict[str, type]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    boosters: int = 0

    def node(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            value = float(value)
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biuf":
                raise ModelError(f"cannot save an array of {value.dtype}: not numbers")
            key = f"a{len(self.arrays)}"
            self.arrays[key] = value
            return {"$array": key}
        if isinstance(value, list):
            return [self.node(v) for v in value]
        if isinstance(value, tuple):
            return {"$tuple": [self.node(v) for v in value]}
        if isinstance(value, dict):
            return {"$dict": [[self.node(k), self.node(v)] for k, v in value.items()]}
        if type(value).__name__ in ("Booster", "StoredBooster") and hasattr(value, "save_raw"):
            name = f"booster_{self.boosters}.json"
            self.boosters += 1
            write_atomic(self.directory / name, bytes(value.save_raw("json")))
            return {"$booster": name}
        name = type(value).__name__
        if self.classes.get(name) is not type(value):
            raise ModelError(f"cannot save a {name}: not a dnncost estimator class")
        return {"$object": name, "state": self.node(dict(value.__getstate__()))}


def dump_state(value: Any, directory: str | Path) -> None:
    """Write ``value`` (an estimator tree) into ``directory``."""
    path = Path(directory)
    writer = _Writer(path, _known_classes())
    tree = writer.node(value)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **writer.arrays)
    write_atomic(path / ARRAYS_FILE, buffer.getvalue())
    write_atomic(path / STATE_FILE, (json.dumps(tree, separators=(",", ":")) + "\n").encode())


def _reader(directory: Path, arrays: Any, classes: dict[str, type]) -> Callable[[Any], Any]:
    def node(value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, list):
            return [node(v) for v in value]
        if not isinstance(value, dict) or len(value) not in (1, 2):
            raise ValueError(f"unexpected node {str(value)[:60]}")
        if "$float" in value:
            return float(value["$float"])
        if "$array" in value:
            return arrays[str(value["$array"])]
        if "$tuple" in value:
            return tuple(node(v) for v in value["$tuple"])
        if "$dict" in value:
            return {node(k): node(v) for k, v in value["$dict"]}
        if "$booster" in value:
            return _booster(directory, str(value["$booster"]))
        cls = classes[str(value["$object"])]
        state = node(value["state"])
        if not isinstance(state, dict):
            raise ValueError(f"state of {cls.__name__} is not a mapping")
        obj = cls.__new__(cls)
        if "__setstate__" in vars(cls):
            obj.__setstate__(state)
        else:
            obj.__dict__.update(state)
        if is_dataclass(cls):  # a field added since it was saved takes its default
            for f in fields(cls):
                if f.name not in obj.__dict__ and f.default_factory is not MISSING:
                    obj.__dict__[f.name] = f.default_factory()
                elif f.name not in obj.__dict__ and f.default is not MISSING:
                    obj.__dict__[f.name] = f.default
        return obj

    return node


def _booster(directory: Path, name: str) -> Any:
    if not _BOOSTER.fullmatch(name):
        raise ValueError(f"booster file name {name[:60]!r} is not booster_N.json")
    path = directory / name
    if path.stat().st_size > MAX_BOOSTER_BYTES:
        raise ValueError(f"{name} is larger than {MAX_BOOSTER_BYTES >> 20} MB")
    return StoredBooster(path.read_bytes(), str(path))


def load_state(directory: str | Path) -> Any:
    """The estimator tree written by :func:`dump_state` (ModelError if damaged)."""
    path = Path(directory)
    try:
        tree = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        with np.load(path / ARRAYS_FILE, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        return _reader(path, arrays, _known_classes())(tree)
    except Exception as exc:  # JSON, numpy, xgboost and shape errors alike: damaged
        raise ModelError(f"{path} holds a damaged model ({type(exc).__name__}: "
                         f"{str(exc)[:80]}): train it again with dnncost train") from None

"""A cost model adapted to one device: what `adapt` writes and `predict` reads.

Every device model predicts through its :class:`ExportableModel` (so export/ reproduces
exactly what `predict` prints), except that the low-rank model also keeps the log
latencies it derived for the networks it was trained on (``known_log_ms``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from dnncost.encoding import take
from dnncost.errors import ModelError
from dnncost.records import Layer
from dnncost.learn.exportable import ExportableModel
from dnncost.learn.features import FEATURE_SET, features_matrix
from dnncost.learn.sequence import SEQUENCE_SET, sequence_matrix


def exportable_features(model: ExportableModel,
                        networks_layers: Sequence[Sequence[Layer]]) -> np.ndarray:
    """The input matrix ``X`` an exportable model expects for these networks."""
    if model.feature_set == FEATURE_SET:
        return features_matrix(networks_layers)
    if model.feature_set.startswith(SEQUENCE_SET):
        return sequence_matrix(networks_layers, int(model.metadata["max_layers"]))
    raise ModelError(f"this dnncost computes {FEATURE_SET} and {SEQUENCE_SET} features, not "
                     f"{model.feature_set}: adapt the model again")


@dataclass
class DeviceModel:
    """A predictor for one device."""

    exportable: ExportableModel
    known_log_ms: Mapping[str, float] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)

    def to_exportable(self) -> ExportableModel:
        """The model in the form export/ writes (see learn/exportable.py)."""
        return self.exportable

    def predict_log_ms(self, networks_layers: Sequence[Sequence[Layer]],
                       names: Sequence[str] | None = None) -> np.ndarray:
        """Predicted log latency (ms) of networks given by their layer tables; names
        the model was trained on use the learned per-network values when it has them."""
        out = np.full(len(networks_layers), np.nan)
        names = list(names) if names is not None else [None] * len(networks_layers)
        todo = [i for i, name in enumerate(names) if name not in self.known_log_ms]
        for i, name in enumerate(names):
            if name in self.known_log_ms:
                out[i] = self.known_log_ms[name]
        if todo:
            x = exportable_features(self.exportable, take(networks_layers, todo))
            out[todo] = self.exportable.predict_log_ms(x)
        return out

    def predict_ms(self, networks_layers: Sequence[Sequence[Layer]],
                   names: Sequence[str] | None = None) -> np.ndarray:
        """Predicted latency in ms."""
        return np.exp(self.predict_log_ms(networks_layers, names))

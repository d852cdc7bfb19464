"""The contract between learn/ and export/: what a device-adapted cost model is made of.

A device-adapted model predicts, for a matrix ``X`` of network features
(``features.network_features``, float32, shape ``[N, F]``)::

    log_latency_ms = bias_log_ms + sum_j  weight_j * booster_j(concat(X, device_vector_j))
    latency_ms     = exp(log_latency_ms)

or, for neural models, ``log_latency_ms = module(X)`` with the device folded into the
module. Every learned model that can be exported reduces to one of these two forms, so
export/ writes ONNX (and C, for the tree form) without knowing how it was trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np


@dataclass(frozen=True)
class TreeTerm:
    """One XGBoost booster whose output, times ``weight``, adds to the log latency."""

    booster: Any  # xgboost.Booster
    weight: float = 1.0
    device_vector: np.ndarray | None = None  # appended to each row of X, or None


@dataclass(frozen=True)
class ExportableModel:
    """A device-adapted predictor in a form export/ can write out."""

    feature_set: str
    feature_names: tuple[str, ...]
    bias_log_ms: float = 0.0
    trees: tuple[TreeTerm, ...] = ()
    module: Any = None  # torch.nn.Module mapping float32 [N, F] -> log_latency_ms [N]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def predict_log_ms(self, features: np.ndarray) -> np.ndarray:
        """Reference prediction in Python (export parity is checked against this)."""
        features = np.asarray(features, dtype=np.float32)
        if self.module is not None:
            import torch

            with torch.no_grad():
                return self.module(torch.from_numpy(features)).double().numpy()
        import xgboost as xgb

        total = np.full(len(features), self.bias_log_ms, dtype=np.float64)
        for term in self.trees:
            rows = features
            if term.device_vector is not None:
                tiled = np.tile(np.asarray(term.device_vector, np.float32), (len(features), 1))
                rows = np.hstack([features, tiled])
            total += term.weight * term.booster.predict(xgb.DMatrix(rows)).astype(np.float64)
        return total

    def predict_ms(self, features: np.ndarray) -> np.ndarray:
        return np.exp(self.predict_log_ms(features))

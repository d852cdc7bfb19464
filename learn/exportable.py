"""The contract between learn/ and export/: what a device-adapted cost model is made of.

A device-adapted model predicts, for a matrix ``X`` of network features
(``features.network_features``, float32, shape ``[N, F]``)::

    log_latency_ms = bias_log_ms + sum_j  weight_j * booster_j(concat(X, device_vector_j))
                   + cost_sum.weight * (log(max(amounts(X) @ cost_sum.ms_per_unit, FLOOR_MS))
                                        + smoother(X))
    latency_ms     = exp(log_latency_ms)

where ``amounts(X)`` (``features.cost_amounts``) reads per-op-class layer counts, MACs
and bytes back from feature columns (expm1 of the logged ones), the optional ``cost_sum``
term holds the device's non-negative cost per unit of each, and its optional smoother
is a kernel average of the term's log errors on the training networks
(:class:`AnchorSmoother`); or, for neural models, ``log_latency_ms = module(X)`` with
the device folded into the module. Every learned model that can be exported reduces to
one of these two forms, so export/ writes ONNX (and C, for the tree form) without
knowing how it was trained.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from dnncost.errors import ModelError
from dnncost.learn.features import COST_AMOUNT_COLUMNS, COST_AMOUNT_LOGGED, cost_amounts

FLOOR_MS = 1e-6  # the additive estimate is clipped here before its log


@dataclass(frozen=True)
class TreeTerm:
    """One XGBoost booster whose output, times ``weight``, adds to the log latency."""

    booster: Any  # xgboost.Booster
    weight: float = 1.0
    device_vector: np.ndarray | None = None  # appended to each row of X, or None


class StoredBooster:
    """An XGBoost booster kept as the JSON bytes of its file, loaded (and xgboost
    imported) only when first used: predicting known networks, or adapting a low-rank
    model, never imports xgboost. Stands in for ``xgboost.Booster``."""

    def __init__(self, raw: bytes, source: str) -> None:
        try:  # a damaged file is found now, not at the first prediction
            if "learner" not in json.loads(raw):
                raise ValueError("no learner")
        except (ValueError, TypeError, UnicodeDecodeError) as exc:
            raise ModelError(f"{source} is not an XGBoost JSON booster ({str(exc)[:60]}): "
                             "train or adapt the model again") from None
        self.raw, self.source, self._booster = raw, source, None

    def loaded(self) -> Any:
        """The xgboost.Booster (a ModelError naming the file if it is damaged)."""
        if self._booster is None:
            import xgboost as xgb

            booster = xgb.Booster()
            try:
                booster.load_model(bytearray(self.raw))
            except Exception as exc:  # xgboost's errors
                raise ModelError(f"{self.source} is a damaged booster ({type(exc).__name__}: "
                                 f"{str(exc)[:80]}): train or adapt the model again") from None
            self._booster = booster
        return self._booster

    def save_raw(self, raw_format: str = "json") -> bytearray:
        """The booster's file (unchanged bytes when JSON is asked)."""
        return bytearray(self.raw) if raw_format == "json" else self.loaded().save_raw(raw_format)

    def __getitem__(self, key: Any) -> Any:
        return self.loaded()[key]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("raw", "source", "_booster"):
            raise AttributeError(name)
        return getattr(self.loaded(), name)


@dataclass(frozen=True)
class AnchorSmoother:
    """A kernel-weighted average of per-anchor ``values`` over feature space. Anchors are
    training networks' standardised features ``(x - centre) / scale`` (a missing value
    standardises to 0); a row's weights are softmax(-squared distance / bandwidth)."""

    centre: np.ndarray  # float64 [F]
    scale: np.ndarray  # float64 [F], > 0
    anchors: np.ndarray  # float64 [M, F]
    bandwidth: float
    values: np.ndarray  # float64 [M]

    def smooth(self, features: np.ndarray, block: int = 512) -> np.ndarray:
        """The weighted average of ``values`` for each row, float64 ``[N]`` (``block``
        rows at a time: memory for one ``block x M`` slab)."""
        z = np.nan_to_num((np.asarray(features, np.float64) - self.centre) / self.scale, nan=0.0)
        anchor_norms = (self.anchors ** 2).sum(1)[None, :]
        out, block = np.empty(len(z)), max(block, 1)
        for start in range(0, len(z), block):
            part = z[start:start + block]
            logits = -((part ** 2).sum(1)[:, None] - 2.0 * part @ self.anchors.T
                       + anchor_norms) / self.bandwidth
            weights = np.exp(logits - logits.max(1, keepdims=True))
            out[start:start + block] = (weights @ self.values) / weights.sum(1)
        return out


@dataclass(frozen=True)
class CostSumTerm:
    """An additive cost estimate whose log, times ``weight``, adds to the log latency:
    ``ms_per_unit[i]`` is the device's cost of one unit of amount ``columns[i]``. With a
    ``smoother``, the log estimate is corrected by the smoothed log errors it made on the
    device's training networks (the networks most alike count most)."""

    ms_per_unit: np.ndarray  # float64 [len(columns)], >= 0
    weight: float = 1.0
    columns: tuple[int, ...] = COST_AMOUNT_COLUMNS
    logged: tuple[bool, ...] = COST_AMOUNT_LOGGED  # column holds log1p of the amount
    smoother: AnchorSmoother | None = None

    def log_ms(self, features: np.ndarray) -> np.ndarray:
        """The term's log of the (corrected) additive estimate, before ``weight``."""
        amounts = cost_amounts(features, self.columns, self.logged)
        total = amounts @ np.asarray(self.ms_per_unit, np.float64)
        log_ms = np.log(np.maximum(total, FLOOR_MS))
        if self.smoother is not None:
            log_ms = log_ms + self.smoother.smooth(features)
        return log_ms


@dataclass(frozen=True)
class ExportableModel:
    """A device-adapted predictor in a form export/ can write out."""

    feature_set: str
    feature_names: tuple[str, ...]
    bias_log_ms: float = 0.0
    trees: tuple[TreeTerm, ...] = ()
    module: Any = None  # torch.nn.Module mapping float32 [N, F] -> log_latency_ms [N]
    cost_sum: CostSumTerm | None = None
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
        if self.cost_sum is not None:
            total += self.cost_sum.weight * self.cost_sum.log_ms(features)
        return total

    def predict_ms(self, features: np.ndarray) -> np.ndarray:
        return np.exp(self.predict_log_ms(features))

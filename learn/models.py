"""The tree cost model and what every cost model shares (sklearn-style: ``fit`` returns
self, learned state ends in ``_``, every model takes a seed). They learn log latency (ms)
and adapt to one device.

Modes: ``individual`` (a model per device from its own measurements), ``combined`` (one
model; the device is its hardware specs), ``collaborative`` (one model; the device is its
log latencies on the signature set). ``xgb`` works in all three; ``lowrank`` and
``hybrid`` (learn/placement.py) are collaborative only.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from dnncost.errors import ModelError
from dnncost.records import Device
from dnncost.learn.dataset import LatencyData, cpu_vocabulary, device_specs
from dnncost.learn.device_model import DeviceModel
from dnncost.learn.exportable import ExportableModel, TreeTerm
from dnncost.learn.features import FEATURE_NAMES, FEATURE_SET
from dnncost.learn.lowrank import fill_missing

MODES = ("individual", "combined", "collaborative")


def train_booster(x: np.ndarray, y: np.ndarray, seed: int, n_estimators: int,
                  max_depth: int = 6, weights: np.ndarray | None = None) -> Any:
    """An XGBoost regressor (squared error) on ``x -> y``, 2 threads, seeded."""
    import xgboost as xgb

    params = {"objective": "reg:squarederror", "eta": 0.08, "max_depth": max_depth,
              "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 2,
              "tree_method": "hist", "nthread": 2, "seed": seed}
    matrix = xgb.DMatrix(np.asarray(x, np.float32), label=y, weight=weights)
    return xgb.train(params, matrix, num_boost_round=n_estimators)


def _measured_vector(measured: Mapping[str, float], names: Sequence[str]) -> np.ndarray:
    missing = [n for n in names if n not in measured]
    if missing:
        raise ModelError(f"signature network(s) {', '.join(missing)} not measured: add their "
                         "latency_ms to the measurements file")
    return np.log(np.asarray([measured[n] for n in names], float))


class _Base:
    """What every model keeps about its training data."""

    def __init__(self, mode: str, seed: int = 0, n_estimators: int = 300) -> None:
        if mode not in MODES:
            raise ModelError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
        self.mode, self.seed, self.n_estimators = mode, seed, n_estimators

    def _remember(self, data: LatencyData, signature: Sequence[str]) -> None:
        self.network_names_ = list(data.network_names)
        self.features_ = np.asarray(data.features, np.float32)
        self.signature_ = list(signature)
        self.feature_set_ = FEATURE_SET

    def _features_of(self, names: Sequence[str]) -> np.ndarray:
        where = {n: i for i, n in enumerate(self.network_names_)}
        unknown = [n for n in names if n not in where]
        if unknown:
            raise ModelError(f"unknown network(s) {', '.join(unknown[:5])}: this model knows "
                             "only the networks of its training store")
        return self.features_[[where[n] for n in names]]


class XGBCostModel(_Base):
    """XGBoost on [network features, device descriptor] -> log latency. Collaborative:
    the descriptor is the signature log latencies minus their mean, and the target is
    relative to that mean (so a faster device than any seen shifts predictions)."""

    def fit(self, data: LatencyData, signature: Sequence[str] = (),
            device_weights: np.ndarray | None = None) -> "XGBCostModel":
        self._remember(data, signature)
        if self.mode == "individual":
            return self
        y = data.log_ms
        weights = np.ones(len(y)) if device_weights is None else np.asarray(device_weights)
        if self.mode == "combined":
            self.cpus_ = cpu_vocabulary(data.devices)
            descriptors, offsets = device_specs(data.devices, self.cpus_), np.zeros(len(y))
        else:
            # a signature run left out of training (failed, or a gross outlier) takes
            # the low-rank estimate, so its device still trains
            sig = fill_missing(y)[:, data.network_index(self.signature_)]
            offsets = sig.mean(1)
            descriptors = sig - offsets[:, None]
        rows, targets, row_weights = [], [], []
        for d in range(len(y)):
            ok = np.isfinite(y[d])
            if weights[d] <= 0 or not ok.any() or not np.isfinite(descriptors[d]).all() \
                    and self.mode == "collaborative":
                continue
            tiled = np.tile(descriptors[d], (int(ok.sum()), 1))
            rows.append(np.hstack([data.features[ok], tiled]))
            targets.append(y[d, ok] - offsets[d])
            row_weights.append(np.full(int(ok.sum()), weights[d]))
        if not rows:
            raise ModelError("no training device has usable measurements: check the store")
        self.booster_ = train_booster(np.vstack(rows), np.concatenate(targets), self.seed,
                                      self.n_estimators, weights=np.concatenate(row_weights))
        return self

    def adapt(self, measured: Mapping[str, float], device: Device | None = None) -> DeviceModel:
        """The device model for a new device from its measurements (name -> ms) or, in
        combined mode, its hardware record."""
        if self.mode == "individual":
            names = [n for n in measured if n in set(self.network_names_)]
            if len(names) < 2:
                raise ModelError("individual mode needs the device's latencies of at least 2 "
                                 "known networks in the measurements file")
            booster = train_booster(self._features_of(names),
                                    np.log([measured[n] for n in names]), self.seed,
                                    self.n_estimators, max_depth=3)
            term, bias = TreeTerm(booster), 0.0
        elif self.mode == "combined":
            if device is None:
                raise ModelError("combined mode needs the device's hardware specs")
            term, bias = TreeTerm(self.booster_, 1.0, device_specs([device], self.cpus_)[0]), 0.0
        else:
            sig = _measured_vector(measured, self.signature_)
            bias = float(sig.mean())
            term = TreeTerm(self.booster_, 1.0, (sig - bias).astype(np.float32))
        names = FEATURE_NAMES + tuple(f"device_{i}" for i in range(
            0 if term.device_vector is None else len(term.device_vector)))
        return DeviceModel(ExportableModel(FEATURE_SET, FEATURE_NAMES, bias, (term,),
                                           metadata={"model": "xgb", "mode": self.mode,
                                                     "booster_inputs": list(names)}))

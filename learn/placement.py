"""The cost models that place a new device on the training devices' low-rank structure
(collaborative only). ``lowrank`` places the device and, for networks it was not trained
on, averages (in log space) XGBoost's prediction of their factors with an additive
layer-cost estimate fitted to the device (non-negative cost per MAC, byte and layer of
each op class, corrected by its errors on the most alike training networks;
learn/layercost.py). ``hybrid`` averages ``lowrank`` and collaborative ``xgb`` in log
space.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping, Sequence

import numpy as np

from dnncost.errors import ModelError
from dnncost.records import Device
from dnncost.learn.dataset import LatencyData
from dnncost.learn.device_model import DeviceModel
from dnncost.learn.exportable import FLOOR_MS, ExportableModel, TreeTerm
from dnncost.learn.features import FEATURE_NAMES, FEATURE_SET, cost_amounts
from dnncost.learn.layercost import (OWN_COST_GATE, OWN_COST_MIN_MEASURED, OWN_COST_REACH,
                                     anchor_space, cost_sum_residuals,
                                     cost_sum_term, fit_cost_per_unit, own_cost_weight)
from dnncost.learn.lowrank import (fill_missing, fit_factors, measurement_residuals,
                                   place_device, signature_residuals)
from dnncost.learn.models import XGBCostModel, _Base, _measured_vector, train_booster
from dnncost.learn.pruning import PRUNED_GATE, pruned_fits_better, twins

# The cost sum's share in unseen networks' log latency (XGBoost's factors take the rest).
# learn.evaluation (accuracy.py's protocol), networks never measured, lowrank d_optimal
# k=10, 0.7 -> 0.9: IISWC 84.6 -> 85.9 % within 10 %; NAS-Bench-201 held out by type
# 81.2 -> 85.0 %, band Spearman 0.942 -> 0.953; by hardware unchanged (0.964).
COST_SUM_WEIGHT = 0.9
# A seen network's log latency averages its placement with the device's cost sum over
# features (fitted to those placed latencies, with its smoother): the placement carries
# the training devices' structure, the cost sum what networks alike in their layers
# share. learn.evaluation, seen networks, lowrank d_optimal k=10, 0 -> 0.5: NAS-Bench-201
# band Spearman by hardware 0.956 -> 0.961, by type 0.950 -> 0.956; IISWC 89.4 -> 89.5 %
# within 10 % (0.3: 0.959, 0.954, 89.6 %; 0.7: 0.962, 0.957, 89.2 %).
SEEN_COST_WEIGHT = 0.5


class LowRankCostModel(_Base):
    """Collaborative low-rank model: ``log ms = mu[n] + G[n] @ c_device``. Seen networks
    take ``mu``, ``G`` from the training matrix; unseen ones mix, with weight
    ``cost_sum_weight`` on the second, XGBoost's ``mu``, ``G`` from features and the
    layer-cost model fitted to the device's (measured or placed) training latencies.
    When a device is placed from its signature alone, seen networks also get the mean of
    what the structure misses on the ``neighbours`` training devices whose signatures
    are shaped most like the device's. Where the placement explains the device's own
    measurements poorly (a device type no training device shares), seen networks mix in
    the cost sum fitted to those measurements, with a weight chosen by leave-one-out on
    them (``own_cost_gate``: the error ratio it must reach; 0 turns it off). Last, seen
    networks average all that with the layer-cost model over their features
    (``seen_cost_weight``; 0, or no layer-cost model, leaves them as placed). A device
    whose measurements fit far better read as its cells' pruned twins (``pruned_gate``,
    learn/pruning.py; 0 turns it off) is placed so, and predicted so."""

    own_cost_gate = OWN_COST_GATE  # for models saved before it was a parameter
    seen_cost_weight = 0.0  # for models saved before it was a parameter
    pruned_gate = 0.0  # for models saved before it was a parameter (they know no twins)

    def __init__(self, mode: str = "collaborative", seed: int = 0, n_estimators: int = 300,
                 rank: int = 3, shrinkage: float = 1.0, cost_sum_weight: float = COST_SUM_WEIGHT,
                 neighbours: int = 5, own_cost_gate: float = OWN_COST_GATE,
                 seen_cost_weight: float = SEEN_COST_WEIGHT,
                 pruned_gate: float = PRUNED_GATE) -> None:
        super().__init__(mode, seed, n_estimators)
        if mode != "collaborative":
            raise ModelError("the lowrank model needs --mode collaborative")
        self.rank, self.shrinkage, self.cost_sum_weight = rank, shrinkage, cost_sum_weight
        self.neighbours, self.own_cost_gate = neighbours, own_cost_gate
        self.seen_cost_weight, self.pruned_gate = seen_cost_weight, pruned_gate

    def fit(self, data: LatencyData, signature: Sequence[str] = (),
            device_weights: np.ndarray | None = None) -> "LowRankCostModel":
        self._remember(data, signature)
        self.factors_ = fit_factors(data.log_ms, self.rank, device_weights)
        targets = np.column_stack([self.factors_.mean_log_ms, self.factors_.loadings[:, 1:]])
        self.boosters_ = [train_booster(data.features, targets[:, j], self.seed + j,
                                        self.n_estimators if j == 0 else self.n_estimators // 2,
                                        max_depth=4)
                          for j in range(targets.shape[1])]
        sig = data.network_index(self.signature_)
        trusted = np.ones(len(data.log_ms), bool) if device_weights is None \
            else np.asarray(device_weights) >= np.max(device_weights)
        residuals = signature_residuals(self.factors_, data.log_ms, sig, self.shrinkage)
        shapes = fill_missing(data.log_ms)[:, sig]
        self.neighbour_shapes_ = (shapes - shapes.mean(1, keepdims=True))[trusted]
        self.neighbour_residuals_ = residuals[trusted]
        self.anchor_space_ = anchor_space(data.features)
        self.twin_ = twins(self.network_names_)
        return self

    def _usable(self, measured: Mapping[str, float]) -> dict[str, float]:
        """The measurements of known networks with a finite positive latency."""
        known = set(self.network_names_)
        return {n: float(ms) for n, ms in measured.items()
                if n in known and np.isfinite(ms) and ms > 0}

    def placed_positions(self, measured: Mapping[str, float]) -> tuple[np.ndarray, bool]:
        """The positions of the known networks a device measured as it is placed: each
        cell's pruned twin's when the device prunes dead compute (learn/pruning.py)."""
        _measured_vector(measured, self.signature_)
        usable = self._usable(measured)
        where = np.asarray([self.network_names_.index(n) for n in usable], int)
        twin = self.twin_[where] if self.pruned_gate > 0 else where
        if (twin == where).all():  # no measured cell tells pruning from running
            return where, False
        f, log_ms = self.factors_, np.log(list(usable.values()))
        residuals = [measurement_residuals(f, f.loadings[w], f.mean_log_ms[w], log_ms,
                                           self.shrinkage) for w in (where, twin)]
        pruned = pruned_fits_better(*residuals, int((twin != where).sum()), self.pruned_gate)
        return (twin if pruned else where), pruned

    def adapt(self, measured: Mapping[str, float], device: Device | None = None) -> DeviceModel:
        """The device model for a new device from its measurements (name -> ms)."""
        where, pruned = self.placed_positions(measured)
        usable = self._usable(measured)
        log_ms = np.log(list(usable.values()))
        f = self.factors_
        placement = place_device(f, f.loadings[where], f.mean_log_ms[where], log_ms,
                                 self.shrinkage)
        known = f.mean_log_ms + f.loadings @ placement
        if self.neighbours > 0 and len(self.neighbour_residuals_) \
                and set(usable) == set(self.signature_):  # placed as the neighbours were
            shape = _measured_vector(usable, self.signature_)
            distance = np.linalg.norm(self.neighbour_shapes_ - (shape - shape.mean()), axis=1)
            nearest = np.argsort(distance, kind="stable")[:self.neighbours]
            known = known + self.neighbour_residuals_[nearest].mean(0)
        measured_amounts = cost_amounts(self.features_[where])
        own_weight = self._own_cost_weight(where, log_ms, measured_amounts) \
            if self.own_cost_gate > 0 else 0.0
        if own_weight > 0:
            per_unit = fit_cost_per_unit(measured_amounts, np.exp(log_ms))
            amounts = cost_amounts(self.features_)
            own_log_ms = np.log(np.maximum(amounts @ per_unit, FLOOR_MS))
            # a network with more of an op than twice what any measured network has (or
            # an op none has): the device's own cost sum would extrapolate
            beyond = (amounts > OWN_COST_REACH * measured_amounts.max(0)).any(1)
            weight = np.where(beyond, 0.0, own_weight)
            known = (1.0 - weight) * known + weight * own_log_ms
        cost_sum = None
        if self.cost_sum_weight > 0:
            row_ms = np.exp(known)
            row_ms[where] = np.exp(log_ms)
            if pruned:  # a cell with dead edges takes its twin's time: not its layers' sum
                row_ms[self.twin_ != np.arange(len(row_ms))] = np.nan
            cost_sum = cost_sum_term(self.anchor_space_, self.features_, row_ms,
                                     self.cost_sum_weight)
        if cost_sum is not None and self.seen_cost_weight > 0:
            known = (1.0 - self.seen_cost_weight) * known \
                + self.seen_cost_weight * cost_sum.log_ms(self.features_)
        if pruned:
            known = known[self.twin_]
        tree_weight = 1.0 - (cost_sum.weight if cost_sum is not None else 0.0)
        terms = (TreeTerm(self.boosters_[0], tree_weight),) + tuple(
            TreeTerm(b, tree_weight * float(w)) for b, w in zip(self.boosters_[1:], placement[1:]))
        info = {"placement": placement.tolist(), "own_cost_weight": own_weight,
                "dead_compute": "pruned" if pruned else "runs"}
        exportable = ExportableModel(FEATURE_SET, FEATURE_NAMES, tree_weight * float(placement[0]),
                                     terms, cost_sum=cost_sum,
                                     metadata={"model": "lowrank", "mode": self.mode, **info})
        return DeviceModel(exportable, dict(zip(self.network_names_, known.tolist())), info)

    def _own_cost_weight(self, where: np.ndarray, log_ms: np.ndarray,
                         amounts: np.ndarray) -> float:
        """The weight of the device's own cost sum on seen networks (learn/layercost.py
        own_cost_weight) from leave-one-out residuals on the networks it measured (at
        positions ``where``)."""
        if len(where) < OWN_COST_MIN_MEASURED:  # each leave-one-out fit would be noise
            return 0.0
        placed = measurement_residuals(self.factors_, self.factors_.loadings[where],
                                       self.factors_.mean_log_ms[where], log_ms, self.shrinkage)
        own = cost_sum_residuals(amounts, np.exp(log_ms))
        return own_cost_weight(placed, own, self.own_cost_gate)


class HybridCostModel(_Base):
    """The geometric mean of the low-rank and the collaborative XGBoost models (their
    errors differ, so the average beats both in the benchmark)."""

    def __init__(self, mode: str = "collaborative", seed: int = 0, n_estimators: int = 300,
                 rank: int = 3, weight_lowrank: float = 0.5) -> None:
        super().__init__(mode, seed, n_estimators)
        self.lowrank = LowRankCostModel(mode, seed, n_estimators, rank)
        self.xgb = XGBCostModel(mode, seed, n_estimators)
        self.weight_lowrank = weight_lowrank

    def fit(self, data: LatencyData, signature: Sequence[str] = (),
            device_weights: np.ndarray | None = None) -> "HybridCostModel":
        self._remember(data, signature)
        self.lowrank.fit(data, signature, device_weights)
        self.xgb.fit(data, signature, device_weights)
        return self

    def adapt(self, measured: Mapping[str, float], device: Device | None = None) -> DeviceModel:
        """Both models adapted to the device, mixed with weights summing to 1."""
        w = self.weight_lowrank
        low, tree = self.lowrank.adapt(measured), self.xgb.adapt(measured)
        le, te = low.exportable, tree.exportable
        terms = tuple(TreeTerm(t.booster, w * t.weight, t.device_vector) for t in le.trees) \
            + tuple(TreeTerm(t.booster, (1 - w) * t.weight, t.device_vector) for t in te.trees)
        tree_known = te.predict_log_ms(self.features_)
        known = {n: w * low.known_log_ms[n] + (1 - w) * float(v)
                 for n, v in zip(self.network_names_, tree_known)}
        own = w * float(low.info.get("own_cost_weight", 0.0))  # its share of the mean
        cost_sum = None if le.cost_sum is None else replace(le.cost_sum,
                                                            weight=w * le.cost_sum.weight)
        exportable = ExportableModel(FEATURE_SET, FEATURE_NAMES,
                                     w * le.bias_log_ms + (1 - w) * te.bias_log_ms, terms,
                                     cost_sum=cost_sum,
                                     metadata={**dict(le.metadata), "model": "hybrid",
                                               "weight_lowrank": w, "own_cost_weight": own,
                                               "booster_inputs": te.metadata["booster_inputs"]})
        return DeviceModel(exportable, known, {**dict(low.info), "own_cost_weight": own})

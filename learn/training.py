"""Training one cost model end to end: drift screening, signature selection, fitting.

This is the one function `dnncost train` and the evaluation both call, so what is
evaluated is exactly what users train.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from dnncost.errors import ModelError
from dnncost.learn.dataset import LatencyData
from dnncost.learn.lowrank import Factors, drift_scores, fit_factors, gross_outliers
from dnncost.learn.models import MODES, XGBCostModel
from dnncost.learn.placement import HybridCostModel, LowRankCostModel
from dnncost.learn.pruning import (SIGNATURE_TELLING, pruning_devices, read_as_twins,
                                    telling_cells, twins)
from dnncost.learn.signature import select_signature

MODELS = ("xgb", "lstm", "lowrank", "hybrid")
DRIFT_THRESHOLD_LOG = 0.25  # rolling-median residual range (log ms) that flags a device


def default_model(mode: str) -> str:
    """The model a mode trains unless told: lowrank for collaborative (the most accurate,
    README "Your own population"), xgb otherwise."""
    return "lowrank" if mode == "collaborative" else "xgb"


@dataclass
class TrainOptions:
    """What to train: ``mode``, ``model``, ``sampling`` method and signature size ``k``."""

    mode: str = "collaborative"
    model: str = default_model("collaborative")
    sampling: str = "d_optimal"
    k: int = 10
    seed: int = 0
    keep_drifting: bool = False
    drift_threshold_log: float = DRIFT_THRESHOLD_LOG
    drift_weight: float = 0.3  # weight of a flagged device (0 leaves it out)
    n_estimators: int = 300
    lstm_epochs: int = 200
    rank: int = 4


@dataclass
class Trained:
    """A fitted estimator with its signature and what training found about the data."""

    estimator: Any
    options: TrainOptions
    signature: list[str]
    device_ids: list[str]
    drift: dict[str, float] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)
    factors: Factors | None = None
    network_names: list[str] = field(default_factory=list)
    signature_ms: dict[str, list[float]] = field(default_factory=dict)
    ignored: list[tuple[str, str, float]] = field(default_factory=list)  # device, network, ms
    pruning: list[str] = field(default_factory=list)  # devices read as pruning dead compute


def make_estimator(options: TrainOptions) -> Any:
    """A fresh, unfitted estimator for ``options.model`` in ``options.mode``."""
    if options.mode not in MODES:
        raise ModelError(f"unknown mode {options.mode!r}: use one of {', '.join(MODES)}")
    if options.model == "xgb":
        return XGBCostModel(options.mode, options.seed, options.n_estimators)
    if options.model == "lowrank":
        return LowRankCostModel(options.mode, options.seed, options.n_estimators,
                                rank=options.rank)
    if options.model == "hybrid":
        return HybridCostModel(options.mode, options.seed, options.n_estimators,
                               rank=options.rank)
    if options.model == "lstm":
        from dnncost.learn.lstm import LSTMCostModel

        return LSTMCostModel(options.mode, options.seed, epochs=options.lstm_epochs)
    raise ModelError(f"unknown model {options.model!r}: use one of {', '.join(MODELS)}")


def train(data: LatencyData, options: TrainOptions) -> Trained:
    """Read a pruning device's cells with dead edges as their twins' (learn/pruning.py),
    leave out gross outliers, screen training devices for drift, choose the signature
    from training devices only, and fit the estimator (drifting devices get
    ``drift_weight`` unless kept)."""
    if len(data.device_ids) < 2 or len(data.network_ids) < 2:
        raise ModelError(f"training needs at least 2 devices and 2 networks, the store has "
                         f"{len(data.device_ids)} x {len(data.network_ids)}: import more data")
    measured_ms = data.latency_ms
    twin = twins(data.network_names)
    prunes = pruning_devices(data.log_ms, twin)
    if prunes.any():  # their cells with dead edges measured the pruned twins again
        data = replace(data, latency_ms=read_as_twins(measured_ms, twin, prunes))
    off = gross_outliers(data.log_ms, options.rank)
    ignored = [(data.device_ids[d], data.network_names[n], float(data.latency_ms[d, n]))
               for d, n in zip(*np.nonzero(off))]
    if ignored:
        data = replace(data, latency_ms=np.where(off, np.nan, data.latency_ms))
    weights = np.ones(len(data.device_ids))
    drift: dict[str, float] = {}
    flagged: list[str] = []
    if len(data.device_ids) >= 4:
        scores = drift_scores(data.log_ms, data.measure_order, options.rank)
        drift = dict(zip(data.device_ids, np.round(scores, 4).tolist()))
        flagged = [d for d, s in drift.items() if s > options.drift_threshold_log]
        if not options.keep_drifting and len(flagged) < len(data.device_ids) - 1:
            weights = np.asarray([options.drift_weight if d in flagged else 1.0
                                  for d in data.device_ids])
    signature: list[str] = []
    if options.mode == "collaborative":
        usable = weights > 0
        positions = select_signature(options.sampling, data.log_ms[usable], options.k,
                                     options.seed, telling_cells(data.log_ms[usable], twin),
                                     SIGNATURE_TELLING)
        signature = [data.network_names[i] for i in positions]
    estimator = make_estimator(options).fit(data, signature, weights)
    sig_pos = data.network_index(signature)
    return Trained(estimator, options, signature, list(data.device_ids), drift, flagged,
                   fit_factors(data.log_ms, options.rank, weights), list(data.network_names),
                   {d: measured_ms[i, sig_pos].tolist()
                    for i, d in enumerate(data.device_ids)}, ignored,
                   [d for d, p in zip(data.device_ids, prunes) if p])

"""Leave-devices-out evaluation, two network regimes.

Test devices are held out by group: all devices of one phone model (or hardware) stay
together in 5 folds (``group_by="model"``), or each device type in turn is the test set
and the others train (``"device-type"``: GPU / CPU / phone / other, leave-one-type-out).

* ``seen``: the paper's protocol. Models train on every network; a test device measures
  its signature and the model predicts its other networks.
* ``unseen``: 30% of networks (seeded, per fold) are held out of training entirely, the
  signature comes from the training networks, and the model predicts the held-out ones.

Metrics pool every (test device, predicted network) pair, except Spearman and Kendall,
which are per test device (ranking networks on one phone) and then averaged; Spearman
also over each test device's 10-90 % latency band (HELP's protocol, ``spearman_band``).
R^2 is on latency in ms, as in the paper.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterator

import numpy as np
from scipy.stats import kendalltau, spearmanr

from dnncost.encoding import compute_macs
from dnncost.learn.adaptation import adapt_estimator
from dnncost.errors import ModelError
from dnncost.learn.dataset import LatencyData, device_type
from dnncost.learn.training import TrainOptions, train

REGIMES = ("seen", "unseen")
GROUPINGS = ("model", "device-type")
UNSEEN_SHARE = 0.3


def metrics(true_ms: np.ndarray, pred_ms: np.ndarray, device: np.ndarray
            ) -> dict[str, float | None]:
    """R^2 (ms), mean per-device Spearman and Kendall, MAPE, RMSPE, share within 5/10%."""
    true_ms, pred_ms = np.asarray(true_ms, float), np.asarray(pred_ms, float)
    rel = (pred_ms - true_ms) / true_ms
    ss_res = float(((true_ms - pred_ms) ** 2).sum())
    ss_tot = float(((true_ms - true_ms.mean()) ** 2).sum())
    spear, kend, band = [], [], []
    for d in np.unique(device):
        mask = device == d
        if mask.sum() >= 3:
            spear.append(spearmanr(true_ms[mask], pred_ms[mask]).correlation)
            kend.append(kendalltau(true_ms[mask], pred_ms[mask]).correlation)
            low, high = np.percentile(true_ms[mask], (10, 90))
            inside = mask & (true_ms >= low) & (true_ms <= high)
            if inside.sum() >= 3:
                band.append(spearmanr(true_ms[inside], pred_ms[inside]).correlation)
    return {"r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
            "spearman": float(np.nanmean(spear)) if spear else float("nan"),
            "spearman_band": float(np.nanmean(band)) if band else None,  # too few networks
            "kendall": float(np.nanmean(kend)) if kend else float("nan"),
            "mape": float(np.mean(np.abs(rel)) * 100),
            "rmspe": float(np.sqrt(np.mean(rel ** 2)) * 100),
            "within5": float(np.mean(np.abs(rel) <= 0.05) * 100),
            "within10": float(np.mean(np.abs(rel) <= 0.10) * 100),
            "pairs": int(len(true_ms))}


def group_folds(groups: tuple[str, ...], n_folds: int, seed: int) -> list[np.ndarray]:
    """Test-device positions of each fold; all devices of one phone model stay together
    (fewer folds when there are fewer phone models than ``n_folds``)."""
    names = sorted(set(groups))
    if len(names) < 2:
        raise ModelError(f"leave-devices-out needs devices of two phone models (hardware) at "
                         f"least; these are all {names[0] if names else 'absent'}: measure "
                         "another phone")
    n_folds = min(n_folds, len(names))
    rng = np.random.default_rng(seed)
    rng.shuffle(names)
    fold_of = {name: i % n_folds for i, name in enumerate(names)}
    return [np.flatnonzero([fold_of[g] == f for g in groups]) for f in range(n_folds)]


def type_folds(data: LatencyData) -> list[np.ndarray]:
    """Test-device positions of each fold: one device type per fold (needs two types)."""
    types = [device_type(d) for d in data.devices]
    present = sorted(set(types))
    if len(present) < 2:
        raise ModelError(f"leave-one-type-out needs devices of two types; these are all "
                         f"{present[0] if present else 'absent'}s: use --group-by model")
    return [np.flatnonzero([t == kind for t in types]) for kind in present]


def splits(data: LatencyData, regime: str, n_folds: int, seed: int, group_by: str = "model"
           ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(train devices, test devices, train networks, test networks) per fold."""
    if group_by not in GROUPINGS:
        raise ModelError(f"unknown grouping {group_by!r}: use one of {', '.join(GROUPINGS)}")
    rng = np.random.default_rng(seed + 1)
    all_networks = np.arange(len(data.network_ids))
    folds = type_folds(data) if group_by == "device-type" \
        else group_folds(data.device_groups, n_folds, seed)
    for test_d in folds:
        train_d = np.setdiff1d(np.arange(len(data.device_ids)), test_d)
        if regime == "seen":
            yield train_d, test_d, all_networks, all_networks
        else:
            held = np.sort(rng.choice(all_networks, int(round(UNSEEN_SHARE * len(all_networks))),
                                      replace=False))
            yield train_d, test_d, np.setdiff1d(all_networks, held), held


def predict_fold(data: LatencyData, options: TrainOptions, train_d: np.ndarray,
                 test_d: np.ndarray, train_n: np.ndarray,
                 test_n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Train on the fold and predict its test devices: (true ms, predicted ms, device)."""
    trained = train(data.select(train_d, train_n), options)
    estimator, signature = trained.estimator, trained.signature
    names = [data.network_names[i] for i in test_n if data.network_names[i] not in signature]
    where = data.network_index(names)
    layers = data.layers.select(where)
    true, pred, device = [], [], []
    for d in test_d:
        row = data.latency_ms[d]
        if options.mode == "individual":
            measured = {data.network_names[i]: row[i] for i in train_n if np.isfinite(row[i])}
        else:
            measured = {n: row[data.network_names.index(n)] for n in signature}
        model, _ = adapt_estimator(estimator, options.model, options.mode, measured,
                                   data.devices[d])
        ok = np.isfinite(row[where])
        true.append(row[where][ok])
        pred.append(model.predict_ms(layers.select(np.flatnonzero(ok)),
                                     [n for n, o in zip(names, ok) if o]))
        device.append(np.full(int(ok.sum()), d))
    return np.concatenate(true), np.concatenate(pred), np.concatenate(device), signature


def evaluate(data: LatencyData, options: TrainOptions, regime: str, n_folds: int = 5,
             seed: int = 0, group_by: str = "model") -> dict[str, Any]:
    """Cross-validated metrics of one configuration in one regime (plus its predictions);
    with ``group_by="device-type"`` also per held-out type (``by_type``)."""
    if options.mode == "individual" and regime == "seen":
        raise ModelError("individual mode fits each test device on the networks it would be "
                         "scored on: evaluate it in the unseen regime")
    true, pred, device = [], [], []
    for train_d, test_d, train_n, test_n in splits(data, regime, n_folds, seed, group_by):
        t, p, d, _ = predict_fold(data, replace(options), train_d, test_d, train_n, test_n)
        true.append(t), pred.append(p), device.append(d)
    return _result(data, regime, options.mode, options.model,
                   options.sampling if options.mode == "collaborative" else "-",
                   options.k if options.mode == "collaborative" else 0,
                   np.concatenate(true), np.concatenate(pred), np.concatenate(device), group_by)


def _result(data: LatencyData, regime: str, mode: str, model: str, sampling: str, k: int,
            t: np.ndarray, p: np.ndarray, d: np.ndarray, group_by: str) -> dict[str, Any]:
    result = {"regime": regime, "mode": mode, "model": model, "sampling": sampling, "k": k,
              "group_by": group_by, "metrics": metrics(t, p, d), "true_ms": t, "pred_ms": p}
    if group_by == "device-type":
        types = np.asarray([device_type(data.devices[i]) for i in d])
        result["by_type"] = {kind: metrics(t[types == kind], p[types == kind],
                                           d[types == kind]) for kind in sorted(set(types))}
    return result


def macs_baseline(data: LatencyData, regime: str, n_folds: int = 5,
                  seed: int = 0, group_by: str = "model") -> dict[str, Any]:
    """MACs-only baseline: per test device, log ms = a + b * log MACs fitted on 10 random
    training networks the device measured (as many measurements as a k=10 signature)."""
    rng = np.random.default_rng(seed)
    macs = np.log(np.maximum(compute_macs(data.layers), 1))
    true, pred, device = [], [], []
    for _, test_d, train_n, test_n in splits(data, regime, n_folds, seed, group_by):
        for d in test_d:
            fit_n = rng.choice(train_n, 10, replace=False)
            eval_n = np.setdiff1d(test_n, fit_n)
            b, a = np.polyfit(macs[fit_n], data.log_ms[d, fit_n], 1)
            true.append(data.latency_ms[d, eval_n])
            pred.append(np.exp(a + b * macs[eval_n]))
            device.append(np.full(len(eval_n), d))
    return _result(data, regime, "baseline", "macs", "random", 10, np.concatenate(true),
                   np.concatenate(pred), np.concatenate(device), group_by)

"""The low-rank structure of log latencies across devices, and what it is used for.

A device's log latencies are close to ``mu[n] + G[n] @ c_d`` where ``mu`` is the mean
log latency of each network over training devices, ``G = [1, V]`` holds each network's
``rank`` leading factors (SVD of the centred training matrix) and ``c_d`` places device
``d``. A new device is placed from a few measured networks by Bayesian ridge regression
towards the training devices' placements (robust to a bad measurement by Huber
reweighting); devices that drift during their own sweep are found by their residual
against the other devices' structure, in the order they were measured, and single
measurements far off it are found the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnncost.errors import ModelError

# A measurement three times off what the other devices' structure predicts for its
# device, on a device where at most 5 % are, is ignored in training (learn/training.py;
# the store keeps it).
GROSS_RATIO = 3.0
GROSS_MAX_SHARE = 0.05
GROSS_EXTREME_RATIO = 30.0  # ignored on any device: no kind of device is that far off
GROSS_MIN_DEVICES = 6


@dataclass(frozen=True)
class Factors:
    """Network factors learned from training devices (log ms)."""

    mean_log_ms: np.ndarray  # [N]
    loadings: np.ndarray  # [N, rank + 1]; column 0 is all ones (device offset)
    prior_mean: np.ndarray  # [rank + 1] mean placement of training devices
    prior_cov: np.ndarray  # [rank + 1, rank + 1]
    noise_var: float  # residual variance of the training fit (log ms squared)


def fill_missing(log_ms: np.ndarray, rank: int = 2, iterations: int = 10) -> np.ndarray:
    """Fill NaNs of a log-latency matrix by iterated low-rank reconstruction."""
    missing = np.isnan(log_ms)
    if not missing.any():
        return log_ms
    filled = np.where(missing, np.nanmean(log_ms, axis=0, keepdims=True), log_ms)
    filled = np.where(np.isnan(filled), np.nanmean(log_ms), filled)
    for _ in range(iterations):
        mean = filled.mean(0)
        u, s, vt = np.linalg.svd(filled - mean, full_matrices=False)
        approx = mean + (u[:, :rank] * s[:rank]) @ vt[:rank]
        filled = np.where(missing, approx, log_ms)
    return filled


def fit_factors(log_ms: np.ndarray, rank: int = 3,
                weights: np.ndarray | None = None) -> Factors:
    """Learn network factors from a training matrix ``[devices, networks]`` of log ms;
    ``weights`` (per device, >= 0) down-weight noisy or drifting devices."""
    if log_ms.shape[0] < 2 or log_ms.shape[1] < 2:
        raise ModelError(f"need at least 2 devices and 2 networks to learn factors, got "
                         f"{log_ms.shape}: add measurements to the store")
    y = fill_missing(log_ms)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    mean = w @ y
    centred = y - mean
    centred = centred - centred.mean(1, keepdims=True)
    rank = max(0, min(rank, min(y.shape) - 2))
    _, _, vt = np.linalg.svd(np.sqrt(w)[:, None] * centred, full_matrices=False)
    loadings = np.column_stack([np.ones(y.shape[1]), vt[:rank].T])
    coef, *_ = np.linalg.lstsq(loadings, (y - mean).T, rcond=None)
    placements = coef.T
    residual = (y - mean) - placements @ loadings.T
    prior_mean = w @ placements
    diff = placements - prior_mean
    # A prior estimated from few devices must not be sure of itself: with two devices
    # whose speeds happen to be close it would pin every new device to their level.
    prior_cov = (diff * w[:, None]).T @ diff + np.eye(rank + 1) / len(y)
    noise_var = float(max(w @ (residual ** 2).mean(1), 1e-6))
    return Factors(mean, loadings, prior_mean, prior_cov, noise_var)


def place_device(factors: Factors, loadings: np.ndarray, mean_log_ms: np.ndarray,
                 log_ms: np.ndarray, shrinkage: float = 1.0, iterations: int = 5) -> np.ndarray:
    """Placement ``c`` of a device from its log latencies on some networks (whose rows of
    ``loadings`` / ``mean_log_ms`` are given): the posterior mean under the training
    devices' prior, with Huber reweighting so one bad measurement cannot dominate."""
    precision = np.linalg.inv(factors.prior_cov) * shrinkage
    target = np.asarray(log_ms, float) - mean_log_ms
    weights = np.ones(len(target))
    sigma = np.sqrt(factors.noise_var)
    placement = factors.prior_mean
    for _ in range(iterations):
        a = (loadings * weights[:, None]).T @ loadings / factors.noise_var + precision
        b = (loadings * weights[:, None]).T @ target / factors.noise_var \
            + precision @ factors.prior_mean
        placement = np.linalg.solve(a, b)
        resid = np.abs(target - loadings @ placement)
        weights = np.minimum(1.0, 2.0 * sigma / np.maximum(resid, 1e-12))
    return placement


def signature_residuals(factors: Factors, log_ms: np.ndarray, signature: np.ndarray,
                        shrinkage: float = 1.0) -> np.ndarray:
    """Per training device ``[devices, networks]``: its log latencies minus what placing
    it from its signature networks alone predicts (what the structure misses)."""
    y = fill_missing(log_ms)
    sig = np.asarray(signature, int)
    placements = [place_device(factors, factors.loadings[sig], factors.mean_log_ms[sig],
                               row[sig], shrinkage) for row in y]
    return y - factors.mean_log_ms - np.asarray(placements) @ factors.loadings.T


def measurement_residuals(factors: Factors, loadings: np.ndarray, mean_log_ms: np.ndarray,
                          log_ms: np.ndarray, shrinkage: float = 1.0) -> np.ndarray:
    """Each measurement's log residual against the device placed from its *other*
    measurements (leave one out): a large one is a measurement the others do not explain
    (a background task, throttling during that run)."""
    log_ms = np.asarray(log_ms, float)
    residuals = np.empty(len(log_ms))
    for i in range(len(log_ms)):
        others = np.arange(len(log_ms)) != i
        placement = place_device(factors, loadings[others], mean_log_ms[others], log_ms[others],
                                 shrinkage)
        residuals[i] = log_ms[i] - mean_log_ms[i] - loadings[i] @ placement
    return residuals


def fit_score(factors: Factors, loadings: np.ndarray, mean_log_ms: np.ndarray,
              log_ms: np.ndarray) -> dict[str, float]:
    """How well a device's measurements fit the training structure: the RMS residual
    (log ms) after placing it, and how far its placement lies from the training devices
    (Mahalanobis distance; above ~3 means unlike every training device)."""
    placement = place_device(factors, loadings, mean_log_ms, log_ms)
    resid = np.asarray(log_ms) - mean_log_ms - loadings @ placement
    diff = placement - factors.prior_mean
    distance = float(np.sqrt(diff @ np.linalg.solve(factors.prior_cov, diff)))
    return {"rms_residual_log": float(np.sqrt(np.mean(resid ** 2))),
            "train_rms_residual_log": float(np.sqrt(factors.noise_var)),
            "mahalanobis": distance}


def drift_scores(log_ms: np.ndarray, order: np.ndarray, rank: int = 3,
                 window: int = 15) -> np.ndarray:
    """Per device: the range (log ms) of the rolling median of its residual against the
    low-rank fit of the *other* devices, with networks in the order the device measured
    them (``order[d, n]``: position of network n in device d's sweep; a 1-d order is
    shared by all devices; a device with no known order scores 0). A device whose
    residual moves with the order drifted."""
    y = fill_missing(log_ms)
    order = np.broadcast_to(np.asarray(order, float), y.shape)
    scores = np.zeros(len(y))
    for d in range(len(y)):
        if not np.isfinite(order[d]).any():  # no known sweep order: nothing to follow
            continue
        ranked = np.argsort(order[d], kind="stable")
        others = np.delete(np.arange(len(y)), d)
        factors = fit_factors(y[others], rank)
        coef, *_ = np.linalg.lstsq(factors.loadings, y[d] - factors.mean_log_ms, rcond=None)
        resid = (y[d] - factors.mean_log_ms - factors.loadings @ coef)[ranked]
        half = window // 2
        rolling = [np.median(resid[max(0, i - half):i + half + 1]) for i in range(len(resid))]
        scores[d] = float(np.ptp(rolling))
    return scores


def gross_outliers(log_ms: np.ndarray, rank: int = 3, ratio: float = GROSS_RATIO,
                   max_share: float = GROSS_MAX_SHARE) -> np.ndarray:
    """Measurements ``[devices, networks]`` more than ``ratio`` times off what the *other*
    devices' structure predicts for their device (placed robustly: Huber reweighting on
    a median-absolute-deviation scale): a failed timer, a run that hung, a wrong unit
    (HELP's pixel3 table holds 627, 128 of them near 0.003 ms). A device with more than
    ``max_share`` of its measurements that far off differs in kind and keeps them, except
    any ``GROSS_EXTREME_RATIO`` times off. Two passes: what the first flags is left out
    of the others' structure in the second. Fewer than ``GROSS_MIN_DEVICES`` devices
    (or ``rank + 3``) give no structure to judge by: nothing is flagged."""
    flagged = np.zeros(np.shape(log_ms), bool)
    if len(log_ms) < max(GROSS_MIN_DEVICES, rank + 3):
        return flagged
    for _ in range(2):
        y = fill_missing(np.where(flagged, np.nan, log_ms))
        flagged = np.stack([_far_off(log_ms[d], np.delete(y, d, axis=0), rank, ratio,
                                     max_share) for d in range(len(y))])
    return flagged


def _far_off(log_ms: np.ndarray, others: np.ndarray, rank: int, ratio: float,
             max_share: float) -> np.ndarray:
    """One device's measurements far off the structure of ``others`` (gross_outliers)."""
    observed = np.isfinite(log_ms)
    factors = fit_factors(others, rank)
    loadings = factors.loadings[observed]
    out = np.zeros(len(log_ms), bool)
    if observed.sum() <= loadings.shape[1] + 2:  # too few to place it robustly
        return out
    target = log_ms[observed] - factors.mean_log_ms[observed]
    weights = np.ones(len(target))
    for _ in range(10):
        root = np.sqrt(weights)
        coef = np.linalg.lstsq(loadings * root[:, None], target * root, rcond=None)[0]
        resid = target - loadings @ coef
        scale = max(1.4826 * float(np.median(np.abs(resid))), 1e-3)
        weights = np.minimum(1.0, 1.5 * scale / np.maximum(np.abs(resid), 1e-12))
    off = np.abs(resid) > np.log(ratio)
    if off.sum() > max(1.0, max_share * len(off)):  # a device of another kind
        off = np.abs(resid) > np.log(GROSS_EXTREME_RATIO)
    out[np.flatnonzero(observed)[off]] = True
    return out

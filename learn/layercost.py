"""The additive layer-cost model of one device, for networks it was not trained on.

A network's latency is close to a non-negative sum over op classes of the device's cost
per layer, per MAC and per byte moved (the amounts ``features.cost_amounts`` reads back
from agg-v2 rows). What that sum misses on the device's training networks is carried to
a new network by a kernel average over the training networks most like it in feature
space. Both parts are fitted here and exported as one :class:`CostSumTerm`. The same sum
fitted to a device's signature alone can stand beside its low-rank placement on seen
networks when the placement explains the signature poorly (:func:`own_cost_weight`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnncost.learn.exportable import FLOOR_MS, AnchorSmoother, CostSumTerm
from dnncost.learn.features import cost_amounts

BANDWIDTH_SCALE = 0.5  # times the median squared distance to the 5th nearest network
NEAREST = 5
# A device's own cost sum enters its seen-network predictions only where its blend brings
# the mean square leave-one-out error to at most 0.7 of the placement's: a device type no
# training device shares, e.g. a GPU among CPUs and phones; on IISWC phones it stays
# almost off. At 0.5, GPUs held out by type on all 15,625 NAS-Bench-201 networks mostly
# kept their placement: band Spearman 0.916 -> 0.939 at 0.7 (at 1.0, any gain: 0.946, but
# IISWC seen 89.5 -> 88.9 % within 10 %); by hardware and on IISWC the same within 0.001
# and 0.1 points.
OWN_COST_GATE = 0.7
OWN_COST_MIN_MEASURED = 6
OWN_COST_REACH = 2.0  # times the most of each amount a measured network has


@dataclass(frozen=True)
class AnchorSpace:
    """Training networks' standardised features and the kernel bandwidth over them."""

    centre: np.ndarray
    scale: np.ndarray
    anchors: np.ndarray
    bandwidth: float


def nnls(a: np.ndarray, b: np.ndarray, max_iterations: int = 500) -> np.ndarray:
    """``argmin ||a x - b||`` over ``x >= 0`` (Lawson and Hanson's active set method,
    each step a least-squares solve on the free columns). In numpy so that `adapt` need
    not import scipy.optimize (0.5-0.9 s); a test checks it against scipy's. Columns are
    scaled to unit norm inside, so one tolerance serves every column."""
    norms = np.linalg.norm(a, axis=0)
    norms = np.where(norms > 0, norms, 1.0)
    a = a / norms
    n = a.shape[1]
    x, free = np.zeros(n), np.zeros(n, bool)
    gradient = a.T @ (b - a @ x)
    tolerance = 10 * np.finfo(float).eps * np.abs(a).sum(0).max() * max(a.shape)
    iterations = 0
    while (~free).any() and gradient[~free].max() > tolerance and iterations < max_iterations:
        free[np.flatnonzero(~free)[np.argmax(gradient[~free])]] = True
        while iterations < max_iterations:
            iterations += 1
            step = np.zeros(n)
            step[free] = np.linalg.lstsq(a[:, free], b, rcond=None)[0]
            if step[free].min() > 0:
                x = step
                break
            blocked = free & (step <= 0)
            gap = x[blocked] - step[blocked]  # > 0 unless both are 0: then no move
            alpha = np.min(np.divide(x[blocked], gap, out=np.zeros_like(gap), where=gap > 0))
            x = x + alpha * (step - x)
            free &= x > tolerance
            x[~free] = 0.0
            if not free.any():
                break
        gradient = a.T @ (b - a @ x)
    return x / norms


def fit_cost_per_unit(amounts: np.ndarray, latency_ms: np.ndarray) -> np.ndarray:
    """Non-negative ms per unit of each amount column that best explains the latencies
    (least squares on relative error, rows with a finite positive latency only); all-zero
    columns get 0."""
    latency_ms = np.asarray(latency_ms, np.float64)
    rows = np.isfinite(latency_ms) & (latency_ms > 0)
    amounts = np.asarray(amounts, np.float64)[rows]
    scale = amounts.max(0) if len(amounts) else np.zeros(amounts.shape[1])
    used = scale > 0
    out = np.zeros(amounts.shape[1])
    if not used.any():
        return out
    scaled = amounts[:, used] / scale[used] / latency_ms[rows][:, None]
    coef = nnls(scaled, np.ones(len(scaled)), max_iterations=50 * scaled.shape[1])
    out[used] = coef / scale[used]
    return out


def cost_sum_residuals(amounts: np.ndarray, latency_ms: np.ndarray) -> np.ndarray:
    """Each measurement's log residual against the cost sum fitted to the *other*
    measurements (leave one out; ``amounts`` and ``latency_ms`` of the same networks,
    latencies finite and positive)."""
    amounts, latency_ms = np.asarray(amounts, np.float64), np.asarray(latency_ms, np.float64)
    residuals = np.empty(len(latency_ms))
    for i in range(len(latency_ms)):
        others = np.arange(len(latency_ms)) != i
        per_unit = fit_cost_per_unit(amounts[others], latency_ms[others])
        residuals[i] = np.log(latency_ms[i]) - np.log(max(amounts[i] @ per_unit, FLOOR_MS))
    return residuals


def own_cost_weight(placed_residuals: np.ndarray, cost_sum_residuals: np.ndarray,
                    gate: float = OWN_COST_GATE, steps: int = 11) -> float:
    """The weight in [0, 1] of a device's own cost sum (fitted to its measurements) beside
    its low-rank placement, from the leave-one-out log residuals of both on the same
    networks: the blend with the least mean square, when that is at most ``gate`` times
    the placement's own; else 0 (the training devices' structure explains the device)."""
    placed = np.asarray(placed_residuals, np.float64)
    own = np.asarray(cost_sum_residuals, np.float64)
    weights = np.linspace(0.0, 1.0, steps)
    errors = np.array([np.mean(((1 - w) * placed + w * own) ** 2) for w in weights])
    best = int(np.argmin(errors))
    return float(weights[best]) if errors[best] <= gate * errors[0] else 0.0


def _kth_nearest_squared(points: np.ndarray, k: int, block: int = 1024) -> np.ndarray:
    """Per point, the squared distance to its k-th nearest other point (memory: one
    ``block x len(points)`` slab at a time)."""
    norms = (points ** 2).sum(1)
    out = np.empty(len(points))
    for start in range(0, len(points), block):
        part = points[start:start + block]
        squared = (part ** 2).sum(1)[:, None] - 2.0 * part @ points.T + norms[None, :]
        squared[np.arange(len(part)), np.arange(start, start + len(part))] = np.inf
        out[start:start + len(part)] = np.partition(squared, k - 1, axis=1)[:, k - 1]
    return np.maximum(out, 0.0)


def anchor_space(features: np.ndarray) -> AnchorSpace:
    """The training networks (rows of ``features``) as kernel anchors: standardised per
    column (constant columns keep scale 1), bandwidth from their own spacing."""
    x = np.asarray(features, np.float64)
    centre = x.mean(0)
    scale = x.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    anchors = (x - centre) / scale
    nearest = min(NEAREST, len(x) - 1)
    spacing = float(np.median(_kth_nearest_squared(anchors, nearest))) if nearest >= 1 else 1.0
    bandwidth = BANDWIDTH_SCALE * spacing if np.isfinite(spacing) and spacing > 0 else 1.0
    return AnchorSpace(centre, scale, anchors, bandwidth)


def cost_sum_term(space: AnchorSpace, features: np.ndarray, latency_ms: np.ndarray,
                  weight: float) -> CostSumTerm | None:
    """The device's layer-cost term from its latencies on the training networks
    (``features``, the rows ``space`` was built from; NaN where unknown), corrected by
    their residuals; None when no amount is ever non-zero (nothing to fit)."""
    amounts = cost_amounts(features)
    per_unit = fit_cost_per_unit(amounts, latency_ms)
    if not per_unit.any():
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        residual_log_ms = np.log(latency_ms) - np.log(np.maximum(amounts @ per_unit, FLOOR_MS))
    residual_log_ms = np.where(np.isfinite(residual_log_ms), residual_log_ms, 0.0)
    smoother = AnchorSmoother(space.centre, space.scale, space.anchors, space.bandwidth,
                              residual_log_ms)
    return CostSumTerm(per_unit, weight, smoother=smoother)

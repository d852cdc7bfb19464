"""The additive layer-cost model of one device, for networks it was not trained on.

A network's latency is close to a non-negative sum over op classes of the device's cost
per layer, per MAC and per byte moved (the amounts ``features.cost_amounts`` reads back
from agg-v1 rows). What that sum misses on the device's training networks is carried to
a new network by a kernel average over the training networks most like it in feature
space. Both parts are fitted here and exported as one :class:`CostSumTerm`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dnncost.learn.exportable import FLOOR_MS, AnchorSmoother, CostSumTerm
from dnncost.learn.features import cost_amounts

BANDWIDTH_SCALE = 0.5  # times the median squared distance to the 5th nearest network
NEAREST = 5


@dataclass(frozen=True)
class AnchorSpace:
    """Training networks' standardised features and the kernel bandwidth over them."""

    centre: np.ndarray
    scale: np.ndarray
    anchors: np.ndarray
    bandwidth: float


def fit_cost_per_unit(amounts: np.ndarray, latency_ms: np.ndarray) -> np.ndarray:
    """Non-negative ms per unit of each amount column that best explains the latencies
    (least squares on relative error); all-zero columns get 0."""
    from scipy.optimize import nnls

    amounts = np.asarray(amounts, np.float64)
    scale = amounts.max(0)
    used = scale > 0
    scaled = amounts[:, used] / scale[used] / np.asarray(latency_ms, float)[:, None]
    coef, _ = nnls(scaled, np.ones(len(scaled)), maxiter=50 * scaled.shape[1])
    out = np.zeros(amounts.shape[1])
    out[used] = coef / scale[used]
    return out


def anchor_space(features: np.ndarray) -> AnchorSpace:
    """The training networks (rows of ``features``) as kernel anchors: standardised per
    column (constant columns keep scale 1), bandwidth from their own spacing."""
    x = np.asarray(features, np.float64)
    centre = x.mean(0)
    scale = x.std(0)
    scale = np.where(scale > 0, scale, 1.0)
    anchors = (x - centre) / scale
    squared = ((anchors[:, None, :] - anchors[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(squared, np.inf)
    nearest = min(NEAREST, len(x) - 1)
    spacing = float(np.median(np.sort(squared, 1)[:, nearest - 1])) if nearest >= 1 else 1.0
    bandwidth = BANDWIDTH_SCALE * spacing if np.isfinite(spacing) and spacing > 0 else 1.0
    return AnchorSpace(centre, scale, anchors, bandwidth)


def cost_sum_term(space: AnchorSpace, features: np.ndarray, latency_ms: np.ndarray,
                  weight: float) -> CostSumTerm:
    """The device's layer-cost term from its latencies on the training networks
    (``features``, the rows ``space`` was built from), corrected by their residuals."""
    amounts = cost_amounts(features)
    per_unit = fit_cost_per_unit(amounts, latency_ms)
    residual = np.log(latency_ms) - np.log(np.maximum(amounts @ per_unit, FLOOR_MS))
    smoother = AnchorSmoother(space.centre, space.scale, space.anchors, space.bandwidth,
                              residual)
    return CostSumTerm(per_unit, weight, smoother=smoother)

"""The training networks' feature ranges, and the warning for networks outside them.

``adapt`` records each agg-v1 feature's smallest and largest value over the networks the
model learned from; ``predict`` warns (it never refuses) when a network lies well outside
them, since tree and low-rank models only extrapolate there.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from dnncost.learn.features import FEATURE_NAMES


def feature_ranges(features: np.ndarray) -> dict[str, list[float]]:
    """The smallest and largest value of each feature over training networks."""
    rows = np.asarray(features, np.float64)
    return {"min": np.nanmin(rows, axis=0).tolist(), "max": np.nanmax(rows, axis=0).tolist()}


def range_warning(features: np.ndarray, ranges: dict[str, Any] | None,
                  names: Sequence[str] = FEATURE_NAMES, margin: float = 0.25) -> str | None:
    """A warning when networks lie outside the training networks' range (by more than
    ``margin`` of it on some feature): how many, and the feature furthest out."""
    if not ranges or len(features) == 0:
        return None
    low, high = (np.asarray(ranges[k], np.float64) for k in ("min", "max"))
    span = np.maximum(high - low, 1e-9)
    rows = np.asarray(features, np.float64)
    excess = np.maximum((rows - high) / span, (low - rows) / span)
    outside = (excess > margin).any(axis=1)
    if not outside.any():
        return None
    row, column = np.unravel_index(np.nanargmax(np.where(outside[:, None], excess, -np.inf)),
                                   excess.shape)
    name = names[column] if column < len(names) else f"feature {column}"
    return (f"{int(outside.sum())} of {len(rows)} networks lie outside the training "
            f"networks' range (e.g. {name} {rows[row, column]:.4g}, trained on "
            f"{low[column]:.4g}..{high[column]:.4g}): their predictions are extrapolations")

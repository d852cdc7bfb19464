"""The training networks' feature ranges, and the warning for networks outside them.

``adapt`` records each agg-v2 feature's smallest and largest value over the networks the
model learned from; ``predict`` warns (it never refuses) when a network lies well outside
them, since tree and low-rank models only extrapolate there.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from dnncost.learn.features import FEATURE_DESCRIPTIONS, FEATURE_NAMES


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
    what, value, lowest, highest = _in_words(names, column, rows[row, column], low[column],
                                             high[column])
    return (f"{int(outside.sum())} of {len(rows)} networks lie outside the training "
            f"networks' range (e.g. {what} {value}, the training networks' "
            f"{lowest if lowest == highest else f'{lowest} to {highest}'}): their "
            "predictions are extrapolations")


def _in_words(names: Sequence[str], column: int, *values: float) -> tuple[str, ...]:
    """A feature as its description says it, with its values unlogged where it is a
    ``log(1 + x)`` (e.g. "pixels of the first layer's input", "9,216")."""
    if names is not FEATURE_NAMES or column >= len(FEATURE_DESCRIPTIONS):
        name = names[column] if column < len(names) else f"feature {column}"
        return (name, *(f"{v:.4g}" for v in values))
    text = FEATURE_DESCRIPTIONS[column]
    if text.startswith("log(1 + ") and text.endswith(")"):
        return (text[len("log(1 + "):-1], *(_amount(float(np.expm1(v))) for v in values))
    return (text, *(_amount(v) for v in values))


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"

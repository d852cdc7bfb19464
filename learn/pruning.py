"""Devices that prune dead compute: a NAS-Bench-201 cell as a graph compiler runs it.

Eager PyTorch runs every edge of a cell; a compiled build (TFLite) drops the edges whose
result reaches the output only through ``none``, so on such a device a cell takes what
its pruned twin takes (``gen.archs.nb201_pruned``). HELP's pixel3 table is one: on the
3,420 cells with dead edges its latency is its twin's (median log ratio +0.004), where
every other setting runs them (+0.13 to +0.32). Such a device's measurement of a cell
is read as a measurement of the twin, in training and when a new device is placed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# A training device whose cells with dead edges take at most this much longer than their
# pruned twins (median log ratio) prunes them; devices that run them: 0.13 and more.
PRUNED_MAX_LOG_RATIO = 0.05
PRUNED_MIN_PAIRS = 20
# A new device is placed as pruning when that halves the mean square of its measurements'
# leave-one-out residuals (pixel3 held out alone: 0.15 of the eager placement's; the 20
# HELP settings that run every edge, held out by hardware with fold seeds 0 and 1 and by
# type: 1.35 times it or more, with SIGNATURE_TELLING cells in each signature).
PRUNED_GATE = 0.5
PRUNED_MIN_EVIDENCE = 2  # measured cells with dead edges whose twin the model knows
# A signature holds at least this many telling cells, so that a new device's reading can
# be decided (PRUNED_MIN_EVIDENCE): cells whose dead edges take at least this much (median
# log ratio to the twin over the training devices that run them; 1.35 times). Held out by
# type, a signature chosen on GPUs and CPUs held none. 3 cost placement where telling
# cells are few (3,000 of HELP's cells, by type: band Spearman 0.959 -> 0.929; 2: 0.960).
SIGNATURE_TELLING = 2
TELLING_MIN_LOG_RATIO = 0.3


def twins(names: Sequence[str]) -> np.ndarray:
    """Per network, the position of its pruned twin among ``names`` (its own position
    when it has no dead compute or the twin is not among them)."""
    from dnncost.gen.archs import pruned_twin  # gen's spec parser: 15 ms, only when fitting

    where = {n: i for i, n in enumerate(names)}
    return np.asarray([where.get(pruned_twin(n), i) for i, n in enumerate(names)], int)


def pruning_devices(log_ms: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """Per device (rows of ``log_ms``, networks in ``twin``'s order): whether its cells
    with dead edges take what their pruned twins take (judged on at least
    ``PRUNED_MIN_PAIRS`` measured pairs)."""
    dead = np.flatnonzero(twin != np.arange(len(twin)))
    out = np.zeros(len(log_ms), bool)
    if len(dead) < PRUNED_MIN_PAIRS:
        return out
    ratio = log_ms[:, dead] - log_ms[:, twin[dead]]
    for d, row in enumerate(ratio):
        pairs = row[np.isfinite(row)]
        out[d] = len(pairs) >= PRUNED_MIN_PAIRS \
            and abs(float(np.median(pairs))) <= PRUNED_MAX_LOG_RATIO
    return out


def telling_cells(log_ms: np.ndarray, twin: np.ndarray) -> np.ndarray:
    """Per network: whether its dead edges take at least ``TELLING_MIN_LOG_RATIO`` over
    its twin on the training devices that measured both, so that measuring it tells a
    device that prunes from one that runs them (``log_ms`` read as twins already)."""
    dead = np.flatnonzero(twin != np.arange(len(twin)))
    out = np.zeros(len(twin), bool)
    ratio = log_ms[:, dead] - log_ms[:, twin[dead]]
    measured = np.isfinite(ratio).any(0)
    median = np.full(len(dead), -np.inf)
    median[measured] = np.nanmedian(ratio[:, measured], 0)
    out[dead] = median >= TELLING_MIN_LOG_RATIO
    return out


def read_as_twins(latency_ms: np.ndarray, twin: np.ndarray, pruning: np.ndarray) -> np.ndarray:
    """The latency matrix with the cells of pruning devices that have dead edges left
    out (NaN): each one measured its twin again, which the twin's own column holds."""
    out = np.array(latency_ms, float)
    dead = twin != np.arange(len(twin))
    out[np.ix_(np.asarray(pruning, bool), dead)] = np.nan
    return out


def pruned_fits_better(placed_residuals: np.ndarray, twin_residuals: np.ndarray,
                       evidence: int, gate: float = PRUNED_GATE) -> bool:
    """Whether a device measured its cells as a pruning device: the leave-one-out
    residuals of its placement with each measurement read as its twin's against those
    read as measured, on the same networks, with at least ``PRUNED_MIN_EVIDENCE`` cells
    that differ."""
    if evidence < PRUNED_MIN_EVIDENCE:
        return False
    placed = float(np.mean(np.square(placed_residuals)))
    pruned = float(np.mean(np.square(twin_residuals)))
    return pruned < gate * placed

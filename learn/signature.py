"""Signature-set selection: which k networks a new device measures to place it.

Every method sees only the training devices' log-latency matrix ``[devices, networks]``
(columns are the candidate networks) and returns k distinct column positions.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dnncost.errors import InputError, ModelError
from dnncost.learn.lowrank import fill_missing, fit_factors


def select_random(log_ms: np.ndarray, k: int, seed: int = 0) -> list[int]:
    """k distinct networks drawn uniformly, seeded."""
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(log_ms.shape[1], size=k, replace=False))


def _column_entropies(codes: np.ndarray) -> np.ndarray:
    """Entropy (nats) of each column's values across the rows (devices)."""
    ordered = np.sort(codes, axis=0)
    starts = np.vstack([np.ones((1, codes.shape[1]), bool), ordered[1:] != ordered[:-1]])
    run = np.cumsum(starts, axis=0) - 1  # each value's run of equal values, per column
    counts = np.zeros(codes.shape)
    np.add.at(counts, (run, np.broadcast_to(np.arange(codes.shape[1]), codes.shape)), 1.0)
    p = counts / codes.shape[0]
    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(0)


def _placement_gains(scaled: np.ndarray, info: np.ndarray) -> np.ndarray:
    """log det gain of adding each network to a placement's information matrix (the
    matrix determinant lemma: log(1 + s' info^-1 s))."""
    return np.log1p(np.einsum("nr,rs,ns->n", scaled, np.linalg.inv(info), scaled))


def select_mutual_info(log_ms: np.ndarray, k: int, seed: int = 0, bins: int = 4) -> list[int]:
    """Greedy: add the network that most increases the joint entropy of the set's
    percentile-binned latencies across training devices. Once the set tells every
    device apart the entropy cannot grow (about 20 devices, 4 bins), so ties go to the
    network that adds most to placing a device on the low-rank factors (select_d_optimal's
    criterion), then to the highest own entropy: never to a position."""
    log_ms = fill_missing(log_ms)  # a missing run is binned where the structure puts it
    edges = np.percentile(log_ms, np.linspace(0, 100, bins + 1)[1:-1], axis=0)
    codes = np.stack([np.searchsorted(edges[:, j], log_ms[:, j]) for j in
                      range(log_ms.shape[1])], axis=1).astype(np.int64)
    own = _column_entropies(codes)
    scaled, info = _placement_design(log_ms)
    label = np.zeros(len(codes), np.int64)  # each device's joint code of the chosen set
    chosen: list[int] = []
    for _ in range(k):
        joint = np.round(_column_entropies(label[:, None] * (bins + 1) + codes), 9)
        gains = np.round(_placement_gains(scaled, info), 9)
        keys = np.lexsort((own, gains, joint))  # last key first: joint, gains, own
        best = next(int(j) for j in keys[::-1] if j not in chosen)
        chosen.append(best)
        label = np.unique(label * (bins + 1) + codes[:, best], return_inverse=True)[1]
        info = info + np.outer(scaled[best], scaled[best])
    return sorted(chosen)


def select_spearman(log_ms: np.ndarray, k: int, seed: int = 0,
                    threshold: float = 0.95) -> list[int]:
    """Repeatedly take the network correlated (Spearman, across training devices) above
    ``threshold`` with the most remaining networks and drop those it covers; when all
    are covered before k, start again over the networks not yet taken."""
    from scipy.stats import spearmanr  # scipy only where this sampler runs

    corr = np.atleast_2d(spearmanr(fill_missing(log_ms)).correlation)
    covers = corr > threshold
    chosen: list[int] = []
    pool = set(range(log_ms.shape[1]))
    while len(chosen) < k:
        if not pool:
            pool = set(range(log_ms.shape[1])) - set(chosen)
        counts = {j: int(sum(covers[j, i] for i in pool)) for j in pool}
        best = max(sorted(counts), key=lambda j: counts[j])
        chosen.append(best)
        pool -= {i for i in pool if covers[best, i]} | {best}
    return sorted(chosen)


def select_statistical(log_ms: np.ndarray, k: int, seed: int = 0) -> list[int]:
    """Networks spread over the standard-deviation bands of the training devices'
    latency distributions: each network's z-score is averaged over devices, the bands
    (below -1.5 sd, -1.5..-0.5, ..., above 1.5) are visited in turn and each visit takes
    the not-yet-taken network nearest the band's middle."""
    y = fill_missing(log_ms)
    z = ((y - y.mean(1, keepdims=True)) / y.std(1, keepdims=True)).mean(0)
    edges = np.array([-1.5, -0.5, 0.5, 1.5])
    band = np.searchsorted(edges, z)
    centres = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    chosen: list[int] = []
    while len(chosen) < k:
        for b in range(len(centres)):
            members = [j for j in np.flatnonzero(band == b) if j not in chosen]
            if members and len(chosen) < k:
                chosen.append(int(min(members, key=lambda j: abs(z[j] - centres[b]))))
        if all(j in chosen for j in range(len(z))):
            break
    return sorted(chosen)


def _placement_design(log_ms: np.ndarray, rank: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The low-rank network factors of the training devices, each network's scaled by
    how badly the factors fit it, and the prior information matrix of a placement."""
    factors = fit_factors(log_ms, rank)
    g = factors.loadings
    y = fill_missing(log_ms)
    fitted = factors.mean_log_ms + (np.linalg.lstsq(g, (y - factors.mean_log_ms).T,
                                                    rcond=None)[0].T @ g.T)
    noise = np.sqrt(((y - fitted) ** 2).mean(0)) + np.sqrt(factors.noise_var)
    return g / noise[:, None], np.linalg.inv(factors.prior_cov) * factors.noise_var


def _grow_design(log_ms: np.ndarray, chosen: list[int], k: int, rank: int = 3,
                 reserve: np.ndarray | None = None, quota: int = 0) -> list[int]:
    """``chosen`` grown to k networks by greedy D-optimal design; with a ``reserve``
    mask, a step whose slots left are no more than the reserve networks still missing
    from ``quota`` picks among those alone."""
    scaled, info = _placement_design(log_ms, rank)
    chosen = list(chosen)
    for j in chosen:
        info = info + np.outer(scaled[j], scaled[j])
    while len(chosen) < k:
        missing = quota - int(reserve[chosen].sum()) if reserve is not None else 0
        allowed = reserve if missing >= k - len(chosen) else np.ones(len(scaled), bool)
        gains = [(-np.inf if j in chosen or not allowed[j] else
                  np.linalg.slogdet(info + np.outer(scaled[j], scaled[j]))[1], -j)
                 for j in range(len(scaled))]
        best = -max(gains)[1]
        chosen.append(best)
        info = info + np.outer(scaled[best], scaled[best])
    return sorted(chosen)


def select_d_optimal(log_ms: np.ndarray, k: int, seed: int = 0, rank: int = 3) -> list[int]:
    """Ours: greedy D-optimal design on the low-rank network factors of the training
    devices. Each step adds the network that most increases the log-determinant of the
    information matrix used to place a new device, weighted by how well the factors
    explain that network (a network the structure fits badly places a device badly)."""
    return _grow_design(log_ms, [], k, rank)


def select_greedy(log_ms: np.ndarray, k: int, seed: int = 0, rank: int = 3) -> list[int]:
    """Ours: greedy forward selection on a validation split of the training devices.
    Factors are learned on one half of the devices (seeded split), each candidate set
    places every device of the other half, and the network that most lowers their mean
    absolute log error over all networks joins the set (both halves swap roles)."""
    y = fill_missing(log_ms)
    order = np.random.default_rng(seed).permutation(len(y))
    halves = [order[: len(y) // 2], order[len(y) // 2:]]
    if min(len(h) for h in halves) < 2:
        return select_d_optimal(log_ms, k, seed, rank)
    folds = []
    for fit_half, val_half in (halves, halves[::-1]):
        f = fit_factors(y[fit_half], rank)
        folds.append((f, y[val_half] - f.mean_log_ms, np.linalg.inv(f.prior_cov)))
    chosen: list[int] = []
    for _ in range(k):
        best, best_err = -1, np.inf
        for j in range(y.shape[1]):
            if j in chosen:
                continue
            cols, err = chosen + [j], 0.0
            for f, target, precision in folds:
                g = f.loadings[cols]
                a = g.T @ g / f.noise_var + precision
                b = target[:, cols] @ g / f.noise_var + precision @ f.prior_mean
                placement = np.linalg.solve(a, b.T).T
                err += float(np.abs(target - placement @ f.loadings.T).mean())
            if err < best_err:
                best, best_err = j, err
        chosen.append(best)
    return sorted(chosen)


SAMPLERS: dict[str, Callable[..., list[int]]] = {
    "random": select_random,
    "mutual_info": select_mutual_info,
    "spearmanCorr": select_spearman,
    "statistical": select_statistical,
    "d_optimal": select_d_optimal,
    "greedy": select_greedy,
}


def select_signature(method: str, log_ms: np.ndarray, k: int, seed: int = 0,
                     reserve: np.ndarray | None = None, quota: int = 0) -> list[int]:
    """k distinct network positions chosen by ``method`` from training log latencies.

    With a ``reserve`` mask over the networks, at least ``quota`` of them (at most a
    third of k) are reserve networks: when ``method`` picks fewer, it chooses k - quota
    and the D-optimal design adds the rest, from the reserve alone once only as many
    places are left as reserve networks are missing."""
    if method not in SAMPLERS:
        raise InputError(f"unknown sampling method {method!r}: use one of "
                         f"{', '.join(SAMPLERS)}")
    if not 0 < k <= log_ms.shape[1]:
        raise ModelError(f"signature size {k} must be between 1 and the {log_ms.shape[1]} "
                         "training networks: pass a smaller --signature-size")
    quota = 0 if reserve is None else min(quota, k // 3, int(reserve.sum()))
    if quota and method == "d_optimal":  # the same picks as below, in one greedy pass
        chosen = _grow_design(log_ms, [], k, reserve=reserve, quota=quota)
    else:
        chosen = SAMPLERS[method](log_ms, k, seed=seed)
    if quota and reserve[chosen].sum() < quota:
        base = SAMPLERS[method](log_ms, k - quota, seed=seed) if k > quota else []
        chosen = _grow_design(log_ms, base, k, reserve=reserve, quota=quota)
    assert len(set(chosen)) == k, (method, chosen)
    return chosen

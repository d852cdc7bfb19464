"""How closely two measurements of the same phone model agree: a ceiling for accuracy.

The IISWC 2020 data holds repeated submissions of one phone model (``GM1901_0``,
``GM1901_1``, ...). Three views of what the seen-network targets ask:

1. Per pair of submissions: the share of networks whose two latencies agree within 5 %
   and 10 %, after dividing out one global speed factor (the median ratio), and Spearman.
2. Pooled over all pairs, as ``accuracy.py`` pools: each submission "predicted" by a
   sibling times that speed factor (which peeks at both; no model gets that).
3. The low-rank model's in-sample fit: trained on the other folds' phones (as in
   ``accuracy.py``, 5 folds grouped by phone model) and adapted to a test phone from
   *all* its measurements, then scored on its non-signature networks, the very values it
   was fitted to: what the low-rank structure itself explains (the k=10 predictions add
   a neighbour correction on top, so they can come close to it). Also how much of the
   pooled squared error (which R^2 divides) its worst pairs carry.

    .venv/bin/python benchmarks/noise_ceiling.py [--iiswc-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from dnncost.importers import import_iiswc
from dnncost.learn.dataset import LatencyData, load_dataset
from dnncost.learn.evaluation import metrics, splits
from dnncost.learn.training import TrainOptions, train
from dnncost.store import Store

WORST_PAIRS = 10


def _summary(m: dict[str, float]) -> str:
    return (f"R^2 {m['r2']:.4f}, Spearman {m['spearman']:.3f}, MAPE {m['mape']:.1f} %, "
            f"within 5 % {m['within5']:.1f}, within 10 % {m['within10']:.1f} "
            f"({m['pairs']} pairs)")


def sibling_pairs(data: LatencyData) -> None:
    """Views 1 and 2: every pair of submissions of one phone model."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(data.device_groups):
        groups[group].append(i)
    print("| device a | device b | within 5% | within 10% | Spearman |")
    print("| --- | --- | --- | --- | --- |")
    rows, true, pred, device = [], [], [], []
    for members in groups.values():
        for a, b in itertools.permutations(members, 2):
            ok = np.isfinite(data.log_ms[a]) & np.isfinite(data.log_ms[b])
            log_ratio = data.log_ms[a, ok] - data.log_ms[b, ok]
            true.append(data.latency_ms[a, ok])
            pred.append(np.exp(data.log_ms[b, ok] + np.median(log_ratio)))
            device.append(np.full(int(ok.sum()), a))
            if a > b:
                continue
            rel = np.abs(np.exp(log_ratio - np.median(log_ratio)) - 1)
            row = (np.mean(rel <= 0.05) * 100, np.mean(rel <= 0.10) * 100,
                   spearmanr(data.log_ms[a, ok], data.log_ms[b, ok]).correlation)
            rows.append(row)
            print(f"| {data.device_ids[a]} | {data.device_ids[b]} | {row[0]:.1f} | "
                  f"{row[1]:.1f} | {row[2]:.3f} |")
    mean = np.mean(rows, axis=0)
    print(f"\n{len(rows)} pairs of one phone model: mean within 5% {mean[0]:.1f}, within 10% "
          f"{mean[1]:.1f}, Spearman {mean[2]:.3f} (median within 10% "
          f"{np.median([r[1] for r in rows]):.1f})")
    print("pooled, each submission predicted by a sibling: "
          + _summary(metrics(*map(np.concatenate, (true, pred, device)))))


def in_sample_ceiling(data: LatencyData, options: TrainOptions) -> None:
    """View 3: the low-rank model adapted to all of a test phone's measurements."""
    true, pred, device, network = [], [], [], []
    for train_d, test_d, train_n, _ in splits(data, "seen", 5, options.seed):
        trained = train(data.select(train_d, train_n), options)
        names = [n for n in data.network_names if n not in trained.signature]
        where = data.network_index(names)
        for device_pos in test_d:
            row = data.latency_ms[device_pos]
            measured = {n: row[i] for i, n in enumerate(data.network_names)
                        if np.isfinite(row[i])}
            known = trained.estimator.adapt(measured).known_log_ms
            ok = np.isfinite(row[where])
            true.append(row[where][ok])
            pred.append(np.exp([known[n] for n, o in zip(names, ok) if o]))
            device.append(np.full(int(ok.sum()), device_pos))
            network += [n for n, o in zip(names, ok) if o]
    t, p, d = map(np.concatenate, (true, pred, device))
    print(f"\n{options.model} (rank {options.rank}) adapted from all of each test phone's "
          f"measurements, scored in sample: " + _summary(metrics(t, p, d)))
    squared = (t - p) ** 2
    worst = np.argsort(-squared)[:WORST_PAIRS]
    keep = np.setdiff1d(np.arange(len(t)), worst)
    print(f"its {WORST_PAIRS} worst of {len(t)} pairs carry "
          f"{squared[worst].sum() / squared.sum() * 100:.0f} % of the squared error; "
          f"without them R^2 is {metrics(t[keep], p[keep], d[keep])['r2']:.4f}:")
    for i in worst:
        print(f"  {data.device_ids[d[i]]} {network[i]}: measured {t[i]:.1f} ms, "
              f"fitted {p[i]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iiswc-dir", default=os.environ.get("IISWC_DIR"),
                        help="the published IISWC dataset [the copy shipped with dnncost]")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "iiswc.sqlite") as store:
            import_iiswc(store, args.iiswc_dir)
            data = load_dataset(store)
    sibling_pairs(data)
    in_sample_ceiling(data, TrainOptions(model="lowrank", sampling="d_optimal", k=10))


if __name__ == "__main__":
    main()

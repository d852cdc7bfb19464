"""Devices that prune dead compute, held out: what reading their cells as pruned twins
(learn/pruning.py) gains, and what it costs devices that run every edge.

HELP's 21 NAS-Bench-201 settings, grouped leave-devices-out (5 folds, settings of one
hardware together; ``--group-by device-type``: one type held out at a time), `make
train`'s default (lowrank, d_optimal, k = 10) adapted to each test device from its
signature. Each test device is scored as measured and as a device
that prunes: the same device with each cell's latency replaced by its pruned twin's
(what a compiled graph of the same hardware would measure; HELP's pixel3 is one such
device, and raspi4 of the held-back settings is likely another). Both with the twin
reading on (the default gate) and off (gate 0). Band Spearman: within each device's
10-90 % latency band, as HELP scores; all 15,625 cells (twins need the whole table).

    .venv/bin/python benchmarks/pruning.py [--help-dir DIR] [--group-by model|device-type]
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np

from dnncost.help_import import import_help
from dnncost.learn.dataset import load_dataset
from dnncost.learn.evaluation import metrics, splits
from dnncost.learn.pruning import twins
from dnncost.learn.training import TrainOptions, train
from dnncost.store import Store


def band(true_ms: np.ndarray, pred_ms: np.ndarray) -> float:
    """Band Spearman of one device."""
    return float(metrics(true_ms, pred_ms, np.zeros(len(true_ms)))["spearman_band"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--help-dir", default=str(Path(__file__).resolve().parents[2]
                                                   / "shared/datasets/help-nasbench201"))
    parser.add_argument("--seed", type=int, default=0, help="fold seed")
    parser.add_argument("--group-by", choices=("model", "device-type"), default="model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "help.sqlite") as store:
            import_help(store, args.help_dir, "nasbench201")
            data = load_dataset(store)
    names = data.network_names
    twin = twins(names)
    start = time.perf_counter()
    rows = []  # device, variant, band with the gate on, band off, placed as pruning
    for train_d, test_d, _, _ in splits(data, "seen", 5, args.seed, args.group_by):
        trained = train(data.select(train_d), TrainOptions())
        gate_off = copy.copy(trained.estimator)
        gate_off.pruned_gate = 0.0
        signature = set(data.network_index(trained.signature))
        scored = np.asarray([i not in signature for i in range(len(names))])
        for d in test_d:
            for variant, row in (("as measured", data.latency_ms[d]),
                                 ("pruning twin", data.latency_ms[d][twin])):
                measured = {n: row[names.index(n)] for n in trained.signature}
                ok = scored & np.isfinite(row)
                figures = []
                for estimator in (trained.estimator, gate_off):
                    model = estimator.adapt(measured)
                    pred = np.exp([model.known_log_ms[n] for n in names])
                    figures.append(band(row[ok], pred[ok]))
                pruned = trained.estimator.adapt(measured).info["dead_compute"] == "pruned"
                rows.append((data.device_ids[d], variant, *figures, pruned))
                print(f"{data.device_ids[d]:15s} {variant:13s} band {figures[0]:.3f} "
                      f"(off: {figures[1]:.3f}){'  placed as pruning' if pruned else ''}",
                      flush=True)
    print("\n| devices | placed as pruning | band, twin reading on | off |")
    print("|---|---|---|---|")
    for variant in ("as measured", "pruning twin"):
        part = [r for r in rows if r[1] == variant]
        print(f"| {len(part)} {variant} | {sum(r[4] for r in part)} | "
              f"{np.mean([r[2] for r in part]):.4f} | {np.mean([r[3] for r in part]):.4f} |")
    print(f"\n{time.perf_counter() - start:.0f} s; held out by {args.group_by}, fold seed "
          f"{args.seed}; pixel3 as measured "
          "is itself a device that prunes, with noise (its twin's time on 50 % of cells)")


if __name__ == "__main__":
    main()

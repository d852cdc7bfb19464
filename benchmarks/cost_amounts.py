"""What the cost sum's amounts allow on networks never measured: the ceiling of a phone's
own cost sum (non-negative cost per unit of each amount, fitted to its true latencies
on the training networks, then the kernel smoother over their log errors), scored on
the 30 % of IISWC networks held out, per split seed.

Rows: the amounts without the padding one (the model before 0.3.0), with padding to
blocks of 2, 4 (``features.PAD_CHANNELS``, what the model uses), 8 and 16 channels.
The model itself places a phone from 10 measurements instead of fitting all of them:
``accuracy.py`` prints what it reaches (its unseen rows).

    .venv/bin/python benchmarks/cost_amounts.py [--split-seeds 0 1 2]   (about 5 s)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from dnncost.encoding import COL
from dnncost.importers import import_iiswc
from dnncost.learn.dataset import LatencyData, load_dataset
from dnncost.learn.evaluation import UNSEEN_SHARE
from dnncost.learn.exportable import FLOOR_MS, AnchorSmoother
from dnncost.learn.features import (COST_AMOUNT_COLUMNS, FEATURE_NAMES, cost_amounts,
                                    padding_macs)
from dnncost.learn.layercost import anchor_space, fit_cost_per_unit
from dnncost.store import Store


def padding_per_network(data: LatencyData, block: int) -> np.ndarray:
    """Each network's MACs added by padding its GEMMs to blocks of ``block`` channels."""
    rows = data.layers.rows.astype(np.float64)
    per_row = padding_macs(*(rows[:, COL[name]] for name in (
        "op", "out_h", "out_w", "cin", "cout", "kernel", "groups")), block=block)
    return np.bincount(data.layers.network_index, weights=per_row, minlength=len(data.network_ids))


def within10(data: LatencyData, amounts: np.ndarray, features: np.ndarray, seeds: list[int]
             ) -> tuple[float, float]:
    """% of held-out (device, network) pairs within 10 %: with the smoother (over
    ``features``), without."""
    n = len(data.network_ids)
    hits, total = np.zeros(2), 0
    for seed in seeds:
        held = np.sort(np.random.default_rng(seed).choice(n, int(round(UNSEEN_SHARE * n)),
                                                          replace=False))
        train = np.setdiff1d(np.arange(n), held)
        space = anchor_space(features[train])
        for latency in data.latency_ms:
            per_unit = fit_cost_per_unit(amounts[train], latency[train])
            with np.errstate(divide="ignore", invalid="ignore"):
                errors = np.log(latency[train]) - np.log(np.maximum(amounts[train] @ per_unit,
                                                                    FLOOR_MS))
            smoother = AnchorSmoother(space.centre, space.scale, space.anchors, space.bandwidth,
                                      np.where(np.isfinite(errors), errors, 0.0))
            plain = np.log(np.maximum(amounts[held] @ per_unit, FLOOR_MS))
            true, ok = latency[held], np.isfinite(latency[held])
            for i, log_ms in enumerate((plain + smoother.smooth(features[held]), plain)):
                hits[i] += (np.abs(np.exp(log_ms[ok]) / true[ok] - 1.0) <= 0.1).sum()
            total += int(ok.sum())
    return tuple(100.0 * hits / total)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iiswc-dir", default=None, help="default: the embedded copy")
    parser.add_argument("--split-seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "iiswc.sqlite") as store:
            import_iiswc(store, args.iiswc_dir)
            data = load_dataset(store)
    column = FEATURE_NAMES.index("log_pad4_macs")
    without = np.delete(cost_amounts(data.features), COST_AMOUNT_COLUMNS.index(column), axis=1)
    old_features = np.delete(data.features, column, axis=1)  # agg-v1
    print(f"{len(data.device_ids)} phones, {len(data.network_ids)} networks, split seeds "
          f"{args.split_seeds}: % within 10 % on networks never measured\n")
    print("| amounts | with smoother | without |\n| --- | --- | --- |")
    rows = [("without padding (before 0.3.0)", without, old_features)] + [
        (f"padding to blocks of {block}", np.column_stack(
            [without, padding_per_network(data, block)]), data.features) for block in (2, 4, 8, 16)]
    for label, amounts, features in rows:
        smoothed, plain = within10(data, amounts, features, args.split_seeds)
        print(f"| {label} | {smoothed:.1f} | {plain:.1f} |")


if __name__ == "__main__":
    main()

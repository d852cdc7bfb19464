"""Accuracy of the cost models: the IISWC 2020 phones (beside the paper's numbers), or
HELP's NAS-Bench-201 settings (GPUs, server CPUs, phones).

``--data iiswc`` (default): leave-devices-out (5 folds, devices grouped by phone model),
regimes seen / unseen networks, every mode, model and sampling method at k in
{5, 10, 20}; the LSTM (slow on 2 cores) runs at k=10 with the paper's best sampling and
ours. Also times full collaborative training on all 84 devices.

``--data nasbench201``: the settings of ``--help-dir`` (../shared/datasets/
help-nasbench201), grouped leave-devices-out (settings of one hardware together) and
leave-one-type-out, collaborative xgb / lowrank / hybrid with random, mutual_info and
d_optimal signatures at k in {5, 10, 20}, seen and unseen networks, band (10-90 %) and
full-range Spearman. ``--networks N`` evaluates on N seeded architectures of the 15,625.

Prints a markdown table and writes evaluation.md / .json and PNG plots.

    .venv/bin/python benchmarks/accuracy.py [--data iiswc|nasbench201] [-o reports/accuracy]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from dnncost.importers import import_iiswc
from dnncost.learn.dataset import load_dataset
from dnncost.learn.report import grid, markdown_table, run_grid, write_report
from dnncost.learn.signature import SAMPLERS
from dnncost.learn.training import TrainOptions, train
from dnncost.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iiswc-dir", default=os.environ.get("IISWC_DIR"),
                        help="the published IISWC dataset [the copy shipped with dnncost]")
    parser.add_argument("-o", "--out", default="reports/accuracy")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--lstm-epochs", type=int, default=200)
    parser.add_argument("--no-lstm", action="store_true", help="Skip the LSTM rows.")
    parser.add_argument("--data", choices=("iiswc", "nasbench201"), default="iiswc")
    parser.add_argument("--help-dir", default=str(Path(__file__).resolve().parents[2]
                                                   / "shared/datasets/help-nasbench201"))
    parser.add_argument("--networks", type=int, help="nasbench201: evaluate on N of them")
    args = parser.parse_args()
    if args.data == "nasbench201":
        nasbench201(args)
        return

    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "iiswc.sqlite") as store:
            import_iiswc(store, args.iiswc_dir)
            data = load_dataset(store)
    base = TrainOptions(lstm_epochs=args.lstm_epochs)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731

    timings = {}
    for model in ("xgb", "lowrank", "hybrid") + (() if args.no_lstm else ("lstm",)):
        start = time.perf_counter()
        train(data, replace(base, model=model, sampling="mutual_info", k=10))
        timings[model] = time.perf_counter() - start

    configs = grid(base, ("individual", "combined", "collaborative"),
                   ("xgb", "lowrank", "hybrid"), list(SAMPLERS), (5, 10, 20))
    results = run_grid(data, configs, ("seen", "unseen"), args.folds, log=log)
    if not args.no_lstm:
        lstm = [replace(base, model="lstm", mode="combined")] + [
            replace(base, model="lstm", sampling=s, k=10) for s in ("mutual_info", "greedy")]
        results += [r for r in run_grid(data, lstm, ("seen", "unseen"), args.folds, log=log)
                    if r["model"] != "macs"]
    write_report(results, args.out, with_paper=True)
    print(markdown_table(results, with_paper=True))
    print(f"data: {len(data.device_ids)} devices x {len(data.network_ids)} networks; "
          f"R^2 on latency in ms (pooled), Spearman/Kendall per test device (mean)")
    for model, seconds in timings.items():
        print(f"full collaborative training ({model}, mutual_info, k=10, "
              f"{len(data.device_ids)} devices): {seconds:.1f} s")
    print(f"wrote {args.out}/evaluation.md, evaluation.json and plots")


def nasbench201(args: argparse.Namespace) -> None:
    """HELP's NAS-Bench-201 settings: grouped leave-devices-out and leave-one-type-out."""
    import numpy as np

    from dnncost.help_import import import_help

    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "help.sqlite") as store:
            start = time.perf_counter()
            import_help(store, args.help_dir, "nasbench201")
            imported = time.perf_counter() - start
            data = load_dataset(store)
    if args.networks:
        keep = np.sort(np.random.default_rng(0).choice(len(data.network_ids), args.networks,
                                                        replace=False))
        data = data.select(networks=keep)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    start = time.perf_counter()
    train(data, TrainOptions(model="xgb", sampling="mutual_info", k=10))
    trained = time.perf_counter() - start
    configs = grid(TrainOptions(), ("collaborative",), ("xgb", "lowrank", "hybrid"),
                   ("random", "mutual_info", "d_optimal"), (5, 10, 20))
    results = []
    for group_by in ("model", "device-type"):
        print(f"## devices held out by {group_by}", file=sys.stderr, flush=True)
        results += run_grid(data, configs, ("seen", "unseen"), args.folds, log=log,
                            group_by=group_by)
    write_report(results, args.out)
    for group_by in ("model", "device-type"):
        print(f"\n### held out by {'hardware (5 folds)' if group_by == 'model' else 'type'}\n")
        print(markdown_table([r for r in results if r["group_by"] == group_by]))
    print(f"data: {len(data.device_ids)} settings x {len(data.network_ids)} networks "
          f"(import {imported:.0f} s); Spearman per test device (mean), 10-90%: within each "
          "test device's 10-90 % latency band (HELP's protocol)")
    print(f"full collaborative training (xgb, mutual_info, k=10): {trained:.1f} s")
    print(f"wrote {args.out}/evaluation.md, evaluation.json and plots")


if __name__ == "__main__":
    main()

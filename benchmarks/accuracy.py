"""Accuracy of the cost models on the IISWC 2020 data, beside the paper's numbers.

Leave-devices-out (5 folds, devices grouped by phone model), regimes seen / unseen
networks, every mode, model and sampling method at k in {5, 10, 20}; the LSTM (slow on
2 cores) runs at k=10 with the paper's best sampling and ours. Also times full
collaborative training on all 84 devices. Prints a markdown table and writes
evaluation.md / .json and PNG plots.

    .venv/bin/python benchmarks/accuracy.py [--iiswc-dir DIR] [-o reports/accuracy]
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
    args = parser.parse_args()

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
    write_report(results, args.out)
    print(markdown_table(results))
    print(f"data: {len(data.device_ids)} devices x {len(data.network_ids)} networks; "
          f"R^2 on latency in ms (pooled), Spearman/Kendall per test device (mean)")
    for model, seconds in timings.items():
        print(f"full collaborative training ({model}, mutual_info, k=10, "
              f"{len(data.device_ids)} devices): {seconds:.1f} s")
    print(f"wrote {args.out}/evaluation.md, evaluation.json and plots")


if __name__ == "__main__":
    main()

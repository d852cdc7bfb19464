"""How closely two measurements of the same phone model agree: a ceiling for accuracy.

The IISWC 2020 data holds repeated submissions of one phone model (``GM1901_0``,
``GM1901_1``, ...). For every such pair this prints the share of networks whose two
latencies agree within 5 % and 10 %, after dividing out one global speed factor (the
median ratio), and Spearman between the pair. A cost model predicting a phone cannot be
expected to agree with its measurements more often than a second measurement of the same
phone model does.

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
from dnncost.learn.dataset import load_dataset
from dnncost.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iiswc-dir", default=os.environ.get(
        "IISWC_DIR", str(Path(__file__).resolve().parents[2] / "shared/datasets/iiswc2020")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "iiswc.sqlite") as store:
            import_iiswc(store, args.iiswc_dir)
            data = load_dataset(store)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, group in enumerate(data.device_groups):
        groups[group].append(i)
    print("| device a | device b | within 5% | within 10% | Spearman |")
    print("| --- | --- | --- | --- | --- |")
    rows = []
    for members in groups.values():
        for a, b in itertools.combinations(members, 2):
            ok = np.isfinite(data.log_ms[a]) & np.isfinite(data.log_ms[b])
            log_ratio = data.log_ms[a, ok] - data.log_ms[b, ok]
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


if __name__ == "__main__":
    main()

"""How many networks per minute `dnncost gen` samples and builds, for fp32 and int8,
with 1 and 2 worker processes (worker start-up and imports included), for both builders
in one run: the direct flatbuffer writer and TensorFlow's converter.

Also prints the CPU seconds the workers spent per network, which other work on a
shared host does not inflate (wall-clock figures it does: see the load column).

Usage: .venv/bin/python benchmarks/gen_throughput.py [--space mobileopt] [--count 6]
       [--builders direct tf] [--direct-count 60]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from dnncost.gen.pipeline import generate
from dnncost.store import Store


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(space: str, count: int, seed: int, precision: str, jobs: int, builder: str
            ) -> tuple[float, float]:
    """(wall seconds, worker CPU seconds) of one fresh `gen` run of ``count`` networks."""
    with tempfile.TemporaryDirectory() as root:
        with Store(Path(root) / "bench.sqlite") as store:
            cpu_before, start = _children_cpu_s(), time.perf_counter()
            summary = generate(store, space, count, seed, (precision,), Path(root) / "models",
                               jobs=jobs, builder=builder)
            elapsed = time.perf_counter() - start
    assert summary.converted == count
    return elapsed, _children_cpu_s() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mobileopt")
    parser.add_argument("--count", type=int, default=6)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "int8"])
    parser.add_argument("--builders", nargs="+", default=["direct", "tf"])
    parser.add_argument("--direct-count", type=int, default=60,
                        help="networks per direct run (it is fast: more for a steady rate)")
    args = parser.parse_args()
    print(f"space={args.space} seed={args.seed} cores={os.cpu_count()} "
          f"load average={os.getloadavg()[0]:.1f}")
    print(f"{'builder':>7} {'precision':>9} {'count':>5} {'jobs':>4} {'wall_s':>7} "
          f"{'networks/min':>12} {'speedup':>7} {'cpu_s/network':>13} {'load':>5}")
    for builder in args.builders:
        count = args.direct_count if builder == "direct" else args.count
        for precision in args.precisions:
            base = None
            for jobs in args.jobs:
                seconds, cpu_s = measure(args.space, count, args.seed, precision, jobs,
                                         builder)
                rate = 60.0 * count / seconds
                base = base or rate
                print(f"{builder:>7} {precision:>9} {count:>5} {jobs:>4} {seconds:>7.1f} "
                      f"{rate:>12.2f} {rate / base:>6.2f}x {cpu_s / count:>13.2f} "
                      f"{os.getloadavg()[0]:>5.1f}", flush=True)


if __name__ == "__main__":
    main()

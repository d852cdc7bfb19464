"""How many networks per minute `dnncost gen` samples and converts, for fp32 and int8,
with 1 and 2 worker processes (worker start-up, TensorFlow import included).

Usage: .venv/bin/python benchmarks/gen_throughput.py [--space mobileopt] [--count 4]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from dnncost.gen.pipeline import generate
from dnncost.store import Store


def measure(space: str, count: int, seed: int, precision: str, jobs: int) -> float:
    """Seconds for one fresh `gen` run of ``count`` networks."""
    with tempfile.TemporaryDirectory() as root:
        with Store(Path(root) / "bench.sqlite") as store:
            start = time.perf_counter()
            summary = generate(store, space, count, seed, (precision,), Path(root) / "models",
                               jobs=jobs)
            elapsed = time.perf_counter() - start
    assert summary.converted == count
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mobileopt")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"space={args.space} count={args.count} seed={args.seed}")
    print(f"{'precision':>9} {'jobs':>4} {'seconds':>8} {'networks/min':>12} {'speedup':>7}")
    for precision in ("fp32", "int8"):
        base = None
        for jobs in args.jobs:
            seconds = measure(args.space, args.count, args.seed, precision, jobs)
            rate = 60.0 * args.count / seconds
            base = base or rate
            print(f"{precision:>9} {jobs:>4} {seconds:>8.1f} {rate:>12.2f} {rate / base:>6.2f}x",
                  flush=True)


if __name__ == "__main__":
    main()

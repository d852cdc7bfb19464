"""A tiny NAS loop on an exported cost model: the largest network under a latency budget.

Samples candidate specs from a gen search space, predicts their latency on the model's
device with :class:`dnncost.export.runtime.Predictor` (numpy + onnxruntime only), and
keeps the one with the most multiply-accumulates (a stand-in for accuracy) that fits
the budget.

    .venv/bin/python export/examples/nas_random_search.py pixel4.onnx --budget-ms 15

Any language can do the same through a pipe: write one spec per line to
``dnncost predict`` and read one latency per line back.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

from dnncost.export.runtime import Predictor
from dnncost.gen.layers import layer_table, total_macs
from dnncost.gen.spaces import sample_specs, space_names


@dataclass(frozen=True)
class Candidate:
    """A sampled network with its predicted latency and its size."""

    spec: str
    latency_ms: float
    macs: int


def random_search(predictor: Predictor, space: str, count: int, budget_ms: float,
                  seed: int) -> tuple[Candidate | None, int]:
    """(the candidate with most MACs whose predicted latency fits, how many fit)."""
    specs = sample_specs(space, count, seed)
    latencies = predictor.predict_specs([s.to_string() for s in specs])
    fitting = [Candidate(s.to_string(), float(ms), total_macs(layer_table(s)))
               for s, ms in zip(specs, latencies) if ms <= budget_ms]
    best = max(fitting, key=lambda c: c.macs, default=None)
    return best, len(fitting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="an .onnx file from `dnncost export`")
    parser.add_argument("--budget-ms", type=float, required=True)
    parser.add_argument("--space", default="efficient", choices=space_names())
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    predictor = Predictor.load(args.model)
    start = time.perf_counter()
    best, fitting = random_search(predictor, args.space, args.candidates, args.budget_ms,
                                  args.seed)
    seconds = time.perf_counter() - start
    print(f"{args.candidates} candidates from {args.space}, {fitting} under "
          f"{args.budget_ms:g} ms on {predictor.info.device or 'the model device'} "
          f"({seconds:.2f} s)")
    if best is None:
        print("none fits: raise --budget-ms or sample more --candidates")
    else:
        print(f"best: {best.macs / 1e6:.1f} M MACs, predicted {best.latency_ms:.2f} ms\n"
              f"  {best.spec}")


if __name__ == "__main__":
    main()

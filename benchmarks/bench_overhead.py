"""Host-side overhead of `dnncost bench` per measurement, and run-to-run spread locally.

1. Emulated device (the real adb server, the stand-in benchmark_model), both drivers in one
   run: one `adb shell` per measurement (the driver before the run loop) and the run loop
   (one shell for the sweep, a model path in, a result out). Per measurement, overhead is
   the wall time between two stored results minus what the device spent in the tool
   (start to exit, as the stand-in reports it to the emulated adbd) minus the stand-in's
   own Python start and exit (measured apart; a phone's native binary has none), as a %
   of what the tool reports running (init + every warm-up and timed run). The first
   contact (describe, push the tool and the models) is a one-time cost, shown apart.
2. `--device local`: each network measured R times (30 runs each); the coefficient of
   variation of its median across the R measurements.

Usage: .venv/bin/python benchmarks/bench_overhead.py [--networks 20] [--runs 30]
       [--repeats 3] [--models data/bench-overhead]   (networks from `dnncost gen`)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dnncost.bench.local import LocalRunner
from dnncost.bench.parse import clean_lines, parse_output, stat_lines
from dnncost.bench.protocol import RunConfig
from dnncost.bench.sweep import Sweep, SweepOptions, file_of
from dnncost.records import Measurement, Network
from dnncost.store import Store

REPO = Path(__file__).resolve().parents[1]


def networks(models: Path, count: int, seed: int) -> list[Network]:
    """``count`` int8 mobileopt networks from `dnncost gen` (reused when already there)."""
    from dnncost.gen.pipeline import generate

    with Store(models / "networks.sqlite") as store:
        generate(store, "mobileopt", count, seed, ("int8",), models / "files", jobs=2)
        return store.networks()[:count]


def tool_ms(raw: str) -> float:
    """What the tool reports running: init plus every warm-up and timed run."""
    lines = clean_lines(raw)
    runs_us = sum(s["count"] * s.get("avg", s.get("curr", 0.0)) for s in stat_lines(lines))
    return (parse_output(raw).init_ms or 0.0) + runs_us / 1000.0


def standin_start_exit_ms(standin: Path, repeats: int = 10) -> float:
    """Median wall time of the stand-in starting and exiting without running a model."""
    walls = []
    for _ in range(repeats):
        begin = time.perf_counter()
        subprocess.run([sys.executable, str(standin), "--graph="], capture_output=True,
                       env={k: v for k, v in os.environ.items() if not k.startswith("DNNCOST")})
        walls.append((time.perf_counter() - begin) * 1000.0)
    return statistics.median(walls)


def sweep_overheads(root: Path, nets: list[Network], runner: Any, device: Any,
                    standin_ms: float) -> tuple[list[float], list[float]]:
    """(overhead ms, overhead as % of the tool-reported time) of each measurement."""
    with Store(root / f"store-{runner.persistent_shell}.sqlite") as store:
        for network in nets:
            store.put_network(network)
        stamps: list[tuple[float, Measurement]] = []
        started: list[float] = []
        first_run = len(device.run_log)
        summary = Sweep(store, runner, nets, SweepOptions(canary_every=0),
                        on_start=lambda total: started.append(time.perf_counter()),
                        on_result=lambda m: stamps.append((time.perf_counter(), m))).run()
    assert summary.done == len(nets), summary
    tool_walls_ms = [r.wall_s * 1000.0 for r in device.run_log[first_run:]]
    overheads, shares = [], []
    previous = started[0]
    for (stamp, measurement), tool_wall_ms in zip(stamps, tool_walls_ms):
        overheads.append((stamp - previous) * 1000.0 - tool_wall_ms - standin_ms)
        shares.append(100.0 * overheads[-1] / tool_ms(measurement.raw_output or ""))
        previous = stamp
    return overheads, shares


def emulated_overhead(nets: list[Network], runs: int) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from emulator.fixtures import STANDIN, running_adb_server, start_device

    from dnncost.bench.android import AndroidRunner

    run = RunConfig(runs=runs, warmup_runs=5, timeout_s=300)
    standin_ms = standin_start_exit_ms(STANDIN)
    results = {}
    with tempfile.TemporaryDirectory() as root, running_adb_server() as server:
        device = start_device(server, Path(root) / "device", "pixel4")
        try:
            with Store(Path(root) / "first.sqlite") as store:
                for network in nets:
                    store.put_network(network)
                # A 1-run sweep pushes the tool and every model (their cost, once per device).
                pusher = AndroidRunner(server.client(), device.serial,
                                       RunConfig(runs=1, warmup_runs=0), str(STANDIN))
                begin = time.perf_counter()
                pusher.describe()
                pusher.setup(None)
                describe_s = time.perf_counter() - begin
                Sweep(store, pusher, nets, SweepOptions(canary_every=0)).run()
                first_s = time.perf_counter() - begin
            megabytes = sum(Path(file_of(n, "tflite-int8").path).stat().st_size
                            for n in nets) / 1e6
            for persistent in (False, True):
                runner = AndroidRunner(server.client(), device.serial, run, str(STANDIN),
                                       persistent_shell=persistent)
                results[persistent] = sweep_overheads(Path(root), nets, runner, device,
                                                      standin_ms)
        finally:
            device.stop()
    med = statistics.median
    print(f"emulated pixel4 over the real adb server, {len(nets)} int8 mobileopt networks, "
          f"{runs} timed + 5 warm-up runs each")
    print(f"  first contact: describe + push the tool {describe_s:.2f} s; with the "
          f"{megabytes:.1f} MB of models (a 1-run sweep) {first_s:.1f} s, once per device")
    print(f"  the stand-in's own Python start and exit (subtracted): median {standin_ms:.1f} ms")
    for persistent, label in ((False, "one adb shell per run (before)"),
                              (True, "the run loop, one shell per sweep (after)")):
        overheads, shares = results[persistent]
        print(f"  {label}: host-side overhead per measurement median {med(overheads):.1f} ms"
              f" = {med(shares):.2f}% of the measured time (max {max(shares):.2f}%)")
    print(f"  after/before: {med(results[True][0]) / med(results[False][0]):.2f} of the "
          "overhead (target < 2% of the measured time, median)")


def local_spread(nets: list[Network], runs: int, repeats: int) -> None:
    runner = LocalRunner("t1", 1, False, RunConfig(runs=runs, warmup_runs=5))
    runner.describe()
    runner.setup(None)
    cvs = []
    for network in nets:
        medians = [runner.measure(network, file_of(network, "tflite-int8")).parsed.median_ms
                   for _ in range(repeats)]
        cvs.append(100.0 * statistics.pstdev(medians) / statistics.mean(medians))
    print(f"--device local (t1: 1 thread pinned, no XNNPACK), {len(nets)} int8 networks, "
          f"{repeats} measurements of {runs} runs each")
    print(f"  coefficient of variation of the median: median {statistics.median(cvs):.2f}%, "
          f"mean {statistics.mean(cvs):.2f}%, max {max(cvs):.2f}%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", type=Path, default=REPO / "data" / "bench-overhead")
    args = parser.parse_args()
    nets = networks(args.models, args.networks, args.seed)
    emulated_overhead(nets, args.runs)
    local_spread(nets, args.runs, args.repeats)


if __name__ == "__main__":
    main()

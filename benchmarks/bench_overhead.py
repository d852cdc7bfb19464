"""Host-side overhead of `dnncost bench` per measurement, and run-to-run spread locally.

1. Emulated device (the real adb server, the stand-in benchmark_model): for each of N
   networks, the wall time between two stored results minus the time the tool reports
   running (init + every warm-up and timed run, from its own `count=.. avg=..` lines),
   in ms and as a % of that measured time. Models are pushed first (a one-time cost per
   device, shown apart). The stand-in is a Python script whose interpreter start and exit
   the tool does not report (a phone's native binary has none), so the overhead is the
   driver's time outside the run command plus one bare adb shell round trip.
2. `--device local`: each network measured R times (30 runs each); the coefficient of
   variation of its median across the R measurements.

Usage: .venv/bin/python benchmarks/bench_overhead.py [--networks 20] [--runs 30]
       [--repeats 3] [--models data/bench-overhead]   (networks from `dnncost gen`)
"""

from __future__ import annotations

import argparse
import statistics
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


def timed_runner_class() -> type:
    """AndroidRunner that also keeps how long each benchmark_model shell call took."""
    from dnncost.bench.android import AndroidRunner

    class TimedRunner(AndroidRunner):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.run_calls_ms: list[float] = []

        def shell(self, command: str, timeout_s: float = 30.0) -> Any:
            start = time.perf_counter()
            try:
                return super().shell(command, timeout_s)
            finally:
                if "--graph" in command:
                    self.run_calls_ms.append((time.perf_counter() - start) * 1000.0)

    return TimedRunner


def emulated_overhead(nets: list[Network], runs: int) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from emulator.fixtures import STANDIN, running_adb_server, start_device

    from dnncost.bench.android import AndroidRunner

    run = RunConfig(runs=runs, warmup_runs=5, timeout_s=300)
    with tempfile.TemporaryDirectory() as root, running_adb_server() as server:
        device = start_device(server, Path(root) / "device", "pixel4")
        try:
            with Store(Path(root) / "store.sqlite") as store:
                for network in nets:
                    store.put_network(network)
                # A 1-run sweep pushes the tool and every model (their cost, once per device).
                pusher = AndroidRunner(server.client(), device.serial,
                                       RunConfig(runs=1, warmup_runs=0), str(STANDIN))
                begin = time.perf_counter()
                Sweep(store, pusher, nets, SweepOptions(canary_every=0)).run()
                first_s = time.perf_counter() - begin
                megabytes = sum(Path(file_of(n, "tflite-int8").path).stat().st_size
                                for n in nets) / 1e6
                runner = timed_runner_class()(server.client(), device.serial, run, str(STANDIN))
                stamps: list[tuple[float, Measurement]] = []
                started: list[float] = []
                sweep = Sweep(store, runner, nets, SweepOptions(canary_every=0),
                              on_start=lambda total: started.append(time.perf_counter()),
                              on_result=lambda m: stamps.append((time.perf_counter(), m)))
                summary = sweep.run()
                adb = server.client().device(device.serial)
                round_trips = []
                for _ in range(20):
                    start = time.perf_counter()
                    adb.shell2("true", v2=True)
                    round_trips.append((time.perf_counter() - start) * 1000.0)
        finally:
            device.stop()
    assert summary.done == len(nets), summary
    med = statistics.median
    round_trip_ms = med(round_trips)
    walls, tools, code, overheads, shares = [], [], [], [], []
    previous = started[0]
    for (stamp, measurement), call_ms in zip(stamps, runner.run_calls_ms):
        wall = (stamp - previous) * 1000.0
        previous = stamp
        tool = tool_ms(measurement.raw_output or "")
        walls.append(wall)
        tools.append(tool)
        code.append(wall - call_ms)  # everything the driver does outside the tool's command
        overheads.append(wall - call_ms + round_trip_ms)
        shares.append(100.0 * overheads[-1] / tool)
    print(f"emulated pixel4 over the real adb server, {len(nets)} int8 mobileopt networks, "
          f"{runs} timed + 5 warm-up runs each")
    print(f"  first contact (describe, push tool + {megabytes:.1f} MB of models, 1-run sweep):"
          f" {first_s:.1f} s once per device")
    print(f"  per measurement (medians): wall {med(walls):.0f} ms, tool-reported "
          f"{med(tools):.0f} ms; wall - tool = {med(w - t for w, t in zip(walls, tools)):.0f} "
          "ms, mostly the stand-in's Python start/exit (a phone's native binary has none)")
    print(f"  driver code outside the run command (parse, store commit, bookkeeping): median "
          f"{med(code):.1f} ms; one adb shell round trip: median {round_trip_ms:.1f} ms")
    print(f"  host-side overhead per measurement (driver code + one round trip): median "
          f"{med(overheads):.1f} ms = {med(shares):.2f}% of the measured time "
          f"(max {max(shares):.2f}%; target < 5%)")


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

"""The farm: one worker thread per device, each with its own store connection (WAL).

A device that disappears is reported and the others go on; Ctrl-C stops every worker
after its run in flight. Local host profiles run one after another (they share cores).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Sequence

from dnncost.bench.runner import Runner
from dnncost.bench.sweep import DeviceSummary, Sweep, SweepOptions
from dnncost.records import Measurement, Network
from dnncost.store import Store

PLAIN_PROGRESS_S = 30.0  # without a terminal, a progress line this often


def _worker(store_path: Path, runner: Runner, networks: list[Network], options: SweepOptions,
            stop: threading.Event, position: int, show_progress: bool,
            results: list[DeviceSummary | None], show_output: bool = False) -> None:
    from tqdm import tqdm

    bar = tqdm(total=0, desc=runner.device_id, position=position, unit="net",
               disable=None if show_progress else True,  # None: off unless a terminal
               dynamic_ncols=True, leave=True)
    plain = show_progress and bar.disable  # no terminal: a line now and then instead
    last_line, total, done = [time.monotonic()], [0], set()  # a disabled bar counts nothing

    def note(text: str) -> None:
        if show_progress:
            tqdm.write(f"{sweep.summary.device_id}: {text}", file=sys.stderr)

    def started(count: int) -> None:
        bar.set_description(sweep.summary.device_id)
        bar.reset(total=count)
        total[0] = count

    def finished(measurement: Measurement) -> None:
        bar.update(1)
        bar.set_postfix(failed=sweep.summary.failed, refresh=False)
        if show_output and measurement.raw_output:
            tqdm.write(f"--- {runner.device_id} {measurement.network_id}\n"
                       f"{measurement.raw_output.rstrip()}", file=sys.stderr)
        first = measurement.network_id not in done  # not a re-measurement after a drift
        done.add(measurement.network_id)
        if plain and first and (time.monotonic() - last_line[0] >= PLAIN_PROGRESS_S
                                or len(done) == total[0]):
            last_line[0] = time.monotonic()
            note(f"{len(done)}/{total[0]} measured ({sweep.summary.failed} failed)")

    try:
        with Store(store_path) as store:
            sweep = Sweep(store, runner, networks, options, stop, started, finished, note)
            results[position] = sweep.run()
    except Exception as exc:  # a broken device must not stop the others
        results[position] = DeviceSummary(runner.device_id, status=f"failed: {exc}")
    finally:
        bar.close()


def run_farm(store_path: str | Path, runners: Sequence[Runner], networks: list[Network],
             options: SweepOptions, parallel: bool = True, show_progress: bool = True,
             show_output: bool = False) -> list[DeviceSummary]:
    """Sweep every runner (in parallel when ``parallel``); one summary per runner.
    ``show_output`` prints each run's raw tool output (``dnncost -v``)."""
    stop = threading.Event()
    results: list[DeviceSummary | None] = [None] * len(runners)
    threads = [threading.Thread(target=_worker, name=f"bench-{r.device_id}", daemon=True,
                                args=(Path(store_path), r, networks, options, stop, i,
                                      show_progress, results, show_output))
               for i, r in enumerate(runners)]
    try:
        for thread in threads:
            thread.start()
            if not parallel:
                while thread.is_alive():
                    thread.join(0.2)
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        stop.set()
        for thread in threads:
            thread.join()
        raise
    return [r or DeviceSummary(runners[i].device_id, status="failed: worker did not finish")
            for i, r in enumerate(results)]


def format_summary(summaries: Sequence[DeviceSummary]) -> str:
    """The end-of-sweep table: device, done, failed, skipped (measured before), no file
    (none of the runner's format), pending, minutes, status."""
    header = ("device", "done", "failed", "skipped", "no file", "pending", "minutes", "status")
    rows = [(s.device_id, str(s.done), str(s.failed), str(s.skipped), str(s.no_file),
             str(s.pending), f"{s.seconds / 60:.1f}", s.status) for s in summaries]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1]
             for r in [header, *rows]]
    return "\n".join(lines)

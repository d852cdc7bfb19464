"""One device's sweep: pending networks in a seeded order, drift guard, thermal care.

Each result is committed as it arrives, so a killed sweep loses at most the run in
flight; ``pending`` is every network without an OK row for (device, config).
"""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from dnncost.bench.protocol import drifted, shuffled
from dnncost.bench.runner import DeviceGone, Outcome, Runner
from dnncost.errors import DeviceError
from dnncost.paths import safe_name
from dnncost.records import (Measurement, Network, NetworkFile, RunStats, config_hash,
                             sha256_file)
from dnncost.store import Store


@dataclass(frozen=True)
class SweepOptions:
    """Order, drift-guard and thermal settings of a sweep (times in seconds)."""

    seed: int = 0
    canary_every: int = 10
    drift_tolerance: float = 0.05
    drift_cooldown_s: float | None = None  # None: 60 s on a phone, 0 on the local device
    max_temp_c: float | None = None
    max_temp_wait_s: float = 300.0
    cooldown_s: float = 0.0
    source: str = "dnncost bench"
    wait: bool = False  # for another sweep of the same device into the same store


@dataclass
class DeviceSummary:
    """What a device's sweep did: counts, minutes, and ``ok``/``gone: ...``/``failed: ...``."""

    device_id: str
    done: int = 0
    failed: int = 0
    skipped: int = 0  # measured before, in this config
    no_file: int = 0  # networks without a file of the runner's format
    remeasured: int = 0
    pending: int = 0
    seconds: float = 0.0
    status: str = "ok"
    config_hash: str | None = None
    canaries_ms: list[float] = field(default_factory=list)
    first_error: str | None = None  # of the first network whose run failed


def file_of(network: Network, file_format: str) -> NetworkFile | None:
    """The network's file in ``file_format``, or None."""
    return next((f for f in network.files if f.format == file_format), None)


def _now() -> str:  # milliseconds: a device's measurements keep their order in the store
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@contextmanager
def sweep_lock(store_path: Path, device: str, wait: bool = False) -> Iterator[None]:
    """Hold the (store, device) sweep lock: an flock on a file beside the store, which the
    system drops when its process ends however it ends (kill -9 included). Held by
    another sweep: DeviceError naming its pid and host, or, with ``wait``, wait."""
    path = store_path.with_name(f".{store_path.name}.{safe_name(device)}.lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()[:100] or "another process"
            raise DeviceError(f"{device} is being measured into {store_path} already "
                              f"({holder}): let that sweep finish, or pass --wait") from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()}")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Sweep:
    """Measures ``networks`` on ``runner`` into ``store``; call :meth:`run`."""

    def __init__(self, store: Store, runner: Runner, networks: list[Network],
                 options: SweepOptions, stop: threading.Event | None = None,
                 on_start: Callable[[int], None] | None = None,
                 on_result: Callable[[Measurement], None] | None = None,
                 on_note: Callable[[str], None] | None = None) -> None:
        self.store, self.runner, self.networks, self.options = store, runner, networks, options
        self.stop = stop or threading.Event()
        self.on_start = on_start or (lambda total: None)
        self.on_result = on_result or (lambda m: None)
        self.on_note = on_note or (lambda text: None)  # what the sweep does besides runs
        self.summary = DeviceSummary(runner.device_id)
        self.config: dict = {}
        self._seq = 0
        self._files: dict[str, str | None] = {}  # model file -> why not to measure it

    def run(self) -> DeviceSummary:
        """Describe the device, measure what is pending; DeviceGone ends it early. One
        sweep of a device into a store at a time (``options.wait``: wait for the other)."""
        started = time.monotonic()
        try:
            with sweep_lock(self.store.path, self.runner.device_id, self.options.wait):
                self._run()
        except DeviceGone as exc:
            self.summary.status = f"gone: {exc}"
        finally:
            self.runner.close()
            self.summary.seconds = time.monotonic() - started
        return self.summary

    def pending(self) -> list[Network]:
        """Runnable networks without an OK row for this device and config, seeded order."""
        ok = {m.network_id for m in self.store.measurements(self.runner.device_id,
                                                            config_hash(self.config)) if m.ok}
        runnable = {n.id: n for n in self.networks
                    if file_of(n, self.runner.file_format) and n.id not in ok}
        order = shuffled(runnable, self.options.seed, self.runner.device_id)
        return [runnable[i] for i in order]

    def _run(self) -> None:
        device = self.runner.describe()
        self.summary.device_id = device.id
        self.store.put_device(device)
        self.config = self.runner.setup(device.abi)
        self.summary.config_hash = config_hash(self.config)
        todo = self.pending()
        with_file = sum(1 for n in self.networks if file_of(n, self.runner.file_format))
        self.summary.skipped, self.summary.no_file = with_file - len(todo), \
            len(self.networks) - with_file
        self.summary.pending = len(todo)
        self.on_start(len(todo))
        if not todo:
            return
        self._seq = self.store.next_canary_seq(device.id, config_hash(self.config))
        runnable = [n for n in self.networks if file_of(n, self.runner.file_format)]
        canary = min(runnable, key=lambda n: n.name) if self.options.canary_every > 0 else None
        reference = self._canary(canary) if canary else None
        since_good: list[Network] = []
        for index, network in enumerate(todo):
            if self.stop.is_set():
                return
            self._measure(network)
            since_good.append(network)
            batch_end = len(since_good) >= self.options.canary_every or index == len(todo) - 1
            if canary is None or not batch_end:
                continue
            now_ms = self._canary(canary, reference, since_good)
            if drifted(reference, now_ms, self.options.drift_tolerance):
                self.on_note(f"the canary drifted ({now_ms:.4g} ms against "
                             f"{reference:.4g} ms): resting "
                             f"{self.options.drift_cooldown_s or 0:.0f} s, then measuring "
                             f"the last {len(since_good)} networks again")
                self._sleep(self.options.drift_cooldown_s or 0.0)
                self._wait_cool()
                self._canary(canary)
                for again in since_good:
                    if self.stop.is_set():
                        return
                    self._measure(again, remeasure=True)
                self._canary(canary)  # recorded, so the series shows the re-measured state
            since_good = []

    def _canary(self, canary: Network, reference: float | None = None,
                since_good: list[Network] | None = None) -> float | None:
        """Measure the canary and record it; when it moved past the tolerance from
        ``reference``, the networks measured since the last good canary are marked
        pending in the same transaction (a kill during the cool-down keeps no drifted
        row as good)."""
        outcome = self.runner.measure(canary, file_of(canary, self.runner.file_format))
        median_ms = outcome.parsed.median_ms if outcome.parsed.ok else None
        with self.store.transaction():
            self.store.put_canary(self.summary.device_id, self.config, self._seq, canary.id,
                                  median_ms)
            if since_good and drifted(reference, median_ms, self.options.drift_tolerance):
                self.store.mark_pending(
                    self.summary.device_id, self.config, [n.id for n in since_good],
                    f"measured while the canary drifted ({median_ms:.4g} ms against "
                    f"{reference:.4g} ms): pending a re-measurement")
        self._seq += 1
        if median_ms is not None:
            self.summary.canaries_ms.append(median_ms)
        return median_ms

    def _file_problem(self, network: Network, file: NetworkFile) -> str | None:
        """Why a network's file must not be measured (missing, or not the bytes gen
        recorded), checked once per file per sweep; None when it is the recorded file."""
        if file.path not in self._files:
            try:
                digest = sha256_file(file.path)
            except OSError as exc:
                where = "" if os.path.isabs(file.path) else \
                    f" (a path relative to where gen ran; bench runs in {os.getcwd()})"
                advice = "run bench from the directory gen ran in, or `dnncost gen` again" \
                    if where else "run `dnncost gen` again"
                self._files[file.path] = (f"model file {file.path}{where} cannot be read "
                                          f"({exc.strerror}): {advice}")
            else:
                self._files[file.path] = None if digest == file.sha256 else (
                    f"model file {file.path} has sha256 {digest[:12]}..., but the store "
                    f"recorded {file.sha256[:12]}... for {network.name}: it is another "
                    "network's file or changed; run `dnncost gen` again to rewrite it")
        return self._files[file.path]

    def _measure(self, network: Network, remeasure: bool = False) -> Measurement:
        file = file_of(network, self.runner.file_format)
        assert file is not None
        problem = self._file_problem(network, file)
        if problem is not None:
            outcome = Outcome(RunStats(error=problem), None, 0.0)
            temperature = None
        else:
            # Without --max-temp the runner reads the temperature along with the run.
            temperature = self._wait_cool() if self.options.max_temp_c is not None else None
            outcome = self.runner.measure(network, file)
        if outcome.temperature_c is not None:
            temperature = outcome.temperature_c
        measurement = Measurement(
            self.summary.device_id, network.id, self.config, **outcome.parsed.fields(),
            temperature_c=temperature, raw_output=outcome.raw_output,
            source=self.options.source, measured_at=_now())
        self.store.put_measurement(measurement)
        if remeasure:
            self.summary.remeasured += 1
        else:
            self.summary.pending -= 1
            if measurement.ok:
                self.summary.done += 1
            else:
                self.summary.failed += 1
                self.summary.first_error = self.summary.first_error or measurement.error
            self.on_result(measurement)
        self._sleep(self.options.cooldown_s)
        return measurement

    def _wait_cool(self) -> float | None:
        """The temperature now; above --max-temp, wait (bounded) until it drops."""
        temperature = self.runner.temperature_c()
        limit = self.options.max_temp_c
        deadline = time.monotonic() + self.options.max_temp_wait_s
        while (limit is not None and temperature is not None and temperature > limit
               and time.monotonic() < deadline and not self.stop.is_set()):
            self._sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            temperature = self.runner.temperature_c()
        return temperature

    def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.stop.wait(seconds)

"""One device's sweep: pending networks in a seeded order, drift guard, thermal care.

Each result is committed as it arrives, so a killed sweep loses at most the run in
flight; ``pending`` is every network without an OK row for (device, config).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from dnncost.bench.protocol import drifted, shuffled
from dnncost.bench.runner import DeviceGone, Runner
from dnncost.records import Measurement, Network, NetworkFile, config_hash
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


@dataclass
class DeviceSummary:
    """What a device's sweep did: counts, minutes, and ``ok``/``gone: ...``/``failed: ...``."""

    device_id: str
    done: int = 0
    failed: int = 0
    skipped: int = 0
    remeasured: int = 0
    pending: int = 0
    seconds: float = 0.0
    status: str = "ok"
    config_hash: str | None = None
    canaries_ms: list[float] = field(default_factory=list)


def file_of(network: Network, file_format: str) -> NetworkFile | None:
    """The network's file in ``file_format``, or None."""
    return next((f for f in network.files if f.format == file_format), None)


def _now() -> str:  # milliseconds: a device's measurements keep their order in the store
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Sweep:
    """Measures ``networks`` on ``runner`` into ``store``; call :meth:`run`."""

    def __init__(self, store: Store, runner: Runner, networks: list[Network],
                 options: SweepOptions, stop: threading.Event | None = None,
                 on_start: Callable[[int], None] | None = None,
                 on_result: Callable[[Measurement], None] | None = None) -> None:
        self.store, self.runner, self.networks, self.options = store, runner, networks, options
        self.stop = stop or threading.Event()
        self.on_start = on_start or (lambda total: None)
        self.on_result = on_result or (lambda m: None)
        self.summary = DeviceSummary(runner.device_id)
        self.config: dict = {}
        self._seq = 0

    def run(self) -> DeviceSummary:
        """Describe the device, measure what is pending; DeviceGone ends it early."""
        started = time.monotonic()
        try:
            self._run()
        except DeviceGone as exc:
            self.summary.status = f"gone: {exc}"
        finally:
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
        self.summary.skipped = len(self.networks) - len(todo)
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
            if drifted(reference, self._canary(canary), self.options.drift_tolerance):
                self._sleep(self.options.drift_cooldown_s or 0.0)
                self._wait_cool()
                self._canary(canary)
                for again in since_good:
                    if self.stop.is_set():
                        return
                    self._measure(again, remeasure=True)
                self._canary(canary)  # recorded, so the series shows the re-measured state
            since_good = []

    def _canary(self, canary: Network) -> float | None:
        outcome = self.runner.measure(canary, file_of(canary, self.runner.file_format))
        median_ms = outcome.parsed.median_ms if outcome.parsed.ok else None
        self.store.put_canary(self.summary.device_id, self.config, self._seq, canary.id,
                              median_ms)
        self._seq += 1
        if median_ms is not None:
            self.summary.canaries_ms.append(median_ms)
        return median_ms

    def _measure(self, network: Network, remeasure: bool = False) -> Measurement:
        # Without --max-temp the runner reads the temperature along with the run itself.
        temperature = self._wait_cool() if self.options.max_temp_c is not None else None
        outcome = self.runner.measure(network, file_of(network, self.runner.file_format))
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

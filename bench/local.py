"""DEVICE=local: the same records from this host with the TFLite interpreter.

The only module of bench/ that imports the interpreter (lazily: ai_edge_litert, else
tf.lite). Each profile (``t1``, ``t1-xnnpack``, ``t2-xnnpack`` ...) counts as its own
device, ``local-<hostname>-<profile>``, so one host yields a multi-device dataset.
"""

from __future__ import annotations

import os
import platform
import re
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np

from dnncost.bench import protocol
from dnncost.bench.runner import Outcome
from dnncost.errors import InputError
from dnncost.records import Device, Network, NetworkFile, RunStats, summarize_runs

_PROFILE = re.compile(r"^t(\d+)(-xnnpack)?$")
DEFAULT_PROFILES = ("t1",)


def parse_profiles(text: str) -> list[tuple[str, int, bool]]:
    """``t1,t2-xnnpack`` -> [(name, threads, xnnpack), ...]."""
    profiles = []
    for name in (p.strip() for p in text.split(",") if p.strip()):
        match = _PROFILE.match(name)
        if not match or int(match.group(1)) < 1:
            raise InputError(f"local profile {name!r} is not tN or tN-xnnpack "
                             "(e.g. t1, t1-xnnpack, t2-xnnpack)")
        profiles.append((name, int(match.group(1)), bool(match.group(2))))
    return profiles


def _interpreter_module() -> tuple[Any, str]:
    try:
        from ai_edge_litert import interpreter as litert

        from importlib.metadata import version

        return litert, f"ai-edge-litert {version('ai-edge-litert')}"
    except ImportError:
        import tensorflow as tf

        return tf.lite, f"tensorflow {tf.__version__}"


def _cpu_max_freq_mhz(cores: list[int]) -> tuple[float, ...]:
    freqs = []
    for core in cores:
        path = Path(f"/sys/devices/system/cpu/cpu{core}/cpufreq/cpuinfo_max_freq")
        try:
            freqs.append(int(path.read_text()) / 1000.0)
        except (OSError, ValueError):
            freqs.append(0.0)
    return tuple(freqs)


class LocalRunner:
    """Runs networks in this process, pinned with os.sched_setaffinity (calling thread)."""

    def __init__(self, profile: str, threads: int, xnnpack: bool, run: protocol.RunConfig,
                 seed: int = 0) -> None:
        self.profile, self.threads, self.xnnpack = profile, threads, xnnpack
        self.run = run
        self.seed = seed
        self.file_format = run.file_format
        self.device_id = protocol.sanitize_id(f"local-{socket.gethostname()}-{profile}")
        self._cores = sorted(os.sched_getaffinity(0))
        self._pinned: set[int] = set(self._cores)
        self._module, self._runtime = None, ""

    def describe(self) -> Device:
        """This host as a device record (one per profile)."""
        freqs = _cpu_max_freq_mhz(self._cores)
        ranked = sorted(self._cores, key=lambda c: (freqs[self._cores.index(c)], c),
                        reverse=True)
        self._pinned = set(ranked[:self.threads])
        ram_mb = None
        try:
            ram_mb = protocol.parse_meminfo_mb(Path("/proc/meminfo").read_text())
        except OSError:
            pass
        return Device(id=self.device_id, serial=socket.gethostname(), model=platform.node(),
                      brand="local", soc=platform.processor() or platform.machine(),
                      abi=platform.machine(), cores=len(self._cores), max_freq_mhz=freqs,
                      ram_mb=ram_mb,
                      info={"kind": "local", "profile": self.profile, "threads": self.threads,
                            "xnnpack": self.xnnpack, "pinned_cores": sorted(self._pinned),
                            "python": platform.python_version()})

    def setup(self, abi: str | None) -> dict[str, Any]:
        """Load the interpreter module; the measurement config every profile shares.

        A profile's threads and XNNPACK setting make it a distinct *device* (they are in
        its device record), so all profiles of one sweep share one config and pivot into
        one device x network matrix in learn/.
        """
        self._module, self._runtime = _interpreter_module()
        return {"tool": "tflite-interpreter", "runtime": self._runtime,
                "precision": self.run.precision, "warmup_runs": self.run.warmup_runs,
                "runs": self.run.runs}

    def temperature_c(self) -> float | None:
        """The hottest host thermal zone, when the host exposes any."""
        readings = []
        for zone in Path("/sys/class/thermal").glob("thermal_zone*/temp"):
            try:
                readings.append(protocol.temperature_c(zone.read_text()))
            except OSError:
                continue
        values = [r for r in readings if r is not None]
        return max(values) if values else None

    def measure(self, network: Network, file: NetworkFile) -> Outcome:
        """Warm-up and timed runs of one model on the pinned cores; errors become rows."""
        started = time.perf_counter()
        temperature = self.temperature_c()
        try:
            return Outcome(self._measure(file.path), None, time.perf_counter() - started,
                           temperature)
        except Exception as exc:  # a model the interpreter rejects is an error row
            return Outcome(RunStats(error=f"interpreter failed on {file.path}: {exc}"), None,
                           time.perf_counter() - started)

    def close(self) -> None:
        """Nothing to release: each run holds its interpreter only while it runs."""

    def _measure(self, path: str) -> RunStats:
        os.sched_setaffinity(0, self._pinned)  # this thread; the interpreter's pool inherits
        module = self._module
        resolver = (module.OpResolverType.AUTO if self.xnnpack
                    else module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        init_start = time.perf_counter()
        interpreter = module.Interpreter(model_path=path, num_threads=self.threads,
                                         experimental_op_resolver_type=resolver)
        interpreter.allocate_tensors()
        init_ms = (time.perf_counter() - init_start) * 1000.0
        rng = np.random.default_rng(self.seed)
        for detail in interpreter.get_input_details():
            dtype = np.dtype(detail["dtype"])
            if np.issubdtype(dtype, np.integer):
                info = np.iinfo(dtype)
                data = rng.integers(info.min, info.max, detail["shape"], dtype=dtype,
                                    endpoint=True)
            else:
                data = rng.standard_normal(detail["shape"]).astype(dtype)
            interpreter.set_tensor(detail["index"], data)
        timings_ms = []
        for _ in range(self.run.warmup_runs + self.run.runs):
            start = time.perf_counter()
            interpreter.invoke()
            timings_ms.append((time.perf_counter() - start) * 1000.0)
        return summarize_runs(timings_ms[self.run.warmup_runs:], init_ms=init_ms,
                              first_run_ms=timings_ms[0])


def local_runners(profiles: str, run: protocol.RunConfig, seed: int = 0) -> list[LocalRunner]:
    """One LocalRunner per ``--local-profile`` name (its threads and delegate are the
    profile's: the phone options --threads, --delegate and --core-mask are refused)."""
    given = [f"--{name.replace('_', '-')} {value}" for name, value, default in (
        ("threads", run.threads, 1), ("delegate", run.delegate, "cpu"),
        ("core_mask", run.core_mask, "big")) if value != default]
    if given:
        them = "them" if len(given) > 1 else "it"
        raise InputError(f"{', '.join(given)} (given on the command line or in dnncost.toml): "
                         "--device local takes threads and delegate from --local-profile (tN "
                         f"or tN-xnnpack, e.g. t2-xnnpack): drop {them}")
    parsed = parse_profiles(profiles)
    cores = len(os.sched_getaffinity(0))
    crowded = [name for name, threads, _ in parsed if threads > cores]
    if crowded:
        raise InputError(f"local profile(s) {', '.join(crowded)} ask for more threads than "
                         f"the {cores} cores this process may use: pick t1..t{cores}")
    return [LocalRunner(name, threads, xnnpack, run, seed) for name, threads, xnnpack in parsed]

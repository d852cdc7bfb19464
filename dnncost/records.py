"""Plain records shared by every stage: networks, layers, devices, measurements.

Records are frozen dataclasses with unit-carrying names. Stages pass them around;
only :mod:`dnncost.store` turns them into rows.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from typing import Any, Mapping

# Layer op types the layer table uses. Elementwise and pool layers count one
# operation per output element in ``macs`` (the IISWC 2020 encoding does the same).
OP_TYPES: tuple[str, ...] = (
    "conv",  # any dense convolution, including 1x1 pointwise
    "dwconv",  # depthwise convolution (groups == cin == cout)
    "fc",  # fully connected
    "add",  # elementwise add (residual)
    "mul",  # elementwise multiply (squeeze-excite scaling)
    "relu",
    "relu6",
    "hswish",
    "sigmoid",
    "pool",  # average or max pooling, global pooling included
    "concat",  # channel concatenation
    "other",
)

ACTIVATIONS: tuple[str, ...] = ("relu", "relu6", "hswish", "sigmoid")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the form every hash is taken of."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def stable_id(*parts: str) -> str:
    """A 16-hex-digit id from the sha256 of ``parts`` joined by ``/``."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


def config_hash(config: Mapping[str, Any]) -> str:
    """Hash of a measurement config; part of a measurement's key."""
    return hashlib.sha256(canonical_json(dict(config)).encode()).hexdigest()[:16]


def sha256_file(path: str) -> str:
    """sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Layer:
    """One row of a network's layer table, in execution order."""

    index: int
    op_type: str
    in_h: int | None = None
    in_w: int | None = None
    out_h: int | None = None
    out_w: int | None = None
    cin: int | None = None
    cout: int | None = None
    kernel: int | None = None
    stride: int | None = None
    padding: int | None = None
    groups: int | None = None
    activation: str | None = None
    macs: int | None = None
    params: int | None = None


@dataclass(frozen=True)
class NetworkFile:
    """A model file of a network: its format (``tflite-int8`` ...), path and sha256."""

    format: str
    path: str
    sha256: str


@dataclass(frozen=True)
class Network:
    """A network the store knows: where it came from, its size, its files."""

    id: str
    name: str
    space: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    macs: int | None = None
    params: int | None = None
    files: tuple[NetworkFile, ...] = ()


@dataclass(frozen=True)
class Device:
    """A measured device: a phone, a local host profile, or an imported record."""

    id: str
    serial: str | None = None
    model: str | None = None
    brand: str | None = None
    soc: str | None = None
    abi: str | None = None
    android_version: str | None = None
    cores: int | None = None
    max_freq_mhz: tuple[float, ...] = ()
    ram_mb: float | None = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunStats:
    """Statistics of one measurement's timed runs (ms, MB), or the error it ended with:
    what the benchmark_model parser, the local runner and the importers produce, and
    what a :class:`Measurement` holds besides its key."""

    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    median_ms: float | None = None
    runs: int | None = None
    init_ms: float | None = None
    first_run_ms: float | None = None
    peak_memory_mb: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Usable: no error and a positive median (as the store's USABLE)."""
        return self.error is None and self.median_ms is not None and self.median_ms > 0

    def fields(self) -> dict[str, Any]:
        """The values as keyword arguments for :class:`Measurement`."""
        return {f.name: getattr(self, f.name) for f in dataclass_fields(self)}


@dataclass(frozen=True)
class Measurement:
    """One (device, network, config) result: its :class:`RunStats` fields, flat, and where
    and when it was measured. A failed run has ``error`` set."""

    device_id: str
    network_id: str
    config: Mapping[str, Any]
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    median_ms: float | None = None
    runs: int | None = None
    init_ms: float | None = None
    first_run_ms: float | None = None
    peak_memory_mb: float | None = None
    temperature_c: float | None = None
    raw_output: str | None = None
    error: str | None = None
    tool_version: str | None = None
    source: str | None = None
    measured_at: str | None = None

    @property
    def config_hash(self) -> str:
        return config_hash(self.config)

    @property
    def stats(self) -> RunStats:
        """The run statistics of this measurement."""
        return RunStats(**{f.name: getattr(self, f.name) for f in dataclass_fields(RunStats)})

    @property
    def ok(self) -> bool:
        return self.stats.ok


def summarize_runs(runs_ms: list[float], **extra: Any) -> RunStats:
    """Mean, std (population), min, max and median of per-run latencies in ms, plus the
    other RunStats fields given in ``extra``."""
    if not runs_ms:
        raise ValueError("no runs to summarize")
    ordered = sorted(runs_ms)
    count = len(ordered)
    mean = sum(ordered) / count
    middle = count // 2
    median = ordered[middle] if count % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    std = math.sqrt(sum((x - mean) ** 2 for x in ordered) / count)
    return RunStats(mean_ms=mean, std_ms=std, min_ms=ordered[0], max_ms=ordered[-1],
                    median_ms=median, runs=count, **extra)

"""Ways into the store for measurements made elsewhere: the IISWC 2020 dataset and
generic CSV files. Both parse and validate everything first, then write in one
transaction, so a bad row imports nothing.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from dnncost.errors import InputError
from dnncost.records import Device, Layer, Measurement, Network, stable_id, summarize_runs
from dnncost.store import Store

IISWC_SOURCE = "iiswc2020"
IISWC_CONFIG = {"source": IISWC_SOURCE, "precision": "int8", "threads": 1}
IISWC_NETWORKS = 118  # rows 118-121 (EfficientNet B0-B3) are dropped, as in the paper
_IISWC_OPS = ("conv", "dwconv", "add", "relu", "pool")
_IISWC_FIELDS = 13


@dataclass(frozen=True)
class ImportSummary:
    """What an import read and how many rows of the store it changed."""

    networks: int
    devices: int
    measurements: int
    changed_rows: int


def phone_model(device_name: str) -> str:
    """The phone model behind a device file name: ``GM1901_2`` -> ``GM1901``."""
    return re.sub(r"_\d+$", "", device_name)


def iiswc_layers(line: str, where: str) -> list[Layer]:
    """Decode one onnxEmbeddings.csv line (13 numbers per layer) into layers."""
    try:
        values = [float(x) for x in line.strip().split(",") if x.strip()]
    except ValueError:
        raise InputError(f"{where}: not a list of numbers: fix or re-fetch the file") from None
    if not values or len(values) % _IISWC_FIELDS:
        raise InputError(f"{where}: {len(values)} numbers, expected a multiple of 13")
    layers = []
    for index in range(len(values) // _IISWC_FIELDS):
        v = values[index * _IISWC_FIELDS:(index + 1) * _IISWC_FIELDS]
        onehot = v[:5]
        if sorted(onehot) != [0, 0, 0, 0, 1]:
            raise InputError(f"{where}: layer {index} has no valid op one-hot")
        op = _IISWC_OPS[onehot.index(1)]
        in_hw, out_hw, cin, cout, kernel, stride, padding = (int(x) for x in v[5:12])
        groups, params = None, None
        if op == "conv":
            groups, params = 1, kernel * kernel * cin * cout + cout
        elif op == "dwconv":
            groups, params = cin, kernel * kernel * cout + cout
        layers.append(Layer(index, op, in_hw, in_hw, out_hw, out_hw, cin, cout, kernel,
                            stride, padding, groups, None, int(v[12]), params))
    return layers


def _read_runs(path: Path) -> Iterator[tuple[int, str, list[float]]]:
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                runs = [float(x) for x in line.strip().split(",")]
            except ValueError:
                raise InputError(
                    f"{path}:{number}: not comma-separated latencies in ms") from None
            if not runs or any(not math.isfinite(x) or x <= 0 for x in runs):
                raise InputError(f"{path}:{number}: latencies must be positive numbers")
            yield number, line.strip(), runs


def import_iiswc(store: Store, directory: str | Path) -> ImportSummary:
    """Import the IISWC 2020 dataset (onnxEmbeddings.csv, mobileData/*.txt, ...)."""
    root = Path(directory)
    embeddings, data_dir = root / "onnxEmbeddings.csv", root / "mobileData"
    for needed in (embeddings, data_dir):
        if not needed.exists():
            raise InputError(f"{needed} not found: pass the iiswc2020 dataset directory")
    lines = embeddings.read_text().splitlines()
    if len(lines) < IISWC_NETWORKS:
        raise InputError(f"{embeddings}: {len(lines)} lines, expected {IISWC_NETWORKS}")
    reported = _optional_column(root / "flops.csv", 0)
    networks = []
    for row in range(IISWC_NETWORKS):
        name = f"iiswc-{row:03d}"
        layers = iiswc_layers(lines[row], f"{embeddings}:{row + 1}")
        spec: dict[str, Any] = {"source": IISWC_SOURCE, "row": row}
        if row < len(reported):
            spec["reported_mmacs"] = float(reported[row])
        macs = sum(layer.macs or 0 for layer in layers if layer.op_type in ("conv", "dwconv"))
        params = sum(layer.params or 0 for layer in layers)
        networks.append((Network(stable_id(IISWC_SOURCE, name), name, IISWC_SOURCE, spec,
                                 macs, params), layers))

    hardware = {r["Device"]: r for r in _csv_rows(root / "Mob_list.csv")}
    devices, measurements = [], []
    device_files = sorted(data_dir.glob("*.txt"))
    if not device_files:
        raise InputError(f"{data_dir} holds no device files (*.txt)")
    for path in device_files:
        device = _iiswc_device(path.stem, hardware.get(path.stem))
        devices.append(device)
        rows = list(_read_runs(path))
        if len(rows) < IISWC_NETWORKS:
            raise InputError(f"{path}: {len(rows)} rows, expected at least {IISWC_NETWORKS}")
        for (network, _), (_, raw, runs) in zip(networks, rows[:IISWC_NETWORKS]):
            measurements.append(Measurement(
                device.id, network.id, IISWC_CONFIG, first_run_ms=runs[0], raw_output=raw,
                source=IISWC_SOURCE, tool_version="iiswc2020 dataset",
                **summarize_runs(runs)))

    before = store.changes()
    with store.transaction():
        for network, layers in networks:
            store.put_network(network, layers)
        for device in devices:
            store.put_device(device)
        for measurement in measurements:
            store.put_measurement(measurement)
    return ImportSummary(len(networks), len(devices), len(measurements),
                         store.changes() - before)


def _iiswc_device(name: str, hardware: dict[str, str] | None) -> Device:
    info: dict[str, Any] = {"source": IISWC_SOURCE}
    freqs: tuple[float, ...] = ()
    ram_mb = None
    if hardware:
        info["cpu"] = hardware.get("CPU", "").strip()
        try:
            freqs = (float(hardware["Frequency"]) * 1000.0,)
            ram_mb = float(hardware["RAM"]) * 1024.0
        except (KeyError, ValueError):
            pass
    return Device(name, model=phone_model(name), max_freq_mhz=freqs, ram_mb=ram_mb, info=info)


def _optional_column(path: Path, column: int) -> list[str]:
    if not path.exists():
        return []
    return [line.split(",")[column] for line in path.read_text().splitlines() if line.strip()]


def _csv_rows(path: Path | None) -> list[dict[str, str]]:
    if path is None or not path.exists():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))

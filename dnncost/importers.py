"""Ways into the store for measurements made elsewhere: the IISWC 2020 dataset and
generic CSV files. Both parse and validate everything first, then write in one
transaction, so a bad row imports nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    without_layers: tuple[str, ...] = ()  # networks new to the store, with no layer table


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


def iiswc_networks(population: Any, where: str = "onnxEmbeddings.csv"
                   ) -> list[tuple[Network, list[Layer]]]:
    """The study's 118 networks as the store keeps them: named ``iiswc-NNN``, their layer
    table the paper's encoding, their spec the one gen builds (``gen --space iiswc``)."""
    from dnncost.gen.spaces import iiswc_networks as specs
    from dnncost.population import reported_mmacs

    reported = reported_mmacs(population)
    networks = []
    for row, (name, label, built) in enumerate(specs()):
        layers = iiswc_layers(population.embedding_lines[row], f"{where}:{row + 1}")
        spec: dict[str, Any] = {"source": IISWC_SOURCE, "row": row, "network": label,
                                "spec": built.to_string()}
        if row < len(reported):
            spec["reported_mmacs"] = float(reported[row])
        macs = sum(layer.macs or 0 for layer in layers if layer.op_type in ("conv", "dwconv"))
        params = sum(layer.params or 0 for layer in layers)
        networks.append((Network(stable_id(IISWC_SOURCE, name), name, IISWC_SOURCE, spec,
                                 macs, params), layers))
    return networks


def iiswc_config(precision: str = "int8", threads: int = 1, delegate: str = "cpu"
                 ) -> dict[str, Any]:
    """The measurement config of IISWC-format files (the study's: int8, 1 thread, CPU);
    data measured otherwise (another delegate, fp32) says so, or it would pool with it."""
    config: dict[str, Any] = {**IISWC_CONFIG, "precision": precision, "threads": threads}
    if delegate != "cpu":
        config["delegate"] = delegate
    return config


def import_iiswc(store: Store, directory: str | Path | None = None,
                 config: dict[str, Any] | None = None) -> ImportSummary:
    """Import the IISWC 2020 dataset: the copy inside dnncost when ``directory`` is
    None, else a dataset directory (onnxEmbeddings.csv, mobileData/*.txt, ...) measured
    under ``config`` (:func:`iiswc_config`; the study's by default)."""
    from dnncost.population import hardware_rows, read_population

    population = read_population(directory)
    where = "embedded onnxEmbeddings.csv" if directory is None \
        else str(Path(directory) / "onnxEmbeddings.csv")
    networks = iiswc_networks(population, where)
    hardware = hardware_rows(population)
    devices, measurements = [], []
    for device_name, device_runs in zip(population.devices, population.runs_ms):
        device = _iiswc_device(device_name, hardware.get(device_name))
        devices.append(device)
        for (network, _), runs in zip(networks, device_runs):
            measurements.append(Measurement(
                device.id, network.id, config or IISWC_CONFIG, raw_output=",".join(map(repr, runs)),
                source=IISWC_SOURCE, tool_version="iiswc2020 dataset",
                **summarize_runs(list(runs), first_run_ms=runs[0]).fields()))

    changed = store.put_all(networks, devices, measurements)
    return ImportSummary(len(networks), len(devices), len(measurements), changed)


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

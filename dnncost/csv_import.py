"""Generic CSV import: measurements, layer tables and device descriptions made elsewhere.

Every file is validated row by row before anything is written; a bad row raises an
:class:`InputError` naming ``file:line`` and the store stays as it was.
"""

from __future__ import annotations

import csv
import math
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

from dnncost.errors import InputError, shown
from dnncost.importers import ImportSummary
from dnncost.records import OP_TYPES, Device, Layer, Measurement, Network, config_hash, stable_id
from dnncost.store import Store

CSV_SOURCE = "csv"
CONFIG_COLUMNS: dict[str, Callable[[str], Any]] = {
    "precision": str, "threads": int, "delegate": str, "source": str,
}
LAYER_COLUMNS = tuple(f.name for f in fields(Layer))
_DEVICE_COLUMNS: dict[str, Callable[[str], Any]] = {
    "serial": str, "model": str, "brand": str, "soc": str, "abi": str,
    "android_version": str, "cores": int, "ram_mb": float,
}


def _read(path: str | Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{shown(file)} not found: pass an existing CSV file")
    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:  # a BOM is no column
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(f"{shown(file)}:1: missing column(s) {', '.join(missing)}")
            reader.fieldnames = header
            return [(n, {k: (v or "").strip() for k, v in row.items() if k})
                    for n, row in enumerate(reader, start=2)]
    except UnicodeDecodeError as exc:
        raise InputError(f"{shown(file)}: not UTF-8 text (byte {exc.start}): save it as a "
                         "UTF-8 CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{shown(file)}: not a CSV file dnncost reads ({str(exc)[:80]}): "
                         "fix the line") from None


def _value(where: str, column: str, text: str, kind: Callable[[str], Any]) -> Any:
    if text == "":
        return None
    try:
        value = kind(text)
    except ValueError:
        raise InputError(f"{where}: column {column}: {shown(text)!r} is not a "
                         f"{kind.__name__}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"{where}: column {column}: {shown(text)!r} is not finite")
    return value


def _parse_measurements(path: str | Path) -> list[tuple[str, str, float, dict[str, Any]]]:
    lines: dict[tuple[str, str, str], int] = {}
    parsed = []
    for line, row in _read(path, ("device", "network", "latency_ms")):
        where = f"{path}:{line}"
        if not row["device"] or not row["network"]:
            raise InputError(f"{where}: device and network must not be empty")
        latency = _value(where, "latency_ms", row["latency_ms"], float)
        if latency is None or latency <= 0:
            raise InputError(f"{where}: latency_ms must be a positive number of ms")
        config: dict[str, Any] = {"source": CSV_SOURCE}
        for column, kind in CONFIG_COLUMNS.items():
            value = _value(where, column, row.get(column, ""), kind)
            if value is not None:
                config[column] = value
        key = (row["device"], row["network"], config_hash(config))
        if key in lines:
            raise InputError(f"{where}: {shown(row['network'])} on {shown(row['device'])} is "
                             f"also on line {lines[key]}: keep one row per measurement")
        lines[key] = line
        parsed.append((row["device"], row["network"], latency, config))
    return parsed


def _parse_layers(path: str | Path) -> dict[str, list[Layer]]:
    kinds = {f.name: (str if f.name in ("op_type", "activation") else int)
             for f in fields(Layer)}
    layers: dict[str, list[Layer]] = {}
    for line, row in _read(path, ("network",) + LAYER_COLUMNS):
        where = f"{path}:{line}"
        values = {c: _value(where, c, row[c], kinds[c]) for c in LAYER_COLUMNS}
        if values["index"] is None or values["op_type"] not in OP_TYPES:
            raise InputError(
                f"{where}: need an index and an op_type among {', '.join(OP_TYPES)}")
        layers.setdefault(row["network"], []).append(Layer(**values))
    for network, rows in layers.items():
        rows.sort(key=lambda layer: layer.index)
        if [layer.index for layer in rows] != list(range(len(rows))):
            raise InputError(f"{path}: layers of {network} must be indexed 0..{len(rows) - 1}")
    return layers


def _parse_devices(path: str | Path) -> list[Device]:
    devices = []
    for line, row in _read(path, ("device",)):
        where = f"{path}:{line}"
        if not row["device"]:
            raise InputError(f"{where}: device must not be empty")
        known = {c: _value(where, c, row.get(c, ""), kind) for c, kind in _DEVICE_COLUMNS.items()}
        freqs = tuple(float(x) for x in row.get("max_freq_mhz", "").replace(";", " ").split())
        info = {k: v for k, v in row.items()
                if k not in _DEVICE_COLUMNS and k not in ("device", "max_freq_mhz") and v}
        devices.append(Device(row["device"], max_freq_mhz=freqs, info=info, **known))
    return devices


def import_csv(store: Store, measurements: str | Path, layers: str | Path | None = None,
               devices: str | Path | None = None) -> ImportSummary:
    """Import measurements (and optionally layer tables and devices) from CSV files."""
    parsed = _parse_measurements(measurements)
    layer_tables = _parse_layers(layers) if layers else {}
    device_records = {d.id: d for d in (_parse_devices(devices) if devices else [])}

    known = {n.name: n for n in store.networks()}
    stored_names = set(known)
    known_devices = {d.id for d in store.devices()}
    names = sorted({name for _, name, _, _ in parsed} | set(layer_tables))
    before = store.changes()
    with store.transaction():
        for name in names:
            network = known.get(name) or Network(stable_id(CSV_SOURCE, name), name, CSV_SOURCE)
            table = layer_tables.get(name)
            if table is not None and name not in known:
                macs = sum(l.macs or 0 for l in table if l.op_type in ("conv", "dwconv", "fc"))
                params = sum(l.params or 0 for l in table)
                network = Network(network.id, name, CSV_SOURCE, {"source": CSV_SOURCE},
                                  macs, params)
            if name not in known or table is not None:
                store.put_network(network, table)
            known[name] = network
        for device_id in sorted({d for d, _, _, _ in parsed} | set(device_records)):
            if device_id in device_records:
                store.put_device(device_records[device_id])
            elif device_id not in known_devices:
                store.put_device(Device(device_id, info={"source": CSV_SOURCE}))
        for device_id, name, latency, config in parsed:
            store.put_measurement(Measurement(
                device_id, known[name].id, config, mean_ms=latency, median_ms=latency,
                min_ms=latency, max_ms=latency, source=config["source"]))
    bare = tuple(n for n in names if n not in stored_names and n not in layer_tables)
    return ImportSummary(len(names), len({d for d, _, _, _ in parsed} | set(device_records)),
                         len(parsed), store.changes() - before, bare)

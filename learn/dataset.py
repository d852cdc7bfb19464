"""A dataset view over the store: the device x network latency matrix of one config,
network features and layer tables, and device hardware descriptors.

The store keeps one tidy measurements table; this module pivots it to a matrix in memory.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import json

import numpy as np

from dnncost.encoding import LayerTables
from dnncost.errors import ModelError
from dnncost.records import Device, Network
from dnncost.store import Store
from dnncost.learn.features import features_matrix


@dataclass(frozen=True)
class LatencyData:
    """Latencies of ``devices`` x ``networks`` (ms, NaN where not measured) and what
    describes each side. ``measure_order[d, n]`` is the position of network ``n`` in
    device ``d``'s own sweep (by ``measured_at``; rows without one, as the IISWC files,
    by their row; NaN where neither says, as HELP's tables), used to find devices that
    drift."""

    device_ids: tuple[str, ...]
    device_groups: tuple[str, ...]
    network_ids: tuple[str, ...]
    network_names: tuple[str, ...]
    latency_ms: np.ndarray
    features: np.ndarray
    layers: LayerTables
    measure_order: np.ndarray
    devices: tuple[Device, ...]
    config: Mapping[str, Any]

    @property
    def log_ms(self) -> np.ndarray:
        """Natural log of the latency matrix."""
        return np.log(self.latency_ms)

    def select(self, devices: Sequence[int] | None = None,
               networks: Sequence[int] | None = None) -> "LatencyData":
        """The view restricted to device and network positions (all when None)."""
        d = np.arange(len(self.device_ids)) if devices is None else np.asarray(devices, int)
        n = np.arange(len(self.network_ids)) if networks is None else np.asarray(networks, int)
        return replace(
            self,
            device_ids=tuple(self.device_ids[i] for i in d),
            device_groups=tuple(self.device_groups[i] for i in d),
            devices=tuple(self.devices[i] for i in d),
            network_ids=tuple(self.network_ids[i] for i in n),
            network_names=tuple(self.network_names[i] for i in n),
            latency_ms=self.latency_ms[np.ix_(d, n)],
            features=self.features[n],
            layers=self.layers.select(n),
            measure_order=self.measure_order[np.ix_(d, n)],
        )

    def network_index(self, names: Sequence[str]) -> list[int]:
        """Positions of networks given by name."""
        where = {name: i for i, name in enumerate(self.network_names)}
        return [where[name] for name in names]


def network_tables(store: Store, networks: Sequence[Network]) -> LayerTables:
    """The layer tables of ``networks``: their stored rows, or (a network imported with
    a spec only, as NAS-Bench-201's 15,625) the rows gen's walker makes of its spec."""
    from dnncost.gen.fast_layers import encoded_tables

    stored = store.layer_tables(n.id for n in networks)
    # A network with neither (a bare import-csv name) has an empty table, as before.
    records = [stored[n.id] if n.id in stored else None if n.spec.get("spec") else []
               for n in networks]
    walked = [i for i, r in enumerate(records) if r is None]
    if not walked:
        return LayerTables.of(records)  # type: ignore[arg-type]
    rows, index = encoded_tables([str(networks[i].spec["spec"]) for i in walked])
    made = LayerTables(rows, np.bincount(index, minlength=len(walked)))
    if len(walked) == len(networks):
        return made
    position = {i: k for k, i in enumerate(walked)}
    tables = [made.select([position[i]]) if r is None else LayerTables.of([r])
              for i, r in enumerate(records)]
    return LayerTables(np.concatenate([t.rows for t in tables]),
                       [int(t.counts[0]) for t in tables])


# Config keys that differ between devices measuring under one protocol: the benchmark
# binary is built per ABI, so arm64 and armv7 phones run builds with different sha256;
# a HELP setting is a device at its own batch size.
DEVICE_SPECIFIC_CONFIG = ("tool_sha256", "batch")


def protocol_key(config: Mapping[str, Any]) -> str:
    """The part of a measurement config that must match to pool devices in one matrix."""
    return json.dumps({k: v for k, v in config.items() if k not in DEVICE_SPECIFIC_CONFIG},
                      sort_keys=True)


def config_hashes(store: Store, config_hash: str | None = None) -> list[str]:
    """The config hashes pooled into one matrix: those sharing the protocol of
    ``config_hash`` (of the most measured protocol when None)."""
    counts = store.usable_config_counts()
    if not counts:
        raise ModelError(f"store {store.path} has no successful measurements: import or "
                         "bench some first (`dnncost data import-iiswc DIR`)")
    keys = {r["config_hash"]: protocol_key(json.loads(r["config"])) for r in counts}
    if config_hash is None:
        per_key = Counter()
        for r in counts:
            per_key[keys[r["config_hash"]]] += r["n"]
        chosen = max(per_key, key=lambda k: (per_key[k], k))
    elif config_hash in keys:
        chosen = keys[config_hash]
    else:
        raise ModelError(f"store {store.path} has no measurements for config {config_hash}")
    return sorted(h for h, key in keys.items() if key == chosen)


def other_configs(store: Store, chosen: Sequence[str]) -> list[dict[str, Any]]:
    """The usable measurements under protocols other than the ``chosen`` hashes':
    each protocol's config, one of its hashes and its count (never pooled with them)."""
    counts = store.usable_config_counts()
    chosen_keys = {protocol_key(json.loads(r["config"])) for r in counts
                   if r["config_hash"] in chosen}
    others: dict[str, dict[str, Any]] = {}
    for r in counts:
        key = protocol_key(json.loads(r["config"]))
        if key not in chosen_keys:
            entry = others.setdefault(key, {"config": json.loads(key),
                                            "config_hash": r["config_hash"], "n": 0})
            entry["n"] += r["n"]
    return sorted(others.values(), key=lambda e: -e["n"])


def load_dataset(store: Store, config_hash: str | None = None,
                 min_devices: int = 1) -> LatencyData:
    """Pivot the store's successful measurements of one protocol (that of ``config_hash``,
    the most measured one when None; configs differing only in the per-ABI benchmark
    binary pool together) to a device x network matrix of median latencies."""
    hashes = config_hashes(store, config_hash)
    rows = store.usable_medians(hashes)
    per_network = Counter(r["network_id"] for r in rows)
    networks = [n for n in store.networks() if per_network[n.id] >= min_devices]
    measured = {r["device_id"] for r in rows}
    devices = [d for d in store.devices() if d.id in measured]
    d_pos = {d.id: i for i, d in enumerate(devices)}
    n_pos = {n.id: i for i, n in enumerate(networks)}
    matrix = np.full((len(devices), len(networks)), np.nan)
    order = np.full(matrix.shape, np.nan)
    source_row = [n.spec.get("row") for n in networks]  # a study's file order, if any
    per_device: dict[int, list[tuple[str, float, int]]] = {}
    for r in rows:
        if r["network_id"] in n_pos:
            d, n = d_pos[r["device_id"]], n_pos[r["network_id"]]
            matrix[d, n] = r["median_ms"]
            if r["measured_at"] or source_row[n] is not None:
                per_device.setdefault(d, []).append(
                    (r["measured_at"] or "", float(source_row[n] or 0), n))
    for d, sweep in per_device.items():  # each device's own sweep order (NaN: unknown)
        for position, (_, _, n) in enumerate(sorted(sweep)):
            order[d, n] = position
    layers = network_tables(store, networks)

    return LatencyData(
        device_ids=tuple(d.id for d in devices),
        device_groups=tuple(d.model or d.id for d in devices),
        network_ids=tuple(n.id for n in networks),
        network_names=tuple(n.name for n in networks),
        latency_ms=matrix,
        features=features_matrix(layers),
        layers=layers,
        measure_order=order,
        devices=tuple(devices),
        config=json.loads(rows[0]["config"]),
    )


DEVICE_TYPES = ("phone", "cpu", "gpu", "other")


def device_type(device: Device) -> str:
    """What kind of device measured: ``phone`` (an Android device, the IISWC phones),
    ``cpu`` (this host and other computers), ``gpu``, or ``other`` (as a devices CSV or
    the device's info says)."""
    info = device.info or {}
    given = str(info.get("device_type") or "").lower()
    if given in DEVICE_TYPES:
        return given
    if info.get("kind") == "android" or info.get("source") == "iiswc2020":
        return "phone"
    if info.get("kind") == "local":
        return "cpu"
    return "other"


def device_specs(devices: Sequence[Device], cpu_vocabulary: Sequence[str]) -> np.ndarray:
    """Hardware descriptors for the `combined` mode: max frequency (MHz), RAM (MB), core
    count and a one-hot of the CPU name over ``cpu_vocabulary`` (NaN where unknown)."""
    rows = []
    for device in devices:
        cpu = str(device.info.get("cpu") or device.soc or "")
        freq = max(device.max_freq_mhz) if device.max_freq_mhz else np.nan
        rows.append([freq, device.ram_mb if device.ram_mb else np.nan,
                     device.cores if device.cores else np.nan]
                    + [1.0 if cpu == name else 0.0 for name in cpu_vocabulary])
    return np.asarray(rows, dtype=np.float32).reshape(len(devices), 3 + len(cpu_vocabulary))


def cpu_vocabulary(devices: Sequence[Device]) -> list[str]:
    """The CPU names of ``devices``, sorted, for :func:`device_specs`."""
    return sorted({str(d.info.get("cpu") or d.soc) for d in devices
                   if d.info.get("cpu") or d.soc})

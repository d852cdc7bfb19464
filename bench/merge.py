"""Merge stores measured elsewhere (collaborative characterization: each contributor
measures their own phone and sends the store).

Networks and devices are matched by id (ours kept when both hold one); a measurement
whose key exists here with other values is kept in ``measurement_conflicts`` under its
source and reported, never written over ours. Merging the same store twice changes
nothing. A device's canary series (per config) comes along when this store has none
for it, so the evidence of drift during its sweep travels with its measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from dnncost.errors import InputError
from dnncost.records import Measurement
from dnncost.store import Store


@dataclass
class MergeReport:
    """What one merge added, found identical, or kept as a conflict."""

    source: str
    networks: int = 0
    devices: int = 0
    measurements: int = 0
    unchanged: int = 0
    canary_series: int = 0
    conflicts: list[Measurement] = field(default_factory=list)


def _key(m: Measurement) -> tuple[str, str, str]:
    return m.device_id, m.network_id, m.config_hash


def merge_store(store: Store, other_path: str | Path) -> MergeReport:
    """Merge the store at ``other_path`` into ``store`` in one transaction."""
    source = str(other_path)
    if Path(other_path).resolve() == store.path.resolve():
        raise InputError(f"cannot merge {source} into itself: pass another store")
    report = MergeReport(source)
    with Store(other_path, create=False) as other, store.transaction():
        ours = {n.id: n for n in store.networks()}
        names = {n.name: n.id for n in ours.values()}
        for network in other.networks():
            if network.id in ours:
                continue
            if network.name in names:
                raise InputError(f"{source}: network {network.name!r} has id {network.id} "
                                 f"here it is {names[network.name]}: the stores come from "
                                 "different generators; rename one before merging")
            store.put_network(network, other.layers(network.id))
            report.networks += 1
        known_devices = {d.id for d in store.devices()}
        for device in other.devices():
            if device.id not in known_devices:
                store.put_device(device)
                report.devices += 1
        existing = {_key(m): m for m in store.measurements()}
        for measurement in other.measurements():
            mine = existing.get(_key(measurement))
            if mine is None:
                store.put_measurement(measurement)
                report.measurements += 1
            elif mine == measurement:
                report.unchanged += 1
            else:
                store.put_conflict(measurement, source=source)
                report.conflicts.append(measurement)
        report.canary_series = _merge_canaries(store, other)
    return report


def _merge_canaries(store: Store, other: Store) -> int:
    """Copy the other store's canary series for (device, config) pairs we have none of."""
    query = "SELECT * FROM canaries ORDER BY device_id, config_hash, seq"
    ours = {(r["device_id"], r["config_hash"]) for r in store.rows(query)}
    new = [r for r in other.rows(query) if (r["device_id"], r["config_hash"]) not in ours]
    store.put_canary_rows(new)
    return len({(r["device_id"], r["config_hash"]) for r in new})

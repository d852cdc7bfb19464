"""Merge stores measured elsewhere (collaborative characterization: each contributor
measures their own phone and sends the store).

Networks and devices are matched by id (ours kept when both hold one); a measurement
whose key exists here with other values is kept in ``measurement_conflicts`` under its
source and reported, never written over ours. Merging the same store twice changes
nothing. A device's canary series (per config) travels with its measurements: it comes
along when this merge added or matched that device's measurements under that config and
our series for it is empty or a prefix of theirs (a contributor's later, longer store);
a series that disagrees with ours is left out and counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    canary_series_left_out: int = 0
    conflicts: list[Measurement] = field(default_factory=list)


def _key(m: Measurement) -> tuple[str, str, str]:
    return m.device_id, m.network_id, m.config_hash


def merge_store(store: Store, other_path: str | Path) -> MergeReport:
    """Merge the store at ``other_path`` into ``store`` in one transaction."""
    source = str(other_path)
    if Path(other_path).resolve() == store.path.resolve():
        raise InputError(f"cannot merge {source} into itself: pass another store")
    report = MergeReport(source)
    if not Path(other_path).is_file():
        what = "is a directory" if Path(other_path).is_dir() else "does not exist"
        raise InputError(f"store {source} to merge {what}: pass the .sqlite file of another "
                         "store")
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
        held: set[tuple[str, str]] = set()  # (device, config) whose measurements we hold
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
                continue
            held.add((measurement.device_id, measurement.config_hash))
        _merge_canaries(store, other, held, report)
    return report


def _series(store: Store) -> dict[tuple[str, str], list[dict[str, Any]]]:
    series: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in store.canary_rows():
        series[row["device_id"], row["config_hash"]].append(row)
    return series


def _merge_canaries(store: Store, other: Store, held: set[tuple[str, str]],
                    report: MergeReport) -> None:
    """Copy (or extend ours with) the other store's canary series of the pairs in
    ``held``, rows verbatim; a series that disagrees with ours is left out."""
    ours = _series(store)
    for pair, rows in _series(other).items():
        mine = ours.get(pair, [])
        if pair not in held:
            continue
        common = min(len(rows), len(mine))
        if rows[:common] != mine[:common]:
            report.canary_series_left_out += 1
        elif len(rows) > len(mine):
            store.put_canary_rows(rows[len(mine):])
            report.canary_series += 1

"""The store's writes, behind typed methods: idempotent upserts, each in a transaction.

An upsert changes nothing when the row already holds the same values, so re-running a
step is a no-op (:meth:`Writes.put_all` returns the rows it changed).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import asdict, fields
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from dnncost.records import Device, Layer, Measurement, Network, canonical_json, config_hash

LAYER_FIELDS = tuple(f.name for f in fields(Layer))


def _shallow(record: Any) -> dict[str, Any]:
    """A dataclass record's fields as a dict (values not copied)."""
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Writes:
    """Write methods of :class:`dnncost.store.Store` (which provides the connection,
    ``transaction`` and ``layer_rows``)."""

    _db: sqlite3.Connection

    def transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def layer_rows(self, network_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def changes(self) -> int:
        """Rows changed since this connection opened (for idempotence checks)."""
        return self._db.total_changes

    def _upsert(self, table: str, row: Mapping[str, Any], key: tuple[str, ...]) -> None:
        columns = list(row) + ["recorded_at"]
        values = list(row.values()) + [_now()]
        quoted = [f'"{c}"' for c in columns]
        quoted_key = [f'"{k}"' for k in key]
        compared = [c for c in row if c not in key]
        differs = " OR ".join(f'{table}."{c}" IS NOT excluded."{c}"' for c in compared)
        updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in key)
        self._db.execute(
            f"INSERT INTO {table} ({', '.join(quoted)}) VALUES ({', '.join('?' * len(values))}) "
            f"ON CONFLICT ({', '.join(quoted_key)}) DO UPDATE SET {updates} WHERE {differs}",
            values,
        )

    def put_network(self, network: Network, layers: Iterable[Layer] | None = None) -> None:
        """Insert or update a network, its files and (when given) its whole layer table."""
        with self.transaction():
            row = {
                "id": network.id,
                "name": network.name,
                "space": network.space,
                "spec": canonical_json(dict(network.spec)),
                "macs": network.macs,
                "params": network.params,
            }
            self._upsert("networks", row, ("id",))
            for file in network.files:
                self._upsert(
                    "network_files",
                    {"network_id": network.id, **asdict(file)},
                    ("network_id", "format"),
                )
            if layers is not None:
                new = [asdict(layer) for layer in layers]
                if new != self.layer_rows(network.id):
                    self._db.execute("DELETE FROM layers WHERE network_id=?", (network.id,))
                    marks = ", ".join("?" * (len(LAYER_FIELDS) + 1))
                    self._db.executemany(f"INSERT INTO layers VALUES ({marks})",
                                         [(network.id, *layer.values()) for layer in new])

    def put_device(self, device: Device) -> None:
        """Insert or update a device record."""
        row = asdict(device)
        row["max_freq_mhz"] = json.dumps(list(device.max_freq_mhz))
        row["info"] = canonical_json(dict(device.info))
        with self.transaction():
            self._upsert("devices", row, ("id",))

    def put_measurement(self, measurement: Measurement) -> None:
        """Insert or replace the measurement for its (device, network, config) key."""
        row = _shallow(measurement)  # asdict deep-copies: a third of a large import
        row["config"] = canonical_json(dict(measurement.config))
        row["config_hash"] = config_hash(measurement.config)
        with self.transaction():
            self._upsert("measurements", row, ("device_id", "network_id", "config_hash"))

    def put_all(self, networks: Iterable[tuple[Network, Iterable[Layer] | None]],
                devices: Iterable[Device], measurements: Iterable[Measurement]) -> int:
        """Upsert an import's records in one transaction (all or none); returns the rows
        changed (0 when the store already held them all: imports are idempotent)."""
        before = self.changes()
        with self.transaction():
            for network, layers in networks:
                self.put_network(network, layers)
            for device in devices:
                self.put_device(device)
            for measurement in measurements:
                self.put_measurement(measurement)
        return self.changes() - before

    def put_conflict(self, measurement: Measurement, source: str) -> None:
        """Keep a measurement that disagrees with the stored one, under its source."""
        row = {
            "device_id": measurement.device_id,
            "network_id": measurement.network_id,
            "config_hash": measurement.config_hash,
            "config": canonical_json(dict(measurement.config)),
            "median_ms": measurement.median_ms,
            "mean_ms": measurement.mean_ms,
            "error": measurement.error,
            "source": source,
            "measured_at": measurement.measured_at,
        }
        with self.transaction():
            self._upsert("measurement_conflicts", row,
                         ("device_id", "network_id", "config_hash", "source"))

    def mark_pending(self, device_id: str, config: Mapping[str, Any],
                     network_ids: Iterable[str], reason: str) -> None:
        """Turn good measurements back into pending ones (their values kept), with why."""
        ids = list(network_ids)
        with self.transaction():
            self._db.execute(
                f"UPDATE measurements SET error=? WHERE device_id=? AND config_hash=? AND "
                f"error IS NULL AND network_id IN ({', '.join('?' * len(ids))})",
                [reason, device_id, config_hash(config), *ids])

    def put_canary(self, device_id: str, config: Mapping[str, Any], seq: int,
                   network_id: str, median_ms: float | None) -> None:
        """Record one point of a device's canary series (drift guard)."""
        self.put_canary_rows([{"device_id": device_id, "config_hash": config_hash(config),
                               "seq": seq, "network_id": network_id, "median_ms": median_ms,
                               "measured_at": _now()}])

    def put_canary_rows(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Write canary rows as read from a ``canaries`` table (another store's series)."""
        with self.transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO canaries VALUES (:device_id, :config_hash, :seq, "
                ":network_id, :median_ms, :measured_at)", list(rows))

"""The store's read queries, behind typed methods (every SQL of dnncost is in this package).

A *usable* measurement is one with no error and a positive median (:data:`USABLE`);
it is the one definition the learner, the summaries and the report all use.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from dnncost.records import Device, Layer, Measurement, Network, NetworkFile

USABLE = "error IS NULL AND median_ms > 0"  # and records.Measurement.ok

_EXPORT_QUERIES = {
    "networks": "SELECT id, name, space, spec, macs, params FROM networks ORDER BY name",
    "network_files": "SELECT n.name AS network, f.format, f.path, f.sha256 "
                     "FROM network_files f JOIN networks n ON n.id = f.network_id "
                     "ORDER BY n.name, f.format",
    "layers": 'SELECT n.name AS network, l.* FROM layers l JOIN networks n '
              'ON n.id = l.network_id ORDER BY n.name, l."index"',
    "devices": "SELECT * FROM devices ORDER BY id",
    "measurements": "SELECT m.device_id AS device, n.name AS network, m.* FROM measurements m "
                    "JOIN networks n ON n.id = m.network_id ORDER BY m.device_id, n.name, "
                    "m.config_hash",
}


class Reads:
    """Read methods of :class:`dnncost.store.Store` (which provides ``rows``)."""

    path: Any

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def count(self, table: str) -> int:
        """Rows of one of the store's tables."""
        return int(self.rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])

    def schema_version(self) -> str | None:
        """The schema version the store's meta table records."""
        found = self.rows("SELECT value FROM meta WHERE key='schema_version'")
        return found[0]["value"] if found else None

    def canary_rows(self) -> list[dict[str, Any]]:
        """Every canary row, by device, config hash and sequence number."""
        return self.rows("SELECT * FROM canaries ORDER BY device_id, config_hash, seq")

    def next_canary_seq(self, device_id: str, config_hash: str) -> int:
        """The sequence number of a device's next canary point for a config."""
        last = self.rows("SELECT MAX(seq) AS seq FROM canaries WHERE device_id=? AND "
                         "config_hash=?", (device_id, config_hash))[0]["seq"]
        return 0 if last is None else int(last) + 1

    def layer_rows(self, network_id: str) -> list[dict[str, Any]]:
        """A network's layer table as dicts, in order."""
        rows = self.rows('SELECT * FROM layers WHERE network_id=? ORDER BY "index"',
                         (network_id,))
        for row in rows:
            del row["network_id"]
        return rows

    def layers(self, network_id: str) -> list[Layer]:
        """A network's layer table."""
        return [Layer(**row) for row in self.layer_rows(network_id)]

    def layer_tables(self, network_ids: Iterable[str]) -> dict[str, list[Layer]]:
        """The stored layer tables of ``network_ids`` (a network without rows is absent),
        read in batches of 900 ids (SQLite's bound-parameter limit) rather than one by one."""
        wanted = list(dict.fromkeys(network_ids))
        tables: dict[str, list[Layer]] = {}
        for start in range(0, len(wanted), 900):
            batch = wanted[start:start + 900]
            for row in self.rows(f'SELECT * FROM layers WHERE network_id IN '
                                 f'({", ".join("?" * len(batch))}) ORDER BY network_id, "index"',
                                 batch):
                tables.setdefault(row.pop("network_id"), []).append(Layer(**row))
        return tables

    def networks_with_layers(self) -> set[str]:
        """Ids of the networks that have stored layer rows (the others' tables come from
        their spec: gen's walker)."""
        return {r["network_id"] for r in self.rows("SELECT DISTINCT network_id FROM layers")}

    def file_digests(self, network_id: str) -> dict[str, str]:
        """sha256 of each file format recorded for a network."""
        return {r["format"]: r["sha256"] for r in self.rows(
            "SELECT format, sha256 FROM network_files WHERE network_id=?", (network_id,))}

    def networks(self, names: Iterable[str] | None = None) -> list[Network]:
        """Networks by name (all when ``names`` is None), in name order."""
        from dnncost.errors import StoreError

        rows = self.rows("SELECT * FROM networks ORDER BY name")
        files: dict[str, list[NetworkFile]] = {}
        for f in self.rows("SELECT * FROM network_files ORDER BY format"):
            files.setdefault(f["network_id"], []).append(
                NetworkFile(f["format"], f["path"], f["sha256"]))
        by_name = {
            r["name"]: Network(r["id"], r["name"], r["space"], json.loads(r["spec"]),
                               r["macs"], r["params"], tuple(files.get(r["id"], ())))
            for r in rows
        }
        if names is None:
            return list(by_name.values())
        wanted = list(names)
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], list(by_name), n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise StoreError(
                f"unknown network(s) {', '.join(unknown[:5])} in store {self.path}: "
                f"{hint}list them with `dnncost data info --networks`")
        return [by_name[n] for n in wanted]

    def devices(self) -> list[Device]:
        """Every device record, by id."""
        devices = []
        for r in self.rows("SELECT * FROM devices ORDER BY id"):
            del r["recorded_at"]
            r["max_freq_mhz"] = tuple(json.loads(r["max_freq_mhz"] or "[]"))
            r["info"] = json.loads(r["info"])
            devices.append(Device(**r))
        return devices

    def measurements(self, device_id: str | None = None,
                     config_hash_: str | None = None) -> list[Measurement]:
        """Measurements, optionally of one device and/or one config hash."""
        sql, params = "SELECT * FROM measurements WHERE 1=1", []
        if device_id is not None:
            sql, params = sql + " AND device_id=?", params + [device_id]
        if config_hash_ is not None:
            sql, params = sql + " AND config_hash=?", params + [config_hash_]
        result = []
        for r in self.rows(sql + " ORDER BY device_id, network_id", params):
            r["config"] = json.loads(r["config"])
            for extra in ("config_hash", "recorded_at"):
                del r[extra]
            result.append(Measurement(**r))
        return result

    def usable_config_counts(self) -> list[dict[str, Any]]:
        """Per config hash of usable measurements: the config (JSON text) and the count."""
        return self.rows("SELECT config_hash, config, COUNT(*) AS n FROM measurements "
                         f"WHERE {USABLE} GROUP BY config_hash")

    def usable_medians(self, config_hashes: list[str]) -> list[dict[str, Any]]:
        """Usable (device, network, median, config, measured_at) rows of these configs,
        in the order each device measured them."""
        return self.rows(
            "SELECT device_id, network_id, median_ms, config, measured_at FROM measurements "
            f"WHERE config_hash IN ({', '.join('?' * len(config_hashes))}) AND {USABLE} "
            "ORDER BY device_id, measured_at, network_id", config_hashes)

    def config_summary(self) -> list[dict[str, Any]]:
        """Per config hash: the config, its devices, networks, ok and failed rows."""
        return self.rows(
            "SELECT config_hash, config, COUNT(DISTINCT device_id) AS devices, "
            "COUNT(DISTINCT network_id) AS networks, SUM(error IS NULL) AS ok, "
            "SUM(error IS NOT NULL) AS failed FROM measurements GROUP BY config_hash")

    def device_summary(self) -> list[dict[str, Any]]:
        """Per device: id, model, SoC, ok and failed measurements."""
        return self.rows(
            "SELECT d.id, d.model, d.soc, SUM(m.error IS NULL) AS ok, SUM(m.error IS NOT NULL) "
            "AS failed FROM devices d LEFT JOIN measurements m ON m.device_id = d.id "
            "GROUP BY d.id ORDER BY d.id")

    def usable_latencies(self) -> list[dict[str, Any]]:
        """(device_id, median_ms) of every usable measurement."""
        return self.rows(f"SELECT device_id, median_ms FROM measurements WHERE {USABLE}")

    def export_tables(self) -> dict[str, list[dict[str, Any]]]:
        """Every table as dicts with network names joined in (``data export``)."""
        return {name: self.rows(sql) for name, sql in _EXPORT_QUERIES.items()}

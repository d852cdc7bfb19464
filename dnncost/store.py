"""The dataset store: one SQLite file (WAL mode) holding networks, layers, devices
and the tidy measurements table keyed by (device, network, config hash).

Every write runs inside :meth:`Store.transaction`; writes are upserts that change
nothing when the row already holds the same values, so re-running a step is a no-op.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from dnncost.errors import StoreError
from dnncost.records import (
    Device,
    Layer,
    Measurement,
    Network,
    NetworkFile,
    canonical_json,
    config_hash,
)

SCHEMA_VERSION = 1
DEFAULT_STORE = "data/dnncost.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, space TEXT NOT NULL,
    spec TEXT NOT NULL, macs INTEGER, params INTEGER, recorded_at TEXT);
CREATE TABLE IF NOT EXISTS network_files (
    network_id TEXT NOT NULL REFERENCES networks(id), format TEXT NOT NULL,
    path TEXT NOT NULL, sha256 TEXT NOT NULL, recorded_at TEXT,
    PRIMARY KEY (network_id, format));
CREATE TABLE IF NOT EXISTS layers (
    network_id TEXT NOT NULL REFERENCES networks(id), "index" INTEGER NOT NULL,
    op_type TEXT NOT NULL, in_h INTEGER, in_w INTEGER, out_h INTEGER, out_w INTEGER,
    cin INTEGER, cout INTEGER, kernel INTEGER, stride INTEGER, padding INTEGER,
    groups INTEGER, activation TEXT, macs INTEGER, params INTEGER,
    PRIMARY KEY (network_id, "index"));
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY, serial TEXT, model TEXT, brand TEXT, soc TEXT, abi TEXT,
    android_version TEXT, cores INTEGER, max_freq_mhz TEXT, ram_mb REAL,
    info TEXT NOT NULL, recorded_at TEXT);
CREATE TABLE IF NOT EXISTS measurements (
    device_id TEXT NOT NULL REFERENCES devices(id),
    network_id TEXT NOT NULL REFERENCES networks(id),
    config_hash TEXT NOT NULL, config TEXT NOT NULL,
    mean_ms REAL, std_ms REAL, min_ms REAL, max_ms REAL, median_ms REAL, runs INTEGER,
    init_ms REAL, first_run_ms REAL, peak_memory_mb REAL, temperature_c REAL,
    raw_output TEXT, error TEXT, tool_version TEXT, source TEXT, measured_at TEXT,
    recorded_at TEXT,
    PRIMARY KEY (device_id, network_id, config_hash));
CREATE TABLE IF NOT EXISTS measurement_conflicts (
    device_id TEXT NOT NULL, network_id TEXT NOT NULL, config_hash TEXT NOT NULL,
    config TEXT NOT NULL, median_ms REAL, mean_ms REAL, error TEXT, source TEXT NOT NULL,
    measured_at TEXT, recorded_at TEXT,
    PRIMARY KEY (device_id, network_id, config_hash, source));
CREATE TABLE IF NOT EXISTS canaries (
    device_id TEXT NOT NULL, config_hash TEXT NOT NULL, seq INTEGER NOT NULL,
    network_id TEXT NOT NULL, median_ms REAL, measured_at TEXT,
    PRIMARY KEY (device_id, config_hash, seq));
"""



LAYER_FIELDS = tuple(f.name for f in fields(Layer))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """A dnncost dataset store at ``path``; ``create=False`` refuses a missing file."""

    def __init__(self, path: str | Path = DEFAULT_STORE, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists() and not create:
            raise StoreError(
                f"store {self.path} does not exist: import or generate data first "
                "(e.g. `dnncost data import-iiswc DIR`), or pass --store PATH"
            )
        if self.path.is_dir():
            raise StoreError(f"store {self.path} is a directory: pass a file path to --store")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"store {self.path} is not a readable dnncost store ({exc}): "
                "pass another --store PATH or move the file away"
            ) from None
        except OSError as exc:
            raise StoreError(f"store {self.path} cannot be opened ({exc.strerror})") from None
        self._in_transaction = False

    def _init_schema(self) -> None:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if "meta" in tables:
            row = self._db.execute(
                "SELECT value FROM meta WHERE key='schema_version'"
            ).fetchone()
            version = int(row[0]) if row else None
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.path} has schema version {version}; this dnncost reads "
                    f"version {SCHEMA_VERSION}: use a matching dnncost or a new --store"
                )
            return
        if tables:
            raise StoreError(
                f"store {self.path} is an SQLite file but not a dnncost store: "
                "pass another --store PATH"
            )
        self._db.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
        self._db.execute(
            "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
        )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """All writes inside commit together, or none does (nesting joins the outer)."""
        if self._in_transaction:
            yield self
            return
        self._db.execute("BEGIN IMMEDIATE")
        self._in_transaction = True
        try:
            yield self
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")
        finally:
            self._in_transaction = False

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

    # ---- writes -------------------------------------------------------------------
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
        row = asdict(measurement)
        row["config"] = canonical_json(dict(measurement.config))
        row["config_hash"] = config_hash(measurement.config)
        with self.transaction():
            self._upsert("measurements", row, ("device_id", "network_id", "config_hash"))

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

    # ---- reads --------------------------------------------------------------------
    def canary_rows(self) -> list[dict[str, Any]]:
        """Every canary row, by device, config hash and sequence number."""
        return self.rows("SELECT * FROM canaries ORDER BY device_id, config_hash, seq")

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only query and return plain dicts."""
        return [dict(r) for r in self._db.execute(sql, tuple(params))]

    def count(self, table: str) -> int:
        return int(self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def layer_rows(self, network_id: str) -> list[dict[str, Any]]:
        rows = self.rows('SELECT * FROM layers WHERE network_id=? ORDER BY "index"',
                         (network_id,))
        for row in rows:
            del row["network_id"]
        return rows

    def layers(self, network_id: str) -> list[Layer]:
        return [Layer(**row) for row in self.layer_rows(network_id)]

    def networks(self, names: Iterable[str] | None = None) -> list[Network]:
        """Networks by name (all when ``names`` is None), in name order."""
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
            raise StoreError(
                f"unknown network(s) {', '.join(unknown[:5])} in store {self.path}: "
                "list them with `dnncost data info`")
        return [by_name[n] for n in wanted]

    def devices(self) -> list[Device]:
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

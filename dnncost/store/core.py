"""The dataset store (its reads: reads.py, its writes: writes.py): one SQLite file (WAL
mode) holding networks, layers, devices and the tidy measurements table keyed by
(device, network, config hash).

Every write runs inside :meth:`Store.transaction`; writes are upserts that change
nothing when the row already holds the same values, so re-running a step is a no-op.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator
from urllib.parse import quote

from dnncost.errors import StoreError, shown
from dnncost.store.reads import Reads
from dnncost.store.writes import Writes

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



def _wal(db: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Switch ``db`` to WAL. SQLite answers "database is locked" at once, without its busy
    timeout, while another process makes the same new file WAL: retry for ``wait_s``."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Store(Reads, Writes):
    """A dnncost dataset store at ``path``; ``create=False`` refuses a missing file."""

    def __init__(self, path: str | Path = DEFAULT_STORE, create: bool = True) -> None:
        self.path = Path(path)
        self._in_transaction = False
        name = shown(self.path)
        try:
            exists, is_dir = self.path.exists(), self.path.is_dir()
        except OSError as exc:
            raise StoreError(f"store {name} cannot be opened ({exc.strerror}): pass another "
                             "--store PATH") from None
        if not exists and not create:
            raise StoreError(
                f"store {name} does not exist: import or generate data first "
                "(e.g. `dnncost data import-iiswc`), or pass --store PATH")
        if is_dir:
            raise StoreError(f"store {name} is a directory: pass a file path to --store")
        self.read_only = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._connect()
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"store {name} is not a readable dnncost store ({str(exc)[:80]}): "
                "pass another --store PATH or move the file away"
            ) from None
        except OSError as exc:
            raise StoreError(f"store {name} cannot be opened ({exc.strerror})") from None

    def _connect(self) -> sqlite3.Connection:
        """A connection in WAL mode; read-only (immutable) where the file cannot be written."""
        writable = not self.path.exists() or (os.access(self.path, os.W_OK)
                                              and os.access(self.path.parent, os.W_OK))
        if writable:
            db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30)
            try:
                _wal(db)
            except sqlite3.OperationalError as exc:  # read-only media despite the mode bits
                if "readonly" not in str(exc).replace(" ", "").replace("-", ""):
                    raise
                db.close()
                writable = False
        if not writable:
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1"
            db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=30)
            self.read_only = True
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def _init_schema(self) -> None:
        """Create the schema and its meta row in one transaction (a concurrent creator
        waits for it), then check the version."""
        if not self.read_only:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if not self._db.execute("SELECT name FROM sqlite_master").fetchall():
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            self._db.execute(statement)
                    self._db.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                                     (str(SCHEMA_VERSION),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if "meta" not in tables:
            raise StoreError(f"store {self.path} is an SQLite file but not a dnncost store: "
                             "pass another --store PATH")
        version = self.schema_version()
        if version != str(SCHEMA_VERSION):
            raise StoreError(
                f"store {self.path} has schema version {str(version)[:20]}; this dnncost "
                f"reads version {SCHEMA_VERSION}: use a matching dnncost or a new --store")

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
        if self.read_only:
            raise StoreError(f"store {shown(self.path)} is read-only here: copy it somewhere "
                             "writable, or pass another --store PATH")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield self
            except BaseException:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.OperationalError:  # SQLite rolled back itself (disk full ...)
                    pass
                raise
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:  # the cause, not "cannot rollback ..."
            raise self._error(exc) from None
        finally:
            self._in_transaction = False

    def _error(self, exc: sqlite3.DatabaseError) -> StoreError:
        """A one-line StoreError for what SQLite reported (nothing was written)."""
        text = str(exc)
        if "full" in text or "I/O" in text:
            advice = "a write failed (a full disk?): free disk space and run the same command again"
        elif "malformed" in text or "not a database" in text:
            advice = "the file is damaged: restore a copy (or `sqlite3 FILE .recover`)"
        elif "readonly" in text.replace(" ", "").replace("-", ""):
            advice = "it cannot be written here: pass another --store PATH"
        else:
            advice = "pass another --store PATH"
        return StoreError(f"store {shown(self.path)}: {text[:80]}: {advice}; nothing of "
                          "this step was written")

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the main file (before copying it)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # ---- reads (the queries are dnncost.store.reads.Reads) ---------------------------
    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only query and return plain dicts."""
        try:
            return [dict(r) for r in self._db.execute(sql, tuple(params))]
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from None

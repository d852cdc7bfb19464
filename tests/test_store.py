import sqlite3

import pytest

from dnncost.errors import StoreError
from dnncost.records import Device, Layer, Measurement, Network, NetworkFile
from dnncost.store import SCHEMA_VERSION, Store

from conftest import dump


def _network() -> Network:
    return Network("n1", "net-1", "test", {"a": 1}, 1000, 10,
                   (NetworkFile("tflite-int8", "/x.tflite", "ab" * 32),))


def test_round_trip_and_idempotence(tmp_path):
    path = tmp_path / "s.sqlite"
    layers = [Layer(0, "conv", 8, 8, 4, 4, 3, 16, 3, 2, 1, 1, "relu", 100, 10)]
    with Store(path) as store:
        store.put_network(_network(), layers)
        store.put_device(Device("d1", serial="S", max_freq_mhz=(2400.0, 1800.0), info={"k": 1}))
        store.put_measurement(Measurement("d1", "n1", {"threads": 1}, median_ms=2.0, runs=30))
        before, changes = dump(path), store.changes()
        store.put_network(_network(), layers)
        store.put_device(Device("d1", serial="S", max_freq_mhz=(2400.0, 1800.0), info={"k": 1}))
        store.put_measurement(Measurement("d1", "n1", {"threads": 1}, median_ms=2.0, runs=30))
        assert store.changes() == changes
        assert store.networks() == [_network()]
        assert store.layers("n1") == layers
        assert store.devices()[0].max_freq_mhz == (2400.0, 1800.0)
        assert store.measurements()[0].median_ms == 2.0
    assert dump(path) == before


def test_same_key_updates_without_duplicates(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.put_network(_network())
        store.put_device(Device("d1"))
        for median in (2.0, 3.0):
            store.put_measurement(Measurement("d1", "n1", {"threads": 1}, median_ms=median))
        store.put_measurement(Measurement("d1", "n1", {"threads": 2}, median_ms=1.5))
        rows = store.measurements()
        assert sorted((m.config["threads"], m.median_ms) for m in rows) == [(1, 3.0), (2, 1.5)]


def test_transaction_rolls_back_on_error(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.put_device(Device("d0"))
        before = dump(path)
        with pytest.raises(RuntimeError):
            with store.transaction():
                store.put_device(Device("d1"))
                store.put_network(_network())
                raise RuntimeError("boom")
    assert dump(path) == before


def test_unknown_schema_version_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(StoreError, match=f"schema version 99.*reads version {SCHEMA_VERSION}"):
        Store(path)


def test_garbage_and_missing_stores(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a readable dnncost store"):
        Store(garbage)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing.sqlite", create=False)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not a dnncost store"):
        Store(other)


def test_wal_mode(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        assert store.rows("PRAGMA journal_mode")[0]["journal_mode"] == "wal"

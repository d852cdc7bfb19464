"""`dnncost data merge`: idempotent, matched by id, conflicts kept apart and reported."""

from __future__ import annotations

import sqlite3
from dataclasses import replace

from click.testing import CliRunner

from dnncost.cli import cli
from dnncost.records import Device, Layer, Measurement, Network, NetworkFile
from dnncost.store import Store
from conftest import dump

NET = Network("n1", "net1", "tiny", {"width": 4}, macs=100,
              files=(NetworkFile("tflite-int8", "/x/net1.tflite", "ab" * 32),))
NET2 = Network("n2", "net2", "tiny", {"width": 8}, macs=200)
CONFIG = {"tool": "benchmark_model", "runs": 30}
CANARIES = "SELECT * FROM canaries ORDER BY device_id, config_hash, seq"


def _measurement(device: str, network: str, median_ms: float) -> Measurement:
    return Measurement(device, network, CONFIG, mean_ms=median_ms, median_ms=median_ms,
                       runs=30, measured_at="2026-11-26T10:00:00+00:00")


def _make(path, device: str, rows: dict[str, float], networks=(NET, NET2)) -> None:
    with Store(path) as store:
        for network in networks:
            store.put_network(network, [Layer(0, "conv", macs=network.macs)])
        store.put_device(Device(device, model=device.upper()))
        for network_id, median_ms in rows.items():
            store.put_measurement(_measurement(device, network_id, median_ms))


def test_merge_adds_then_is_idempotent_and_keeps_conflicts(tmp_path):
    ours, alice, bob = tmp_path / "ours.sqlite", tmp_path / "alice.sqlite", tmp_path / "bob.sqlite"
    _make(ours, "phone_a", {"n1": 5.0}, networks=(NET,))
    _make(alice, "phone_b", {"n1": 7.0, "n2": 9.0})
    _make(bob, "phone_a", {"n1": 5.5, "n2": 6.0})  # n1 disagrees with ours
    with Store(alice) as store:  # alice's sweep re-measured a canary twice
        for seq, median_ms in enumerate((7.0, 7.4)):
            store.put_canary("phone_b", CONFIG, seq, "n1", median_ms)

    runner = CliRunner()
    result = runner.invoke(cli, ["data", "merge", str(alice), str(bob), "--store", str(ours)])
    assert result.exit_code == 0, result.output
    assert f"merged {alice}: 1 networks, 1 devices, 2 measurements added, 0 unchanged, " \
           "0 conflicts, 1 canary series" in result.output
    assert f"merged {bob}: 0 networks, 0 devices, 1 measurements added, 0 unchanged, " \
           "1 conflicts" in result.output
    assert "conflict phone_a / n1 / config" in result.output
    with Store(ours) as store:
        medians = {(m.device_id, m.network_id): m.median_ms for m in store.measurements()}
        conflicts = store.rows("SELECT device_id, network_id, median_ms, source "
                               "FROM measurement_conflicts")
        assert [n.name for n in store.networks()] == ["net1", "net2"]
        assert store.layer_rows("n2")[0]["macs"] == 200
        canaries = store.rows(CANARIES)
    with Store(alice) as store:
        assert canaries == store.rows(CANARIES)  # row for row, timestamps and hashes too
    assert [(r["device_id"], r["seq"], r["median_ms"]) for r in canaries] == \
        [("phone_b", 0, 7.0), ("phone_b", 1, 7.4)]
    assert medians == {("phone_a", "n1"): 5.0, ("phone_a", "n2"): 6.0,
                       ("phone_b", "n1"): 7.0, ("phone_b", "n2"): 9.0}
    assert conflicts == [{"device_id": "phone_a", "network_id": "n1", "median_ms": 5.5,
                          "source": str(bob)}]

    before = dump(ours)
    again = runner.invoke(cli, ["data", "merge", str(alice), str(bob), "--store", str(ours)])
    assert again.exit_code == 0
    assert f"merged {alice}: 0 networks, 0 devices, 0 measurements added, 2 unchanged, " \
           "0 conflicts, 0 canary series" in again.output
    assert dump(ours) == before


def _merge(*others) -> str:
    result = CliRunner().invoke(cli, ["data", "merge", *map(str, others[:-1]), "--store",
                                      str(others[-1])])
    assert result.exit_code == 0, result.output
    return result.output


def test_canary_series_travel_only_with_measurements_and_never_mix(tmp_path):
    ours, alice, later = tmp_path / "ours.sqlite", tmp_path / "alice.sqlite", \
        tmp_path / "alice_later.sqlite"
    _make(ours, "phone_a", {"n1": 5.0})
    _make(alice, "phone_b", {"n1": 7.0})
    with Store(alice) as store:
        store.put_canary("phone_b", CONFIG, 0, "n1", 7.0)
    later.write_bytes(alice.read_bytes())  # alice's sweep went on: one more network, canary
    with Store(later) as store:
        store.put_measurement(_measurement("phone_b", "n2", 9.0))
        store.put_canary("phone_b", CONFIG, 1, "n1", 7.2)
    assert "1 canary series" in _merge(alice, ours)
    assert "1 measurements added, 1 unchanged, 0 conflicts, 1 canary series" in \
        _merge(later, ours)  # ours was a prefix of the later series: extended
    with Store(ours) as store, Store(later) as theirs:
        assert store.rows(CANARIES) == theirs.rows(CANARIES)

    # a series that disagrees with ours is left out, ours kept
    with Store(later) as store:
        store.put_canary("phone_b", CONFIG, 1, "n1", 8.8)
        store.put_canary("phone_b", CONFIG, 2, "n1", 7.1)
    before = dump(ours)
    assert "1 canary series of" in _merge(later, ours) and dump(ours) == before
    with sqlite3.connect(later) as db:  # as long as ours, and still disagreeing: counted too
        db.execute("DELETE FROM canaries WHERE seq=2")
    assert "1 canary series of" in _merge(later, ours) and dump(ours) == before

    # a device whose only measurement conflicts with ours brings no canary series
    bob = tmp_path / "bob.sqlite"
    _make(bob, "phone_a", {"n1": 5.5})
    with Store(bob) as store:
        store.put_canary("phone_a", CONFIG, 0, "n1", 5.5)
    assert "1 conflicts, 0 canary series" in _merge(bob, ours)
    with Store(ours) as store:
        assert not store.rows("SELECT * FROM canaries WHERE device_id='phone_a'")


def test_merge_refuses_same_name_with_other_id_and_changes_nothing(tmp_path):
    ours, other = tmp_path / "ours.sqlite", tmp_path / "other.sqlite"
    _make(ours, "phone_a", {"n1": 5.0}, networks=(NET,))
    _make(other, "phone_b", {"x1": 1.0}, networks=(replace(NET, id="x1"),))
    before = dump(ours)
    result = CliRunner().invoke(cli, ["data", "merge", str(other), "--store", str(ours)])
    assert result.exit_code == 2
    assert "network 'net1' has id x1" in result.output
    assert dump(ours) == before


def test_merge_of_a_missing_store_is_an_error(tmp_path):
    result = CliRunner().invoke(cli, ["data", "merge", str(tmp_path / "nope.sqlite"),
                                      "--store", str(tmp_path / "ours.sqlite")])
    assert result.exit_code == 2 and "does not exist" in result.output

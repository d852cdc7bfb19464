"""`dnncost phone`: a new phone from nothing to its model.onnx in one command, on the
emulated device through the real adb server, including a phone that disappears."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnncost.cli import cli
from dnncost.export.runtime import Predictor
from dnncost.store import Store


@pytest.fixture(scope="session")
def population_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user cache directory of this test session (the population model is trained once)."""
    return tmp_path_factory.mktemp("cache")


def _phone(serial: str, adb_server, root: Path, *extra: str):
    from emulator.fixtures import STANDIN

    return CliRunner().invoke(cli, [
        "phone", serial, "--adb", f"{adb_server.host}:{adb_server.port}",
        "--benchmark-binary", str(STANDIN), "--warmup-runs", "1", "--runs", "3",
        "--drift-cooldown", "0", "--store", str(root / "store.sqlite"), "--out", str(root),
        *extra])


def test_a_phone_in_one_command_and_a_phone_that_disappears(
        adb_server, emulated_device, tmp_path: Path, population_cache: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(population_cache))
    dev = emulated_device(profile="pixel4")
    dev.inject("drop", after_commands=5, reconnect=False, delay_s=0.2)
    first = _phone(dev.serial, adb_server, tmp_path)
    assert first.exit_code == 2
    error = first.output.strip().splitlines()[-1]
    assert "did not finish" in error and "run the same command again" in error
    with Store(tmp_path / "store.sqlite") as store:
        (device,) = store.devices()
        kept = {m.network_id: m.measured_at for m in store.measurements(device.id)}
    assert 1 <= len(kept) < 10  # what was measured before it left is kept

    dev.connect()
    second = _phone(dev.serial, adb_server, tmp_path)
    assert second.exit_code == 0, second.output
    lines = second.output.splitlines()
    assert any(line.startswith("fit: placement") for line in lines)
    table = [line.split() for line in lines if line.startswith("  iiswc-1")]
    assert [row[0] for row in table] == ["iiswc-100", "iiswc-101", "iiswc-102", "iiswc-103",
                                         "iiswc-104", "iiswc-115", "iiswc-116", "iiswc-117"]
    assert all(float(row[row.index("ms") - 1]) > 0 for row in table)
    signature = [n["name"] for n in json.loads(next(population_cache.glob(
        "dnncost/population/*/model/signature.json")).read_text())["networks"]]
    with Store(tmp_path / "store.sqlite") as store:
        rows = store.measurements(device.id)
        names = {n.id: n.name for n in store.networks()}
    assert sorted(names[m.network_id] for m in rows) == sorted(signature)
    assert all(m.ok for m in rows)
    assert {m.network_id: m.measured_at for m in rows if m.network_id in kept} == kept
    onnx = tmp_path / f"{device.id}.onnx"
    predictor = Predictor.load(onnx)
    assert predictor.info.device == device.id
    assert set(predictor.info.signature_latency_ms) == set(signature)
    assert (tmp_path / "models" / device.id / "device_model.json").is_file()


def test_the_population_model_is_trained_once_and_holds_no_pickle(
        population_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dnncost.learn.population_model import population_model

    monkeypatch.setenv("XDG_CACHE_HOME", str(population_cache))
    first = population_model()
    stamp = (first.model_dir / "model.json").stat().st_mtime_ns
    again = population_model()
    assert again.root == first.root and not again.trained_now
    assert (again.model_dir / "model.json").stat().st_mtime_ns == stamp
    files = [p for p in first.root.rglob("*") if p.is_file()]
    assert files and not [p for p in files if p.suffix in (".pkl", ".pickle")]
    assert not [p for p in files if p.read_bytes()[:1] == b"\x80"]  # no pickle stream
    # adapting from a new phone's measurements uses the cached model
    with Store(first.store_path) as store:
        names = {n.id: n.name for n in store.networks()}
        measured = {names[m.network_id]: 1.3 * m.median_ms
                    for m in store.measurements("Pixel_4_XL_0")}
    csv_path = tmp_path / "new.csv"
    csv_path.write_text("network,latency_ms\n" + "".join(
        f"{n},{ms}\n" for n, ms in measured.items()))
    result = CliRunner().invoke(cli, ["adapt", "--population", "iiswc", "--measurements",
                                      str(csv_path), "-o", str(tmp_path / "new")])
    assert result.exit_code == 0, result.output
    assert "training the iiswc population model" not in result.output
    assert (tmp_path / "new" / "device_model.json").is_file()

import statistics

import pytest

from dnncost.errors import InputError
from dnncost.importers import IISWC_CONFIG, import_iiswc, phone_model
from dnncost.records import config_hash
from dnncost.store import Store

from conftest import dump


def test_counts(iiswc_store_path):
    with Store(iiswc_store_path) as store:
        assert store.count("networks") == 118
        assert store.count("devices") == 84
        assert store.count("measurements") == 118 * 84 == 9912
        names = [n.name for n in store.networks()]
        assert names[0] == "iiswc-000" and names[-1] == "iiswc-117"


def test_layers_match_embedding_line(iiswc_store_path, iiswc_dir):
    line = (iiswc_dir / "onnxEmbeddings.csv").read_text().splitlines()[0]
    values = [float(x) for x in line.split(",") if x]
    with Store(iiswc_store_path) as store:
        network = store.networks(["iiswc-000"])[0]
        layers = store.layers(network.id)
    assert len(layers) * 13 == len(values)
    ops = ("conv", "dwconv", "add", "relu", "pool")
    for layer in layers:
        v = values[layer.index * 13:(layer.index + 1) * 13]
        assert ops[v[:5].index(1.0)] == layer.op_type
        assert [layer.in_h, layer.out_h, layer.cin, layer.cout, layer.kernel, layer.stride,
                layer.padding, layer.macs] == [int(x) for x in v[5:]]
        assert layer.in_w == layer.in_h and layer.out_w == layer.out_h
    assert network.macs == sum(l.macs for l in layers if l.op_type in ("conv", "dwconv"))
    assert abs(network.macs / 1e6 - 65.32186) < 0.01  # flops.csv, row 0


def test_measurement_summarizes_the_30_runs(iiswc_store_path, iiswc_dir):
    runs = [float(x) for x in
            (iiswc_dir / "mobileData/GM1901_2.txt").read_text().splitlines()[17].split(",")]
    with Store(iiswc_store_path) as store:
        network = store.networks(["iiswc-017"])[0]
        [m] = [m for m in store.measurements("GM1901_2") if m.network_id == network.id]
    assert m.runs == 30 and m.config == IISWC_CONFIG
    assert m.median_ms == pytest.approx(statistics.median(runs))
    assert m.mean_ms == pytest.approx(statistics.fmean(runs))
    assert m.std_ms == pytest.approx(statistics.pstdev(runs))
    assert (m.min_ms, m.max_ms, m.first_run_ms) == (min(runs), max(runs), runs[0])
    assert config_hash(m.config) == config_hash(IISWC_CONFIG)


def test_reimport_changes_nothing(iiswc_store_copy, iiswc_dir):
    before = dump(iiswc_store_copy)
    with Store(iiswc_store_copy) as store:
        summary = import_iiswc(store, iiswc_dir)
    assert summary.changed_rows == 0
    assert dump(iiswc_store_copy) == before


def test_failure_mid_import_leaves_store_as_before(iiswc_dir, tmp_path, monkeypatch):
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        before = dump(path)
        calls = {"n": 0}
        original = Store.put_measurement

        def failing(self, measurement):
            calls["n"] += 1
            if calls["n"] == 5000:
                raise OSError("disk full")
            original(self, measurement)

        monkeypatch.setattr(Store, "put_measurement", failing)
        with pytest.raises(OSError):
            import_iiswc(store, iiswc_dir)
    assert calls["n"] == 5000
    assert dump(path) == before


def test_any_number_of_device_files(iiswc_dir, tmp_path):
    subset = tmp_path / "subset"
    (subset / "mobileData").mkdir(parents=True)
    for name in ("onnxEmbeddings.csv", "flops.csv"):
        (subset / name).write_text((iiswc_dir / name).read_text())
    for name in ("GM1901_0.txt", "Pixel_3_XL.txt"):
        (subset / "mobileData" / name).write_text((iiswc_dir / "mobileData" / name).read_text())
    with Store(tmp_path / "s.sqlite") as store:
        summary = import_iiswc(store, subset)
        assert (summary.networks, summary.devices, summary.measurements) == (118, 2, 236)
        assert [d.model for d in store.devices()] == ["GM1901", "Pixel_3_XL"]


def test_bad_directories(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(InputError, match="onnxEmbeddings.csv not found"):
            import_iiswc(store, tmp_path / "nope")
        (tmp_path / "bad/mobileData").mkdir(parents=True)
        (tmp_path / "bad/onnxEmbeddings.csv").write_text("1,2,3\n" * 118)
        with pytest.raises(InputError, match="holds no device files"):
            import_iiswc(store, tmp_path / "bad")
        (tmp_path / "bad/mobileData/X_0.txt").write_text("1.5,2.5\n" * 118)
        with pytest.raises(InputError, match="multiple of 13"):
            import_iiswc(store, tmp_path / "bad")


def test_phone_model_groups_repeated_submissions():
    assert phone_model("GM1901_3") == "GM1901"
    assert phone_model("Pixel_3_XL") == "Pixel_3_XL"
    assert phone_model("SM-G935F_1") == phone_model("SM-G935F")

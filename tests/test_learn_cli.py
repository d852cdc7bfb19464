"""`dnncost train / adapt / predict / evaluate` round trips and their error paths."""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnncost.cli import cli
from dnncost.learn.dataset import load_dataset
from dnncost.learn.model_io import load_device_model
from dnncost.store import Store

HELD_OUT = "Pixel_4_XL_0"


def _run(*args: str) -> "object":
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def stores(iiswc_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A training store without the held-out phone, and that phone's latencies."""
    root = tmp_path_factory.mktemp("learncli")
    with Store(iiswc_store_path) as store:
        store.rows("PRAGMA wal_checkpoint(FULL)")
        names = {n.id: n.name for n in store.networks()}
        held = {names[m.network_id]: m.median_ms for m in store.measurements(HELD_OUT)}
    train_store = root / "train.sqlite"
    shutil.copy(iiswc_store_path, train_store)
    with Store(train_store) as store, store.transaction():
        store.rows("DELETE FROM measurements WHERE device_id=?", (HELD_OUT,))
        store.rows("DELETE FROM devices WHERE id=?", (HELD_OUT,))
    return {"root": root, "train": train_store, "held": held}


@pytest.fixture(scope="module")
def model_dir(stores: dict) -> Path:
    out = stores["root"] / "model"
    result = _run("train", "--learning_type", "collaborative", "--model", "lowrank",
                  "--sampling_type", "d_optimal", "--numSamples", "8", "--store",
                  stores["train"], "-o", out)
    assert result.exit_code == 0, result.output
    return out


def _write(path: Path, rows: dict[str, float]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["network", "latency_ms"])
        writer.writerows(rows.items())
    return path


def _signature(model_dir: Path) -> list[str]:
    return [n["name"] for n in json.loads((model_dir / "signature.json").read_text())["networks"]]


def test_train_writes_model_signature_and_report(model_dir: Path) -> None:
    manifest = json.loads((model_dir / "model.json").read_text())
    assert manifest["mode"] == "collaborative" and manifest["model"] == "lowrank"
    assert manifest["k"] == 8 and manifest["feature_set"] == "agg-v2"
    assert len(manifest["training_devices"]) == 83 and HELD_OUT not in manifest["training_devices"]
    signature = json.loads((model_dir / "signature.json").read_text())["networks"]
    assert len(signature) == 8 and all(n["id"] and n["name"] for n in signature)
    assert "drifting devices" in (model_dir / "report.md").read_text()


def test_adapt_and_predict_round_trip(model_dir: Path, stores: dict, tmp_path: Path) -> None:
    held = stores["held"]
    measured = _write(tmp_path / "new.csv", {n: held[n] for n in _signature(model_dir)})
    result = _run("adapt", model_dir, "--measurements", measured, "-o", tmp_path / "dev")
    assert result.exit_code == 0, result.output
    assert "fit: placement" in result.output and "re-measure" not in result.output
    assert "milliseconds?" not in result.output and "own layer costs" not in result.output
    assert hasattr(load_device_model(tmp_path / "dev"), "to_exportable")
    # without --device, the device is named by its directory (the .onnx metadata says it)
    assert load_device_model(tmp_path / "dev").info["device"] == "dev"
    result = _run("predict", tmp_path / "dev", "--store", stores["train"], "--csv",
                  tmp_path / "pred.csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "pred.csv").open()))
    assert len(rows) == 118 and set(rows[0]) == {"network", "latency_ms"}
    errors = [abs(float(r["latency_ms"]) / held[r["network"]] - 1) for r in rows]
    assert sum(e < 0.1 for e in errors) / len(errors) > 0.8
    result = _run("predict", tmp_path / "dev", "--store", stores["train"], "--networks",
                  "iiswc-003,iiswc-004")
    assert result.exit_code == 0 and result.output.splitlines()[0] == "network,latency_ms"
    assert [line.split(",")[0] for line in result.output.splitlines()[1:]] == \
        ["iiswc-003", "iiswc-004"]


def test_adapt_warns_for_a_device_unlike_any_training_one(model_dir: Path, stores: dict,
                                                          tmp_path: Path) -> None:
    held = stores["held"]
    # a phone whose big networks slow down far more than its small ones (throttling)
    odd = {n: held[n] * (1 + 8 * (i % 2)) for i, n in enumerate(_signature(model_dir))}
    result = _run("adapt", model_dir, "--measurements", _write(tmp_path / "odd.csv", odd),
                  "-o", tmp_path / "odd")
    assert result.exit_code == 0
    assert "warning" in result.output and "unlike every training device" in result.output


def test_adapt_says_when_a_device_leans_on_its_own_layer_costs(model_dir: Path, stores: dict,
                                                                tmp_path: Path) -> None:
    from dnncost.learn.features import COST_AMOUNT_COLUMNS, FEATURE_NAMES, cost_amounts

    with Store(stores["train"]) as store:
        data = load_dataset(store)
    counts = [j for j, i in enumerate(COST_AMOUNT_COLUMNS) if FEATURE_NAMES[i].endswith("_count")]
    # launch-bound, as a GPU at batch 1: a cost per layer, unlike every phone
    latency_ms = 0.5 + 0.01 * cost_amounts(data.features)[:, counts].sum(1)
    rows = {n: float(latency_ms[data.network_names.index(n)]) for n in _signature(model_dir)}
    result = _run("adapt", model_dir, "--measurements", _write(tmp_path / "gpu.csv", rows),
                  "-o", tmp_path / "gpu")
    assert result.exit_code == 0, result.output
    assert "own layer costs: " in result.output, result.output
    assert "re-measure" not in result.output  # its own layer costs explain each measurement
    assert load_device_model(tmp_path / "gpu").info["own_cost_weight"] > 0.5


@pytest.mark.parametrize("factor", [3.0, 0.001])  # a spike; seconds typed for ms
def test_adapt_names_a_measurement_its_others_do_not_explain(model_dir: Path, stores: dict,
                                                              tmp_path: Path,
                                                              factor: float) -> None:
    sig = _signature(model_dir)
    odd = {n: stores["held"][n] * (factor if n == sig[2] else 1.0) for n in sig}
    result = _run("adapt", model_dir, "--measurements", _write(tmp_path / "s.csv", odd),
                  "-o", tmp_path / "dev")
    assert result.exit_code == 0, result.output
    assert f"{sig[2]} measured" in result.output and "re-measure" in result.output
    suspect = load_device_model(tmp_path / "dev").info["suspect_measurements"]
    worst = max(suspect, key=lambda n: abs(math.log(suspect[n])))  # JSON keeps no order
    assert worst == sig[2] and 0.5 * factor < suspect[sig[2]] < 2 * factor


@pytest.mark.parametrize("unit", [1000.0, 0.001])  # microseconds, seconds typed as ms
def test_adapt_asks_whether_latencies_a_thousand_times_off_are_milliseconds(
        model_dir: Path, stores: dict, tmp_path: Path, unit: float) -> None:
    scaled = {n: stores["held"][n] * unit for n in _signature(model_dir)}
    result = _run("adapt", model_dir, "--measurements", _write(tmp_path / "s.csv", scaled),
                  "-o", tmp_path / "dev")
    assert result.exit_code == 0, result.output
    assert "the training devices' typical latency: are they milliseconds?" in result.output


@pytest.mark.parametrize("case", ["missing", "unknown", "nonpositive", "in_training",
                                  "same_latencies"])
def test_adapt_errors(model_dir: Path, stores: dict, tmp_path: Path, case: str) -> None:
    sig = _signature(model_dir)
    rows = {n: stores["held"][n] for n in sig}
    extra: list[str] = []
    if case == "missing":
        rows.pop(sig[0]), rows.pop(sig[1])
    elif case == "unknown":
        rows["no-such-net"] = 3.0
    elif case == "nonpositive":
        rows[sig[0]] = 0.0
    elif case == "in_training":
        extra = ["--device", "GM1901_0"]
    else:
        with Store(stores["train"]) as store:
            names = {n.id: n.name for n in store.networks()}
            rows = {names[m.network_id]: m.median_ms for m in store.measurements("GM1901_1")
                    if names[m.network_id] in sig}
    result = _run("adapt", model_dir, "--measurements", _write(tmp_path / "n.csv", rows),
                  "-o", tmp_path / "d", *extra)
    assert result.exit_code == 2, result.output
    expected = {"missing": sig[0], "unknown": "no-such-net", "nonpositive": "positive",
                "in_training": "GM1901_0", "same_latencies": "GM1901_1"}[case]
    assert expected in result.output and "error" in result.output


def test_train_on_an_empty_store_is_a_clear_error(tmp_path: Path) -> None:
    Store(tmp_path / "empty.sqlite").close()
    result = _run("train", "--store", tmp_path / "empty.sqlite", "-o", tmp_path / "m")
    assert result.exit_code == 2 and "no successful measurements" in result.output


def test_predict_unknown_network_is_a_clear_error(model_dir: Path, stores: dict,
                                                  tmp_path: Path) -> None:
    sig = {n: stores["held"][n] for n in _signature(model_dir)}
    _run("adapt", model_dir, "--measurements", _write(tmp_path / "s.csv", sig), "-o",
         tmp_path / "dev")
    result = _run("predict", tmp_path / "dev", "--store", stores["train"], "--networks",
                  "nope-1")
    assert result.exit_code == 2 and "nope-1" in result.output


def test_a_network_imported_by_name_only_is_not_predicted(model_dir: Path, stores: dict,
                                                          tmp_path: Path) -> None:
    store = tmp_path / "typo.sqlite"
    shutil.copy(stores["train"], store)
    runs = tmp_path / "runs.csv"
    runs.write_text("device,network,latency_ms\nphoneX,iiswc-O17,12.5\n")  # O for 0
    result = _run("data", "import-csv", runs, "--store", store)
    assert result.exit_code == 0 and "iiswc-O17" in result.output and "no layer table" \
        in result.output
    sig = {n: stores["held"][n] for n in _signature(model_dir)}
    _run("adapt", model_dir, "--measurements", _write(tmp_path / "s.csv", sig), "-o",
         tmp_path / "dev")
    result = _run("predict", tmp_path / "dev", "--store", store, "--networks", "iiswc-O17")
    assert result.exit_code == 2 and "iiswc-O17 have no layer table" in result.output
    result = _run("predict", tmp_path / "dev", "--store", store)
    assert result.exit_code == 0 and "iiswc-O17" not in result.output
    assert len(result.output.strip().splitlines()) == 1 + 118
    bare = tmp_path / "bare.sqlite"
    assert _run("data", "import-csv", runs, "--store", bare).exit_code == 0
    result = _run("predict", tmp_path / "dev", "--store", bare)
    assert result.exit_code == 2 and "no network of store" in result.output
    for options, message in ((["--networks", ","], "names no network"),
                             (["--networks", "iiswc-001", "--tflite", "x.tflite"], "give one of")):
        result = _run("predict", tmp_path / "dev", "--store", store, *options)
        assert result.exit_code == 2 and message in result.output, result.output


def test_a_combined_model_adapts_from_hardware_alone_as_evaluate_scores_it(
        stores: dict, tmp_path: Path) -> None:
    result = _run("train", "--mode", "combined", "--model", "xgb", "--store", stores["train"],
                  "-o", tmp_path / "combined")
    assert result.exit_code == 0, result.output
    result = _run("adapt", tmp_path / "combined", "--max-freq-mhz", "2840", "--ram-mb", "6144",
                  "--cores", "8", "--cpu", "Kryo 485", "-o", tmp_path / "dev")
    assert result.exit_code == 0, result.output
    model = load_device_model(tmp_path / "dev")
    assert model.info["calibration_shift_log"] == 0.0 and model.info["measured_networks"] == 0
    assert "other device" not in (model.info["warning"] or "")  # its type is not known
    result = _run("adapt", tmp_path / "combined", "--device", "foo", "-o", tmp_path / "none")
    assert result.exit_code == 2 and "needs the device's hardware" in result.output
    result = _run("predict", tmp_path / "dev", "--store", stores["train"], "--networks",
                  "iiswc-003")
    assert result.exit_code == 0 and float(result.output.splitlines()[1].split(",")[1]) > 0


def test_a_collaborative_model_needs_measurements(model_dir: Path, tmp_path: Path) -> None:
    result = _run("adapt", model_dir, "-o", tmp_path / "dev")
    assert result.exit_code == 2 and "give --measurements NEW.csv" in result.output


def test_evaluate_refuses_individual_mode_on_seen_networks(iiswc_store_path: Path,
                                                           tmp_path: Path) -> None:
    result = _run("evaluate", "--mode", "individual", "--model", "xgb", "--regime", "seen",
                  "--store", iiswc_store_path, "-o", tmp_path / "ev")
    assert result.exit_code == 2 and "--regime unseen" in result.output


def test_evaluate_writes_table_json_and_plots(iiswc_store_path: Path, tmp_path: Path) -> None:
    result = _run("evaluate", "--mode", "collaborative", "--model", "lowrank", "--sampling",
                  "random", "--numSamples", "5", "--regime", "seen", "--folds", "2",
                  "--store", iiswc_store_path, "-o", tmp_path / "ev")
    assert result.exit_code == 0, result.output
    assert "| seen | collaborative | lowrank | random | 5 |" in result.output
    assert "0.9125" in result.output  # the paper's number stands beside ours
    report = json.loads((tmp_path / "ev" / "evaluation.json").read_text())
    assert {r["model"] for r in report["results"]} == {"macs", "lowrank"}
    assert (tmp_path / "ev" / "pred_vs_measured_seen.png").stat().st_size > 1000
    assert (tmp_path / "ev" / "accuracy_vs_k_seen.png").exists()


def test_adapt_uses_every_measurement_given(stores: dict, tmp_path: Path) -> None:
    out = tmp_path / "xgb"
    result = _run("train", "--model", "xgb", "--sampling", "random", "--numSamples", "5",
                  "--store", stores["train"], "-o", out)
    assert result.exit_code == 0, result.output
    held, sig = stores["held"], _signature(out)
    errors = {}
    for label, rows in (("signature", {n: held[n] for n in sig}),
                        ("more", {n: held[n] for n in sorted(held)[::2]} |
                         {n: held[n] for n in sig})):
        assert _run("adapt", out, "--measurements", _write(tmp_path / f"{label}.csv", rows),
                    "-o", tmp_path / label).exit_code == 0
        model = load_device_model(tmp_path / label)
        assert model.info["measured_networks"] == len(rows)
        others = [n for n in sorted(held)[1::2] if n not in sig]
        with Store(stores["train"]) as store:
            layers = [store.layers(n.id) for n in store.networks(others)]
        predicted = model.predict_ms(layers)
        errors[label] = sum(abs(p / held[n] - 1) for p, n in zip(predicted, others))
    assert errors["more"] < errors["signature"]


@pytest.mark.parametrize("which", ["device_model", "model"])
@pytest.mark.parametrize("version", ["newer", "older", "junk"])
def test_model_formats_other_than_this_version(model_dir: Path, stores: dict, tmp_path: Path,
                                               which: str, version: str) -> None:
    sig = {n: stores["held"][n] for n in _signature(model_dir)}
    shutil.copytree(model_dir, tmp_path / "model")
    assert _run("adapt", tmp_path / "model", "--measurements",
                _write(tmp_path / "s.csv", sig), "-o", tmp_path / "dev").exit_code == 0
    predicted = _run("predict", tmp_path / "dev", "--store", stores["train"]).output
    directory = tmp_path / ("dev" if which == "device_model" else "model")
    manifest_path = directory / f"{which}.json"
    manifest = json.loads(manifest_path.read_text())
    if version == "newer":
        manifest["format_version"] += 1
    elif version == "junk":
        manifest["format_version"] = "2.0"
    else:  # format 1: no format_version (and, for a device model, no cost_sum term)
        del manifest["format_version"]
        manifest.pop("cost_sum", None)
    manifest_path.write_text(json.dumps(manifest))
    if which == "device_model":
        result = _run("predict", directory, "--store", stores["train"])
    else:
        result = _run("adapt", directory, "--measurements", tmp_path / "s.csv", "-o",
                      tmp_path / "dev2")
    if which == "device_model" and version == "older":  # still loads; known networks same
        assert result.exit_code == 0 and result.output == predicted, result.output
        return
    expected = {"newer": "upgrade dnncost", "older": "train it again",
                "junk": "not a positive integer"}[version]
    assert result.exit_code == 2 and expected in result.output and str(directory) in \
        result.output, result.output

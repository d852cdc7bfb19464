"""`dnncost export` end to end: train and adapt on the IISWC store with learn/, export,
then ONNX and the C predictor equal the Python model on every network of the store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dnncost.cli import cli
from dnncost.export.onnx_export import relative_error
from dnncost.export.pipeline import load_exportable, store_tables
from dnncost.learn.device_model import exportable_features
from dnncost.export.runtime import Predictor
from dnncost.store import Store

NATIVE = Path(__file__).resolve().parents[1] / "android_native"


def _device_model(store_path: Path, out: Path, model: str) -> Path:
    """Train on the store (small settings), adapt to a made-up device 10% slower."""
    from dnncost.learn.model_io import load_model
    from dnncost.learn.training import TrainOptions
    from dnncost.learn.workflow import adapt_to_dir, train_to_dir

    with Store(store_path, create=False) as store:
        train_to_dir(store, TrainOptions(model=model, k=4, n_estimators=12, lstm_epochs=2),
                     out / "trained")
    trained, _ = load_model(out / "trained")
    device = sorted(trained.signature_ms)[0]
    lines = ["network,latency_ms"] + [f"{name},{ms * 1.1!r}" for name, ms in
                                      zip(trained.signature, trained.signature_ms[device])]
    (out / "signature.csv").write_text("\n".join(lines) + "\n")
    adapt_to_dir(out / "trained", out / "signature.csv", out / "adapted")
    return out / "adapted"


@pytest.fixture(scope="module", params=["xgb", "lowrank"])
def tree_device_model(request: pytest.FixtureRequest, iiswc_store_path: Path,
                     tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Device models of two forms: trees only (xgb), trees and a layer-cost term (lowrank)."""
    return _device_model(iiswc_store_path, tmp_path_factory.mktemp(request.param),
                         request.param)


def _export(*args: str) -> None:
    result = CliRunner().invoke(cli, ["export", *args])
    assert result.exit_code == 0, result.output
    assert "parity on 118 networks" in result.output


def test_onnx_equals_python_on_every_store_network(tree_device_model, iiswc_store_path,
                                                  tmp_path):
    _export(str(tree_device_model), "-o", str(tmp_path / "m.onnx"), "--store",
            str(iiswc_store_path), "--device", "made-up-phone")
    model = load_exportable(tree_device_model)
    names, tables = store_tables(iiswc_store_path)
    rows = exportable_features(model, tables)
    predictor = Predictor.load(tmp_path / "m.onnx")
    assert len(names) == 118 and predictor.info.takes_layers
    assert relative_error(predictor.predict_layers(tables), model.predict_ms(rows)) <= 1e-4
    info = predictor.info
    assert info.device == "made-up-phone" and info.feature_set == model.feature_set
    assert len(info.signature_latency_ms) == 4 and "mape" in info.training_metrics


def test_c_predictor_equals_onnx_on_every_store_network(tree_device_model, iiswc_store_path,
                                                        tmp_path):
    if subprocess.run(["cmake", "--version"], capture_output=True).returncode != 0:
        pytest.skip("cmake not found")
    store = str(iiswc_store_path)
    _export(str(tree_device_model), "-o", str(tmp_path / "m.onnx"), "--store", store)
    _export(str(tree_device_model), "--format", "c", "-o", str(tmp_path / "m.c"), "--store", store)
    build = tmp_path / "build"
    subprocess.run(["cmake", "-S", str(NATIVE), "-B", str(build), "-DDNNCOST_JNI=OFF",
                    "-DDNNCOST_SHARED=OFF", f"-DDNNCOST_MODEL_C={tmp_path / 'm.c'}"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    _, tables = store_tables(iiswc_store_path)
    rows = exportable_features(load_exportable(tree_device_model), tables)
    np.savetxt(tmp_path / "rows.csv", rows, delimiter=",", fmt="%.9g")
    printed = subprocess.run([str(build / "dnncost_cli"), str(tmp_path / "rows.csv")],
                             capture_output=True, text=True, check=True).stdout
    onnx_ms = Predictor.load(tmp_path / "m.onnx").predict_layers(tables)
    assert relative_error(np.array(printed.split(), float), onnx_ms) <= 1e-4


def test_export_of_a_non_model_directory_is_one_line_and_exit_2(tmp_path, iiswc_store_path):
    result = CliRunner().invoke(cli, ["export", str(tmp_path), "-o", str(tmp_path / "m.onnx"),
                                      "--store", str(iiswc_store_path)])
    assert result.exit_code == 2 and "not a device model directory" in result.output
    assert not (tmp_path / "m.onnx").exists()


def test_predict_takes_tflite_files_through_the_onnx_and_the_device_model(
        tree_device_model, iiswc_store_path, tmp_path):
    from dnncost.gen.spec import parse_spec
    from dnncost.gen.tflite_build import spec_to_tflite
    from dnncost.gen.tflite_layers import tflite_layer_table

    path = tmp_path / "net.int8.tflite"
    path.write_bytes(spec_to_tflite(parse_spec("r96 conv_k3_s2_c16 ir_k3_s1_h32_c16 gap "
                                               "conv_k1_s1_c10"), ("int8",))["int8"])
    _export(str(tree_device_model), "-o", str(tmp_path / "m.onnx"), "--store",
            str(iiswc_store_path))
    expected = Predictor.load(tmp_path / "m.onnx").predict_layers([tflite_layer_table(path)])[0]
    for model in (tmp_path / "m.onnx", tree_device_model):
        result = CliRunner().invoke(cli, ["predict", str(model), "--tflite", str(path)])
        assert result.exit_code == 0, result.output
        header, row = result.stdout.splitlines()
        assert header == "network,latency_ms" and row.startswith(f"{path},")
        # 96 x 96 input, while every training network is 224 x 224: warned, as for a spec
        assert "pixels of the first layer's input 9,216, the training networks' 50,176" \
            in result.stderr
        assert float(row.split(",")[1]) == pytest.approx(expected, rel=1e-4)
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a model")
    result = CliRunner().invoke(cli, ["predict", str(tmp_path / "m.onnx"), "--tflite", str(bad)])
    assert result.exit_code == 2 and "not a TFLite model" in result.output
    for model in (tmp_path / "m.onnx", tree_device_model):  # lines are stripped of ASCII only
        result = CliRunner().invoke(cli, ["predict", str(model), "--specs", "-"],
                                    input="r32 conv_k3_s2_c8\x1c\n")
        assert result.exit_code == 2 and "holds '\\x1c'" in result.output, result.output
        assert "line 1: network spec" in result.output

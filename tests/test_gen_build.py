"""gen/ with the real converters: Keras -> TFLite in worker processes, the TFLite
interpreter, torchprofile, ONNX. Converts each network once per session."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from dnncost.gen.layers import layer_table, total_macs, total_params
from dnncost.gen.pipeline import _needed, generate, model_path
from dnncost.gen.spaces import sample_specs
from dnncost.gen.spec import parse_spec, spec_id
from dnncost.gen.tflite_layers import tflite_layer_table
from dnncost.records import sha256_file
from dnncost.store import Store

SEED = 127  # small first networks of both spaces, with every block kind and act
SPACES = ("mobileopt", "efficient")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One network of each space, fp32 and int8, generated into a fresh store."""
    root = tmp_path_factory.mktemp("gen")
    store_path, out = root / "gen.sqlite", root / "models"
    tensorflow_loaded = "tensorflow" in sys.modules
    with Store(store_path) as store:
        for space in SPACES:
            summary = generate(store, space, 1, SEED, ("fp32", "int8"), out, jobs=1)
            assert (summary.networks, summary.converted, summary.files_written) == (1, 1, 2)
    assert tensorflow_loaded or "tensorflow" not in sys.modules  # converted in workers only
    return store_path, out


def _files(store_path: Path) -> dict[str, dict[str, str]]:
    with Store(store_path) as store:
        return {n.name: {f.format: f.path for f in n.files} for n in store.networks()}


def test_generate_registers_networks_files_and_layers(generated) -> None:
    store_path, out = generated
    with Store(store_path) as store:
        networks = store.networks()
        assert sorted(n.space for n in networks) == sorted(SPACES)
        for network in networks:
            spec = parse_spec(network.spec["spec"])
            assert network.id == spec_id(spec) and network.name == f"{network.space}-{network.id[:8]}"
            assert network.macs == total_macs(layer_table(spec))
            assert network.params == total_params(layer_table(spec))
            assert store.layers(network.id) == layer_table(spec)
            assert {f.format for f in network.files} == {"tflite-fp32", "tflite-int8"}
            for file in network.files:
                assert Path(file.path) == model_path(out, network.id, file.format[7:])
                assert sha256_file(file.path) == file.sha256
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


def test_analytic_layer_table_equals_the_one_read_from_the_tflite(generated) -> None:
    store_path, _ = generated
    with Store(store_path) as store:
        for network in store.networks():
            for file in network.files:
                assert tflite_layer_table(file.path) == store.layers(network.id), file.path


def test_models_run_in_the_tflite_interpreter(generated) -> None:
    from ai_edge_litert.interpreter import Interpreter

    for formats in _files(generated[0]).values():
        for fmt, path in formats.items():
            interpreter = Interpreter(model_path=path)
            interpreter.allocate_tensors()
            detail = interpreter.get_input_details()[0]
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
            interpreter.invoke()
            output = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
            assert output.shape == (1, 1000)
            assert output.dtype == (np.int8 if fmt == "tflite-int8" else np.float32)


def test_int8_models_have_int8_weights(generated) -> None:
    from ai_edge_litert.interpreter import Interpreter

    for formats in _files(generated[0]).values():
        interpreter = Interpreter(model_path=formats["tflite-int8"])
        tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
        weights = [tensors[op["inputs"][1]] for op in interpreter._get_ops_details()
                   if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D")]
        assert weights and all(t["dtype"] == np.int8 for t in weights)
        fp32 = Interpreter(model_path=formats["tflite-fp32"])
        assert all(t["dtype"] != np.int8 for t in fp32.get_tensor_details())


def test_asking_again_does_no_work_twice(generated) -> None:
    store_path, out = generated
    stamps = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    with Store(store_path) as store:
        before = store.changes()
        for space in SPACES:
            summary = generate(store, space, 1, SEED, ("fp32", "int8"), out, jobs=1)
            assert (summary.converted, summary.files_written) == (0, 0)
        assert store.changes() == before
        assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == stamps
        # a file whose bytes no longer match the store would be converted again
        spec = sample_specs("mobileopt", 1, SEED)[0]
        assert _needed(store, spec_id(spec), ("fp32", "int8"), out) == (
            [], {p: sha256_file(str(model_path(out, spec_id(spec), p))) for p in ("fp32", "int8")})
        assert _needed(store, spec_id(spec), ("fp32",), out / "elsewhere")[0] == ["fp32"]


def test_truncated_tflite_is_an_input_error(generated, tmp_path: Path) -> None:
    from dnncost.errors import InputError

    source = Path(next(iter(_files(generated[0]).values()))["tflite-int8"])
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(source.read_bytes()[:2000])
    with pytest.raises(InputError, match="broken.tflite") as error:
        tflite_layer_table(broken)
    assert "corrupt TFLite model (truncated, or its tables point outside the file: a read " \
        "past its end)" in str(error.value)


def test_keras_mobilenet_v2_converts_with_the_published_macs(tmp_path: Path) -> None:
    import keras

    from dnncost.gen.tf_build import convert

    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    path = tmp_path / "mobilenet_v2.tflite"
    path.write_bytes(convert(model, "fp32"))
    rows = tflite_layer_table(path)
    assert math.isclose(total_macs(rows), 300e6, rel_tol=0.02)
    assert math.isclose(total_params(rows), model.count_params(), rel_tol=0.02)
    assert [r.op_type for r in rows].count("dwconv") == 17


@pytest.mark.parametrize("space", SPACES)
def test_torchprofile_agrees_on_total_macs(space: str) -> None:
    from torch_build import torchprofile_macs

    for spec in sample_specs(space, 1, SEED):
        assert math.isclose(torchprofile_macs(spec), total_macs(layer_table(spec)),
                            rel_tol=0.01)


def test_torch_build_exports_onnx_that_runs(tmp_path: Path) -> None:
    import onnxruntime

    from torch_build import export_onnx

    spec = sample_specs("efficient", 1, SEED)[0]
    path = export_onnx(spec, tmp_path / "net.onnx")
    session = onnxruntime.InferenceSession(str(path))
    image = np.zeros((1, 3, spec.resolution, spec.resolution), np.float32)
    assert session.run(None, {"input": image})[0].shape == (1, 1000)


def test_gen_and_layers_commands_on_generated_networks(generated) -> None:
    from click.testing import CliRunner

    from dnncost.cli import cli

    store_path, out = generated
    result = CliRunner().invoke(cli, [
        "gen", "--space", "mobileopt", "--count", "1", "--seed", str(SEED), "--precision",
        "fp32", "--precision", "int8", "--store", str(store_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "0 converted" in result.stdout and "1 already there" in result.stdout
    path = _files(store_path)[f"mobileopt-{spec_id(sample_specs('mobileopt', 1, SEED)[0])[:8]}"]
    result = CliRunner().invoke(cli, ["layers", path["tflite-int8"]])
    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 1 + len(tflite_layer_table(path["tflite-int8"]))

"""android_native/: the C99 predictor built for the host equals the ONNX model."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from dnncost.errors import ModelError
from dnncost.export.c_source import export_c
from dnncost.export.onnx_export import relative_error
from test_export_helpers import (  # noqa: F401  (trees_onnx is a fixture)
    N_FEATURES, feature_rows, neural_model, trees_onnx)

NATIVE = Path(__file__).resolve().parents[1] / "android_native"


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not found: install cmake and a C compiler for the native tests")
    return path


@pytest.fixture(scope="module")
def native_build(trees_onnx, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """android_native/ configured and built for the host with the test model."""
    _need("cmake")
    model, rows, _ = trees_onnx
    out = tmp_path_factory.mktemp("native")
    export_c(model, out / "model.c", rows)
    build = out / "build"
    subprocess.run(["cmake", "-S", str(NATIVE), "-B", str(build),
                    f"-DDNNCOST_MODEL_C={out / 'model.c'}"],
                   check=True, capture_output=True, text=True)
    done = subprocess.run(["cmake", "--build", str(build), "-j2"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning" not in done.stdout.lower() + done.stderr.lower()
    return build


def _onnx_ms(path: Path, rows: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(str(path)).run(None, {"features": rows})[0]


def test_c_library_batch_equals_onnx(native_build, trees_onnx):
    _, _, onnx_path = trees_onnx
    lib = ctypes.CDLL(str(native_build / "libdnncost_shared.so"))
    lib.dnncost_predict.argtypes = [ctypes.POINTER(ctypes.c_float), ctypes.c_int,
                                    ctypes.POINTER(ctypes.c_float)]
    assert lib.dnncost_num_features() == N_FEATURES
    rows = np.ascontiguousarray(feature_rows(500, seed=21))  # 5% NaN: default branches
    out = np.zeros(len(rows), np.float32)
    ptr = ctypes.POINTER(ctypes.c_float)
    assert lib.dnncost_predict(rows.ctypes.data_as(ptr), len(rows), out.ctypes.data_as(ptr)) == 0
    assert relative_error(out, _onnx_ms(onnx_path, rows)) <= 1e-4
    assert lib.dnncost_predict(rows.ctypes.data_as(ptr), -1, out.ctypes.data_as(ptr)) == -1


def test_cli_prints_one_latency_per_csv_row(native_build, trees_onnx, tmp_path):
    _, _, onnx_path = trees_onnx
    rows = feature_rows(40, seed=22)
    csv = tmp_path / "features.csv"
    lines = [",".join("" if np.isnan(v) else repr(float(v)) for v in row) for row in rows]
    csv.write_text("\n".join([",".join(f"f{i}" for i in range(N_FEATURES))] + lines) + "\n")
    done = subprocess.run([str(native_build / "dnncost_cli"), str(csv)], capture_output=True,
                          text=True, check=True)
    printed = np.array([float(v) for v in done.stdout.split()])
    assert relative_error(printed, _onnx_ms(onnx_path, rows)) <= 1e-4
    info = subprocess.run([str(native_build / "dnncost_cli"), "--info"], capture_output=True,
                          text=True, check=True).stdout
    assert f"n_features {N_FEATURES}" in info and "test-v1" in info


def test_cli_rejects_a_short_row_naming_the_line(native_build, tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("0.1,0.2,0.3,0.4,0.5\n0.1,0.2\n")
    done = subprocess.run([str(native_build / "dnncost_cli"), str(csv)], capture_output=True,
                          text=True)
    assert done.returncode == 2 and ":2: expected 5 numbers" in done.stderr
    assert len(done.stdout.split()) == 1


def test_java_class_through_jni_equals_onnx(native_build, trees_onnx, tmp_path):
    _need("javac")
    subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", str(tmp_path / "classes"),
                    str(NATIVE / "java/org/dnncost/CostModel.java")], check=True)
    _need("java")
    if not (native_build / "libdnncost_jni.so").exists():
        pytest.skip("JNI headers not found by CMake: no libdnncost_jni.so to load")
    _, _, onnx_path = trees_onnx
    rows = feature_rows(25, seed=23)
    np.savetxt(tmp_path / "rows.csv", rows, delimiter=",", fmt="%.9g")
    done = subprocess.run(["java", f"-Djava.library.path={native_build}", "-cp",
                           str(tmp_path / "classes"), "org.dnncost.CostModel",
                           str(tmp_path / "rows.csv")], capture_output=True, text=True,
                          check=True, env={**os.environ, "JAVA_TOOL_OPTIONS": ""})
    printed = np.array([float(v) for v in done.stdout.split()])
    assert relative_error(printed, _onnx_ms(onnx_path, rows)) <= 1e-4


def test_c_format_refuses_neural_models(tmp_path):
    with pytest.raises(ModelError, match="tree models only"):
        export_c(neural_model(), tmp_path / "nn.c", feature_rows())
    assert not (tmp_path / "nn.c").exists()

"""One exported cost model, called from every language from layer tables: Python, Node.js,
C and Java predict the same networks and agree with the Python model within 1e-4."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dnncost.encoding import encode_many
from dnncost.export.onnx_export import relative_error
from dnncost.export.runtime import Predictor

NATIVE = Path(__file__).resolve().parents[1] / "android_native"
NODE_DIR = Path(__file__).resolve().parent / "node"
SPECS = [  # every stage kind of the grammar, beside the study's 118 networks
    "r224 conv_k7_s2_c96_arelu_pvalid maxpool_k3_s2 fire_h16_c128 maxpool_k3_s2_psame "
    "dw_k3_s1_arelu6 conv_k1_s1_c256_arelu avgpool_k13",
    "r160 conv_k3_s2_c16_ahswish ds_k3_s1_c16_se8_arelu fr_k3_s2_h64_c24_arelu6 "
    "ir_k5_s2_h96_c40_se24_ahswish ir_k3_s1_h120_c40_ahswish gap conv_k1_s1_c1000",
    # channels off blocks of 4 (the padding amount), grouped in 2 with odd groups
    "r64 conv_k3_s2_c18_arelu ir_k3_s1_h18_c10_g2 ir_k5_s2_h30_c14_arelu6 gap conv_k1_s1_c10",
]


@pytest.fixture(scope="session")
def exported(iiswc_store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A lowrank model (trees, layer-cost term, smoother) adapted to a held-out phone,
    exported as .onnx and .c; the networks every caller predicts, and Python's answer."""
    from dnncost.export.pipeline import export_model_dir
    from dnncost.gen.layers import layer_table
    from dnncost.gen.spaces import sample_specs
    from dnncost.gen.spec import parse_spec
    from dnncost.learn.model_io import load_device_model
    from dnncost.learn.training import TrainOptions
    from dnncost.learn.workflow import adapt_to_dir, train_to_dir
    from dnncost.artifacts import write_latency_csv
    from dnncost.store import Store

    root = tmp_path_factory.mktemp("callers")
    phone = "SM-T835_1"
    with Store(iiswc_store_path) as store:
        group = [d.id for d in store.devices() if d.model == "SM-T835"]
        manifest = train_to_dir(store, TrainOptions(model="lowrank", sampling="d_optimal"),
                                root / "model", exclude_devices=group)
        names = {n.id: n.name for n in store.networks()}
        measured = {names[m.network_id]: m.median_ms for m in store.measurements(phone)}
        tables = [store.layers(n.id) for n in store.networks()]
    signature = [s["name"] for s in manifest["signature"]]
    csv_path = write_latency_csv(root / "sig.csv", [(n, measured[n]) for n in signature])
    adapt_to_dir(root / "model", csv_path, root / "device")
    export_model_dir(root / "device", str(root / "m.onnx"), "onnx", iiswc_store_path)
    export_model_dir(root / "device", str(root / "m.c"), "c", iiswc_store_path)
    specs = SPECS + [s.to_string() for space in ("mobileopt", "efficient")
                     for s in sample_specs(space, 20, 4)]
    tables += [layer_table(parse_spec(s)) for s in specs]
    device = load_device_model(root / "device").to_exportable()
    from dnncost.learn.device_model import exportable_features

    layers, index = encode_many(tables)
    return {"root": root, "store": iiswc_store_path, "onnx": root / "m.onnx", "c": root / "m.c",
            "layers": layers,
            "index": index, "specs": specs, "n": len(tables),
            "expected": device.predict_ms(exportable_features(device, tables))}


def test_python(exported: dict) -> None:
    predictor = Predictor.load(exported["onnx"])
    assert predictor.info.takes_layers and predictor.info.layer_encoding == "lt-v1"
    got = predictor.predict_rows(exported["layers"], exported["index"])
    assert len(got) == exported["n"] and relative_error(got, exported["expected"]) <= 1e-4
    from_specs = predictor.predict_specs(exported["specs"])
    assert relative_error(from_specs, exported["expected"][-len(exported["specs"]):]) <= 1e-4


def _layers_json(exported: dict, path: Path) -> Path:
    path.write_text(json.dumps({"layers": exported["layers"].tolist(),
                                "network_index": exported["index"].tolist()}))
    return path


def test_node(exported: dict, tmp_path: Path) -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm not found: install Node.js to run the cross-language test")
    if not (NODE_DIR / "node_modules/onnxruntime-node").is_dir():
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600,
                              env={**os.environ, "ONNXRUNTIME_NODE_INSTALL": "skip"})
        assert done.returncode == 0, f"npm ci in tests/node failed:\n{done.stderr[-2000:]}"
    done = subprocess.run([node, str(NODE_DIR / "predict.js"), str(exported["onnx"]),
                           str(_layers_json(exported, tmp_path / "layers.json"))],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = np.array(json.loads(done.stdout), np.float64)
    assert len(got) == exported["n"] and relative_error(got, exported["expected"]) <= 1e-4


@pytest.fixture(scope="session")
def native(exported: dict) -> Path:
    if shutil.which("cmake") is None:
        pytest.skip("cmake not found: install cmake and a C compiler for the native tests")
    build = exported["root"] / "build"
    subprocess.run(["cmake", "-S", str(NATIVE), "-B", str(build),
                    f"-DDNNCOST_MODEL_C={exported['c']}"], check=True, capture_output=True)
    done = subprocess.run(["cmake", "--build", str(build), "-j2"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "warning" not in (done.stdout + done.stderr).lower(), \
        done.stdout + done.stderr
    return build


def _layers_csv(exported: dict, path: Path) -> Path:
    lines = [",".join([str(int(i))] + [repr(float(v)) for v in row])
             for i, row in zip(exported["index"], exported["layers"])]
    path.write_text("network," + ",".join(f"c{i}" for i in range(14)) + "\n"
                    + "\n".join(lines) + "\n")
    return path


def test_c(exported: dict, native: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(native / "dnncost_cli"), "--layers",
                           str(_layers_csv(exported, tmp_path / "layers.csv"))],
                          capture_output=True, text=True, check=True)
    got = np.array(done.stdout.split(), np.float64)
    assert len(got) == exported["n"] and relative_error(got, exported["expected"]) <= 1e-4
    lib = ctypes.CDLL(str(native / "libdnncost_shared.so"))
    floats, longs = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int64)
    lib.dnncost_predict_layers.argtypes = [floats, longs, ctypes.c_int, floats, ctypes.c_int]
    layers = np.ascontiguousarray(exported["layers"])
    index = np.ascontiguousarray(exported["index"])
    out = np.zeros(exported["n"], np.float32)
    assert lib.dnncost_predict_layers(layers.ctypes.data_as(floats), index.ctypes.data_as(longs),
                                      len(index), out.ctypes.data_as(floats), len(out)) == 0
    assert relative_error(out, exported["expected"]) <= 1e-4
    bad = layers.copy()
    bad[0, 0] = 99  # an op code the encoding does not have
    assert lib.dnncost_predict_layers(bad.ctypes.data_as(floats), index.ctypes.data_as(longs),
                                      len(index), out.ctypes.data_as(floats), len(out)) == -1


def test_java(exported: dict, native: Path, tmp_path: Path) -> None:
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("javac/java not found: install a JDK for the Java test")
    if not (native / "libdnncost_jni.so").exists():
        pytest.skip("JNI headers not found by CMake: no libdnncost_jni.so to load")
    subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", str(tmp_path / "classes"),
                    str(NATIVE / "java/org/dnncost/CostModel.java")], check=True)
    csv_path = _layers_csv(exported, tmp_path / "layers.csv")
    csv_path.write_text("".join(csv_path.read_text().splitlines(True)[1:]))  # no header
    done = subprocess.run(["java", f"-Djava.library.path={native}", "-cp",
                           str(tmp_path / "classes"), "org.dnncost.CostModel", "--layers",
                           str(csv_path)], capture_output=True, text=True, check=True,
                          env={**os.environ, "JAVA_TOOL_OPTIONS": ""})
    got = np.array(done.stdout.split(), np.float64)
    assert len(got) == exported["n"] and relative_error(got, exported["expected"]) <= 1e-4
    (tmp_path / "bad.csv").write_text("0,1,2,3\n")  # 3 numbers where a layer has 14
    for path, said in ((tmp_path / "bad.csv", "layers length 3 is not 14 x 1 rows"),
                       (tmp_path / "absent.csv", "absent.csv")):
        failed = subprocess.run(["java", f"-Djava.library.path={native}", "-cp",
                                 str(tmp_path / "classes"), "org.dnncost.CostModel", "--layers",
                                 str(path)], capture_output=True, text=True,
                                env={**os.environ, "JAVA_TOOL_OPTIONS": ""})
        last = failed.stderr.splitlines()[-1]  # after the JVM's 'Picked up ...' line
        assert failed.returncode == 2 and last.startswith("dnncost: error: ") and said in last
        assert "\tat " not in failed.stderr  # no stack trace


def test_the_graphs_features_equal_the_python_featurizers_bit_for_bit(exported: dict) -> None:
    import onnxruntime as ort

    from dnncost.learn.features import agg_features

    session = ort.InferenceSession(str(exported["onnx"]), providers=["CPUExecutionProvider"])
    _, features = session.run(None, {"layers": exported["layers"],
                                     "network_index": exported["index"]})
    expected = agg_features(exported["layers"], exported["index"], exported["n"])
    assert features.dtype == np.float32 and np.array_equal(features, expected)


def test_an_export_whose_features_drift_is_refused(exported: dict, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The parity check compares the graph's features with the featurizer's before
    writing: a featurizer that changed (here: one column off) stops the export."""
    import dnncost.learn.device_model as device_model
    from dnncost.errors import ModelError
    from dnncost.export.pipeline import export_model_dir

    real = device_model.exportable_features

    def drifted(model, tables):
        rows = real(model, tables).copy()
        rows[:, 3] += 1.0  # one more layer than the graph counts
        return rows

    monkeypatch.setattr(device_model, "exportable_features", drifted)
    with pytest.raises(ModelError, match="features differ"):
        export_model_dir(exported["root"] / "device", str(tmp_path / "x.onnx"), "onnx",
                         exported["store"])
    assert not (tmp_path / "x.onnx").exists()


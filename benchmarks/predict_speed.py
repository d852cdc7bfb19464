"""How fast the exported cost model predicts, next to measuring one network for real.

Prints predictions per second for
  - the Python runtime (dnncost.export.runtime) on the exported model, which takes layer
    tables and computes its features inside: 10,000 specs end to end (spec -> layer
    table -> ONNX), cold (the first specs of a new process: no stage seen before), new
    (specs never seen, in a process that has predicted 10,000 others: most of their
    stages seen), warm (the same specs again); batch 1, seen and unseen; ready layer
    rows. 1 onnxruntime thread unless it says 2 (the batch targets are on 2 cores);
  - beside it, the same trees behind a features input (the export before layer tables):
    10,000 specs (features by dnncost.learn.features) and ready feature rows;
  - the same 10,000 layer tables through Node.js (onnxruntime-node, tests/node/time.js);
  - the C99 predictor (android_native/, host build) from layer rows and from features;
  - and the time to measure one network on this host with the LiteRT interpreter.

The model is an agg-v2 XGBoost model with 300 trees of depth 6 (learn's default size),
fitted to synthetic MAC-driven labels: its speed, not its accuracy, is what counts here.
Pass --model/--c-model to time a real exported model instead.

    .venv/bin/python benchmarks/predict_speed.py [--seed 0] [--runs 50]
"""

from __future__ import annotations

import argparse
import ctypes
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BATCH = 10_000


def _best_seconds(func: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def _seconds(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _specs(count: int, seed: int) -> list[str]:
    from dnncost.gen.spaces import sample_specs

    half = count // 2
    return [s.to_string() for space, n in (("efficient", half), ("mobileopt", count - half))
            for s in sample_specs(space, n, seed)]


def build_model(out: Path, seed: int) -> tuple[Path, Path, Path]:
    """A 300-tree agg-v2 model as .onnx (layer tables in), .onnx (features in) and .c."""
    import onnxruntime  # noqa: F401  (the features-input graph is checked by it below)
    import xgboost as xgb

    from dnncost.export.c_source import export_c
    from dnncost.export.onnx_export import export_onnx
    from dnncost.export.onnx_trees import tree_graph
    from dnncost.gen.layers import layer_table
    from dnncost.gen.spec import parse_spec
    from dnncost.learn.exportable import ExportableModel, TreeTerm
    from dnncost.learn.features import FEATURE_NAMES, FEATURE_SET, features_matrix

    tables = [layer_table(parse_spec(s)) for s in _specs(1000, seed + 1)]
    x = features_matrix(tables)
    rng = np.random.default_rng(seed)
    y = 0.9 * x[:, 0] - 10 + 0.05 * rng.standard_normal(len(x))
    booster = xgb.train({"max_depth": 6, "eta": 0.05, "seed": seed},
                        xgb.DMatrix(x, label=y), 300)
    model = ExportableModel(FEATURE_SET, FEATURE_NAMES, 0.0, (TreeTerm(booster, 1.0),),
                            metadata={"device": "synthetic-timing-model"})
    export_onnx(model, out / "model.onnx", tables)
    features_graph = tree_graph(model.trees, len(FEATURE_NAMES), 0.0, layer_input=False)
    features_graph.ir_version = 8
    (out / "features.onnx").write_bytes(features_graph.SerializeToString())
    export_c(model, out / "model.c", tables)
    return out / "model.onnx", out / "features.onnx", out / "model.c"


def _session(path: Path):  # noqa: ANN202
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _line(label: str, count: int, seconds: float) -> None:
    each = f"{seconds / count * 1e6:.0f} us each" if count == 1 or seconds / count > 1e-4 \
        else f"{seconds:.3f} s"
    print(f"  {label:34} {count / seconds:12,.0f} /s  ({each})")


def time_python(model: Path, features_model: Path | None, seed: int) -> None:
    from dnncost.export.runtime import Predictor
    from dnncost.gen.fast_layers import encoded_tables
    from dnncost.learn.features import spec_features

    predictor, two = Predictor.load(model), Predictor.load(model, threads=2)
    for each in (predictor, two):
        each.predict_specs(_specs(2, seed + 99))  # the sessions made (once per process)
    cold = _specs(BATCH, seed + 100)
    start = time.perf_counter()
    two.predict_specs(cold)
    cold_s = time.perf_counter() - start
    unseen = _specs(200, seed + 300)  # after the 10,000 cold ones, as in a short search
    start = time.perf_counter()
    for spec in unseen:
        predictor.predict_spec(spec)
    one_unseen = (time.perf_counter() - start) / len(unseen)
    new_s = {}  # new specs in a process that has predicted others: most stages seen
    for threads, each in ((2, two), (1, predictor)):
        fresh = [_specs(BATCH, seed + 500 + 50 * threads + k) for k in range(3)]
        new_s[threads] = min(_seconds(lambda: each.predict_specs(specs)) for specs in fresh)
    warm_s = _best_seconds(lambda: predictor.predict_specs(cold))
    rows, index = encoded_tables(cold)
    rows_s = _best_seconds(lambda: predictor.predict_rows(rows, index))
    one_spec = _best_seconds(lambda: [predictor.predict_spec(s) for s in cold[:200]]) / 200
    print("Python runtime (numpy + onnxruntime), the model takes layer tables:")
    _line("batch 1     spec -> ms", 1, one_spec)
    _line("batch 1     unseen spec", 1, one_unseen)
    _line(f"batch {BATCH:,} specs, cold, 2 threads", BATCH, cold_s)
    _line(f"batch {BATCH:,} new specs, 2 threads", BATCH, new_s[2])
    _line(f"batch {BATCH:,} new specs, 1 thread", BATCH, new_s[1])
    _line(f"batch {BATCH:,} specs, warm", BATCH, warm_s)
    _line(f"batch {BATCH:,} layer tables", BATCH, rows_s)
    if features_model is None:
        return
    session = _session(features_model)
    fresh = _specs(BATCH, seed + 400)
    start = time.perf_counter()
    session.run(["latency_ms"], {"features": spec_features(fresh)})
    features_cold = time.perf_counter() - start
    features_warm = _best_seconds(lambda: session.run(["latency_ms"], {
        "features": spec_features(fresh)}))
    x = spec_features(cold)
    features_s = _best_seconds(lambda: session.run(["latency_ms"], {"features": x}))
    one_row = _best_seconds(lambda: [session.run(["latency_ms"], {"features": x[i:i + 1]})
                                     for i in range(200)]) / 200
    print("The same trees behind a features input (features by dnncost.learn.features):")
    _line(f"batch {BATCH:,} specs, cold", BATCH, features_cold)
    _line(f"batch {BATCH:,} specs, warm", BATCH, features_warm)
    _line(f"batch {BATCH:,} feature rows", BATCH, features_s)
    _line("batch 1     feature row -> ms", 1, one_row)


def time_node(model: Path, work: Path, seed: int) -> None:
    import json
    import shutil

    from dnncost.gen.fast_layers import encoded_tables

    node_dir = REPO / "tests" / "node"
    if shutil.which("node") is None or not (node_dir / "node_modules/onnxruntime-node").is_dir():
        print("Node.js: skipped (node or tests/node/node_modules missing: make node-deps)")
        return
    rows, index = encoded_tables(_specs(BATCH, seed + 100))
    path = work / "layers.json"
    path.write_text(json.dumps({"layers": rows.ravel().tolist(),
                                "network_index": index.tolist()}))
    done = subprocess.run(["node", str(node_dir / "time.js"), str(model), str(path), "3"],
                          capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    print("Node.js (onnxruntime-node, 1 thread), the same layer tables:")
    _line(f"batch {result['networks']:,} layer tables", result["networks"], result["seconds"])


def time_c(c_model: Path, work: Path, seed: int) -> None:
    from dnncost.gen.fast_layers import encoded_tables
    from dnncost.learn.features import spec_features

    build = work / "native"
    subprocess.run(["cmake", "-S", str(REPO / "android_native"), "-B", str(build),
                    f"-DDNNCOST_MODEL_C={c_model}", "-DDNNCOST_JNI=OFF"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(build / "libdnncost_shared.so"))
    floats, longs = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int64)
    lib.dnncost_predict.argtypes = [floats, ctypes.c_int, floats]
    lib.dnncost_predict_layers.argtypes = [floats, longs, ctypes.c_int, floats, ctypes.c_int]
    specs = _specs(BATCH, seed + 200)
    rows, index = (np.ascontiguousarray(a) for a in encoded_tables(specs))
    features = np.ascontiguousarray(spec_features(specs))
    out = np.zeros(BATCH, np.float32)
    from_layers = _best_seconds(lambda: lib.dnncost_predict_layers(
        rows.ctypes.data_as(floats), index.ctypes.data_as(longs), len(index),
        out.ctypes.data_as(floats), BATCH))
    from_features = _best_seconds(lambda: lib.dnncost_predict(
        features.ctypes.data_as(floats), BATCH, out.ctypes.data_as(floats)))
    print("C99 predictor (android_native/, host build, -O3 Release):")
    print(f"  batch {BATCH:,} layer tables           {BATCH / from_layers:12,.0f} /s  "
          f"({from_layers / BATCH * 1e6:.2f} us each)")
    print(f"  batch {BATCH:,} feature rows           {BATCH / from_features:12,.0f} /s  "
          f"({from_features / BATCH * 1e6:.2f} us each)")


def time_measurement(work: Path, seed: int, runs: int) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from dnncost.gen.spaces import sample_specs
    from dnncost.gen.tf_build import spec_to_tflite

    spec = sample_specs("mobileopt", 1, seed)[0]
    path = work / "net.tflite"
    path.write_bytes(spec_to_tflite(spec, ("fp32",), seed)["fp32"])
    start = time.perf_counter()
    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(3):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - t)
    total = time.perf_counter() - start
    print(f"Measuring one network on this host (LiteRT interpreter, fp32, 1 thread, "
          f"generated mobileopt network, {runs} runs):")
    print(f"  median latency {np.median(times) * 1e3:.2f} ms; load + 3 warm-up + {runs} runs "
          f"took {total:.2f} s ({1 / total:.2f} networks/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--model", type=Path, help="an exported .onnx (agg-v2) to time")
    parser.add_argument("--c-model", type=Path, help="its --format c data file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dnncost-speed-") as tmp:
        work = Path(tmp)
        model, c_model, features_model = args.model, args.c_model, None
        if model is None or c_model is None:
            model, features_model, c_model = build_model(work, args.seed)
        time_python(model, features_model, args.seed)
        time_node(model, work, args.seed)
        time_c(c_model, work, args.seed)
        time_measurement(work, args.seed, args.runs)


if __name__ == "__main__":
    main()

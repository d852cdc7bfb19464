"""How fast the exported cost model predicts, next to measuring one network for real.

Prints predictions per second for
  - the Python runtime (dnncost.export.runtime): batch 1 and batch 10,000, from spec
    strings (features included; cold = specs never seen, warm = seen; batch 1 both
    ways) and from ready feature rows;
  - the C99 predictor (android_native/, built here for the host, called through its
    shared library);
  - and the time to measure one network on this host with the LiteRT interpreter
    (one generated .tflite, fp32, 1 thread: load + warm-up + timed runs).

The model is an agg-v1 XGBoost model with 300 trees of depth 6 (learn's default size),
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


def _specs(count: int, seed: int) -> list[str]:
    from dnncost.gen.spaces import sample_specs

    half = count // 2
    return [s.to_string() for space, n in (("efficient", half), ("mobileopt", count - half))
            for s in sample_specs(space, n, seed)]


def build_model(out: Path, seed: int) -> tuple[Path, Path]:
    """A 300-tree agg-v1 model as .onnx and .c (synthetic labels, for timing)."""
    import xgboost as xgb

    from dnncost.export.c_source import export_c
    from dnncost.export.onnx_export import export_onnx
    from dnncost.learn.features import spec_features
    from dnncost.learn.exportable import ExportableModel, TreeTerm
    from dnncost.learn.features import FEATURE_NAMES, FEATURE_SET

    x = spec_features(_specs(1000, seed + 1))
    rng = np.random.default_rng(seed)
    y = 0.9 * x[:, 0] - 10 + 0.05 * rng.standard_normal(len(x))
    booster = xgb.train({"max_depth": 6, "eta": 0.05, "seed": seed},
                        xgb.DMatrix(x, label=y), 300)
    model = ExportableModel(FEATURE_SET, FEATURE_NAMES, 0.0, (TreeTerm(booster, 1.0),),
                            metadata={"device": "synthetic-timing-model"})
    export_onnx(model, out / "model.onnx", x)
    export_c(model, out / "model.c", x)
    return out / "model.onnx", out / "model.c"


def time_python(model: Path, seed: int) -> None:
    from dnncost.learn import features as spec_features
    from dnncost.export.runtime import Predictor

    predictor = Predictor.load(model)
    cold = _specs(BATCH, seed + 100)
    start = time.perf_counter()
    predictor.predict_specs(cold)
    cold_s = time.perf_counter() - start
    warm_s = _best_seconds(lambda: predictor.predict_specs(cold))
    rows = spec_features.spec_features(cold)
    rows_s = _best_seconds(lambda: predictor.predict_features(rows))
    one_spec = _best_seconds(lambda: [predictor.predict_spec(s) for s in cold[:200]]) / 200
    one_row = _best_seconds(lambda: [predictor.predict_features(r) for r in rows[:1000]]) / 1000
    unseen = _specs(200, seed + 300)
    start = time.perf_counter()
    for spec in unseen:
        predictor.predict_spec(spec)
    one_unseen = (time.perf_counter() - start) / len(unseen)
    print("Python runtime (numpy + onnxruntime, 1 thread):")
    print(f"  batch 1     spec -> ms      {1 / one_spec:12,.0f} /s  ({one_spec * 1e6:.0f} us each)")
    print(f"  batch 1     unseen spec     {1 / one_unseen:12,.0f} /s  "
          f"({one_unseen * 1e6:.0f} us each)")
    print(f"  batch 1     features -> ms  {1 / one_row:12,.0f} /s  ({one_row * 1e6:.0f} us each)")
    print(f"  batch {BATCH:,} specs, cold     {BATCH / cold_s:12,.0f} /s  ({cold_s:.3f} s)")
    print(f"  batch {BATCH:,} specs, warm     {BATCH / warm_s:12,.0f} /s  ({warm_s:.3f} s)")
    print(f"  batch {BATCH:,} features        {BATCH / rows_s:12,.0f} /s  ({rows_s:.4f} s)")


def time_c(c_model: Path, work: Path, seed: int) -> None:
    from dnncost.learn.features import spec_features

    build = work / "native"
    subprocess.run(["cmake", "-S", str(REPO / "android_native"), "-B", str(build),
                    f"-DDNNCOST_MODEL_C={c_model}", "-DDNNCOST_JNI=OFF"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    lib = ctypes.CDLL(str(build / "libdnncost_shared.so"))
    ptr = ctypes.POINTER(ctypes.c_float)
    lib.dnncost_predict.argtypes = [ptr, ctypes.c_int, ptr]
    rows = np.ascontiguousarray(spec_features(_specs(BATCH, seed + 200)))
    out = np.zeros(len(rows), np.float32)
    seconds = _best_seconds(lambda: lib.dnncost_predict(rows.ctypes.data_as(ptr), len(rows),
                                                        out.ctypes.data_as(ptr)))
    print("C99 predictor (android_native/, host build, -O3 Release):")
    print(f"  batch {BATCH:,} features        {BATCH / seconds:12,.0f} /s  "
          f"({seconds / BATCH * 1e6:.2f} us each)")


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
    parser.add_argument("--model", type=Path, help="an exported .onnx (agg-v1) to time")
    parser.add_argument("--c-model", type=Path, help="its --format c data file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dnncost-speed-") as tmp:
        work = Path(tmp)
        model, c_model = args.model, args.c_model
        if model is None or c_model is None:
            model, c_model = build_model(work, args.seed)
        time_python(model, args.seed)
        time_c(c_model, work, args.seed)
        time_measurement(work, args.seed, args.runs)


if __name__ == "__main__":
    main()

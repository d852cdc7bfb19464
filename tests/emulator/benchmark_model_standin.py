#!/usr/bin/env python3
"""Stand-in for TensorFlow Lite's `benchmark_model` on the emulated device.

Runs the .tflite on the host LiteRT interpreter (warm-up + timed runs, real timings) and
prints the classic benchmark_model output with its `INFO: ` prefix, on stderr like the real
tool (TFLite's logger writes to stderr; `adb shell` v1 merges it with stdout). Faults come from the
emulated adbd through DNNCOST_EMU_FAULT (fail | hang | garbage | slow) and
DNNCOST_EMU_FAULT_PARAMS (JSON).
"""

from __future__ import annotations

import json
import math
import os
import random
import resource
import socket
import sys
import time
from typing import Any, Callable

KNOWN = {  # flag -> default, as the real tool's
    "graph": "", "num_threads": "-1", "num_runs": "50", "min_secs": "1",
    "max_secs": "150", "warmup_runs": "1", "warmup_min_secs": "0.5", "run_delay": "-1",
    "use_xnnpack": "", "use_gpu": "false", "use_nnapi": "false", "enable_op_profiling":
    "false", "verbose": "false", "allow_fp16": "false", "gpu_precision_loss_allowed": "true",
    "require_full_delegation": "false", "max_delegated_partitions": "0", "use_hexagon": "false",
    "input_layer": "", "input_layer_shape": "", "report_peak_memory_footprint": "false",
    "enable_platform_tracing": "false", "print_preinvoke_state": "false",
    "print_postinvoke_state": "false", "memory_footprint_check_interval_ms": "50",
}


def say(line: str = "", stream: Any = None) -> None:
    """Print one line at once, to stderr as TFLite's logger does (the host reads it live)."""
    print(line, file=stream or sys.stderr, flush=True)


def parse_flags(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """--name=value flags (and bare --name meaning true); returns (known, unconsumed)."""
    flags, unknown = dict(KNOWN), []
    for arg in argv:
        name, sep, value = arg.lstrip("-").partition("=")
        if not arg.startswith("-") or name not in KNOWN:
            unknown.append(arg)
            continue
        flags[name] = value if sep else "true"
    return flags, unknown


def truthy(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes")


def fmt(value: float) -> str:
    """C++ ostream default formatting (6 significant digits), as the real tool prints."""
    return f"{value:.6g}"


def stat_line(times_us: list[int]) -> str:
    """`count=.. first=.. curr=.. min=.. max=.. avg=.. std=..` of a run series."""
    n = len(times_us)
    avg = sum(times_us) / n
    std = math.sqrt(sum((t - avg) ** 2 for t in times_us) / n)
    return (f"count={n} first={times_us[0]} curr={times_us[-1]} min={min(times_us)} "
            f"max={max(times_us)} avg={fmt(avg)} std={round(std)}")


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def report_start(command: str) -> tuple[socket.socket | None, dict[str, Any]]:
    """(the open report, the daemon's reply) for this run; (None, {}) off the device."""
    address = os.environ.get("DNNCOST_EMU_RUNS")
    if not address:
        return None, {}
    host, _, port = address.rpartition(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    hello = {"command": command, "session": os.environ.get("DNNCOST_EMU_SESSION")}
    sock.sendall(json.dumps(hello).encode() + b"\n")
    reply = b""
    while not reply.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            break
        reply += chunk
    return sock, json.loads(reply or b"{}")


def report_exit(sock: socket.socket | None, code: int) -> None:
    """This run's exit code to the daemon."""
    if sock is not None:
        with sock:
            sock.sendall(json.dumps({"exit": code}).encode() + b"\n")


def interpreter_class() -> tuple[Any, Any]:
    """(Interpreter, OpResolverType) from LiteRT, tf.lite as fallback."""
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # pragma: no cover - only where LiteRT is missing
        from tensorflow.lite.python.interpreter import Interpreter, OpResolverType
    return Interpreter, OpResolverType


def load_interpreter(path: str, threads: int, xnnpack: bool) -> Any:
    """An interpreter with its tensors allocated; xnnpack=False disables default delegates."""
    Interpreter, OpResolverType = interpreter_class()
    resolver = OpResolverType.AUTO if xnnpack else \
        OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_path=path, num_threads=threads if threads > 0 else None,
                         experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    return interp


def fill_inputs(interp: Any, seed: int = 0) -> None:
    """Random inputs of the right dtype and shape (the real tool does the same)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    for detail in interp.get_input_details():
        dtype, shape = detail["dtype"], detail["shape"]
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            data = rng.integers(max(info.min, -128), min(info.max, 127) + 1, size=shape)
        else:
            data = rng.standard_normal(size=shape)
        interp.set_tensor(detail["index"], data.astype(dtype))


def run_series(invoke: Callable[[], None], min_runs: int, min_secs: float,
               max_secs: float, slowdown: float = 1.0) -> list[int]:
    """Invoke at least min_runs times and for at least min_secs (at most max_secs); us each.

    slowdown > 1 stretches every run by busy-waiting (a throttled or busy phone).
    """
    times: list[int] = []
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if (len(times) >= min_runs and elapsed >= min_secs) or (times and elapsed > max_secs):
            return times
        t0 = time.perf_counter_ns()
        invoke()
        if slowdown > 1.0:
            until = t0 + (time.perf_counter_ns() - t0) * slowdown
            while time.perf_counter_ns() < until:
                pass
        times.append(max(1, (time.perf_counter_ns() - t0) // 1000))


def fault(kind: str, params: dict[str, Any], flags: dict[str, str]) -> int:
    """Act out an injected fault; returns the exit code."""
    if kind == "hang":
        time.sleep(float(params.get("seconds", 600)))
        return 0
    if kind == "garbage":
        rng = random.Random(int(params.get("seed", 0)))
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789=:.,;#@!? \t"
        for _ in range(int(params.get("lines", 20))):
            say("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))))
        return 0
    say(f"INFO: Loaded model {flags['graph']}")
    say(f"ERROR: {params.get('message', 'Failed to allocate tensors!')}", sys.stderr)
    say("ERROR: Benchmarking failed.", sys.stderr)
    return 1


def main(argv: list[str], kind: str = "", params: dict[str, Any] | None = None) -> int:
    """benchmark_model's behaviour for the flags it is given, acting out fault ``kind``."""
    params = params or {}
    flags, unknown = parse_flags(argv)
    say("INFO: STARTING!")
    if unknown:
        say(f"WARNING: Unconsumed cmdline flags: {' '.join(unknown)}")
    verbose = truthy(flags["verbose"])
    say(f"INFO: Log parameter values verbosely: [{int(verbose)}]")
    say(f"INFO: Min num runs: [{flags['num_runs']}]")
    threads = int(flags["num_threads"])
    say(f"INFO: Num threads: [{threads}]")
    say(f"INFO: Graph: [{flags['graph']}]")
    # XNNPACK applies by default unless --use_xnnpack=false is given explicitly (real tool).
    xnnpack = flags["use_xnnpack"] == "" or truthy(flags["use_xnnpack"])
    if flags["use_xnnpack"]:
        say(f"INFO: Use xnnpack: [{int(xnnpack)}]")
    slowdown = float(params.get("factor", 1.5)) if kind == "slow" else 1.0
    if kind in ("fail", "hang", "garbage"):
        return fault(kind, params, flags)
    graph = flags["graph"]
    if not graph or not os.path.isfile(graph):
        say(f"ERROR: Could not open '{graph}'.", sys.stderr)
        say("ERROR: Benchmarking failed.", sys.stderr)
        return 1
    interpreter_class()  # import outside init and the memory deltas: the real tool links it in
    rss_start = rss_mb()
    say(f"INFO: Loaded model {graph}")
    say(f"INFO: The input model file size (MB): {fmt(os.path.getsize(graph) / 1e6)}")
    t0 = time.perf_counter()
    try:
        interp = load_interpreter(graph, threads, xnnpack)
    except Exception as exc:  # the real tool reports and fails the same way
        say(f"ERROR: {exc}", sys.stderr)
        say("ERROR: Benchmarking failed.", sys.stderr)
        return 1
    if truthy(flags["use_gpu"]):
        say("INFO: Created TensorFlow Lite delegate for GPU.")
    if truthy(flags["use_nnapi"]):
        say("INFO: Created TensorFlow Lite delegate for NNAPI.")
    init_us = (time.perf_counter() - t0) * 1e6
    rss_init = rss_mb()
    say(f"INFO: Initialized session in {fmt(init_us / 1000)}ms.")
    fill_inputs(interp)
    max_secs = float(flags["max_secs"])
    warm_runs, warm_secs = int(flags["warmup_runs"]), float(flags["warmup_min_secs"])
    say(f"INFO: Running benchmark for at least {warm_runs} iterations and at least "
        f"{fmt(warm_secs)} seconds but terminate if exceeding {fmt(max_secs)} seconds.")
    warm = run_series(interp.invoke, warm_runs, warm_secs, max_secs, slowdown)
    say(f"INFO: {stat_line(warm)}")
    say()
    runs, secs = int(flags["num_runs"]), float(flags["min_secs"])
    say(f"INFO: Running benchmark for at least {runs} iterations and at least "
        f"{fmt(secs)} seconds but terminate if exceeding {fmt(max_secs)} seconds.")
    timed = run_series(interp.invoke, runs, secs, max_secs, slowdown)
    say(f"INFO: {stat_line(timed)}")
    say()
    say(f"INFO: Inference timings in us: Init: {fmt(init_us)}, First inference: {warm[0]}, "
        f"Warmup (avg): {fmt(sum(warm) / len(warm))}, "
        f"Inference (avg): {fmt(sum(timed) / len(timed))}")
    say("INFO: Note: as the benchmark tool itself affects memory footprint, the following is "
        "only APPROXIMATE to the actual memory footprint of the model at runtime. Take the "
        "information at your discretion.")
    peak = rss_mb()
    say(f"INFO: Memory footprint delta from the start of the tool (MB): "
        f"init={fmt(rss_init - rss_start)} overall={fmt(peak - rss_start)}")
    say(f"INFO: Overall peak memory footprint (MB) via periodic monitoring: {fmt(peak)}")
    return 0


if __name__ == "__main__":
    report, reply = report_start(" ".join(["benchmark_model", *sys.argv[1:]]))
    exit_code = main(sys.argv[1:], reply.get("fault", ""), reply.get("params"))
    report_exit(report, exit_code)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(exit_code)  # no interpreter teardown: a native binary's exit is as quick

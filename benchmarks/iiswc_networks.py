"""All 118 networks of the IISWC 2020 study built as int8 .tflite and run in LiteRT.

``dnncost gen --space iiswc`` writes them (as a phone's signature run does, and
``make phone``); this script builds all of them into a fresh store (or reuses --out),
runs each once in the LiteRT interpreter and checks its layer table reads back as its
spec's. Prints how many ran, and the time it took.

    .venv/bin/python benchmarks/iiswc_networks.py [--out DIR] [--jobs 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="model directory to (re)use")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from ai_edge_litert.interpreter import Interpreter

    from dnncost.gen.layers import layer_table
    from dnncost.gen.pipeline import generate
    from dnncost.gen.spec import parse_spec
    from dnncost.gen.tflite_layers import tflite_layer_table
    from dnncost.store import Store

    with tempfile.TemporaryDirectory(prefix="dnncost-iiswc-") as tmp:
        out = args.out or Path(tmp) / "models"
        start = time.perf_counter()
        with Store(Path(tmp) / "s.sqlite") as store:
            summary = generate(store, "iiswc", None, 0, ("int8",), out, args.jobs)
            networks = store.networks()
        built_s = time.perf_counter() - start
        ran, same, failures = 0, 0, []
        for network in networks:
            [file] = network.files
            try:
                interpreter = Interpreter(model_path=file.path)
                interpreter.allocate_tensors()
                detail = interpreter.get_input_details()[0]
                interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
                interpreter.invoke()
                ran += 1
            except Exception as exc:  # report every failure, not just the first
                failures.append(f"{network.name}: {exc}")
            same += tflite_layer_table(file.path) == layer_table(parse_spec(network.spec["spec"]))
    print(f"built {summary.networks} networks ({summary.converted} converted, {args.jobs} jobs) "
          f"in {built_s:.0f} s")
    print(f"{ran}/{len(networks)} int8 files ran in LiteRT; {same}/{len(networks)} read back "
          "as their spec's layer table")
    for failure in failures:
        print("  failed:", failure)


if __name__ == "__main__":
    main()

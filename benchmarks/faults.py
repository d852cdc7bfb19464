"""The reliability and security fault matrix, printed: one row a fault.

Each case (tests/faults_matrix.py, the same cases ``tests/test_faults.py`` asserts) is a
real ``dnncost`` process on a copy of one small world (store, model, device model, ONNX
export): bad files, hostile input, a full disk, read-only media. Prints, per case, its
exit status, the one line it printed, and how many stored rows it lost.

    .venv/bin/python benchmarks/faults.py [-k SUBSTRING]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from faults_matrix import CASES, can_run_unprivileged, make_world, run_case  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", default="", help="only cases whose name contains this")
    args = parser.parse_args()
    cases = [c for c in CASES if args.k in c.name]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="dnncost-faults-") as tmp:
        world = make_world(Path(tmp) / "world")
        print("| case | exit | rows lost | printed | problems |")
        print("| --- | --- | --- | --- | --- |")
        passed = skipped = lost = 0
        for i, case in enumerate(cases):
            if case.unprivileged and not can_run_unprivileged():
                skipped += 1
                print(f"| {case.name} | - | - | skipped: root and no user namespace | |")
                continue
            result = run_case(case, world, Path(tmp) / f"case{i}")
            passed += result.passed
            lost += result.rows_lost
            line = result.line.replace("|", "\\|")
            print(f"| {case.name} | {result.exit} | {result.rows_lost} | {line} | "
                  f"{'; '.join(result.problems) or 'ok'} |", flush=True)
    print(f"\n{passed} of {len(cases) - skipped} cases passed ({skipped} skipped), "
          f"{lost} stored rows lost, {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

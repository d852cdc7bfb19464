"""Wall time of `make demo` on a fresh clone: install, first run, second run.

    .venv/bin/python benchmarks/demo_time.py [--keep DIR]

Clones this repository's HEAD into a temporary directory (or --keep DIR), runs
`make install`, then `make demo` twice, and prints the three wall times. The user's
cache directory is a new one inside it too (XDG_CACHE_HOME), as for a new user, so the
first run trains the population model. The demo's output of the first run is saved as
demo_output.txt beside the clone.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(command: list[str], cwd: Path, log: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    with log.open("w") as handle:
        result = subprocess.run(command, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT,
                                env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}): see {log}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="clone here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="dnncost-demo-"))
    clone = root / "dnncost"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = {**os.environ, "XDG_CACHE_HOME": str(root / "cache")}
    install = timed(["make", "install"], clone, root / "install.log", env)
    first = timed(["make", "demo"], clone, root / "demo_output.txt", env)
    second = timed(["make", "demo"], clone, root / "demo_second.txt", env)
    print(f"clone: {clone}")
    print(f"make install (fresh .venv):  {install:7.1f} s")
    print(f"make demo, first run:        {first:7.1f} s   (target < 600 s)")
    print(f"make demo, second run:       {second:7.1f} s   (target < 60 s)")
    print(f"first run's output: {root / 'demo_output.txt'}")


if __name__ == "__main__":
    main()

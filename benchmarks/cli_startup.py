"""Start-up time of the commands a script calls in a loop: `dnncost --help`, `data info`,
`adapt` and `predict` of one device model (wall seconds, median of --repeat runs, each a
fresh interpreter, warm file cache). With ``--before REV`` the same commands also run
from git revision REV's tree (checked out in a temporary worktree, same interpreter and
packages) beside this tree's, in one run.

    .venv/bin/python benchmarks/cli_startup.py [--before REV] [--repeat 7]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = ("bench", "export", "gen", "learn")
# Imports dnncost from the tree ROOT (the stage folders as dnncost.<stage>, as setup.cfg
# maps them), ahead of the editable install, then runs the CLI.
_BOOT = """
import importlib.util, sys
ROOT = sys.argv.pop(1)
FOLDERS = {"dnncost": ROOT + "/dnncost", **{"dnncost." + s: ROOT + "/" + s for s in STAGES}}
class Tree:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name in FOLDERS:
            return importlib.util.spec_from_file_location(
                name, FOLDERS[name] + "/__init__.py",
                submodule_search_locations=[FOLDERS[name]])
        return None
sys.meta_path.insert(0, Tree)
from dnncost.cli import main
sys.argv = ["dnncost"] + sys.argv[1:]
main()
""".replace("STAGES", repr(STAGES))


def _seconds(root: Path, args: list[str], repeat: int) -> float:
    """Median wall time of ``dnncost ARGS`` run from the tree ``root``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", _BOOT, str(root), *args],
                                capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"{root}: dnncost {' '.join(args)} failed: "
                             f"{result.stderr.strip()[-300:]}")
    return statistics.median(times)


def _setup(tmp: Path) -> None:
    """A store of the embedded phones, the default model, a new device's measurements."""
    from dnncost.importers import import_iiswc
    from dnncost.learn.training import TrainOptions
    from dnncost.learn.workflow import train_to_dir
    from dnncost.store import Store

    with Store(tmp / "s.sqlite") as store:
        import_iiswc(store)
        train_to_dir(store, TrainOptions(), tmp / "model")
        first = min(m.device_id for m in store.measurements())
        names = {n.id: n.name for n in store.networks()}
        latency = {names[m.network_id]: m.median_ms for m in store.measurements()
                   if m.device_id == first}
    with open(tmp / "new.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["network", "latency_ms"])
        for i, (name, ms) in enumerate(latency.items()):  # not a training device's
            rows.writerow([name, ms * (1.2 + 0.01 * i)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", metavar="REV", help="Also time git revision REV.")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        _setup(tmp)
        trees = {"this tree": REPO}
        if args.before:
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q",
                            str(tmp / "before"), args.before], check=True)
            trees = {f"before ({args.before})": tmp / "before", **trees}
        commands = {
            "dnncost --help": ["--help"],
            "dnncost data info": ["data", "info", "--store", str(tmp / "s.sqlite")],
            "dnncost adapt (one device)": ["adapt", str(tmp / "model"), "--measurements",
                                           str(tmp / "new.csv"), "-o", str(tmp / "device")],
            "dnncost predict (one network)": ["predict", str(tmp / "device"), "--networks",
                                              "iiswc-001", "--store", str(tmp / "s.sqlite")],
        }
        try:
            print(f"{'command':32}" + "".join(f"{t:>22}" for t in trees))
            for label, command in commands.items():
                cells = [_seconds(root, command, args.repeat) for root in trees.values()]
                print(f"{label:32}" + "".join(f"{s:>20.3f} s" for s in cells), flush=True)
        finally:
            if args.before:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force",
                                str(tmp / "before")], check=False)
    print(f"median of {args.repeat} runs each, wall time, a fresh interpreter per run")


if __name__ == "__main__":
    main()

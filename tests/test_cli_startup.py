"""The CLI imports only what a command uses (issue 16): the import set, not the time
(`benchmarks/cli_startup.py` prints the times)."""

import csv
import json
import subprocess
import sys

import pytest

from dnncost.cli import COMMANDS, cli

HEAVY = {"numpy", "scipy", "sklearn", "xgboost", "torch", "tensorflow", "onnx", "onnxruntime"}
STAGES = {"dnncost.gen", "dnncost.bench", "dnncost.learn", "dnncost.export", "dnncost.store"}

_PROBE = """
import json, sys
from dnncost.cli import main
sys.argv = ["dnncost"] + sys.argv[1:]
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def _imported(*args: str) -> tuple[set[str], set[str]]:
    """(top-level packages, dnncost modules) a fresh interpreter imports to run ``args``."""
    result = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                            text=True)
    modules = json.loads(result.stderr.strip().splitlines()[-1])
    return {m.split(".")[0] for m in modules}, {m for m in modules if m.startswith("dnncost")}


def test_help_imports_no_numpy_and_no_command_module() -> None:
    packages, ours = _imported("--help")
    assert not packages & HEAVY
    assert not {m for m in ours if m.startswith(tuple(STAGES)) or m.startswith("dnncost.cli.")}


def test_data_info_imports_no_numpy(tmp_path) -> None:
    packages, ours = _imported("data", "info", "--store", str(tmp_path / "none.sqlite"))
    assert not packages & HEAVY
    assert "dnncost.cli.data" in ours and "dnncost.cli.learn" not in ours


def test_the_command_table_is_what_each_command_says() -> None:
    for name, (_, summary) in COMMANDS.items():
        command = cli.get_command(None, name)
        assert command is not None and command.name == name
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first.startswith(summary), name


@pytest.fixture(scope="module")
def device_model(tmp_path_factory):
    """A lowrank (the default) model of the embedded phones, adapted to a new device."""
    from dnncost.importers import import_iiswc
    from dnncost.learn.training import TrainOptions
    from dnncost.learn.workflow import train_to_dir
    from dnncost.store import Store

    tmp = tmp_path_factory.mktemp("startup")
    with Store(tmp / "s.sqlite") as store:
        import_iiswc(store)
        train_to_dir(store, TrainOptions(n_estimators=20), tmp / "model")
        first = min(m.device_id for m in store.measurements())
        latency = {m.network_id: m.median_ms for m in store.measurements()
                   if m.device_id == first}
        names = {n.id: n.name for n in store.networks()}
    with open(tmp / "new.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["network", "latency_ms"])
        for i, (network_id, ms) in enumerate(latency.items()):
            rows.writerow([names[network_id], ms * (1.2 + 0.01 * i)])
    return tmp, tmp / "model", tmp / "new.csv"


def test_adapt_and_predict_import_only_what_the_model_needs(device_model) -> None:
    tmp, model, measurements = device_model
    packages, _ = _imported("adapt", str(model), "--measurements", str(measurements), "-o",
                            str(tmp / "device"))
    assert (tmp / "device" / "device_model.json").exists()
    assert "numpy" in packages and not packages & (HEAVY - {"numpy"})  # lowrank: numpy only
    packages, _ = _imported("predict", str(tmp / "device"), "--networks", "iiswc-001",
                            "--store", str(tmp / "s.sqlite"))
    assert not packages & (HEAVY - {"numpy"})

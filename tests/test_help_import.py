"""`dnncost data import-help`: HELP's latency tables into the store, and their errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dnncost.cli import cli
from dnncost.errors import InputError
from dnncost.gen.archs import nb201_arch, nb201_codes
from dnncost.help_import import import_help, setting_device
from dnncost.learn.dataset import load_dataset
from dnncost.store import Store

SHARED_HELP = Path(os.environ.get("HELP_DIR", Path(__file__).resolve().parents[2]
                                  / "shared/datasets/help-nasbench201"))
SETTINGS = ("2080ti_32", "silver_4114", "pixel3")


class Payload:
    """Pickled as an object: torch.load(weights_only=True) refuses to build it."""


def _help_dir(root: Path, archs: list[str], latencies: dict[str, list[float]]) -> Path:
    """A directory in HELP's NAS-Bench-201 layout (written with torch.save)."""
    import torch

    (root / "latency").mkdir(parents=True)
    torch.save({arch: i for i, arch in enumerate(archs)}, root / "str_arch2idx.pt")
    for setting, values in latencies.items():
        torch.save(values, root / "latency" / f"{setting}.pt")
    return root


@pytest.fixture
def small_help(tmp_path: Path) -> Path:
    """300 architectures of HELP's shared data (3 settings), or made up where it is not."""
    import torch

    if SHARED_HELP.is_dir():
        index = torch.load(SHARED_HELP / "str_arch2idx.pt", weights_only=True)
        archs = sorted(index, key=index.get)[:300]
        tables = {s: torch.load(SHARED_HELP / "latency" / f"{s}.pt", weights_only=True)
                  for s in SETTINGS}
        latencies = {s: [table[index[a]] for a in archs] for s, table in tables.items()}
    else:
        archs = [nb201_arch(c) for c in nb201_codes()[::52]][:300]
        rng = np.random.default_rng(0)
        latencies = {s: rng.uniform(1, 30, len(archs)).tolist() for s in SETTINGS}
    return _help_dir(tmp_path / "help", archs, latencies)


def test_settings_become_devices_with_type_and_batch() -> None:
    expected = {"titan_rtx_256": ("titan_rtx", "gpu", 256), "1080ti_1": ("1080ti", "gpu", 1),
                "gold_6226": ("gold_6226", "cpu", 1), "silver_4210r": ("silver_4210r", "cpu", 1),
                "raspi4": ("raspi4", "cpu", 1), "essential_ph_1": ("essential_ph_1", "phone", 1),
                "pixel2": ("pixel2", "phone", 1), "fpga": ("fpga", "other", 1),
                "eyeriss": ("eyeriss", "other", 1)}
    for setting, (hardware, kind, batch) in expected.items():
        device = setting_device(setting)
        assert (device.model, device.info["device_type"], device.info["batch"]) == \
            (hardware, kind, batch), setting


def test_import_is_idempotent_and_the_networks_are_gens(small_help: Path, tmp_path: Path) -> None:
    from dnncost.gen.pipeline import catalog

    with Store(tmp_path / "s.sqlite") as store:
        first = import_help(store, small_help)
        again = import_help(store, small_help)
        assert (first.networks, first.devices, first.measurements) == (300, 3, 900)
        assert again.changed_rows == 0
        networks = {n.name: n for n in store.networks()}
        assert all(name.startswith("nb201-") for name in networks)
        name = sorted(networks)[0]
        [(_, gen_network, _)] = catalog("nasbench201", None, 0, [name])
        assert gen_network == networks[name]  # gen --space nasbench201 makes the same record
        data = load_dataset(store)
    assert data.latency_ms.shape == (3, 300) and np.isfinite(data.latency_ms).all()
    assert sorted(data.device_groups) == ["2080ti", "pixel3", "silver_4114"]
    assert len(data.layers[0]) >= 30 and np.isnan(data.measure_order).all()  # no sweep order


def test_import_help_errors_are_one_line(small_help: Path, tmp_path: Path) -> None:
    import torch

    store = str(tmp_path / "s.sqlite")

    def run(*args: str):
        return CliRunner().invoke(cli, ["data", "import-help", *args, "--store", store])

    wrong = run(str(small_help), "--space", "fbnet")
    assert wrong.exit_code == 2 and "holds NAS-Bench-201 data" in wrong.output
    missing = run(str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "is not a directory" in missing.output

    torch.save(Payload(), small_help / "latency" / "pixel3.pt")
    code = run(str(small_help))
    assert code.exit_code == 2 and "not a file of plain numbers" in code.output
    torch.save({"a": 1.0}, small_help / "latency" / "pixel3.pt")
    shape = run(str(small_help))
    assert shape.exit_code == 2 and "expected a list of 300 latencies" in shape.output
    assert len(shape.output.strip().splitlines()) == 1
    with Store(store) as s:
        assert s.count("measurements") == 0  # nothing written by a failed import


def test_a_non_positive_latency_is_a_failed_row(small_help: Path, tmp_path: Path) -> None:
    import torch

    path = small_help / "latency" / "pixel3.pt"
    values = torch.load(path, weights_only=True)
    torch.save([0.0] + values[1:], path)
    with Store(tmp_path / "s.sqlite") as store:
        import_help(store, small_help)
        failed = [m for m in store.measurements("pixel3") if not m.ok]
    assert len(failed) == 1 and "no positive latency" in failed[0].error
    with pytest.raises(InputError, match="unknown space"):
        import_help(Store(tmp_path / "t.sqlite"), small_help, "nasbench101")


def test_fbnet_tables_import_as_gens_fbnet_networks(tmp_path: Path) -> None:
    import torch

    rng = np.random.default_rng(0)
    archs = [{"op_idx_list": rng.integers(0, 9, 22).tolist()} for _ in range(40)]
    root = tmp_path / "fbnet"
    (root / "latency").mkdir(parents=True)
    torch.save({"arch": archs}, root / "metainfo.pt")
    torch.save(rng.uniform(5, 50, 40).tolist(), root / "latency" / "raspi4.pt")
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(InputError, match="holds FBNet data"):
            import_help(store, root, "nasbench201")
        summary = import_help(store, root, "fbnet")
        names = sorted(n.name for n in store.networks())
        [device] = store.devices()
    assert (summary.networks, summary.measurements) == (40, 40)
    assert names[0].startswith("fbnet-") and len(names[0]) == len("fbnet-") + 22
    assert device.info["device_type"] == "cpu"
    imagenet = import_help(Store(tmp_path / "t.sqlite"), root, "fbnet224")
    assert imagenet.networks == 40

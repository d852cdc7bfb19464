"""Devices that prune dead compute: NAS-Bench-201's pruned twins, found in training
(HELP's pixel3) and when a new device is placed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dnncost.encoding import compute_macs
from dnncost.gen.archs import (nb201_arch, nb201_codes, nb201_pruned, nb201_spec, pruned_spec,
                               pruned_twin)
from dnncost.gen.layers import layer_table
from dnncost.help_import import import_help
from dnncost.learn.dataset import load_dataset
from dnncost.learn.placement import LowRankCostModel
from dnncost.learn.pruning import (SIGNATURE_TELLING, TELLING_MIN_LOG_RATIO, pruning_devices,
                                   telling_cells, twins)
from dnncost.learn.training import TrainOptions, train
from dnncost.store import Store
from test_help_import import SHARED_HELP, _help_dir

needs_help = pytest.mark.skipif(not SHARED_HELP.is_dir(), reason="HELP's shared tables absent")
SETTINGS = ("1080ti_1", "2080ti_32", "titanxp_256", "gold_6240", "silver_4114",
            "essential_ph_1", "samsung_a50", "samsung_s7", "pixel3")


@pytest.mark.parametrize("code, pruned", [
    ("333333", "333333"),  # every node feeds the output
    ("333330", "300330"),  # node 2 reaches the output only through none: its edges go
    ("123400", "000400"),  # nodes 1 and 2 both dead
    ("202200", "000200"),
    ("333003", "333003"),  # node 1 feeds node 2, which feeds the output
    ("000000", "000000"),
])
def test_an_edge_into_a_node_only_none_leads_on_from_is_pruned(code: str, pruned: str) -> None:
    assert nb201_pruned(code) == pruned
    assert nb201_pruned(nb201_arch(code)) == pruned  # the architecture string alike
    assert nb201_pruned(pruned) == pruned
    assert pruned_twin(f"nb201-{code}") == f"nb201-{pruned}"


def test_only_nas_bench_201_cells_have_twins() -> None:
    assert pruned_twin("iiswc-001") == "iiswc-001"
    assert pruned_twin("fbnet-0123456780123456780123") == "fbnet-0123456780123456780123"
    names = ["nb201-333330", "nb201-300330", "nb201-123400", "iiswc-001"]
    assert twins(names).tolist() == [1, 1, 2, 3]  # a twin not among them: itself


def test_a_spec_runs_as_its_cells_twins_and_other_specs_stay() -> None:
    assert pruned_spec(nb201_arch("333330")).count("cell_e300330") == 15
    assert pruned_spec(nb201_arch("333333")) == nb201_arch("333333")
    plain = "r224 conv_k3_s2_c32 ir_k3_s1_h32_c16 gap conv_k1_s1_c1000"
    assert pruned_spec(plain) == plain


def test_a_twin_drops_exactly_the_dead_convolutions() -> None:
    """Per cell, 333330 runs two 3x3 convs (edges 2<-0, 2<-1) its twin 300330 does not:
    C*C*9*H*W MACs each, at 16/32/64 channels and 32/16/8 pixels, 5 cells a stage."""
    macs = compute_macs([layer_table(nb201_spec(c)) for c in ("333330", "300330")])
    dead = sum(5 * 2 * c * c * 9 * h * h for c, h in ((16, 32), (32, 16), (64, 8)))
    assert macs[0] - macs[1] == dead
    live = [c for c in nb201_codes()[::97] if nb201_pruned(c) == c]
    assert all(layer_table(nb201_spec(nb201_pruned(c))) == layer_table(nb201_spec(c))
               for c in live[:5])


@pytest.fixture(scope="module")
def help_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store of HELP's 9 settings on 400 cells with dead edges, their twins and 200
    others."""
    import torch

    index = torch.load(SHARED_HELP / "str_arch2idx.pt", weights_only=True)
    codes = nb201_codes()
    rng = np.random.default_rng(0)
    dead = [c for c in codes if nb201_pruned(c) != c]
    chosen = set(rng.choice(dead, 400, replace=False)) | set(rng.choice(codes, 200, replace=False))
    chosen |= {nb201_pruned(c) for c in chosen}
    archs = sorted(nb201_arch(c) for c in chosen)
    tables = {s: torch.load(SHARED_HELP / "latency" / f"{s}.pt", weights_only=True)
              for s in SETTINGS}
    root = _help_dir(tmp_path_factory.mktemp("help") / "help", archs,
                     {s: [t[index[a]] for a in archs] for s, t in tables.items()})
    path = tmp_path_factory.mktemp("store") / "help.sqlite"
    with Store(path) as store:
        import_help(store, root, "nasbench201")
    return path


@pytest.fixture(scope="module")
def help_data(help_store: Path):
    with Store(help_store) as store:
        return load_dataset(store)


@needs_help
def test_pixel3s_cells_take_their_twins_time_and_no_other_settings_do(help_data) -> None:
    found = pruning_devices(help_data.log_ms, twins(help_data.network_names))
    assert [d for d, p in zip(help_data.device_ids, found) if p] == ["pixel3"]


@needs_help
def test_the_signature_holds_cells_whose_dead_edges_take_long(help_data) -> None:
    """Telling cells: dead edges that take at least 1.35x the twin on the settings that
    run them (pixel3's, read as missing, say nothing). Without the rule this slice's
    signature holds none; train puts SIGNATURE_TELLING (2) in it."""
    twin = twins(help_data.network_names)
    log_ms = help_data.log_ms.copy()
    log_ms[help_data.device_ids.index("pixel3"), twin != np.arange(len(twin))] = np.nan
    telling = telling_cells(log_ms, twin)
    assert 0 < telling.sum() < (twin != np.arange(len(twin))).sum()
    assert (twin[telling] != np.flatnonzero(telling)).all()
    ratio = np.nanmedian(log_ms[:, telling] - log_ms[:, twin[telling]], 0)
    assert (ratio >= TELLING_MIN_LOG_RATIO).all()
    trained = train(help_data, TrainOptions(model="lowrank", k=10))
    assert telling[help_data.network_index(trained.signature)].sum() >= SIGNATURE_TELLING


@needs_help
def test_a_device_that_prunes_is_placed_and_predicted_as_its_twins(help_data) -> None:
    """samsung_s7 held out, as measured (runs every edge) and as a device that prunes
    (each cell measured as its twin); pixel3 trains, its dead cells read as twins."""
    s7 = help_data.device_ids.index("samsung_s7")
    rest = [d for d in range(len(help_data.device_ids)) if d != s7]
    trained = train(help_data.select(rest), TrainOptions(model="lowrank", k=10))
    assert trained.pruning == ["pixel3"]
    names = help_data.network_names
    twin = twins(names)
    rng = np.random.default_rng(1)
    extra = set(rng.choice(np.flatnonzero(twin != np.arange(len(names))), 12, replace=False))
    measured_at = sorted(set(help_data.network_index(trained.signature)) | extra)
    row = help_data.latency_ms[s7]
    runs = trained.estimator.adapt({names[i]: row[i] for i in measured_at})
    prunes = trained.estimator.adapt({names[i]: row[twin[i]] for i in measured_at})
    assert runs.info["dead_compute"] == "runs"
    assert prunes.info["dead_compute"] == "pruned"
    dead = [n for n, t in zip(names, twin) if names[t] != n]
    assert all(prunes.known_log_ms[n] == prunes.known_log_ms[pruned_twin(n)] for n in dead)
    assert np.mean([runs.known_log_ms[n] > runs.known_log_ms[pruned_twin(n)] for n in dead]) > 0.8
    off = LowRankCostModel(rank=4, pruned_gate=0.0).fit(
        help_data.select(rest), trained.signature).adapt({names[i]: row[twin[i]]
                                                          for i in measured_at})
    assert off.info["dead_compute"] == "runs"  # 0 turns it off


@needs_help
def test_the_users_path_reads_a_pruning_device_through_the_cli_and_its_onnx(
        help_store: Path, help_data, tmp_path: Path) -> None:
    """train without samsung_s7, adapt to its pruning variant from the signature alone,
    then predict NAS-Bench-201 strings through the device directory and its .onnx: a
    cell with dead edges takes what its twin takes, and the CLI says why."""
    from click.testing import CliRunner

    from dnncost.cli import cli

    def run(*args: object) -> str:
        done = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert done.exit_code == 0, done.output
        return done.stdout

    model, device, onnx = tmp_path / "model", tmp_path / "s7", tmp_path / "s7.onnx"
    run("train", "--mode", "collaborative", "--exclude-device", "samsung_s7", "--store",
        help_store, "-o", model)
    signature = [n["name"] for n in json.loads((model / "signature.json").read_text())["networks"]]
    names = help_data.network_names
    row = help_data.latency_ms[help_data.device_ids.index("samsung_s7")]
    twin = twins(names)
    lines = ["network,latency_ms"] + [f"{n},{row[twin[names.index(n)]]}" for n in signature]
    (tmp_path / "s7.csv").write_text("\n".join(lines) + "\n")
    assert "dead compute: pruned" in run("adapt", model, "--measurements", tmp_path / "s7.csv",
                                         "--device", "s7_compiled", "-o", device)
    run("export", device, "--store", help_store, "-o", onnx)
    specs = tmp_path / "specs.txt"
    specs.write_text(f"{nb201_arch('333330')}\n{nb201_arch('300330')}\n{nb201_arch('333333')}\n")
    for predictor in (device, onnx):
        ms = [float(x) for x in run("predict", predictor, "--specs", specs).split()]
        assert ms[0] == pytest.approx(ms[1], rel=1e-6)  # 333330 runs as 300330
        assert ms[2] > ms[1]

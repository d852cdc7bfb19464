"""gen --space iiswc: the IISWC 2020 study's 118 networks as specs and .tflite files,
under the names and records of the imported measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dnncost.gen.layers import layer_table
from dnncost.gen.spaces import iiswc_networks
from dnncost.importers import iiswc_layers, import_iiswc
from dnncost.learn.sequence import expand_fused
from dnncost.population import read_population
from dnncost.records import Layer
from dnncost.store import Store

FIELDS = ("op_type", "in_h", "out_h", "cin", "cout", "kernel", "stride", "padding", "macs")
PUBLISHED = {100: "MobileNetV1 0.25", 103: "MobileNetV1 1.0", 104: "MobileNetV2 1.0",
             105: "ProxylessNAS", 106: "FBNet", 107: "SPNASNet", 108: "proxyless14",
             109: "MnasNet 0.5", 112: "MnasNet 1.3", 113: "SqueezeNet 1.0",
             114: "SqueezeNet 1.1", 117: "MobileNetV2 0.25"}


def as_the_paper_encodes(layers: list[Layer]) -> tuple[list[tuple], int]:
    """Our layer table in the paper's encoding: ReLU as rows, no concat rows (the encoding
    has no such type), and a pool right after a fire module with the channels (and so
    the MACs) of the module's last expand conv, as the paper's encoder recorded it; the
    rows, and how many pools that last rule changed."""
    rows, quirks, after_concat = [], 0, False
    for layer in expand_fused(layers):
        if layer.op_type == "concat":
            after_concat = True
            continue
        row = [getattr(layer, f) or 0 for f in FIELDS]
        if layer.op_type == "pool" and after_concat:
            half = layer.cout // 2
            row[3:5], row[8], quirks = [half, half], layer.out_h * layer.out_h * half, quirks + 1
        after_concat = after_concat and layer.op_type == "relu"
        rows.append(tuple(row))
    return rows, quirks


def test_all_118_layer_tables_equal_the_papers_encoding() -> None:
    population = read_population(runs=False)
    networks = iiswc_networks()
    assert [name for name, _, _ in networks] == [f"iiswc-{row:03d}" for row in range(118)]
    assert {row: networks[row][1] for row in PUBLISHED} == PUBLISHED
    quirks = {}
    for row, (name, label, spec) in enumerate(networks):
        paper = [tuple(getattr(layer, f) or 0 for f in FIELDS)
                 for layer in iiswc_layers(population.embedding_lines[row], name)]
        ours, changed = as_the_paper_encodes(layer_table(spec))
        assert ours == paper, (name, label)  # types, shapes, channels, kernel, stride, MACs
        if changed:
            quirks[label] = changed
    assert quirks == {"SqueezeNet 1.0": 2, "SqueezeNet 1.1": 2}
    kinds = " ".join(spec.to_string() for _, _, spec in networks)
    assert all(token in kinds for token in (" fire_", " dw_", " ds_", " ir_", " maxpool_",
                                             "_pvalid", "_psame"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the population imported and four of its networks built (int8)."""
    from dnncost.gen.pipeline import generate

    root = tmp_path_factory.mktemp("iiswc-gen")
    with Store(root / "s.sqlite") as store:
        import_iiswc(store)
        generate(store, "iiswc", None, 0, ("int8",), root / "models", jobs=2,
                 names=["iiswc-000", "iiswc-100", "iiswc-113", "iiswc-117"])
    return root / "s.sqlite"


def test_built_networks_run_in_litert_and_read_back_as_their_spec(built: Path) -> None:
    from litert_run import run_on_zeros

    from dnncost.gen.spec import parse_spec
    from dnncost.gen.tflite_layers import tflite_layer_table

    with Store(built) as store:
        networks = [n for n in store.networks() if n.files]
    assert [n.name for n in networks] == ["iiswc-000", "iiswc-100", "iiswc-113", "iiswc-117"]
    for network in networks:
        [file] = network.files
        assert tflite_layer_table(file.path) == layer_table(parse_spec(network.spec["spec"]))
        result, output = run_on_zeros(file.path)
        assert result.shape == (1, 1000)
        assert output["dtype"] == np.int8


def test_files_and_measurements_meet_under_one_name(built: Path, tmp_path: Path) -> None:
    with Store(built) as store:
        before = {n.name: n for n in store.networks()}
        measured = {m.network_id for m in store.measurements("GM1901_2")}
        changes = store.changes()
        import_iiswc(store)  # importing again keeps the files and changes nothing
        assert store.changes() == changes
        assert {n.name: n for n in store.networks()} == before
    assert all(before[f"iiswc-{row:03d}"].id in measured for row in (0, 100, 113, 117))
    assert before["iiswc-113"].spec["network"] == "SqueezeNet 1.0"
    with Store(tmp_path / "gen-first.sqlite") as store:  # gen before the import: the same
        from dnncost.gen.pipeline import catalog

        for _, network, layers in catalog("iiswc", None, 0, ["iiswc-113"]):
            store.put_network(network, layers)
        import_iiswc(store)
        ours = store.networks(["iiswc-113"])[0]
    assert ours == before["iiswc-113"].__class__(**{**vars(before["iiswc-113"]), "files": ()})

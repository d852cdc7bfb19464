"""gen's NAS benchmark spaces: NAS-Bench-201 and FBNet (HW-NAS-Bench) architectures as
specs, layer tables checked against hand-computed counts, builds that run in LiteRT."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dnncost.encoding import encode
from dnncost.errors import InputError
from dnncost.gen.archs import (arch_network_name, arch_of_name, nb201_arch, nb201_code,
                               nb201_codes, nb201_reaches_output)
from dnncost.gen.fast_layers import encoded_tables
from dnncost.gen.layers import layer_table, total_macs, total_params
from dnncost.gen.spaces import arch_networks, sample_specs
from dnncost.gen.spec import parse_spec

ALL_CONV3 = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
             "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")


def test_nasbench201_strings_round_trip_and_name_their_networks() -> None:
    arch = ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+"
            "|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    assert nb201_code(arch) == "334131" and nb201_arch("334131") == arch
    assert arch_network_name(arch) == "nb201-334131" and arch_of_name("nb201-334131") == arch
    assert parse_spec(arch).to_string() == parse_spec(parse_spec(arch).to_string()).to_string()
    with pytest.raises(InputError, match="not a NAS-Bench-201 architecture"):
        parse_spec("|nor_conv_3x3~0|+|conv_7x7~0|none~1|")
    # the message names the first thing wrong: a mistyped op, an input node out of range
    for wrong, why in ((arch.replace("skip_connect~0", "skip_conect~0"),
                        "'skip_conect' is not one of none, skip_connect,"),
                       (arch.replace("skip_connect~2", "skip_connect~3"),
                        "node 3 takes its inputs from nodes 0 to 2, not 'skip_connect~3'"),
                       (arch.replace("avg_pool_3x3~1", "avg_pool_3x3~0"),
                        "node 2 needs one edge from each of nodes 0 to 1"),
                       (arch.rsplit("+", 1)[0], "2 node(s) joined by '+', where a cell has 3")):
        with pytest.raises(InputError) as error:
            parse_spec(wrong)
        assert f"architecture string ({why}" in str(error.value)


def test_nasbench201_macs_and_parameters_by_hand() -> None:
    # Every edge a 3x3 conv: stem 32*32*16*27; per cell 6 convs of h*w*c*c*9 (the same
    # 2,359,296 at 16/32/64 channels); each reduction block conv_a + conv_b + 1x1
    # shortcut; the 64 -> 10 classifier.
    cell = 6 * 32 * 32 * 16 * 16 * 9
    reduction = 16 * 16 * 32 * 16 * 9 + 16 * 16 * 32 * 32 * 9 + 16 * 16 * 32 * 16
    layers = layer_table(parse_spec(ALL_CONV3))
    assert total_macs(layers) == 32 * 32 * 16 * 27 + 3 * 5 * cell + 2 * reduction + 640
    assert total_macs(layers) == 220_119_680  # NAS-Bench-201's 220.11 MFLOPs (its largest)
    # NAS-Bench-201 counts 1,531,546 parameters for it: the conv weights, 2 per channel of
    # each batch norm (3,632 channels: stem 16, 90 cell convs of 16/32/64, the reduction
    # blocks' two convs, the last one 64) and the classifier's 650. Our rows fold each
    # batch norm into a conv bias instead.
    convs = [layer for layer in layers if layer.op_type == "conv"]
    weights = sum(layer.params - layer.cout for layer in convs[:-1])
    bn_channels = 16 + 30 * 16 + 2 * 32 + 30 * 32 + 2 * 64 + 30 * 64 + 64
    assert bn_channels == 3632 and weights + 2 * bn_channels + 650 == 1_531_546
    # Only none: every edge multiplies by zero; what is left is NAS-Bench-201's 7.78 MFLOPs.
    empty = layer_table(parse_spec(nb201_arch("000000")))
    assert total_macs(empty) == 32 * 32 * 16 * 27 + 2 * reduction + 640 == 7_783_040
    assert [l.op_type for l in empty].count("mul") == 15 * 6
    # Node 1 reached by none only: its two convs still run, as in the reference (and in
    # HELP's measurements); one mul row per cell instead of the first conv.
    dead_input = layer_table(parse_spec(nb201_arch("033333")))
    assert total_macs(dead_input) == total_macs(layers) - 3 * 5 * cell // 6
    assert [l.op_type for l in dead_input].count("mul") == 15


def test_a_cell_without_a_path_to_its_output_and_sampling_skip_it() -> None:
    assert not nb201_reaches_output("000000") and not nb201_reaches_output("100000")
    assert nb201_reaches_output("100100") and not nb201_reaches_output("000001")
    assert sum(not nb201_reaches_output(c) for c in nb201_codes()) == 341
    archs = [spec.to_string() for spec in sample_specs("nasbench201", 40, 3)]
    assert len(set(archs)) == 40 and archs[:10] == [
        s.to_string() for s in sample_specs("nasbench201", 10, 3)]  # prefix-stable
    assert "cell_e000000" not in " ".join(archs)


def test_fbnet_macs_by_hand() -> None:
    # All 22 layers skip: identities, except a 1x1 conv (+ReLU) where a stage changes
    # channels or strides; CIFAR-100 form (stem stride 1, stage strides 1 1 2 2 1 2 1).
    layers = layer_table(parse_spec("fbnet:" + ",".join(["8"] * 22)))
    by_hand = (32 * 32 * 16 * 27 + 32 * 32 * 24 * 16 + 16 * 16 * 32 * 24 + 8 * 8 * 64 * 32
               + 8 * 8 * 112 * 64 + 4 * 4 * 184 * 112 + 4 * 4 * 352 * 184
               + 4 * 4 * 1504 * 352 + 1504 * 100)
    assert total_macs(layers) == by_hand == 11_608_960
    # One k3_e1_g2 block in the first layer (16 -> 16, stride 1): grouped 1x1 expand,
    # shuffle, depthwise 3x3, grouped 1x1 project, residual add.
    block = layer_table(parse_spec("fbnet:1," + ",".join(["8"] * 21)))
    rows = [(l.op_type, l.groups, l.macs) for l in block[1:6]]
    assert rows == [("conv", 2, 32 * 32 * 16 * 8), ("shuffle", 2, 32 * 32 * 16),
                    ("dwconv", 16, 32 * 32 * 16 * 9), ("conv", 2, 32 * 32 * 16 * 8),
                    ("add", None, 32 * 32 * 16)]
    assert total_macs(block) == by_hand + 2 * 32 * 32 * 16 * 8 + 32 * 32 * 16 * 9
    imagenet = layer_table(parse_spec("fbnet224:" + ",".join(["8"] * 22)))
    assert imagenet[0].out_h == 112 and imagenet[-1].cout == 1000
    with pytest.raises(InputError, match="22 block indices"):
        parse_spec("fbnet:1,2,3")


@pytest.mark.parametrize("space", ["nasbench201", "fbnet", "fbnet224"])
def test_the_fast_walker_and_torchprofile_agree_with_the_layer_table(space: str) -> None:
    from torch_build import torchprofile_macs

    specs = sample_specs(space, 60, 1)
    rows, index = encoded_tables([s.to_string() for s in specs])
    reference = np.concatenate([encode(layer_table(s)) for s in specs])
    assert np.array_equal(rows, reference) and index[-1] == len(specs) - 1
    for spec in specs[:2]:
        assert math.isclose(torchprofile_macs(spec), total_macs(layer_table(spec)),
                            rel_tol=0.01)


def test_architecture_strings_featurize_like_their_specs() -> None:
    archs = [ALL_CONV3, "fbnet:" + ",".join(["3"] * 22)]
    expanded = [parse_spec(a).to_string() for a in archs]
    assert all(np.array_equal(a, b) for a, b in zip(encoded_tables(archs),
                                                     encoded_tables(expanded)))


def test_arch_networks_are_named_by_architecture_with_their_totals() -> None:
    [(spec, network)] = arch_networks("nasbench201", [ALL_CONV3])
    assert network.name == "nb201-333333" and network.space == "nasbench201"
    assert (network.macs, network.params) == (220_119_680, total_params(layer_table(spec)))
    assert network.spec["arch"] == ALL_CONV3


def test_gen_builds_of_both_spaces_run_in_litert(tmp_path: Path) -> None:
    from litert_run import run_on_zeros

    from dnncost.gen.pipeline import generate
    from dnncost.gen.tflite_layers import tflite_layer_table
    from dnncost.store import Store

    with Store(tmp_path / "s.sqlite") as store:
        for space in ("nasbench201", "fbnet"):
            generate(store, space, 2, 0, out_dir=tmp_path / "models", jobs=2)
        networks = store.networks()
        assert sorted(n.name.split("-")[0] for n in networks) == ["fbnet"] * 2 + ["nb201"] * 2
        for network in networks:
            [file] = network.files
            result, _ = run_on_zeros(file.path)
            assert result.shape[-1] == (
                10 if network.name.startswith("nb201") else 100)
            if network.name.startswith("fbnet"):  # what the converter wrote is the walker's
                assert tflite_layer_table(file.path) == store.layers(network.id)


def test_a_cell_of_skips_only_featurizes_after_its_shared_stages_are_cached() -> None:
    """Stem, reduction and head stages are shared: a second network whose only new stages
    are cells of skips and nones (rows of muls by zero and adds only) must featurize too."""
    from dnncost.learn.features import spec_features

    first = spec_features([nb201_arch("333333")])
    skips = spec_features([nb201_arch("000100"), nb201_arch("100010")])
    assert np.isfinite(first).all() and np.isfinite(skips).all()
    assert (skips[:, 0] < first[0, 0]).all()  # fewer MACs than all-3x3 cells


def test_gen_takes_the_space_of_the_networks_it_is_given_and_bounds_count():
    from dnncost.errors import InputError
    from dnncost.gen.pipeline import catalog, space_of_names

    assert space_of_names(["iiswc-000", "iiswc-113"]) == "iiswc"
    assert space_of_names(["nb201-230030"]) == "nasbench201"
    assert space_of_names(["fbnet224-" + "0" * 22]) == "fbnet224"
    with pytest.raises(InputError, match="name networks of one space"):
        space_of_names(["iiswc-000", "nb201-230030"])
    with pytest.raises(InputError, match="holds 15284 distinct networks"):
        catalog("nasbench201", 999_999, 0)
    for space in ("nasbench201", "fbnet", "mobileopt"):
        with pytest.raises(InputError, match="at least 1, not -1"):
            catalog(space, -1, 0)

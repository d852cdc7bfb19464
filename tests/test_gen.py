"""gen/ without TensorFlow: specs, samplers, analytic layer tables, CLI error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnncost.cli import cli
from dnncost.errors import InputError
from dnncost.gen.layers import layer_table, total_macs, total_params
from dnncost.gen.spaces import SPACES, space_names, sample_specs
from dnncost.gen.spec import BlockSpec, ConvSpec, NetworkSpec, PoolSpec, parse_spec, spec_id
from dnncost.gen.tflite_layers import tflite_layer_table
from dnncost.records import OP_TYPES


@pytest.fixture(scope="module")
def samples() -> dict[str, list[NetworkSpec]]:
    return {space: sample_specs(space, 150, seed=7) for space in SPACES}


def test_spec_round_trips_through_string_json_and_dict(samples) -> None:
    for specs in samples.values():
        for spec in specs:
            assert parse_spec(spec.to_string()) == spec
            assert NetworkSpec.from_json(spec.to_json()) == spec
            assert NetworkSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    text = "r64 conv_k3_s2_c8_ahswish; ds_k3_s1_c8_se4_arelu6\nfr_k5_s2_h16_c12 gap conv_k1_s1_c10"
    spec = parse_spec(text)
    assert spec.stages == (ConvSpec(3, 2, 8, "hswish"), BlockSpec("ds", 3, 1, 0, 8, 4, "relu6"),
                           BlockSpec("fr", 5, 2, 16, 12, 0, None), PoolSpec(0),
                           ConvSpec(1, 1, 10))
    assert parse_spec(spec.to_string()) == spec


def test_spec_id_is_a_16_hex_hash_of_the_canonical_form(samples) -> None:
    specs = samples["mobileopt"]
    ids = [spec_id(s) for s in specs]
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert len(set(ids)) == len(ids)
    assert spec_id(parse_spec(" ;".join(specs[0].to_string().split()))) == ids[0]


@pytest.mark.parametrize("text", ["", "conv_k3_s1_c8", "r224 conv_k3_c8", "r224 ir_k3_s1_c8",
                                  "r224 conv_k3_s1_c8_aswish", "r224 conv_k0_s1_c8",
                                  "r224 blob_k3", "r224 conv_k3_s1_c8_c9"])
def test_malformed_specs_are_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        parse_spec(text)


def test_samplers_are_reproducible_and_prefix_stable() -> None:
    assert space_names() == tuple(SPACES) + ("nasbench201", "fbnet", "fbnet224", "iiswc")
    assert len(sample_specs("iiswc", None, 0)) == 118 and len(sample_specs("iiswc", 5, 9)) == 5
    for space in space_names()[:-1]:
        first = sample_specs(space, 12, seed=3)
        assert first == sample_specs(space, 12, seed=3)
        assert first[:5] == sample_specs(space, 5, seed=3)
        assert first != sample_specs(space, 12, seed=4)


def test_mobileopt_follows_the_papers_space(samples) -> None:
    sizes = set()
    for spec in samples["mobileopt"]:
        table = layer_table(spec)
        assert 40e6 <= total_macs(table) <= 400e6
        assert spec.resolution == 224 and spec.stages[0] == ConvSpec(3, 2, 32)
        first = spec.stages[1]
        assert first.kind == "ir" and first.hidden == 2 * first.cout and first.cout in (12, 16)
        assert spec.stages[-3:] == (PoolSpec(7), spec.stages[-2], ConvSpec(1, 1, 1000))
        blocks = [s for s in spec.stages[2:] if isinstance(s, BlockSpec)]
        assert {b.kernel for b in blocks} <= {3, 5, 7}
        width, cin = (0.75 if first.cout == 12 else 1.0), first.cout
        for block in blocks:  # expansion 3 or 6, scaled by the width as in the paper
            assert block.hidden in (int(cin * 3 * width), int(cin * 6 * width))
            cin = block.cout
        sizes.add("small" if first.stride == 2 else "large/giant")
        if first.stride == 2:  # small networks use only 3x3 and 5x5 kernels
            assert {b.kernel for b in blocks} <= {3, 5}
        assert (table[-1].out_h, table[-1].cout) == (1, 1000)
    assert sizes == {"small", "large/giant"}


def test_efficient_space_stays_in_its_bounds(samples) -> None:
    kinds, acts, with_se = set(), set(), 0
    for spec in samples["efficient"]:
        assert 20e6 <= total_macs(layer_table(spec)) <= 600e6
        assert spec.resolution in (128, 160, 192, 224)
        blocks = [s for s in spec.stages if isinstance(s, BlockSpec)]
        kinds |= {b.kind for b in blocks}
        acts |= {b.act for b in blocks}
        with_se += any(b.se for b in blocks)
    assert kinds == {"ir", "fr", "ds"} and acts == {"relu", "relu6", "hswish"}
    assert 0 < with_se < len(samples["efficient"])


def test_layer_table_counts_macs_and_params_by_hand() -> None:
    spec = parse_spec("r32 conv_k3_s2_c8_arelu ir_k3_s1_h16_c8_se4_ahswish gap conv_k1_s1_c10")
    rows = layer_table(spec)
    assert [r.op_type for r in rows] == [
        "conv", "conv", "hswish", "dwconv", "hswish", "pool", "conv", "conv", "sigmoid",
        "mul", "conv", "add", "pool", "conv"]
    assert all(r.op_type in OP_TYPES for r in rows)
    stem = rows[0]
    assert (stem.out_h, stem.padding, stem.activation) == (16, 1, "relu")
    assert stem.macs == 16 * 16 * 8 * 3 * 3 * 3 and stem.params == 3 * 3 * 3 * 8 + 8
    dw = rows[3]
    assert (dw.groups, dw.macs, dw.params) == (16, 16 * 16 * 16 * 9, 16 * 9 + 16)
    assert rows[9].macs == 16 * 16 * 16 and rows[11].macs == 16 * 16 * 8
    assert total_macs(rows) == sum(r.macs for r in rows if r.op_type in ("conv", "dwconv"))
    assert total_params(rows) == sum(r.params for r in rows)
    assert [r.index for r in rows] == list(range(len(rows)))


def test_sampling_errors_name_the_problem() -> None:
    with pytest.raises(InputError, match="mobileopt, efficient, nasbench201, fbnet, fbnet224, iiswc"):
        sample_specs("resnets", 3, 1)
    with pytest.raises(InputError, match="at least 1"):
        sample_specs("mobileopt", 0, 1)


def test_light_modules_import_neither_tensorflow_nor_torch() -> None:
    code = ("import sys, dnncost.gen.spec, dnncost.gen.layers, dnncost.gen.tflite_layers, "
            "dnncost.gen.spaces, dnncost.gen.pipeline, dnncost.cli; "
            "print([m for m in ('tensorflow', 'torch', 'keras', 'xgboost') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_one_module_imports_tensorflow_and_none_imports_torch() -> None:
    gen_dir = Path(__file__).resolve().parents[1] / "gen"
    users: dict[str, list[str]] = {"tensorflow": [], "torch": []}
    for path in sorted(gen_dir.glob("*.py")):
        text = path.read_text()
        for package, needles in (("tensorflow", ("import tensorflow", "import keras",
                                                 "from keras")),
                                 ("torch", ("import torch", "from torch"))):
            if any(needle in text for needle in needles):
                users[package].append(path.name)
    assert users == {"tensorflow": ["tf_build.py"], "torch": []}  # torch: tests/torch_build.py


def test_feature_extractor_rejects_non_tflite_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x10\x00\x00\x00TFL3" + bytes(range(256)) * 3)
    for path in (junk, tmp_path / "missing.tflite", Path(__file__)):
        with pytest.raises(InputError, match=str(path.name)):
            tflite_layer_table(path)


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args)
    return result.exit_code, result.stdout, result.stderr


def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    store = str(tmp_path / "s.sqlite")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a model")
    cases = {
        ("gen", "--space", "resnets", "--store", store): "unknown search space",
        ("gen", "--count", "0", "--store", store): "at least 1",
        ("gen", "--count", "1", "--out", str(blocker / "sub"), "--store", store):
            "not writable",
        ("gen", "--precision", "int4", "--store", store): "unknown precision",
        ("layers", str(junk)): "junk.tflite",
        ("layers", "--spec", "r224 blob"): "blob",
    }
    for args, message in cases.items():
        code, _, err = _run(list(args))
        assert code == 2, args
        assert err.count("\n") == 1 and message in err, err


def test_layers_command_prints_the_feature_table_of_a_spec() -> None:
    code, out, _ = _run(["layers", "--spec", "r32 conv_k3_s2_c8_arelu gap conv_k1_s1_c10"])
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("index,op_type,in_h") and len(lines) == 4
    assert lines[1].split(",")[:2] == ["0", "conv"]


def test_mobileopt_space_contains_the_papers_random_networks(iiswc_dir: Path) -> None:
    """The paper's 100 random networks (their specs: gen/iiswc_networks.tsv, checked
    against the encodings in test_iiswc_space.py) are points of the mobileopt space."""
    from dnncost.gen.spaces import (MOBILEOPT_EXPANSIONS, MOBILEOPT_HEAD, MOBILEOPT_KERNELS,
                                    MOBILEOPT_STAGES, iiswc_networks)

    sizes = [line.split(",")[4].strip() for line in
             (iiswc_dir / "Properties.csv").read_text().splitlines()]
    for (name, label, spec), size in zip(iiswc_networks(), sizes):
        assert label == "MobileGen random" and spec.stages[0] == ConvSpec(3, 2, 32)
        assert (spec.stages[1].stride == 2) == (size == "small"), name
        assert spec.stages[-3:] == (PoolSpec(7), spec.stages[-2], ConvSpec(1, 1, 1000))
        width = 1.0 if spec.stages[1].cout == 16 else 0.75
        blocks = [s for s in spec.stages[2:] if isinstance(s, BlockSpec)]
        starts = [i for i, b in enumerate(blocks) if b.stride == 2] + [len(blocks)]
        stages = MOBILEOPT_STAGES[size]
        assert len(starts) - 1 == len(stages)
        cin = spec.stages[1].cout
        for (depths, channels), start, end in zip(stages, starts, starts[1:]):
            assert end - start in depths
            for block in blocks[start:end]:
                assert block.cout in [int(c * width) for c in channels]
                assert block.kernel in MOBILEOPT_KERNELS[size]
                assert block.hidden in [int(cin * e * width) for e in MOBILEOPT_EXPANSIONS]
                cin = block.cout
        heads, hidden_fc = MOBILEOPT_HEAD[size]
        assert spec.stages[-4].cout in heads and spec.stages[-2].cout in hidden_fc


def test_model_files_are_written_atomically(tmp_path: Path) -> None:
    from dnncost.artifacts import write_atomic as _atomic_write

    target = tmp_path / "net.int8.tflite"
    _atomic_write(target, b"old model")
    with pytest.raises(TypeError):
        _atomic_write(target, "not bytes: the write fails halfway")  # type: ignore[arg-type]
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp file left

"""The vectorised walker and featurizer: encoded rows of spec strings equal gen's layer
tables, and their agg-v2 features equal the plain reference loop (tests/
reference_features.py, over the layers as encoded) bit for bit; bad specs raise gen's
error."""

from __future__ import annotations

import random

import numpy as np
import pytest

from dnncost.encoding import decode, encode, encode_many
from dnncost.errors import InputError
from dnncost.gen.fast_layers import encoded_tables
from dnncost.gen.layers import layer_table
from dnncost.gen.spaces import sample_specs, space_names
from dnncost.gen.spec import ACTIVATION_NAMES, BLOCK_KINDS, parse_spec
from dnncost.learn.features import FEATURE_NAMES, features_matrix, network_features, spec_features
from reference_features import reference_matrix


def _reference(specs: list[str]) -> np.ndarray:
    tables = [layer_table(parse_spec(s)) for s in specs]
    rows, index = encoded_tables(specs)
    assert [np.array_equal(a, b) for a, b in zip((rows, index), encode_many(tables))] == [
        True, True]  # the vectorised walker emits gen's layer tables
    # the reference loop over the numbers as encoded (float32 rounds MACs above 2**24)
    expected = reference_matrix([decode(encode(table)) for table in tables])
    assert np.array_equal(features_matrix(tables), expected)
    return expected


def _random_token(rng: random.Random) -> str:
    """Any stage the grammar allows, small enough to leave odd sizes and 0 pixels."""
    kind = rng.choice(("conv", "dw", "fire", "gap", "avgpool", "maxpool", "cell", "res", "act",
                       "grouped") + BLOCK_KINDS + BLOCK_KINDS)
    padding = [f"p{rng.choice(('same', 'valid'))}"] if rng.random() < 0.3 else []
    if kind == "gap":
        return "gap"
    if kind == "cell":
        return "cell_e" + "".join(rng.choice("01234") for _ in range(6))
    if kind == "res":
        return f"res_s{rng.randint(1, 2)}_c{rng.randint(1, 24)}"
    if kind == "act":
        return rng.choice(ACTIVATION_NAMES)
    if kind == "grouped":  # an ir block in 2 or 4 groups, then a channel shuffle
        groups = rng.choice((2, 4))
        return (f"ir_k{rng.randint(1, 5)}_s{rng.randint(1, 2)}_h{groups * rng.randint(1, 8)}"
                f"_c{groups * rng.randint(1, 8)}_g{groups}")
    if kind in ("avgpool", "maxpool"):
        stride = [f"s{rng.randint(1, 3)}"] if kind == "maxpool" or rng.random() < 0.3 else []
        return "_".join([kind, f"k{rng.randint(1, 4)}"] + stride + padding)
    act = rng.choice((None,) + ACTIVATION_NAMES)
    acts = [f"a{act}"] if act else []
    if kind == "fire":
        return "_".join(["fire", f"h{rng.randint(1, 24)}", f"c{2 * rng.randint(1, 24)}"] + acts)
    fields = [f"k{rng.randint(1, 7)}", f"s{rng.choice((1, 1, 2, 3))}"]
    if kind in ("ir", "fr"):
        fields.append(f"h{rng.randint(1, 48)}")
    if kind != "dw":
        fields.append(f"c{rng.choice((rng.randint(1, 40), 8))}")
    if kind in BLOCK_KINDS and rng.random() < 0.5:
        fields.append(f"se{rng.randint(1, 12)}")
    return "_".join([kind] + fields + acts + (padding if kind in ("conv", "dw") else []))


def _random_specs(count: int, seed: int) -> list[str]:
    """Specs of any stages the grammar allows that gen can walk (a grouped block needs
    input channels that divide into its groups)."""
    rng = random.Random(seed)
    specs: list[str] = []
    while len(specs) < count:
        channels = f"_i{rng.randint(1, 9)}" if rng.random() < 0.4 else ""
        stages = [_random_token(rng) for _ in range(rng.randint(1, 12))]
        spec = " ".join([f"r{rng.randint(1, 97)}{channels}"] + stages)
        try:
            layer_table(parse_spec(spec))
        except InputError:
            continue
        specs.append(spec)
    return specs


def test_every_search_space_equals_the_reference_bit_for_bit():
    specs = [s.to_string() for space in space_names() for s in sample_specs(space, 150, 5)]
    joined = " ".join(specs)
    assert all(f"{k}_" in joined for k in BLOCK_KINDS) and "_se" in joined
    assert all(f"_a{a} " in joined for a in ACTIVATION_NAMES)
    assert "gap" in joined and "avgpool_k7" in joined
    assert np.array_equal(spec_features(specs), _reference(specs))


def test_random_grammar_specs_equal_the_reference_bit_for_bit():
    specs = _random_specs(600, seed=11) + [
        "r32 conv_k3_s2_c8_arelu ir_k3_s1_h16_c8_se4_ahswish ds_k5_s2_c16 gap conv_k1_s1_c10",
        "r96_i1 conv_k3_s1_c4 avgpool_k2 fr_k3_s2_h8_c8",
        "r8 conv_k3_s2_c8 avgpool_k7 conv_k1_s1_c4",  # pooling leaves 0 pixels
        "r33;conv_k03_s2_c5  ir_s1_c5_k3_h7_ahswish_se2\tfr_k2_s3_h9_c6_arelu6 avgpool_k0",
        "r224 conv_k3_s1_c4294967296",  # a number the fast path leaves to the reference
        "r65536 conv_k3_s1_c65536 conv_k1_s1_c65536",  # sums of 2**53 and more
        "r224 conv_k7_s2_c96_arelu_pvalid maxpool_k3_s2 fire_h16_c128 maxpool_k3_s2_psame "
        "dw_k3_s1_arelu6 conv_k1_s1_c1000_arelu avgpool_k13",  # SqueezeNet's and V1's tokens
    ]
    reference = _reference(specs)
    assert np.array_equal(spec_features(specs), reference)
    assert np.array_equal(spec_features(specs[::-1]), reference[::-1])
    joined = " ".join(specs)
    assert "_i" in joined and "_se" in joined and "_s3_" in joined and "_pvalid" in joined
    assert all(f" {kind}_" in joined for kind in ("fire", "dw", "maxpool"))
    sizes = [layer.out_h for s in specs for layer in layer_table(parse_spec(s))]
    assert any(h % 2 for h in sizes) and 0 in sizes
    assert reference.shape == (len(specs), len(FEATURE_NAMES))


def test_one_spec_at_a_time_equals_the_batch():
    specs = _random_specs(40, seed=12)
    batch = spec_features(specs)
    assert np.array_equal(np.vstack([spec_features([s]) for s in specs]), batch)
    assert spec_features([]).shape == (0, len(FEATURE_NAMES))


@pytest.mark.parametrize("bad", [
    "", "x224 conv_k3_s1_c8", "r224", "r0 conv_k3_s1_c8", "r224_i0 gap",
    "r224 conv_k0_s1_c8", "r224 conv_k3_s1_c8_agelu", "r224 conv_k3_s1_c8 r112",
    "r224 ds_k3_s1_h8_c8", "r224 ir_k3_s1_c8", "r224 conv_k3_s1_c8_se2 gap",
    # not ASCII, or split only by Python: dnncost.js refuses these too (tests/test_web.py)
    "r224 conv_k3_s1_c\u0663\u0662", "r\u0662\u0662\u0664 gap", "r32\x1cconv_k3_s1_c8",
    "r32\u00a0conv_k3_s1_c8", "fbnet:" + ",".join(["\uff10"] * 22),
    "fbnet:" + ",".join(["1_0"] + ["0"] * 21), "\xa0fbnet:" + ",".join(["3"] * 22),
    "fbnet:" + ",".join(["3"] * 22) + "\x1c", "\u3000|nor_conv_3x3~0|+|none~0|none~1|+"
    "|none~0|none~1|none~2|",
])
def test_a_bad_spec_raises_gen_s_error(bad):
    with pytest.raises(InputError) as expected:
        parse_spec(bad)
    good = "r32 conv_k3_s2_c8"
    with pytest.raises(InputError) as raised:
        spec_features([good, bad, good])
    assert str(raised.value) == str(expected.value)


def test_the_fast_path_takes_every_spec_that_keeps_its_pixels(monkeypatch):
    import dnncost.gen.layers as gen_layers

    specs = [s.to_string() for space in space_names() for s in sample_specs(space, 30, 6)]
    specs += [s for s in _random_specs(200, seed=13)
              if all(layer.out_h > 0 and max(layer.macs, layer.params) <= 1 << 24
                     for layer in layer_table(parse_spec(s)))]  # float32 holds them
    expected = _reference(specs)

    def no_reference(spec: object) -> list:
        raise AssertionError("took the reference path")

    monkeypatch.setattr(gen_layers, "layer_table", no_reference)
    assert np.array_equal(spec_features(specs), expected)


def test_iiswc_encodings_have_the_reference_features(iiswc_dir):
    from dnncost.importers import iiswc_layers

    lines = (iiswc_dir / "onnxEmbeddings.csv").read_text().splitlines()
    tables = [iiswc_layers(lines[row], f"row {row}") for row in range(118)]
    assert np.array_equal(features_matrix(tables), reference_matrix(tables))


def test_a_first_stage_of_elementwise_rows_takes_the_pixels_of_the_first_row():
    # edges 1<-0 and 3<-0 skip, the rest none: the cell's rows are muls by zero and adds
    specs = ["r32_i8 cell_e100100 conv_k3_s1_c8", "r16_i4 cell_e100100 cell_e100100 gap"]
    assert {l.op_type for l in layer_table(parse_spec("r32_i8 cell_e100100"))} == {"mul", "add"}
    expected = _reference(specs)
    assert np.array_equal(spec_features(specs), expected)
    assert np.array_equal(spec_features(specs * 5), np.vstack([expected] * 5))  # the batch way


def test_a_batch_holding_the_token_separator_is_walked_one_by_one():
    specs = _random_specs(12, seed=14)  # more than a small batch: split as one string
    bad = "r32 conv_k3_s1_c8 \x00 conv_k3_s1_c8"  # the separator as a token of its own
    with pytest.raises(InputError) as expected:
        parse_spec(bad)
    with pytest.raises(InputError) as raised:
        spec_features(specs + [bad])
    assert str(raised.value) == str(expected.value)
    assert np.array_equal(spec_features(specs), _reference(specs))


def test_key_index_agrees_with_a_dict_through_growth_and_collisions():
    from dnncost.gen.key_index import KeyIndex

    rng = np.random.default_rng(3)
    index, truth = KeyIndex(bits=2), {}
    for size in (1, 3, 50, 700, 5000):
        keys = np.setdiff1d(np.unique(np.r_[rng.integers(0, 1 << 62, size),
                                            rng.integers(0, 64, size)]),
                            np.fromiter(truth, np.int64, len(truth)))
        values = rng.integers(0, 1 << 40, len(keys))
        index.insert(keys, values)
        truth.update(zip(keys.tolist(), values.tolist()))
        asked = np.r_[np.fromiter(truth, np.int64, len(truth)), rng.integers(0, 1 << 62, 100)]
        assert index.find(asked).tolist() == [truth.get(k, -1) for k in asked.tolist()]
    assert 2 * index.size <= len(index.keys) and index.size == len(truth)


@pytest.mark.parametrize("spec", [
    "r8 conv_k3_s1_c4611686018427387904",  # int64 products would wrap to 0
    "r8 conv_k3_s1_c9223372036854775808", "r99999999999999999999 gap",
    "r8_i99999999999999999999 gap", "r8192 gap", "r4096_i131071 conv_k1_s1_c4096",
])
def test_numbers_too_large_for_the_cache_take_the_reference_way(spec):
    expected = features_matrix([layer_table(parse_spec(spec))])
    assert np.array_equal(spec_features([spec] * 9), np.vstack([expected] * 9))  # big first
    assert np.array_equal(spec_features([spec]), expected)  # then alone: nothing cached wrong
    rows, _ = encoded_tables([spec])
    assert np.array_equal(rows, encode_many([layer_table(parse_spec(spec))])[0])


def test_a_batch_all_of_the_reference_way_raises_gen_s_error():
    with pytest.raises(InputError, match="empty"):
        spec_features([""] * 9)


def test_a_grouped_block_over_channels_that_do_not_divide_is_refused_everywhere():
    spec = "r8 ir_k3_s1_h8_c8_g4"  # 3 input channels into 4 groups
    with pytest.raises(InputError) as expected:
        layer_table(parse_spec(spec))
    for batch in ([spec], [spec] * 9, ["r8 conv_k3_s1_c4 gap"] * 9 + [spec]):
        with pytest.raises(InputError) as raised:
            spec_features(batch)
        assert str(raised.value) == str(expected.value)


def test_the_cache_starts_afresh_when_token_ids_run_out(monkeypatch):
    from dnncost.gen import stage_cache

    monkeypatch.setattr(stage_cache, "_TOKENS", 64)
    specs = [f"r16 conv_k3_s2_c{i + 1} gap conv_k1_s1_c{i % 7 + 1}" for i in range(150)]
    before = stage_cache.StageCache.generation
    for at in range(0, 150, 30):
        assert np.array_equal(spec_features(specs[at:at + 30]), _reference(specs[at:at + 30]))
    assert np.array_equal(spec_features(specs[:3]), _reference(specs[:3]))
    assert stage_cache.StageCache.generation > before


def test_a_fresh_cache_between_two_specs_of_a_small_batch_walks_them_again(monkeypatch):
    from dnncost.gen import stage_cache

    monkeypatch.setattr(stage_cache, "_TOKENS", 16)
    small = "r32 conv_k3_s2_c8 gap"
    wide = "r32 " + " ".join(f"conv_k1_s1_c{i}" for i in range(1, 15))  # 14 new tokens
    for batch in ([small, wide], [wide, small], [small] * 3 + [wide] * 3):
        assert np.array_equal(spec_features(batch), _reference(batch))
    tokens = " ".join(f"conv_k1_s1_c{i}" for i in range(20, 60))  # more than fit at all
    batch = [f"r16 {tokens}"] + [small] * 9
    assert np.array_equal(spec_features(batch), _reference(batch))
    assert np.array_equal(spec_features(batch[:2]), _reference(batch[:2]))


@pytest.mark.parametrize("spec", ["r1_i455 conv_k3075_s3_c4096_pvalid",  # VALID, k >> h
                                  "r2_i9 conv_k9000_s1_c8000_pvalid conv_k1_s1_c5"])
def test_a_kernel_larger_than_its_input_is_bounded_too(spec):
    expected = features_matrix([layer_table(parse_spec(spec))])
    assert np.array_equal(spec_features([spec] * 9), np.vstack([expected] * 9))
    assert np.array_equal(spec_features([spec + ";"]), expected)


@pytest.mark.parametrize("batch", [["r8 ir_k3_s1_h8_c8_g4 bogus"],
                                   ["r8 bogus", "r8 ir_k3_s1_h8_c8_g4"],
                                   ["r8 ir_k3_s1_h8_c8_g4 conv_k0_s1_c4"]])
def test_errors_come_in_the_order_the_reference_finds_them(batch):
    with pytest.raises(InputError) as expected:
        for spec in batch:
            layer_table(parse_spec(spec))
    for copies in (batch, batch * 9):
        with pytest.raises(InputError) as raised:
            spec_features(copies)
        assert str(raised.value) == str(expected.value)


def test_padding_macs_round_gemm_depth_and_width_up_to_blocks_of_four():
    from dnncost.records import Layer

    layers = [  # each with its padding MACs worked by hand
        Layer(0, "conv", 64, 64, 32, 32, 3, 18, 3, 2, groups=1),  # 1024 * (28*20 - 27*18)
        Layer(1, "conv", 32, 32, 32, 32, 18, 10, 1, 1, groups=2),  # 1024 * 2 * (12*8 - 9*5)
        Layer(2, "dwconv", 32, 32, 16, 16, 30, 30, 5, 2, groups=30),  # 256 * 25 * (32 - 30)
        Layer(3, "fc", 1, 1, 1, 1, 1001, 10),  # 1004*12 - 1001*10
        Layer(4, "conv", 16, 16, 16, 16, 32, 64, 3, 1, groups=1),  # aligned: 0
        Layer(5, "add", 16, 16, 16, 16, 30, 30)]  # not a GEMM: 0
    by_hand = [75776, 104448, 12800, 2038, 0, 0]
    column = FEATURE_NAMES.index("log_pad4_macs")
    for layer, macs in zip(layers, by_hand):
        assert network_features([layer])[column] == np.float32(np.log1p(macs))
    assert network_features(layers)[column] == np.float32(np.log1p(sum(by_hand)))
    assert reference_matrix([layers])[0, column] == np.float32(np.log1p(sum(by_hand)))

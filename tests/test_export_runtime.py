"""dnncost.export.runtime: predictions from specs, .tflite files and features, with
numpy and onnxruntime only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dnncost.errors import InputError, ModelError
from dnncost.export.onnx_export import export_onnx
from dnncost.export.runtime import Predictor, iter_spec_lines, predict_spec_lines
from dnncost.gen.layers import layer_table
from dnncost.gen.spaces import sample_specs
from dnncost.gen.spec import parse_spec
from dnncost.learn.features import FEATURE_NAMES, FEATURE_SET, features_matrix, spec_features
from dnncost.learn.exportable import ExportableModel, TreeTerm

TINY_SPEC = "r32 conv_k3_s2_c8_arelu ir_k3_s1_h16_c8_se4_ahswish ds_k5_s2_c16 gap conv_k1_s1_c10"


def _specs(count: int, seed: int) -> list[str]:
    return [s.to_string() for space in ("efficient", "mobileopt")
            for s in sample_specs(space, count, seed)]


@pytest.fixture(scope="module")
def spec_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[ExportableModel, Path]:
    """An agg-v2 tree model trained on generated specs (MAC-driven labels), exported."""
    import xgboost as xgb

    specs = _specs(60, seed=1) + [TINY_SPEC]
    tables = [layer_table(parse_spec(s)) for s in specs]
    x = features_matrix(tables)
    y = 0.8 * x[:, 0] - 9.0 + 0.1 * x[:, 3] / 50
    booster = xgb.train({"max_depth": 4, "eta": 0.3, "seed": 0}, xgb.DMatrix(x, label=y), 30)
    model = ExportableModel(FEATURE_SET, FEATURE_NAMES, 0.1, (TreeTerm(booster, 1.0),),
                            metadata={"device": "spec-test"})
    path = tmp_path_factory.mktemp("runtime") / "agg.onnx"
    export_onnx(model, path, tables)
    return model, path


@pytest.fixture(scope="module")
def tiny_tflite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TINY_SPEC as a real fp32 .tflite file (built with TensorFlow by gen)."""
    from dnncost.gen.tf_build import spec_to_tflite

    path = tmp_path_factory.mktemp("tflite") / "tiny.tflite"
    path.write_bytes(spec_to_tflite(parse_spec(TINY_SPEC), ("fp32",))["fp32"])
    return path


def test_fast_spec_features_equal_training_features_bit_for_bit():
    specs = _specs(120, seed=2) + [TINY_SPEC, "r96_i1 conv_k3_s1_c4 avgpool_k2 fr_k3_s2_h8_c8"]
    reference = features_matrix([layer_table(parse_spec(s)) for s in specs])
    assert np.array_equal(spec_features(specs), reference)


def test_predictor_from_specs_equals_model_on_training_features(spec_model):
    model, path = spec_model
    predictor = Predictor.load(path)
    specs = _specs(25, seed=3)
    x = features_matrix([layer_table(parse_spec(s)) for s in specs])
    expected = model.predict_ms(x)
    np.testing.assert_allclose(predictor.predict_specs(specs), expected, rtol=1e-4)
    tables = [layer_table(parse_spec(s)) for s in specs]
    np.testing.assert_allclose(predictor.predict_layers(tables), expected, rtol=1e-4)
    assert predictor.predict_spec(specs[0]) == pytest.approx(expected[0], rel=1e-4)
    assert predictor.info.takes_layers and predictor.info.layer_encoding == "lt-v1"
    assert predictor.info.device == "spec-test" and predictor.n_features == len(FEATURE_NAMES)


def test_predict_tflite_equals_predict_spec_of_the_same_network(spec_model, tiny_tflite):
    predictor = Predictor.load(spec_model[1])
    assert predictor.predict_tflite(tiny_tflite) == pytest.approx(
        predictor.predict_spec(TINY_SPEC), rel=1e-6)


def test_runtime_imports_no_tensorflow_torch_or_xgboost(spec_model, tiny_tflite):
    code = (
        "import sys, json\n"
        "from dnncost.export.runtime import Predictor\n"
        f"p = Predictor.load({str(spec_model[1])!r})\n"
        f"a = p.predict_spec({TINY_SPEC!r}); b = p.predict_tflite({str(tiny_tflite)!r})\n"
        "heavy = [m for m in ('tensorflow', 'torch', 'xgboost', 'keras', 'sklearn')"
        " if m in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'a': a, 'b': b}))\n")
    results = []
    for blocked in ("", "sys.modules['onnx'] = None\n"):  # without onnx: the layer-table way
        done = subprocess.run([sys.executable, "-c", "import sys\n" + blocked + code],
                              capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for result in results:
        assert result["heavy"] == [] and result["a"] == pytest.approx(result["b"], rel=1e-6)
    assert results[0]["a"] == pytest.approx(results[1]["a"], rel=1e-6)


def test_spec_lines_skip_comments_and_name_a_bad_line(spec_model):
    _, path = spec_model
    specs = _specs(2, seed=4)[:3]
    lines = ["# candidates", specs[0], "", f"  {specs[1]}  ", specs[2]]
    pairs = predict_spec_lines(path, lines)
    assert [s for s, _ in pairs] == specs
    expected = Predictor.load(path).predict_specs(specs)
    np.testing.assert_allclose([ms for _, ms in pairs], expected, rtol=1e-6)
    with pytest.raises(InputError, match="line 2"):
        list(iter_spec_lines(Predictor.load(path), [specs[0], "r224 conv_k0"], batch_size=8))


def test_bad_inputs_are_refused_with_what_to_do(spec_model, tmp_path):
    _, path = spec_model
    predictor = Predictor.load(path)
    with pytest.raises(InputError, match="takes"):
        predictor.predict_features(np.zeros((2, 3)))
    with pytest.raises(InputError, match="does not exist"):
        Predictor.load(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="cannot load"):
        Predictor.load(tmp_path / "junk.onnx")
    other = Predictor(predictor.session, type(predictor.info)(**{
        **predictor.info.__dict__, "feature_set": "unknown-v9", "layer_encoding": None}), {})
    with pytest.raises(ModelError, match="unknown-v9"):
        other.predict_spec(TINY_SPEC)


def test_nas_example_picks_the_largest_network_under_the_budget(spec_model):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "export/examples/nas_random_search.py"
    spec = importlib.util.spec_from_file_location("nas_random_search", path)
    nas = importlib.util.module_from_spec(spec)
    sys.modules["nas_random_search"] = nas  # dataclasses look their module up
    spec.loader.exec_module(nas)  # type: ignore[union-attr]
    predictor = Predictor.load(spec_model[1])
    candidates = [s.to_string() for s in sample_specs("mobileopt", 40, 8)]
    budget = float(np.median(predictor.predict_specs(candidates)))
    best, fitting = nas.random_search(predictor, "mobileopt", 40, budget, seed=8)
    assert 0 < fitting < 40 and best.latency_ms <= budget
    sizes = [nas.total_macs(layer_table(parse_spec(s))) for s, ms in
             zip(candidates, predictor.predict_specs(candidates)) if ms <= budget]
    assert best.macs == max(sizes)


def test_spec_the_fast_path_cannot_take_goes_the_reference_way(spec_model):
    model, path = spec_model
    spec = "r8 conv_k3_s2_c8 avgpool_k7 conv_k1_s1_c4"  # pooling leaves 0 pixels
    x = features_matrix([layer_table(parse_spec(spec))])
    assert Predictor.load(path).predict_spec(spec) == pytest.approx(model.predict_ms(x)[0],
                                                                    rel=1e-4)

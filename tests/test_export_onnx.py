"""ONNX export: parity with the Python model (trees and neural), metadata, refusals."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from dnncost.errors import ModelError
from dnncost.export.metadata import parse_metadata
from dnncost.export.onnx_export import export_onnx, onnx_parity, reference_model, relative_error
from dnncost.export.trees import booster_trees, predict_trees, used_rounds
from test_export_helpers import (  # noqa: F401  (trees_onnx is a fixture)
    N_FEATURES, NAMES, feature_rows, neural_model, trees_onnx, tree_model)


def _run(path, rows: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"features": rows})[0]


def test_tree_export_matches_python_on_fresh_rows_and_any_batch(trees_onnx):
    model, _, path = trees_onnx
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    reference = reference_model(model)
    for count in (1, 7, 1000):  # the batch dimension is dynamic
        rows = feature_rows(count, seed=count)
        out = _run(path, rows)
        assert out.shape == (count,) and out.dtype == np.float32
        assert relative_error(out, reference.predict_ms(rows)) <= 1e-4


def test_tree_export_uses_only_trees_before_best_iteration(trees_onnx):
    model, rows, _ = trees_onnx
    stopped = model.trees[1].booster
    assert used_rounds(stopped) == int(stopped.attr("best_iteration")) + 1
    assert used_rounds(stopped) < stopped.num_boosted_rounds()
    assert len(booster_trees(stopped).roots) == used_rounds(stopped)


def test_node_arrays_reproduce_xgboost_with_base_score_and_missing_values():
    import xgboost as xgb

    from dnncost.export.trees import trimmed

    model, rows = tree_model(seed=3), feature_rows(seed=9)
    for term in model.trees:
        full = rows if term.device_vector is None else np.hstack(
            [rows, np.tile(np.asarray(term.device_vector, np.float32), (len(rows), 1))])
        expected = trimmed(term.booster).predict(xgb.DMatrix(full))
        np.testing.assert_allclose(predict_trees(booster_trees(term.booster), full),
                                   expected, rtol=1e-5)


def test_neural_export_matches_torch(tmp_path):
    model, rows = neural_model(), feature_rows(missing=False)
    result = export_onnx(model, tmp_path / "nn.onnx", rows)
    assert result.kind == "neural" and result.max_relative_error <= 1e-4
    out = _run(tmp_path / "nn.onnx", feature_rows(33, seed=1, missing=False))
    assert relative_error(out, model.predict_ms(feature_rows(33, seed=1, missing=False))) <= 1e-4


def test_metadata_describes_features_device_signature_and_versions(trees_onnx):
    from dnncost import __version__

    model, _, path = trees_onnx
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    info = parse_metadata(props)
    assert info.feature_names == NAMES and info.n_features == N_FEATURES
    assert info.feature_set == "test-v1" and len(info.feature_descriptions) == N_FEATURES
    assert info.device == "pixel4-test"
    assert info.signature_latency_ms == {"net_a": 12.5, "net_b": 3.25}
    assert info.training_metrics["mape"] == pytest.approx(0.071)
    assert info.dnncost_version == __version__ and info.schema_version == 2
    assert props["dnncost.units"] == "latency_ms" and info.kind == "trees"
    assert onnx.load(str(path)).ir_version == 8  # loads in older runtimes (Node, mobile)
    assert json.loads(props["dnncost.model_metadata"])["device"] == "pixel4-test"


def test_parity_failure_is_refused_and_nothing_written(tmp_path):
    import torch

    class BranchOnInput(torch.nn.Module):  # tracing keeps only the branch it saw
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if float(x.sum()) > 0:
                return x.sum(dim=1) * 0.1
            return -x.sum(dim=1)

    model = neural_model()
    model = type(model)(model.feature_set, model.feature_names, module=BranchOnInput())
    rows = feature_rows(missing=False)  # export traces zeros; these rows take the other branch
    with pytest.raises(ModelError, match="differ from the Python model"):
        export_onnx(model, tmp_path / "bad.onnx", rows)
    assert not (tmp_path / "bad.onnx").exists()


def test_parity_check_catches_another_models_graph(trees_onnx):
    _, rows, path = trees_onnx
    with pytest.raises(ModelError, match="not writing"):
        onnx_parity(path.read_bytes(), tree_model(seed=11), rows)


def test_export_needs_rows_of_the_right_width(tmp_path):
    with pytest.raises(ModelError, match="no networks to check"):
        export_onnx(tree_model(), tmp_path / "m.onnx", np.zeros((0, N_FEATURES)))
    with pytest.raises(ModelError, match="the model takes 5 features"):
        export_onnx(tree_model(), tmp_path / "m.onnx", np.zeros((3, 4)))


def test_learns_lstm_module_exports_with_dynamic_batch(tmp_path):
    from dnncost.gen.layers import layer_table
    from dnncost.gen.spaces import sample_specs
    from dnncost.learn.exportable import ExportableModel
    from dnncost.learn.sequence import SEQUENCE_NAMES, SEQUENCE_SET, sequence_matrix
    from dnncost.learn.lstm import _module_class

    import torch

    torch.manual_seed(0)
    module = _module_class()(len(SEQUENCE_NAMES), 3, 8).eval()
    module.device_vector.copy_(torch.tensor([0.5, -0.2, 0.1]))
    max_layers = 40
    rows = sequence_matrix([layer_table(s) for s in sample_specs("mobileopt", 12, 0)],
                           max_layers)  # networks of different lengths, zero-padded
    names = tuple(f"l{i}_{n}" for i in range(max_layers) for n in SEQUENCE_NAMES)
    model = ExportableModel(SEQUENCE_SET, names, module=module,
                            metadata={"max_layers": max_layers, "device_dim": 3})
    result = export_onnx(model, tmp_path / "lstm.onnx", rows)
    assert result.kind == "neural" and result.max_relative_error <= 1e-4
    out = _run(tmp_path / "lstm.onnx", rows[3:8])
    assert relative_error(out, model.predict_ms(rows[3:8])) <= 1e-4
    from dnncost.export.runtime import Predictor  # seq-v1 features from specs, max_layers kept

    specs = [s.to_string() for s in sample_specs("mobileopt", 12, 0)]
    predicted = Predictor.load(tmp_path / "lstm.onnx").predict_specs(specs)
    assert relative_error(predicted, model.predict_ms(rows)) <= 1e-4

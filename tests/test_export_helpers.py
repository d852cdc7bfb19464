"""Small real cost models for the export tests (XGBoost boosters, a torch module).

Imported by tests/test_export_*.py; its own test checks the reference models predict.
"""

from __future__ import annotations

import numpy as np
import pytest

from dnncost.learn.exportable import AnchorSmoother, CostSumTerm, ExportableModel, TreeTerm

N_FEATURES = 5
NAMES = tuple(f"feature {i} (log)" for i in range(N_FEATURES))  # spaces: xgboost allows them


def _booster(n_device: int, seed: int, objective: str = "reg:squarederror",
             early_stopping: bool = False, rounds: int = 25, base_score: float | None = None):
    import xgboost as xgb

    rng = np.random.default_rng(seed)
    width = N_FEATURES + n_device
    names = [f"in {i}" for i in range(width)]
    x = rng.random((240, width)).astype(np.float32)
    y = np.log1p(x @ rng.random(width) * 10) + 0.05 * rng.random(240)
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take the default branch
    if objective == "reg:gamma":
        y = np.exp(y)
    params = {"max_depth": 4, "eta": 0.3, "objective": objective, "seed": seed}
    if base_score is not None:
        params["base_score"] = base_score
    train = xgb.DMatrix(x, label=y, feature_names=names)
    evals = []
    if early_stopping:  # validation labels opposite to training's stop it early
        evals = [(xgb.DMatrix(x[:60], label=-10 * y[:60], feature_names=names), "v")]
    booster = xgb.train(params, train, rounds, evals=evals,
                        early_stopping_rounds=3 if early_stopping else None,
                        verbose_eval=False)
    return booster


def _smoother(seed: int) -> AnchorSmoother:
    rng = np.random.default_rng(seed)
    return AnchorSmoother(np.full(N_FEATURES, 0.5), np.full(N_FEATURES, 0.3),
                          rng.normal(size=(12, N_FEATURES)), 2.0, rng.normal(0, 0.2, 12))


def tree_model(seed: int = 0) -> ExportableModel:
    """Three tree terms (plain, early-stopped with a device vector, log-link with a device
    vector) and a layer-cost term with its residual smoother."""
    return ExportableModel(
        "test-v1", NAMES, bias_log_ms=0.25,
        trees=(TreeTerm(_booster(0, seed, base_score=0.7), 0.6),
               TreeTerm(_booster(3, seed + 1, early_stopping=True), 0.3,
                        np.array([0.2, 0.5, 0.9], np.float32)),
               TreeTerm(_booster(2, seed + 2, objective="reg:gamma"), 0.1,
                        np.array([0.3, 0.7]))),
        cost_sum=CostSumTerm(np.array([2.5, 0.0, 0.75, 1e-3]), 0.4, (0, 1, 3, 4),
                             (True, False, False, True), _smoother(seed)),
        metadata={"device": "pixel4-test", "signature_latency_ms": {"net_a": 12.5, "net_b": 3.25},
                  "training_metrics": {"mape": 0.071, "networks": 240}})


def neural_model(seed: int = 0) -> ExportableModel:
    """A small MLP: features [N, F] -> log ms [N]."""
    import torch

    torch.manual_seed(seed)
    module = torch.nn.Sequential(torch.nn.Linear(N_FEATURES, 16), torch.nn.Tanh(),
                                 torch.nn.Linear(16, 1), torch.nn.Flatten(0)).eval()
    return ExportableModel("test-v1", NAMES, module=module, metadata={"device": "nn-test"})


def feature_rows(count: int = 300, seed: int = 5, missing: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = rng.random((count, N_FEATURES)).astype(np.float32)
    if missing:
        rows[rng.random(rows.shape) < 0.05] = np.nan
    return rows


@pytest.fixture(scope="session")
def trees_onnx(tmp_path_factory: pytest.TempPathFactory):
    """(model, rows, path) of the three-term tree model exported to ONNX."""
    from dnncost.export.onnx_export import export_onnx

    model, rows = tree_model(), feature_rows()
    path = tmp_path_factory.mktemp("export") / "trees.onnx"
    export_onnx(model, path, rows)
    return model, rows, path


def test_reference_models_predict_positive_ms():
    from dnncost.export.onnx_export import reference_model

    rows = feature_rows()
    assert tree_model().trees[1].booster.attr("best_iteration") is not None
    for model in (tree_model(), neural_model()):
        ms = reference_model(model).predict_ms(np.nan_to_num(rows))
        assert ms.shape == (len(rows),) and np.all(ms > 0) and np.isfinite(ms).all()

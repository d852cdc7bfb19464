"""learn/layercost.py and the lowrank model's corrections: the additive layer-cost term,
its residual smoother, and the signature neighbours' residuals."""

from __future__ import annotations

import numpy as np
import pytest

from dnncost.learn.dataset import LatencyData, load_dataset
from dnncost.learn.evaluation import group_folds, metrics
from dnncost.learn.exportable import AnchorSmoother
from dnncost.learn.features import cost_amounts
from dnncost.learn.layercost import (anchor_space, cost_sum_residuals, fit_cost_per_unit,
                                     own_cost_weight)
from dnncost.learn.placement import LowRankCostModel
from dnncost.learn.signature import select_signature
from dnncost.store import Store


@pytest.fixture(scope="module")
def full(iiswc_store_path) -> LatencyData:
    with Store(iiswc_store_path) as store:
        return load_dataset(store)


def test_cost_per_unit_recovers_an_additive_device() -> None:
    rng = np.random.default_rng(0)
    amounts = rng.random((60, 6)) * np.array([1, 1e6, 1e4, 10, 0, 1e8])  # one column unused
    truth = np.array([0.2, 3e-6, 0.0, 0.05, 0.0, 1e-8])
    fitted = fit_cost_per_unit(amounts, amounts @ truth)
    np.testing.assert_allclose(fitted, truth, rtol=1e-6, atol=1e-12)
    assert fitted[4] == 0.0


def test_smoother_interpolates_alike_networks_and_averages_far_ones() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(30, 4))
    space = anchor_space(features)
    values = rng.normal(size=30)
    sharp = AnchorSmoother(space.centre, space.scale, space.anchors, 1e-4, values)
    np.testing.assert_allclose(sharp.smooth(features), values, atol=1e-9)
    flat = AnchorSmoother(space.centre, space.scale, space.anchors, 1e9, values)
    np.testing.assert_allclose(flat.smooth(features[:3]), values.mean(), atol=1e-6)
    missing = np.full((1, 4), np.nan)  # a missing value stands at the centre
    np.testing.assert_allclose(sharp.smooth(missing), sharp.smooth(space.centre[None]))


def test_a_copy_of_a_training_device_gets_its_own_latencies_from_one_neighbour(
        full: LatencyData) -> None:
    data = full.select(np.arange(24))
    signature = [data.network_names[i] for i in select_signature("d_optimal", data.log_ms, 8)]
    row = data.latency_ms[5]
    measured = {n: row[data.network_names.index(n)] for n in signature}
    model = LowRankCostModel(n_estimators=10, neighbours=1, seen_cost_weight=0.0)
    device = model.fit(data, signature).adapt(measured)
    known = np.array([device.known_log_ms[n] for n in data.network_names])
    np.testing.assert_allclose(known, np.log(row), atol=1e-9)
    assert device.to_exportable().metadata["own_cost_weight"] == 0.0  # the structure fits
    # by default seen networks average that with the cost sum fitted to it
    device = LowRankCostModel(n_estimators=10, neighbours=1).fit(data, signature).adapt(measured)
    blended = np.array([device.known_log_ms[n] for n in data.network_names])
    cost_sum = device.to_exportable().cost_sum.log_ms(data.features)
    np.testing.assert_allclose(blended, 0.5 * np.log(row) + 0.5 * cost_sum, atol=1e-9)
    assert not np.allclose(blended, known, atol=1e-3)


def test_own_cost_weight_only_where_it_cuts_the_placements_error_enough() -> None:
    rng = np.random.default_rng(3)
    noise = rng.normal(0, 0.02, 10)
    assert own_cost_weight(rng.normal(0, 0.3, 10), noise) >= 0.8  # the placement misses
    assert own_cost_weight(noise, rng.normal(0, 0.3, 10)) == 0.0
    alike = rng.normal(0, 0.1, 10)
    assert own_cost_weight(alike, alike * 0.9) == 0.0  # mean square 0.81 of it: not enough
    assert own_cost_weight(alike, alike * 0.8) == 1.0  # 0.64 is (0.7 of it, OWN_COST_GATE)
    assert own_cost_weight(alike, alike * 0.8, gate=0.5) == 0.0  # not under the old 0.5
    assert own_cost_weight(alike, -alike) == 0.5  # errors that cancel: halfway, 0 error


def test_cost_sum_residuals_leave_each_measurement_out() -> None:
    rng = np.random.default_rng(4)
    amounts = rng.random((10, 3)) * np.array([10, 1e6, 1e4])
    latency_ms = amounts @ np.array([0.1, 2e-6, 1e-4])
    np.testing.assert_allclose(cost_sum_residuals(amounts, latency_ms), 0, atol=1e-9)
    latency_ms[4] *= 1.5  # one bad run: its own residual shows it, fitted without it
    residuals = cost_sum_residuals(amounts, latency_ms)
    assert abs(residuals[4] - np.log(1.5)) < 0.05 and np.abs(np.delete(residuals, 4)).max() < 0.3


def test_a_device_unlike_every_training_device_leans_on_its_own_cost_sum(
        full: LatencyData) -> None:
    """A launch-bound device (cost per layer only, as a GPU at batch 1) among phones: its
    placement misses the signature, its own additive fit does not, and seen networks are
    predicted far closer with it than without."""
    data = full.select(np.arange(24))
    signature = [data.network_names[i] for i in select_signature("d_optimal", data.log_ms, 10)]
    amounts = cost_amounts(data.features)
    layers = np.array([name.endswith("_count") for name in _amount_names()])
    latency_ms = 0.5 + amounts[:, layers].sum(1) * 0.01
    measured = {n: float(latency_ms[data.network_names.index(n)]) for n in signature}
    errors = {}
    for gate in (0.0, 0.5):
        model = LowRankCostModel(n_estimators=10, own_cost_gate=gate,
                                 seen_cost_weight=0.0).fit(data, signature)
        device = model.adapt(measured)
        predicted = np.exp([device.known_log_ms[n] for n in data.network_names])
        errors[gate] = np.median(np.abs(predicted / latency_ms - 1))
        weight = device.to_exportable().metadata["own_cost_weight"]
        assert (weight > 0.5) == (gate > 0), weight
    assert errors[0.5] < errors[0.0] / 3, errors
    # networks with twice the most of some op any signature network has keep the placement
    reach = (amounts > 2.0 * amounts[data.network_index(signature)].max(0)).any(1)
    assert reach.any() and not reach.all()
    placed = LowRankCostModel(n_estimators=10, own_cost_gate=0,
                              seen_cost_weight=0.0).fit(data, signature)
    placed_known = placed.adapt(measured).known_log_ms
    for name in np.asarray(data.network_names)[reach]:
        assert device.known_log_ms[name] == pytest.approx(placed_known[name], abs=1e-9)
    del model.__dict__["own_cost_gate"]  # as a model saved before the gate reads back
    assert model.adapt(measured).info["own_cost_weight"] > 0.5


def _amount_names() -> list[str]:
    from dnncost.learn.features import COST_AMOUNT_COLUMNS, FEATURE_NAMES

    return [FEATURE_NAMES[i] for i in COST_AMOUNT_COLUMNS]


def test_layer_cost_term_improves_never_measured_networks(full: LatencyData) -> None:
    rng = np.random.default_rng(0)
    held = np.sort(rng.choice(118, 35, replace=False))
    train_n = np.setdiff1d(np.arange(118), held)
    test_d = group_folds(full.device_groups, 5, seed=0)[0]  # whole phone models held out
    train_d = np.setdiff1d(np.arange(len(full.device_ids)), test_d)
    data = full.select(train_d, train_n)
    signature = [data.network_names[i] for i in select_signature("d_optimal", data.log_ms, 10)]
    scores = {}
    for weight in (0.0, 0.7):
        model = LowRankCostModel(n_estimators=60, cost_sum_weight=weight).fit(data, signature)
        true, pred, device = [], [], []
        for d in test_d:
            measured = {n: full.latency_ms[d, full.network_names.index(n)] for n in signature}
            exportable = model.adapt(measured).to_exportable()
            assert (exportable.cost_sum is None) == (weight == 0.0)
            true.append(full.latency_ms[d, held])
            pred.append(exportable.predict_ms(full.features[held]))
            device.append(np.full(len(held), d))
        scores[weight] = metrics(*map(np.concatenate, (true, pred, device)))
    assert scores[0.7]["within10"] > scores[0.0]["within10"] + 2, scores
    assert scores[0.7]["spearman"] > scores[0.0]["spearman"], scores
    assert cost_amounts(full.features).min() >= 0


def test_a_failed_signature_measurement_does_not_break_adapt(full: LatencyData) -> None:
    """A failed run is NaN in the matrix; training's in-sample check adapts to it."""
    data = full.select(np.arange(12))
    signature = [data.network_names[i] for i in select_signature("d_optimal", data.log_ms, 6)]
    model = LowRankCostModel(n_estimators=10).fit(data, signature)
    measured = {n: float(data.latency_ms[3, data.network_names.index(n)]) for n in signature}
    measured[signature[0]] = float("nan")
    device = model.adapt(measured)
    predicted = device.predict_ms(list(data.layers), list(data.network_names))
    assert np.isfinite(predicted).all() and (predicted > 0).all()
    assert np.isfinite(device.to_exportable().predict_ms(data.features)).all()


def test_nnls_reaches_scipys_optimum() -> None:
    """The numpy NNLS (adapt imports no scipy.optimize) fits as well as scipy's."""
    from scipy.optimize import nnls as scipy_nnls

    from dnncost.learn.layercost import nnls

    rng = np.random.default_rng(0)
    for trial in range(100):
        m, n = int(rng.integers(5, 300)), int(rng.integers(1, 25))
        a = rng.random((m, n)) * rng.choice([1.0, 1e-3, 10.0], n)
        if trial % 5 == 0 and n > 1:
            a[:, 0] = a[:, 1]  # rank-deficient
        b = rng.random(m) - 0.3 * (trial % 2)
        x = nnls(a, b, 50 * n)
        assert (x >= 0).all()
        best = np.linalg.norm(a @ scipy_nnls(a, b, maxiter=50 * n)[0] - b)
        assert np.linalg.norm(a @ x - b) <= best * (1 + 1e-9) + 1e-12

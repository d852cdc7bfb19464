"""learn/: features, signature selection, models, drift screening, evaluation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dnncost.learn.dataset import LatencyData, load_dataset
from dnncost.learn.evaluation import group_folds, metrics, predict_fold, splits
from dnncost.learn.features import FEATURE_NAMES, features_matrix, network_features
from dnncost.learn.lowrank import drift_scores, fit_factors, place_device
from dnncost.learn.model_io import load_device_model, save_device_model
from dnncost.learn.sequence import layer_sequence
from dnncost.learn.signature import SAMPLERS, select_signature
from dnncost.learn.training import TrainOptions, train
from dnncost.records import Layer
from dnncost.store import Store


@pytest.fixture(scope="module")
def full(iiswc_store_path) -> LatencyData:
    with Store(iiswc_store_path) as store:
        return load_dataset(store)


@pytest.fixture(scope="module")
def small(full: LatencyData) -> LatencyData:
    """20 devices (whole phone-model groups) x all 118 networks."""
    devices: list[int] = []
    for group in sorted(set(full.device_groups)):
        if len(devices) < 20:
            devices += [i for i, g in enumerate(full.device_groups) if g == group]
    return full.select(devices)


def _conv(index: int, activation: str | None = None) -> Layer:
    return Layer(index, "conv", 16, 16, 16, 16, 8, 16, 3, 1, 1, 1, activation,
                 16 * 16 * 16 * 9 * 8, 9 * 8 * 16 + 16)


def test_fused_activation_gives_same_features_as_separate_row() -> None:
    separate = [_conv(0), Layer(1, "relu", 16, 16, 16, 16, 16, 16, 0, 0, 0, None, None,
                                16 * 16 * 16, None)]
    fused = [_conv(0, "relu")]
    assert network_features(separate).shape == (len(FEATURE_NAMES),)
    np.testing.assert_allclose(network_features(separate), network_features(fused))
    np.testing.assert_allclose(layer_sequence(separate), layer_sequence(fused))
    assert network_features(fused).dtype == np.float32
    assert not np.allclose(network_features(fused), network_features([_conv(0)]))


def test_dataset_is_the_device_by_network_matrix(full: LatencyData) -> None:
    assert full.latency_ms.shape == (84, 118)
    assert np.isfinite(full.latency_ms).all() and (full.latency_ms > 0).all()
    assert full.features.shape == (118, len(FEATURE_NAMES))
    assert full.device_groups[full.device_ids.index("GM1901_2")] == "GM1901"
    np.testing.assert_allclose(full.features, features_matrix(full.layers))


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_sampling_returns_k_distinct_networks(small: LatencyData, method: str) -> None:
    for k in (1, 5, 10):
        chosen = select_signature(method, small.log_ms, k, seed=3)
        assert len(chosen) == k == len(set(chosen))
        assert all(0 <= i < small.log_ms.shape[1] for i in chosen)
    assert select_signature(method, small.log_ms, 5, seed=3) == \
        select_signature(method, small.log_ms, 5, seed=3)


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_a_signature_holds_its_quota_of_reserve_networks(small: LatencyData, method: str) -> None:
    """A reserve the method would not pick gets 3 of 9 places (the D-optimal design picks
    them); one it already meets changes nothing; the quota is at most a third of k."""
    plain = select_signature(method, small.log_ms, 9, seed=3)
    reserve = np.ones(small.log_ms.shape[1], bool)
    reserve[plain] = False
    chosen = select_signature(method, small.log_ms, 9, 3, reserve, quota=3)
    assert len(set(chosen)) == 9 and reserve[chosen].sum() >= 3
    met = np.zeros_like(reserve)
    met[plain[:3]] = True
    assert select_signature(method, small.log_ms, 9, 3, met, quota=3) == plain
    small_k = select_signature(method, small.log_ms, 5, 3, reserve, quota=3)
    assert reserve[small_k].sum() >= 1 and len(set(small_k)) == 5
    one = np.zeros_like(reserve)
    one[np.flatnonzero(reserve)[0]] = True
    assert one[select_signature(method, small.log_ms, 9, 3, one, quota=3)].sum() == 1


@pytest.mark.parametrize("method", sorted(SAMPLERS))
def test_signature_never_reads_test_devices(small: LatencyData, method: str) -> None:
    options = TrainOptions(model="lowrank", sampling=method, k=5, n_estimators=10)
    train_d, test_d, train_n, test_n = next(splits(small, "seen", 4, seed=0))
    poisoned_ms = small.latency_ms.copy()
    rng = np.random.default_rng(0)
    poisoned_ms[test_d] = np.exp(rng.normal(0, 3, size=poisoned_ms[test_d].shape))
    poisoned = replace(small, latency_ms=poisoned_ms)
    clean_sig = predict_fold(small, options, train_d, test_d, train_n, test_n)[3]
    poisoned_sig = predict_fold(poisoned, options, train_d, test_d, train_n, test_n)[3]
    assert clean_sig == poisoned_sig
    # ...and the poison would have changed the selection had it been read
    everyone = select_signature(method, poisoned.log_ms, 5, seed=0)
    if method != "random":
        assert [poisoned.network_names[i] for i in everyone] != clean_sig


def test_group_folds_keep_phone_models_together(full: LatencyData) -> None:
    folds = group_folds(full.device_groups, 5, seed=1)
    assert sorted(np.concatenate(folds).tolist()) == list(range(84))
    for fold in folds:
        inside = {full.device_groups[i] for i in fold}
        outside = {full.device_groups[i] for f in folds if f is not fold for i in f}
        assert not inside & outside


def test_fewer_phone_models_than_folds_make_fewer_folds(full: LatencyData) -> None:
    from dnncost.errors import ModelError
    from dnncost.learn.evaluation import evaluate

    groups = sorted(set(full.device_groups))[:3]
    three = full.select([i for i, g in enumerate(full.device_groups) if g in groups])
    assert len(group_folds(three.device_groups, 5, seed=0)) == 3
    result = evaluate(three, TrainOptions(model="xgb", sampling="random", k=5,
                                          n_estimators=20), "seen", n_folds=5)
    assert result["metrics"]["pairs"] > 0
    with pytest.raises(ModelError, match="two phone models"):
        group_folds(("Pixel_4",) * 3, 5, seed=0)
    with pytest.raises(ModelError, match="unseen regime"):
        evaluate(three, TrainOptions(mode="individual", model="xgb"), "seen")


def test_low_rank_placement_recovers_a_device() -> None:
    rng = np.random.default_rng(0)
    networks, devices = rng.normal(size=(60, 2)), rng.normal(size=(30, 2))
    log_ms = 2 + rng.normal(size=60) + devices @ networks.T + rng.normal(0, 1e-3, (30, 60))
    factors = fit_factors(log_ms[:-1], rank=2)
    signature = np.arange(8)
    placement = place_device(factors, factors.loadings[signature],
                             factors.mean_log_ms[signature], log_ms[-1, signature])
    predicted = factors.mean_log_ms + factors.loadings @ placement
    assert np.abs(predicted - log_ms[-1]).max() < 0.05


def test_drifting_device_is_flagged(small: LatencyData) -> None:
    log_ms = small.log_ms.copy()
    ramp = np.argsort(np.argsort(small.measure_order[0])) / len(small.measure_order[0])
    scores_before = drift_scores(log_ms, small.measure_order[0])
    log_ms[4] += 0.6 * ramp  # device 4 slows by 80% over its sweep
    scores = drift_scores(log_ms, small.measure_order[0])
    assert scores[4] > 0.3 > scores_before[4]
    assert scores[4] == scores.max()


def test_metrics_of_a_perfect_and_a_biased_prediction() -> None:
    true = np.array([1.0, 2.0, 4.0, 8.0])
    device = np.zeros(4)
    perfect = metrics(true, true, device)
    assert perfect["r2"] == 1.0 and perfect["within5"] == 100.0 and perfect["spearman"] == 1
    biased = metrics(true, true * 1.07, device)
    assert biased["within5"] == 0.0 and biased["within10"] == 100.0
    assert biased["mape"] == pytest.approx(7.0)


@pytest.mark.parametrize("mode,model", [
    ("collaborative", "xgb"), ("combined", "xgb"), ("individual", "xgb"),
    ("collaborative", "lowrank"), ("collaborative", "hybrid"), ("collaborative", "lstm"),
    ("combined", "lstm"),
    ("individual", "lstm")])
def test_each_mode_and_model_trains_adapts_and_exports(small: LatencyData, tmp_path,
                                                       mode: str, model: str) -> None:
    options = TrainOptions(mode=mode, model=model, sampling="d_optimal", k=5,
                           n_estimators=40, lstm_epochs=2)
    test_device = 0
    trained = train(small.select(np.arange(1, len(small.device_ids))), options)
    row = small.latency_ms[test_device]
    measured = dict(zip(small.network_names, row))
    if mode == "collaborative":
        measured = {n: measured[n] for n in trained.signature}
    device_model = trained.estimator.adapt(measured, small.devices[test_device])
    predicted = device_model.predict_ms(list(small.layers))  # by layers: the export path
    assert predicted.shape == (118,) and np.isfinite(predicted).all() and (predicted > 0).all()
    exportable = device_model.to_exportable()
    if model == "lstm":
        from dnncost.learn.sequence import sequence_matrix

        x = sequence_matrix(small.layers, exportable.metadata["max_layers"])
    else:
        x = small.features
    np.testing.assert_allclose(exportable.predict_ms(x), predicted, rtol=1e-5)
    save_device_model(tmp_path / "device", device_model)
    loaded = load_device_model(tmp_path / "device")
    np.testing.assert_allclose(loaded.predict_ms(list(small.layers)), predicted, rtol=1e-5)
    if model != "lstm" and mode != "combined":  # 2 LSTM epochs learn little; specs say little
        within25 = np.mean(np.abs(predicted / row - 1) < 0.25)
        assert within25 > 0.5, within25


def test_collaborative_beats_macs_only_on_held_out_devices(small: LatencyData) -> None:
    options = TrainOptions(model="lowrank", sampling="d_optimal", k=10, n_estimators=40)
    train_d, test_d, train_n, test_n = next(splits(small, "seen", 4, seed=0))
    true, pred, device, signature = predict_fold(small, options, train_d, test_d, train_n,
                                                 test_n)
    assert len(signature) == 10 and len(true) == len(test_d) * (118 - 10)  # signature not scored
    assert metrics(true, pred, device)["within10"] > 60


def test_drift_is_screened_in_each_devices_own_sweep_order(iiswc_store_path, tmp_path) -> None:
    """Bench sweeps run in a seeded shuffled order per device; a phone that slows down
    during its sweep must be found in that order (measured_at), not in name order."""
    import random
    from dataclasses import replace as copy

    from dnncost.learn.dataset import load_dataset
    from dnncost.store import Store

    with Store(iiswc_store_path) as source:
        devices = [d for d in source.devices()][:12]
        rows = {d.id: source.measurements(d.id) for d in devices}
    path = tmp_path / "bench.sqlite"
    with Store(iiswc_store_path) as source, Store(path) as store:
        for network in source.networks():
            store.put_network(network, source.layers(network.id))
        slow = devices[3].id
        for device in devices:
            store.put_device(device)
            measured = rows[device.id]
            random.Random(device.id).shuffle(measured)  # the sweep's own order
            for position, m in enumerate(measured):
                factor = 1.0 + 0.8 * position / len(measured) if device.id == slow else 1.0
                store.put_measurement(copy(m, config={"tool": "benchmark_model"},
                                           median_ms=m.median_ms * factor,
                                           measured_at=f"2026-11-30T10:{position // 60:02d}:"
                                                       f"{position % 60:02d}.000+00:00"))
        data = load_dataset(store)
    by_sweep = drift_scores(data.log_ms, data.measure_order)
    by_name = drift_scores(data.log_ms, np.arange(len(data.network_ids)))
    d = data.device_ids.index(slow)
    assert by_sweep[d] > 0.3 and by_sweep[d] == by_sweep.max()
    assert by_name[d] < 0.3  # in name order the slow-down looks like noise

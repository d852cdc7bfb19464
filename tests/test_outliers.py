"""Gross outliers in training data: found against the other devices' structure, left out
of training, named in its report, kept in the store."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from dnncost.cli import cli
from dnncost.learn.dataset import LatencyData, load_dataset
from dnncost.learn.lowrank import fit_factors, gross_outliers
from dnncost.learn.state import dump_state, load_state
from dnncost.learn.training import TrainOptions, train
from dnncost.store import Store

# (device, network) positions and the factor planted there: a failed timer, a hung run
PLANTED = {(2, 10): 1e-3, (7, 50): 5.0}


@pytest.fixture(scope="module")
def small(iiswc_store_path: Path) -> LatencyData:
    with Store(iiswc_store_path) as store:
        return load_dataset(store).select(np.arange(20))


def _planted(data: LatencyData) -> LatencyData:
    latency_ms = data.latency_ms.copy()
    for (d, n), factor in PLANTED.items():
        latency_ms[d, n] *= factor
    return replace(data, latency_ms=latency_ms)


def test_planted_outliers_are_found_and_nothing_else_changes(small: LatencyData) -> None:
    before, after = gross_outliers(small.log_ms), gross_outliers(_planted(small).log_ms)
    assert not any(before[key] for key in PLANTED) and all(after[key] for key in PLANTED)
    assert (after & ~before).sum() == len(PLANTED) and not (before & ~after).any()


def test_a_device_that_differs_in_kind_keeps_its_measurements(small: LatencyData) -> None:
    latency_ms = small.latency_ms.copy()
    slow = np.random.default_rng(0).choice(latency_ms.shape[1], 30, replace=False)
    latency_ms[3, slow] *= 4.0  # a quarter of its networks: not a glitch, a kind of device
    assert not gross_outliers(np.log(latency_ms))[3].any()
    # it is the share rule that keeps them: without it most are flagged
    assert gross_outliers(np.log(latency_ms), max_share=1.0)[3, slow].mean() > 0.8
    fast = np.setdiff1d(np.arange(latency_ms.shape[1]), slow)[0]
    latency_ms[3, fast] /= 1000.0  # a failed timer is left out on any device
    assert np.flatnonzero(gross_outliers(np.log(latency_ms))[3]).tolist() == [fast]


@pytest.mark.parametrize("devices", [3, 5])
def test_a_small_store_is_not_judged(small: LatencyData, devices: int) -> None:
    log_ms = _planted(small).log_ms[:devices]
    assert not gross_outliers(log_ms).any()


def test_a_left_out_signature_run_keeps_its_device_in_training(small: LatencyData) -> None:
    """The collaborative LSTM and XGBoost describe a device by its signature runs: a
    left-out one takes the low-rank fill (a NaN there made every LSTM weight NaN)."""
    options = TrainOptions(model="xgb", sampling="random", lstm_epochs=3)  # value-blind
    signature = train(small, options).signature
    latency_ms = small.latency_ms.copy()
    column = small.network_index(signature)[0]
    latency_ms[2, column] /= 1000.0
    glitched = replace(small, latency_ms=latency_ms)
    for model in ("lstm", "xgb"):
        trained = train(glitched, replace(options, model=model))
        assert trained.signature == signature  # the glitch is on a signature run
        assert (small.device_ids[2], signature[0]) in {(d, n) for d, n, _ in trained.ignored}
        measured = {n: float(small.latency_ms[5, small.network_index([n])[0]])
                    for n in trained.signature}
        predicted = trained.estimator.adapt(measured).predict_ms(small.layers.select([0, 1]))
        assert np.isfinite(predicted).all() and (predicted > 0).all()


def test_a_model_saved_before_the_field_loads_without_ignored(small: LatencyData,
                                                              tmp_path: Path) -> None:
    trained = train(small.select(networks=np.arange(40)), TrainOptions(k=5))
    del trained.__dict__["ignored"]  # as a model saved by dnncost 0.2.1 has it
    dump_state(trained, tmp_path)
    assert load_state(tmp_path).ignored == []


def test_training_leaves_them_out_and_says_which(small: LatencyData) -> None:
    options = TrainOptions()
    clean, planted = train(small, options), train(_planted(small), options)
    ignored = {(d, n): ms for d, n, ms in planted.ignored}
    for (d, n), factor in PLANTED.items():
        key = (small.device_ids[d], small.network_names[n])
        assert ignored[key] == pytest.approx(small.latency_ms[d, n] * factor)
    # network 10's learned mean is as without the failed timer; a plain fit moves it by
    # log(1e-3) / 20 devices
    clean_mean = clean.estimator.factors_.mean_log_ms[10]
    assert abs(planted.estimator.factors_.mean_log_ms[10] - clean_mean) < 0.05
    raw = fit_factors(_planted(small).log_ms, options.rank)
    assert abs(raw.mean_log_ms[10] - clean_mean) > 0.3
    assert planted.signature_ms == {  # what adapt compares a new device with: as measured
        d: _planted(small).latency_ms[i, small.network_index(planted.signature)].tolist()
        for i, d in enumerate(small.device_ids)}


def test_train_cli_names_them_and_the_store_keeps_them(iiswc_store_copy: Path,
                                                       tmp_path: Path) -> None:
    with Store(iiswc_store_copy) as store:
        device = store.devices()[5].id
        measurement = store.measurements(device)[40]
        glitch = replace(measurement, median_ms=measurement.median_ms / 1000,
                         mean_ms=measurement.mean_ms / 1000)
        store.put_measurement(glitch)
    out = tmp_path / "model"
    result = CliRunner().invoke(cli, ["train", "--store", str(iiswc_store_copy), "-o", str(out)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("left out of training"))
    assert "3x off what the other devices predict" in line and "the store keeps them" in line
    with Store(iiswc_store_copy) as store:
        name = {n.id: n.name for n in store.networks()}[measurement.network_id]
        kept = {m.network_id: m.median_ms for m in store.measurements(device)}
    report = json.loads((out / "model.json").read_text())["report"]
    assert {"device": device, "network": name, "latency_ms": pytest.approx(glitch.median_ms)} \
        in report["ignored_measurements"]
    assert f"{device} {name}" in (out / "report.md").read_text()
    with Store(iiswc_store_copy) as store:
        finite = int(np.isfinite(load_dataset(store).latency_ms).sum())
    # the in-sample fit is scored on what training kept
    assert report["in_sample_fit"]["pairs"] == finite - len(report["ignored_measurements"])
    assert kept[measurement.network_id] == pytest.approx(glitch.median_ms)

"""Generalizing past one study: leave-one-type-out splits, HELP's band Spearman, a
mutual_info signature that does not follow network order, and one adapt path for
`adapt` and `evaluate`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dnncost.errors import ModelError
from dnncost.learn.dataset import device_type, load_dataset
from dnncost.learn.evaluation import metrics, splits
from dnncost.learn.signature import select_mutual_info
from dnncost.store import Store

TYPES = ("gpu", "cpu", "phone", "other")


@pytest.fixture(scope="module")
def data(iiswc_store_path: Path):
    with Store(iiswc_store_path) as store:
        loaded = load_dataset(store)
    # Relabel the phones as four device types, phone models kept together.
    models = sorted(set(loaded.device_groups))
    kinds = {model: TYPES[i % 4] for i, model in enumerate(models)}
    devices = tuple(replace(d, info={**d.info, "device_type": kinds[g]})
                    for d, g in zip(loaded.devices, loaded.device_groups))
    return replace(loaded, devices=devices)


@pytest.mark.parametrize("regime", ["seen", "unseen"])
def test_leave_one_type_out_never_trains_on_the_test_type(data, regime: str) -> None:
    folds = list(splits(data, regime, 5, 0, group_by="device-type"))
    assert len(folds) == 4
    held = []
    for train_d, test_d, train_n, test_n in folds:
        test_types = {device_type(data.devices[i]) for i in test_d}
        train_types = {device_type(data.devices[i]) for i in train_d}
        assert len(test_types) == 1 and not test_types & train_types
        assert len(train_d) + len(test_d) == len(data.device_ids)
        if regime == "unseen":
            assert not set(train_n) & set(test_n)
        held += list(test_types)
    assert sorted(held) == sorted(TYPES)
    phones_only = replace(data, devices=tuple(
        replace(d, info={**d.info, "device_type": "phone"}) for d in data.devices))
    with pytest.raises(ModelError, match="two types"):
        list(splits(phones_only, regime, 5, 0, group_by="device-type"))


def test_band_spearman_ranks_only_inside_each_devices_10_to_90_percent() -> None:
    true = np.arange(1.0, 101.0)
    pred = true.copy()
    pred[:10], pred[-10:] = pred[:10][::-1] + 200, pred[-10:][::-1] - 200  # tails scrambled
    m = metrics(true, pred, np.zeros(100))
    assert m["spearman_band"] == pytest.approx(1.0) and m["spearman"] < 0.9


def test_mutual_info_signature_does_not_follow_network_order(data) -> None:
    log_ms = data.log_ms[:40]  # past ~20 devices the binned entropy saturates
    chosen = select_mutual_info(log_ms, 10)
    for seed in (1, 2):
        order = np.random.default_rng(seed).permutation(log_ms.shape[1])
        assert sorted(order[select_mutual_info(log_ms[:, order], 10)]) == chosen
    assert chosen != list(range(10)) and len(set(chosen)) == 10


def test_evaluate_predicts_what_the_adapt_command_writes(iiswc_store_path: Path,
                                                        tmp_path: Path) -> None:
    from dnncost.artifacts import write_latency_csv
    from dnncost.learn.evaluation import predict_fold
    from dnncost.learn.training import TrainOptions
    from dnncost.learn.workflow import adapt_to_dir, predict_rows, train_to_dir

    options = TrainOptions(model="xgb", sampling="mutual_info", k=10)
    with Store(iiswc_store_path) as store:
        data = load_dataset(store)
        test = data.device_ids[0]
        manifest = train_to_dir(store, options, tmp_path / "model", [test])
        everything = np.arange(len(data.network_ids))
        others = np.arange(1, len(data.device_ids))
        _, pred, _, signature = predict_fold(data, options, others, np.array([0]), everything,
                                             everything)
        row = data.latency_ms[0]
        csv = write_latency_csv(tmp_path / "m.csv", [
            (n, float(row[data.network_names.index(n)])) for n in signature])
        adapt_to_dir(tmp_path / "model", csv, tmp_path / "device")
        written = dict(predict_rows(tmp_path / "device", store))
    assert [s["name"] for s in manifest["signature"]] == list(signature)
    rest = [n for n in data.network_names if n not in signature]
    assert np.allclose([written[n] for n in rest], pred, rtol=1e-5)  # shift included

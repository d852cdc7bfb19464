"""Model directories hold data only: every estimator round-trips through JSON, npz and
XGBoost JSON, and nothing in a directory of any origin is ever run."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from dnncost.errors import ModelError
from dnncost.learn.dataset import load_dataset
from dnncost.learn.model_io import MODEL_FORMAT, load_model, save_model
from dnncost.learn.training import TrainOptions, train
from dnncost.store import Store


@pytest.fixture(scope="module")
def data(iiswc_store_path: Path):
    with Store(iiswc_store_path) as store:
        full = load_dataset(store)
    return full.select(devices=range(0, 84, 6))  # 14 phones: quick to train


@pytest.mark.parametrize("model", ["xgb", "lowrank", "hybrid", "lstm"])
def test_every_estimator_round_trips_as_data(data, model: str, tmp_path: Path) -> None:
    options = TrainOptions("collaborative", model, "random", 5, seed=1, n_estimators=20,
                           lstm_epochs=2)
    trained = train(data, options)
    save_model(tmp_path, trained, {"mode": "collaborative", "model": model}, [], "")
    for path in tmp_path.iterdir():  # no pickle anywhere (protocol 2+ starts with 0x80)
        assert not path.read_bytes().startswith(b"\x80"), path.name
    assert {p.name for p in tmp_path.iterdir()} >= {"estimator.json", "arrays.npz", "model.json"}
    loaded, manifest = load_model(tmp_path)
    assert manifest["format_version"] == MODEL_FORMAT
    assert loaded.signature == trained.signature and loaded.options == trained.options
    measured = {n: float(v) for n, v in zip(data.network_names, data.latency_ms[0])}
    ours, theirs = trained.estimator.adapt(measured), loaded.estimator.adapt(measured)
    x = data.layers[:20]
    assert np.allclose(theirs.predict_ms(x), ours.predict_ms(x), rtol=1e-6)


def test_a_pickle_in_a_model_directory_is_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Exploit:
        def __reduce__(self):
            return (Path.write_text, (marker, "pwned"))

    (tmp_path / "estimator.pkl").write_bytes(pickle.dumps(Exploit()))
    (tmp_path / "model.json").write_text(json.dumps({"format_version": 2, "mode": "x"}))
    with pytest.raises(ModelError, match="train it again"):
        load_model(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"format_version": MODEL_FORMAT}))
    with pytest.raises(ModelError, match="damaged"):
        load_model(tmp_path)  # no estimator.json: the pickle beside it is ignored
    assert not marker.exists()


def test_tampered_state_is_a_one_line_model_error(data, tmp_path: Path) -> None:
    trained = train(data, TrainOptions("collaborative", "xgb", "random", 5, n_estimators=5))
    save_model(tmp_path, trained, {}, [], "")
    state = (tmp_path / "estimator.json").read_text()
    cases = {"booster path": state.replace("booster_0.json", "../../../etc/passwd"),
             "unknown class": state.replace('"XGBCostModel"', '"Popen"'),
             "not JSON": state[:100], "a list": "[1, 2]"}
    for case, text in cases.items():
        (tmp_path / "estimator.json").write_text(text)
        with pytest.raises(ModelError, match="damaged model") as error:
            load_model(tmp_path)
        assert "\n" not in str(error.value), case


def test_a_model_of_older_features_is_refused_naming_what_to_do(data, tmp_path: Path) -> None:
    """A model trained or adapted before 0.3.0 computed agg-v1 features (one column
    fewer): it is refused with what to run, not fed rows of another width."""
    from dnncost.learn.model_io import DEVICE_MANIFEST, load_device_model, save_device_model

    trained = train(data, TrainOptions("collaborative", "lowrank", "random", 5, n_estimators=5))
    save_model(tmp_path / "model", trained, {"feature_set": "agg-v1"}, [], "")
    with pytest.raises(ModelError, match="of 'agg-v1' features; .* computes agg-v2: train it"):
        load_model(tmp_path / "model")
    measured = {n: float(v) for n, v in zip(data.network_names, data.latency_ms[0])}
    save_device_model(tmp_path / "device", trained.estimator.adapt(measured))
    spec = json.loads((tmp_path / "device" / DEVICE_MANIFEST).read_text())
    assert spec["feature_set"] == "agg-v2"
    load_device_model(tmp_path / "device")
    (tmp_path / "device" / DEVICE_MANIFEST).write_text(json.dumps({**spec,
                                                                   "feature_set": "agg-v1"}))
    with pytest.raises(ModelError, match="of 'agg-v1' features; .* computes agg-v2: adapt it"):
        load_device_model(tmp_path / "device")

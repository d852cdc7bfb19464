"""Across stages: training without a device, pooled protocols, spec strings through
`dnncost predict` from a model directory and from its exported ONNX file."""

import csv
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from dnncost.cli import cli
from dnncost.gen.spaces import sample_specs
from dnncost.learn.dataset import load_dataset
from dnncost.records import Device, Measurement, Network
from dnncost.store import Store

NEW_PHONE = "GM1901_0"


def _run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def adapted(iiswc_store_path: Path, tmp_path_factory) -> dict:
    """A lowrank model trained without every GM1901 phone, adapted to GM1901_0."""
    root = tmp_path_factory.mktemp("integration")
    excluded = [f"GM1901_{i}" for i in range(4)]
    result = _run("train", "--model", "lowrank", "--sampling", "d_optimal",
                  "--signature-size", "6", "--store", iiswc_store_path, "-o", root / "model",
                  *[a for d in excluded for a in ("--exclude-device", d)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((root / "model" / "model.json").read_text())
    with Store(iiswc_store_path) as store:
        names = {n.id: n.name for n in store.networks()}
        measured = {names[m.network_id]: m.median_ms for m in store.measurements(NEW_PHONE)}
    signature = [s["name"] for s in manifest["signature"]]
    with (root / "new.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["network", "latency_ms"])
        writer.writerows((n, measured[n]) for n in signature)
    result = _run("adapt", root / "model", "--measurements", root / "new.csv",
                  "--device", NEW_PHONE, "-o", root / "device")
    assert result.exit_code == 0, result.output
    return {"root": root, "manifest": manifest, "excluded": excluded,
            "signature": {n: measured[n] for n in signature}, "store": iiswc_store_path}


def test_training_leaves_excluded_devices_out(adapted):
    manifest = adapted["manifest"]
    assert manifest["excluded_devices"] == adapted["excluded"]
    assert not set(adapted["excluded"]) & set(manifest["training_devices"])
    assert len(manifest["training_devices"]) == 80
    result = _run("train", "--exclude-device", "NoSuchPhone", "--store", adapted["store"],
                  "-o", adapted["root"] / "x")
    assert result.exit_code == 2 and "unknown device(s) NoSuchPhone" in result.output


def test_specs_through_predict_from_model_dir_and_onnx(adapted):
    root = adapted["root"]
    specs = "\n".join(s.to_string() for s in sample_specs("mobileopt", 3, seed=5)) + "\n"
    from_dir = _run("predict", root / "device", "--specs", "-", input=specs)
    assert from_dir.exit_code == 0, from_dir.output
    result = _run("export", root / "device", "-o", root / "new.onnx", "--store",
                  adapted["store"])
    assert result.exit_code == 0, result.output
    from_onnx = _run("predict", root / "new.onnx", "--specs", "-", input=specs)
    assert from_onnx.exit_code == 0, from_onnx.output
    a = np.array(from_dir.output.split(), float)
    b = np.array(from_onnx.output.split(), float)
    assert len(a) == 3 and np.all(a > 0)
    np.testing.assert_allclose(a, b, rtol=1e-3)  # printed with 4 decimals
    bad = _run("predict", root / "new.onnx", "--specs", "-", input="r224 nonsense_k9\n")
    assert bad.exit_code == 2 and bad.output.count("\n") == 1


def test_exported_metadata_carries_the_measured_signature(adapted):
    root = adapted["root"]
    if not (root / "new.onnx").exists():
        _run("export", root / "device", "-o", root / "new.onnx", "--store", adapted["store"])
    meta = {p.key: p.value for p in onnx.load(str(root / "new.onnx")).metadata_props}
    recorded = json.loads(next(v for k, v in meta.items() if k.endswith("signature_latency_ms")))
    assert recorded == pytest.approx(adapted["signature"])


def test_configs_differing_only_in_the_binary_pool_into_one_matrix(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        store.put_network(Network("n1", "net-1", "test"))
        base = {"tool": "benchmark_model", "runs": 30, "threads": 1}
        for device, sha, runs in (("arm64", "aa", 30), ("armv7", "bb", 30), ("other", "aa", 5)):
            store.put_device(Device(device))
            store.put_measurement(Measurement(device, "n1", {**base, "tool_sha256": sha,
                                                             "runs": runs}, median_ms=3.0))
        data = load_dataset(store)
    assert data.device_ids == ("arm64", "armv7")


def test_few_training_devices_do_not_pin_a_new_device_to_their_level():
    from dnncost.learn.lowrank import fit_factors, place_device

    rng = np.random.default_rng(0)
    base = rng.normal(2.0, 0.8, 40)  # log ms of 40 networks
    train = np.vstack([base + rng.normal(0, 0.05, 40), base + 0.1 + rng.normal(0, 0.05, 40)])
    factors = fit_factors(train, rank=3)
    new = base - np.log(2.0)  # a device twice as fast as both training devices
    where = np.arange(5)
    placement = place_device(factors, factors.loadings[where], factors.mean_log_ms[where],
                             new[where])
    predicted = factors.mean_log_ms + factors.loadings @ placement
    assert np.median(np.abs(np.exp(predicted - new) - 1)) < 0.1

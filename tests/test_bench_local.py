"""DEVICE=local: host profiles as devices, real TFLite interpreter runs, same records."""

from __future__ import annotations

import os
import socket

import pytest
from click.testing import CliRunner

from dnncost.bench.local import parse_profiles
from dnncost.cli import cli
from dnncost.errors import InputError
from dnncost.store import Store
from test_bench_models import tiny_network_store


def test_local_profiles_are_distinct_devices(tmp_path_factory, tmp_path):
    store_path = tiny_network_store(tmp_path_factory, tmp_path / "s.sqlite", count=2)
    affinity = os.sched_getaffinity(0)
    result = CliRunner().invoke(cli, [
        "bench", "--device", "local", "--local-profile", "t1,t1-xnnpack", "--runs", "4",
        "--warmup-runs", "1", "--canary-every", "0", "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    assert os.sched_getaffinity(0) == affinity  # only the worker thread was pinned
    host = socket.gethostname()
    with Store(store_path) as store:
        devices = {d.id: d for d in store.devices()}
        rows = store.measurements()
    assert sorted(devices) == sorted(f"local-{host}-{p}".replace(" ", "_")
                                     for p in ("t1", "t1-xnnpack"))
    assert all(len(d.info["pinned_cores"]) == 1 for d in devices.values())
    assert len(rows) == 4 and all(r.ok and r.runs == 4 for r in rows)
    for row in rows:
        assert row.min_ms <= row.median_ms <= row.max_ms and row.std_ms >= 0
        assert row.config["runtime"].startswith("ai-edge-litert")
    # The profile (threads, XNNPACK) is the device; all profiles share one config, so
    # learn/ pivots them into one matrix.
    assert devices[f"local-{host}-t1-xnnpack"].info["xnnpack"] is True
    assert devices[f"local-{host}-t1"].info["xnnpack"] is False
    assert len({r.config_hash for r in rows}) == 1
    assert "local-" in result.output and "done" in result.output


def test_local_fp32_and_profile_errors(tmp_path_factory, tmp_path):
    store_path = tiny_network_store(tmp_path_factory, tmp_path / "s.sqlite", count=1)
    result = CliRunner().invoke(cli, [
        "-q", "bench", "--device", "local", "--precision", "fp32", "--runs", "2",
        "--warmup-runs", "0", "--canary-every", "0", "--store", str(store_path)])
    assert result.exit_code == 0, result.output
    with Store(store_path) as store:
        (row,) = store.measurements()
    assert row.ok and row.config["precision"] == "fp32"
    with pytest.raises(InputError, match="not tN or tN-xnnpack"):
        parse_profiles("t1,fast")
    bad = CliRunner().invoke(cli, ["bench", "--device", "local", "--local-profile", "x",
                                   "--store", str(store_path)])
    assert bad.exit_code == 2 and "local profile 'x'" in bad.output
    for option, named in ((["--delegate", "gpu"], "--delegate gpu"), (["--threads", "2"],
                                                                        "--threads 2"),
                          (["--local-profile", "t999"], "t999 ask for more threads")):
        refused = CliRunner().invoke(cli, ["bench", "--device", "local", *option,
                                           "--store", str(store_path)])
        assert refused.exit_code == 2 and named in refused.output, refused.output

"""End to end on emulated devices: the real adb server, push, pin, run, parse, store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dnncost.bench.driver import bench
from dnncost.bench.protocol import RunConfig, big_core_mask
from dnncost.bench.sweep import SweepOptions
from dnncost.records import sha256_file
from dnncost.store import Store
from test_bench_models import tiny_network_store

RUN = RunConfig(warmup_runs=1, runs=3, timeout_s=20)
OPTIONS = SweepOptions(seed=1, canary_every=0)
STAT = re.compile(r"count=(\d+) first=\S+ curr=\S+ min=(\S+) max=(\S+) avg=(\S+) std=(\S+)")


@pytest.fixture()
def store_path(tmp_path_factory, tmp_path) -> Path:
    return tiny_network_store(tmp_path_factory, tmp_path / "store.sqlite", count=3)


def run_bench(store_path, adb_server, device, **kwargs):
    kwargs.setdefault("run", RUN)
    kwargs.setdefault("options", OPTIONS)
    return bench(store_path, device, adb_servers=[f"{adb_server.host}:{adb_server.port}"],
                 benchmark_binary=kwargs.pop("binary", None) or str(standin()),
                 show_progress=False, **kwargs)


def standin() -> Path:
    from emulator.fixtures import STANDIN

    return STANDIN


def graph_runs(dev) -> list[str]:
    return list(dev.tool_runs)


def test_one_device_rows_match_what_the_tool_printed(store_path, adb_server, emulated_device):
    dev = emulated_device(profile="pixel4")
    report = run_bench(store_path, adb_server, dev.serial)
    assert [(s.done, s.failed, s.status) for s in report.summaries] == [(3, 0, "ok")]
    with Store(store_path) as store:
        (device,) = store.devices()
        rows = store.measurements(device.id)
    props = dev.profile["props"]
    assert device.model == props["ro.product.model"] and device.abi == props["ro.product.cpu.abi"]
    assert device.cores == len(dev.profile["cpus"])
    assert device.max_freq_mhz == tuple(c["max_khz"] / 1000 for c in dev.profile["cpus"])
    assert device.info["thermal_zones"] and device.info["battery_level"] is not None
    assert len(rows) == 3 and all(r.ok for r in rows)
    for row in rows:
        count, low, high, avg, std = STAT.findall(row.raw_output)[-1]
        assert row.runs == int(count) == RUN.runs
        assert row.mean_ms == pytest.approx(float(avg) / 1000)
        assert (row.min_ms, row.max_ms) == (float(low) / 1000, float(high) / 1000)
        assert row.config["tool_sha256"] == sha256_file(str(standin()))
        assert row.temperature_c is not None and "__dnncost" not in row.raw_output
    expected_mask = big_core_mask([c["max_khz"] for c in dev.profile["cpus"]])
    assert dev.taskset_masks == [expected_mask] * 3
    assert all("--num_threads=1" in c and "--num_runs=3" in c for c in graph_runs(dev))

    pushes = list(dev.pushes)
    assert sum(p.endswith("/benchmark_model") for p in pushes) == 1
    rerun = run_bench(store_path, adb_server, dev.serial)
    assert (rerun.summaries[0].done, rerun.summaries[0].skipped) == (0, 3)
    assert dev.pushes == pushes and len(graph_runs(dev)) == 3


def test_tool_failures_become_error_rows_and_a_rerun_completes(tmp_path_factory, tmp_path,
                                                               adb_server, emulated_device):
    store_path = tiny_network_store(tmp_path_factory, tmp_path / "store.sqlite", count=4)
    dev = emulated_device(profile="pixel4")
    dev.inject("fail")
    dev.inject("garbage", after_commands=1, seed=3)
    dev.inject("hang", after_commands=2, seconds=60)
    dev.inject("fail", after_commands=3, message="Failed to apply GPU delegate.")
    run = RunConfig(warmup_runs=1, runs=3, timeout_s=4)
    report = run_bench(store_path, adb_server, dev.serial, run=run)
    assert sorted(dev.fired) == ["fail", "fail", "garbage", "hang"]
    assert [(s.done, s.failed, s.status) for s in report.summaries] == [(0, 4, "ok")]
    with Store(store_path) as store:
        rows = sorted(store.measurements(), key=lambda m: m.error)
    assert rows[0].error.startswith("benchmark_model failed (exit status 1): Failed to alloc")
    assert rows[1].error == "benchmark_model timed out after 4 s"
    assert rows[2].error == "delegate failure: Failed to apply GPU delegate."
    assert rows[3].error.startswith("unrecognized benchmark_model output")
    assert "ERROR: Benchmarking failed." in rows[0].raw_output  # kept for later diagnosis
    rerun = run_bench(store_path, adb_server, dev.serial, run=run)
    assert (rerun.summaries[0].done, rerun.summaries[0].failed) == (4, 0)
    with Store(store_path) as store:
        assert all(m.ok for m in store.measurements()) and store.count("measurements") == 4


def test_push_failure_and_connection_drop(store_path, adb_server, emulated_device):
    dev = emulated_device(profile="pixel4")
    dev.inject("disk_full", match="/models/")
    dev.inject("hang", seconds=5)  # keeps the run going until the drop hits it
    dev.inject("drop", delay_s=0.2)  # reconnects: the run is retried once
    report = run_bench(store_path, adb_server, dev.serial)
    assert sorted(dev.fired) == ["disk_full", "drop", "hang"]
    summary = report.summaries[0]
    assert (summary.done, summary.failed, summary.status) == (2, 1, "ok")
    with Store(store_path) as store:
        (failed,) = [m for m in store.measurements() if not m.ok]
    assert re.match(r"push of tiny\d+\.int8\.tflite to .* failed", failed.error)
    assert "free space" in failed.error
    assert run_bench(store_path, adb_server, dev.serial).summaries[0].done == 1


def test_two_devices_in_parallel_one_disappears_then_resumes(store_path, adb_server,
                                                             emulated_device):
    pixel, galaxy = emulated_device(profile="pixel4"), emulated_device(profile="galaxy_j5")
    galaxy.inject("hang", after_commands=1, seconds=10)  # the 2nd run is in flight ...
    galaxy.inject("drop", after_commands=1, reconnect=False, delay_s=0.3)  # ... when it drops
    report = run_bench(store_path, adb_server, f"{pixel.serial},{galaxy.serial}",
                       reconnect_wait_s=1)
    by_serial = {s.device_id.rsplit("_", 2)[-2] + ":" + s.device_id.rsplit("_", 1)[-1]: s
                 for s in report.summaries}
    assert (by_serial[pixel.serial].done, by_serial[pixel.serial].status) == (3, "ok")
    gone = by_serial[galaxy.serial]
    assert gone.status.startswith("gone: device") and (gone.done, gone.pending) == (1, 2)
    with Store(store_path) as store:
        devices = {d.id: d for d in store.devices()}
        assert devices[gone.device_id].abi == "armeabi-v7a"
        assert len(store.measurements(gone.device_id)) == 1  # the dropped run left no row
    galaxy.connect()
    rerun = run_bench(store_path, adb_server, f"{pixel.serial},{galaxy.serial}")
    assert sorted((s.done, s.skipped) for s in rerun.summaries) == [(0, 3), (2, 1)]
    with Store(store_path) as store:
        assert store.count("measurements") == 6
        assert all(m.ok for m in store.measurements())


def test_hot_device_waits_for_cool_down_and_records_temperature(store_path, adb_server,
                                                                emulated_device):
    import threading
    import time

    dev = emulated_device(profile="pixel4")
    dev.set_temperature(90.0)
    threading.Timer(1.5, dev.set_temperature, args=(41.0,)).start()
    options = SweepOptions(seed=1, canary_every=0, max_temp_c=80.0, max_temp_wait_s=30)
    started = time.monotonic()
    run_bench(store_path, adb_server, dev.serial, options=options,
              network_names=["tiny04"])
    assert time.monotonic() - started >= 1.5
    with Store(store_path) as store:
        (row,) = store.measurements()
    assert row.ok and row.temperature_c == 41.0


def test_killed_driver_loses_at_most_the_run_in_flight(store_path, adb_server, emulated_device):
    import os
    import signal
    import subprocess
    import sys
    import time

    dev = emulated_device(profile="pixel4")
    command = [sys.executable, "-m", "dnncost", "-q", "bench", "--device", dev.serial,
               "--adb", f"{adb_server.host}:{adb_server.port}", "--store", str(store_path),
               "--benchmark-binary", str(standin()), "--runs", "3", "--warmup-runs", "1",
               "--canary-every", "0"]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Store(store_path) as store:
                if store.count("measurements") >= 1:
                    break
            time.sleep(0.05)
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(10)
    with Store(store_path) as store:
        kept = {m.network_id: m for m in store.measurements()}
    assert 1 <= len(kept) < 3 and all(m.ok for m in kept.values())
    runs_before = len(graph_runs(dev))
    report = run_bench(store_path, adb_server, dev.serial)
    assert (report.summaries[0].done, report.summaries[0].skipped) == (3 - len(kept), len(kept))
    assert len(graph_runs(dev)) == runs_before + 3 - len(kept)
    with Store(store_path) as store:
        assert store.count("measurements") == 3
        assert all(kept[m.network_id] == m for m in store.measurements() if m.network_id in kept)


def test_cli_signature_set_on_all_devices(store_path, adb_server, emulated_device, tmp_path):
    import json

    from click.testing import CliRunner

    from dnncost.cli import cli

    dev = emulated_device(profile="galaxy_j5")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "signature.json").write_text(json.dumps({"networks": [{"name": "tiny08"}]}))
    result = CliRunner().invoke(cli, [
        "-q", "bench", "--device", "all", "--adb", f"{adb_server.host}:{adb_server.port}",
        "--store", str(store_path), "--benchmark-binary", str(standin()), "--runs", "3",
        "--warmup-runs", "1", "--drift-cooldown", "0", "--signature", str(model_dir)])
    assert result.exit_code == 0, result.output
    with Store(store_path) as store:
        (device,) = store.devices()
        (row,) = store.measurements()
        assert store.networks(["tiny08"])[0].id == row.network_id
    assert row.ok and device.serial == dev.serial
    csv_path = store_path.parent / f"signature-{device.id}.csv"
    assert csv_path.read_text().splitlines() == ["network,latency_ms",
                                                 f"tiny08,{row.median_ms}"]
    assert f"next: dnncost adapt {model_dir} --measurements {csv_path} -o {model_dir}-" \
        f"{device.id} --device {device.id}" in result.output


def test_cli_errors_name_the_device_or_server(store_path, adb_server):
    import socket

    from click.testing import CliRunner

    from dnncost.cli import cli

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    runner = CliRunner()
    unknown = runner.invoke(cli, ["bench", "--device", "NOPE123", "--store", str(store_path),
                                  "--adb", f"{adb_server.host}:{adb_server.port}"])
    assert unknown.exit_code == 2 and "device(s) NOPE123 not attached" in unknown.output
    down = runner.invoke(cli, ["bench", "--device", "all", "--store", str(store_path),
                               "--adb", f"127.0.0.1:{closed}"])
    assert down.exit_code == 2 and f"adb server 127.0.0.1:{closed} is not reachable" \
        in down.output


def test_farm_spread_over_two_adb_servers(store_path, adb_server, emulated_device, tmp_path):
    from emulator.fixtures import running_adb_server, start_device

    here = emulated_device(profile="pixel4")
    with running_adb_server() as elsewhere:
        there = start_device(elsewhere, tmp_path / "there", "galaxy_j5")
        try:
            report = bench(store_path, "all", RUN, OPTIONS, show_progress=False,
                           adb_servers=[f"{s.host}:{s.port}" for s in (adb_server, elsewhere)],
                           benchmark_binary=str(standin()))
        finally:
            there.stop()
    assert sorted((s.done, s.status) for s in report.summaries) == [(3, "ok"), (3, "ok")]
    with Store(store_path) as store:
        assert sorted(d.serial for d in store.devices()) == sorted([here.serial, there.serial])
    assert len(graph_runs(here)) == len(graph_runs(there)) == 3


def test_cli_offline_binary_lookup_fails_the_device_with_the_fetch_advice(
        store_path, adb_server, emulated_device, tmp_path, monkeypatch):
    import socket

    from click.testing import CliRunner

    from dnncost.cli import cli

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        monkeypatch.setenv("DNNCOST_BENCHMARK_URL", f"http://127.0.0.1:{sock.getsockname()[1]}/")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dev = emulated_device(profile="pixel4")
    result = CliRunner().invoke(cli, ["-q", "bench", "--device", dev.serial, "--store",
                                      str(store_path), "--adb",
                                      f"{adb_server.host}:{adb_server.port}"])
    assert result.exit_code == 2
    assert "1 device(s) did not finish (Pixel_4_" in result.output
    assert "android_aarch64_benchmark_model and save it as " \
           f"{tmp_path / 'cache' / 'dnncost' / 'android_aarch64_benchmark_model'}" in result.output
    assert not graph_runs(dev)


def test_verbose_shows_the_tool_output(store_path, adb_server, emulated_device, capsys):
    dev = emulated_device(profile="pixel4")
    run_bench(store_path, adb_server, dev.serial, network_names=None, show_output=True)
    shown = capsys.readouterr().err
    assert shown.count("--- Pixel_4_") == 3 and len(STAT.findall(shown)) >= 3


def test_cli_a_sweep_where_every_run_failed_exits_2_and_keeps_the_errors(
        store_path, adb_server, emulated_device):
    from click.testing import CliRunner

    from dnncost.cli import cli

    dev = emulated_device(profile="pixel4")
    dev.inject("fail", times=-1, message="Failed to apply GPU delegate.")
    result = CliRunner().invoke(cli, [
        "-q", "bench", "--device", dev.serial, "--adb", f"{adb_server.host}:{adb_server.port}",
        "--store", str(store_path), "--benchmark-binary", str(standin()), "--runs", "3",
        "--canary-every", "0"])
    assert result.exit_code == 2
    assert "every run failed on Pixel_4_" in result.output and "(3 of 3)" in result.output
    with Store(store_path) as store:
        errors = [m.error for m in store.measurements()]
    assert len(errors) == 3 and all("GPU delegate" in (e or "") for e in errors)

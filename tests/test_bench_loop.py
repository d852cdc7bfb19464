"""The device-side run loop: its script, the reader of its stream, and a sweep over it."""

from __future__ import annotations

import subprocess
import time

import pytest

from dnncost.bench.protocol import LOOP_MARK, LoopReader, LoopResult, RunConfig, run_loop_script
from dnncost.errors import DeviceError

TOOL_OUTPUT = "INFO: STARTING!\nINFO: count=3 first=1 curr=1 min=1 max=1 avg=1 std=0\n"
STREAM = (f"motd line\n{LOOP_MARK} ready\n"
          f"41000\n39000\n{LOOP_MARK} start\n{TOOL_OUTPUT}\n{LOOP_MARK} exit 0\n"
          f"40000\n{LOOP_MARK} start\nno newline at the end\n{LOOP_MARK} exit 137\n"
          f"{LOOP_MARK} start\n\n{LOOP_MARK} exit 1\n").encode()
EXPECTED = [LoopResult("41000\n39000\n", TOOL_OUTPUT, 0),
            LoopResult("40000\n", "no newline at the end", 137), LoopResult("", "", 1)]


def test_reader_gives_each_run_byte_for_byte_however_the_stream_is_cut():
    for cut in range(len(STREAM) + 1):
        reader = LoopReader()
        results = reader.feed(STREAM[:cut]) + reader.feed(STREAM[cut:])
        assert results == EXPECTED, cut
    reader = LoopReader()
    assert [r for i in range(len(STREAM)) for r in reader.feed(STREAM[i:i + 1])] == EXPECTED


def test_reader_waits_for_ready_and_for_the_end_of_a_run():
    reader = LoopReader()
    assert reader.feed(f"{LOOP_MARK} start\nearly\n{LOOP_MARK} exit 0\n".encode()) == []
    assert not reader.ready
    assert reader.feed(f"{LOOP_MARK} ready\n{LOOP_MARK} start\nhalf a run".encode()) == []
    assert reader.ready
    assert reader.feed(f"\n{LOOP_MARK} exit 2\n".encode()) == [LoopResult("", "half a run", 2)]


def test_the_script_runs_under_a_posix_shell(tmp_path):
    """The loop as /bin/sh runs it (Android's mksh takes the same POSIX subset): a stub
    tool that prints its --graph and exits with a status named by the model's name."""
    import dnncost.bench.protocol as protocol

    work = tmp_path / "work"
    work.mkdir()
    tool = work / "benchmark_model"
    tool.write_text("#!/bin/sh\nfor a; do case $a in --graph=*) g=${a#--graph=};; esac; done\n"
                    "read -r stolen && echo \"stole $stolen\"\n"  # stdin must not reach it
                    "echo \"ran $g\" >&2; case $g in *bad*) exit 3;; esac\n")
    tool.chmod(0o755)
    (work / "bin").mkdir()
    (work / "bin" / "taskset").write_text('#!/bin/sh\nshift; exec "$@"\n')
    (work / "bin" / "taskset").chmod(0o755)
    script = run_loop_script("benchmark_model", RunConfig(timeout_s=20), "80", "echo 45000")
    script = script.replace(protocol.WORKDIR, str(work))
    done = subprocess.run(["/bin/sh", "-c", script],
                          input="models/a.tflite\n-\nmodels/bad.tflite\n",
                          capture_output=True, text=True, timeout=60,
                          env={"PATH": f"{work / 'bin'}:/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    reader = LoopReader()
    assert reader.feed(done.stdout.encode()) == [
        LoopResult("45000\n", "ran models/a.tflite\n", 0),
        LoopResult("45000\n", "", 0),  # the probe: the zones alone
        LoopResult("45000\n", "ran models/bad.tflite\n", 3)]


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


@pytest.fixture()
def store_path(tmp_path_factory, tmp_path):
    from test_bench_models import tiny_network_store

    return tiny_network_store(tmp_path_factory, tmp_path / "store.sqlite", count=3)


def _sweep(store_path, adb_server, dev, persistent_shell: bool, **options):
    from emulator.fixtures import STANDIN

    from dnncost.bench.android import AndroidRunner
    from dnncost.bench.sweep import Sweep, SweepOptions
    from dnncost.store import Store

    runner = AndroidRunner(adb_server.client(), dev.serial, RunConfig(warmup_runs=1, runs=3,
                           timeout_s=20), str(STANDIN), persistent_shell=persistent_shell)
    with Store(store_path) as store:
        summary = Sweep(store, runner, store.networks(), SweepOptions(seed=1,
                        canary_every=0, **options)).run()
        return summary, store.measurements(summary.device_id)


def test_a_sweep_runs_every_network_through_one_shell(store_path, adb_server, emulated_device):
    dev = emulated_device(profile="pixel4")
    summary, rows = _sweep(store_path, adb_server, dev, persistent_shell=True)
    assert (summary.done, summary.failed, summary.status) == (3, 0, "ok")
    _wait_for(lambda: len(dev.run_log) == 3)  # the exit reports arrive on their own
    assert len(dev.tool_runs) == 3 and [r.exit_code for r in dev.run_log] == [0, 0, 0]
    shells = [c for c in dev.commands if "--graph" in c]
    assert len(shells) == 1 and LOOP_MARK in shells[0]
    for row in rows:
        assert row.ok and row.temperature_c is not None and row.runs == 3
        assert row.raw_output.startswith("INFO: STARTING!") and LOOP_MARK not in row.raw_output
    _wait_for(lambda: not dev.daemon._sessions)  # the sweep closed its loop; the device ends it


def test_one_shell_per_run_gives_the_same_rows(store_path, adb_server, emulated_device):
    dev = emulated_device(profile="pixel4")
    summary, rows = _sweep(store_path, adb_server, dev, persistent_shell=False)
    assert (summary.done, summary.status) == (3, "ok")
    assert len([c for c in dev.commands if "--graph" in c]) == len(dev.tool_runs) == 3
    assert all(r.ok and r.temperature_c is not None and r.runs == 3 for r in rows)
    assert all(r.raw_output.startswith("INFO: STARTING!") for r in rows)


def _one_at_a_time(dev, runs: int) -> None:
    """Wait for ``runs`` tool runs to end, then check that none overlapped another (a run
    cut off with its shell must not go on beside the retried one)."""
    _wait_for(lambda: len(dev.run_log) == runs)
    spans = sorted((r.started_s, r.started_s + r.wall_s) for r in dev.run_log)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end - 0.05, f"a run went on {end - start:.1f} s beside the next one"


@pytest.mark.parametrize("persistent_shell", [True, False], ids=["loop", "shell-per-run"])
def test_a_shell_cut_mid_run_takes_its_run_along_and_the_run_is_retried(
        store_path, adb_server, emulated_device, persistent_shell):
    dev = emulated_device(profile="pixel4")
    dev.inject("hang", after_commands=1, seconds=5)  # the 2nd run is in flight ...
    dev.inject("drop", after_commands=1, delay_s=0.3)  # ... when the connection drops
    summary, rows = _sweep(store_path, adb_server, dev, persistent_shell=persistent_shell)
    assert sorted(dev.fired) == ["drop", "hang"]
    assert (summary.done, summary.failed, summary.status) == (3, 0, "ok")
    shells = len([c for c in dev.commands if "--graph" in c])
    assert len(dev.tool_runs) == 4 and shells == (2 if persistent_shell else 4)
    _one_at_a_time(dev, 4)  # adbd hung up the cut shell; its trap killed the hung run


def test_max_temp_reads_the_zones_through_the_open_loop(store_path, adb_server,
                                                        emulated_device):
    dev = emulated_device(profile="pixel4")
    dev.set_temperature(52.0)
    summary, rows = _sweep(store_path, adb_server, dev, persistent_shell=True, max_temp_c=80.0)
    assert (summary.done, summary.status) == (3, "ok")
    assert LOOP_MARK in dev.commands[-1]  # no shell of its own after the loop opened
    assert [r.temperature_c for r in rows] == [52.0] * 3


def test_a_loop_that_keeps_exiting_on_a_present_device_is_an_error_not_gone(
        store_path, adb_server, emulated_device, monkeypatch):
    import dnncost.bench.protocol as protocol

    dev = emulated_device(profile="pixel4")
    monkeypatch.setattr(protocol, "run_loop_script",
                        lambda *args: f"echo {LOOP_MARK} ready; echo oops >&2; exit 3")
    with pytest.raises(DeviceError, match="the run loop exited with status 3: oops"):
        _sweep(store_path, adb_server, dev, persistent_shell=True)
    assert dev.state() == "device"

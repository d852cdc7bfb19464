"""The sweep's drift guard, order and resume; the binary lookup; config and masks."""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest

from dnncost.bench.binary import resolve_binary
from dnncost.records import RunStats
from dnncost.bench.protocol import (RunConfig, benchmark_command, big_core_mask, drifted,
                                    shuffled)
from dnncost.bench.runner import Outcome
from dnncost.bench.farm import format_summary
from dnncost.bench.sweep import Sweep, SweepOptions
from dnncost.errors import InputError, ToolError
from dnncost.records import Device, Network, NetworkFile, sha256_file
from dnncost.store import Store

def _networks(folder: Path) -> list[Network]:
    """Six networks whose model files exist with the sha256 the store records."""
    folder.mkdir(parents=True, exist_ok=True)
    networks = []
    for i in range(6):
        path = folder / f"m{i}.tflite"
        path.write_bytes(f"model {i}".encode())
        networks.append(Network(f"id{i}", f"net{i}", "tiny", files=(
            NetworkFile("tflite-int8", str(path), sha256_file(str(path))),)))
    return networks


NETWORKS = _networks(Path(tempfile.mkdtemp(prefix="dnncost-sweep-")))


class ScriptedDevice:
    """A deterministic device: latency = base per network, times 1.4 during a hot window
    of call numbers (what a throttling phone does to a sweep)."""

    file_format = "tflite-int8"

    def __init__(self, hot_calls: range) -> None:
        self.device_id, self.hot_calls, self.calls = "scripted", hot_calls, []

    def describe(self) -> Device:
        return Device(self.device_id)

    def setup(self, abi: str | None) -> dict[str, Any]:
        return {"tool": "scripted"}

    def temperature_c(self) -> float | None:
        return 30.0

    def measure(self, network: Network, file: NetworkFile) -> Outcome:
        factor = 1.4 if len(self.calls) in self.hot_calls else 1.0
        self.calls.append(network.name)
        latency_ms = (1 + int(network.id[2:])) * factor
        return Outcome(RunStats(mean_ms=latency_ms, median_ms=latency_ms, runs=3), None, 0.0)

    def close(self) -> None:
        pass


def test_drift_triggers_remeasure_of_the_networks_since_the_last_good_canary(tmp_path):
    options = SweepOptions(seed=5, canary_every=3, drift_tolerance=0.05, drift_cooldown_s=0)
    device = ScriptedDevice(hot_calls=range(5, 9))  # 2nd batch and its canary run hot
    with Store(tmp_path / "s.sqlite") as store:
        for network in NETWORKS:
            store.put_network(network)
        notes: list[str] = []
        summary = Sweep(store, device, NETWORKS, options, on_note=notes.append).run()
        rows = {m.network_id: m.median_ms for m in store.measurements()}
        canaries = [r["median_ms"] for r in store.rows("SELECT * FROM canaries ORDER BY seq")]
    order = shuffled([n.id for n in NETWORKS], 5, "scripted")
    assert device.calls[0] == "net0" and device.calls[4] == device.calls[8] == "net0"
    assert [f"net{i[2:]}" for i in order] == [c for j, c in enumerate(device.calls)
                                             if j not in (0, 4, 8, 9, 13, 17)][:6]
    assert (summary.done, summary.remeasured, summary.status) == (6, 3, "ok")
    assert canaries == [1.0, 1.0, 1.4, 1.0, 1.0]
    assert rows == {n.id: 1.0 + i for i, n in enumerate(NETWORKS)}  # no hot value kept
    assert notes == ["the canary drifted (1.4 ms against 1 ms): resting 0 s, then measuring "
                     "the last 3 networks again"]  # what the user is told while it rests


def test_without_a_terminal_the_farm_prints_a_progress_line(tmp_path, capsys):
    from dnncost.bench import farm

    options = SweepOptions(seed=5, canary_every=3, drift_tolerance=0.05, drift_cooldown_s=0)
    with Store(tmp_path / "s.sqlite") as store:
        for network in NETWORKS:
            store.put_network(network)
    [summary] = farm.run_farm(tmp_path / "s.sqlite", [ScriptedDevice(range(5, 9))], NETWORKS,
                              options, show_progress=True)  # pytest's stderr is no terminal
    assert summary.remeasured == 3
    shown = capsys.readouterr().err.splitlines()
    # a line at the end (and every 30 s); the 3 re-measured networks are not counted twice
    assert [line for line in shown if "measured (" in line] == ["scripted: 6/6 measured (0 failed)"]
    assert any(line.startswith("scripted: the canary drifted") for line in shown)


def test_resume_measures_only_what_is_pending(tmp_path):
    options = SweepOptions(seed=1, canary_every=0)
    with Store(tmp_path / "s.sqlite") as store:
        for network in NETWORKS:
            store.put_network(network)
        first = ScriptedDevice(range(0))
        sweep = Sweep(store, first, NETWORKS, options)
        sweep.on_result = lambda m: sweep.stop.set() if len(first.calls) == 2 else None
        assert sweep.run().done == 2
        second = ScriptedDevice(range(0))
        summary = Sweep(store, second, NETWORKS, options).run()
        assert (summary.done, summary.skipped) == (4, 2)
        assert sorted(first.calls + second.calls) == sorted(n.name for n in NETWORKS)
        assert store.count("measurements") == 6
        fileless = Network("id-nofile", "net-nofile", "tiny")
        store.put_network(fileless)
        third = Sweep(store, ScriptedDevice(range(0)), NETWORKS + [fileless], options).run()
        assert (third.done, third.skipped, third.no_file) == (0, 6, 1)
        assert "no file" in format_summary([third]).splitlines()[0]


def test_protocol_helpers():
    assert big_core_mask([1785.6, 1785.6, 2419.2, 2841.6]) == "8"
    assert big_core_mask([1000.0, 1000.0]) == "2" and big_core_mask([1.0, 3.0, 2.0], 2) == "6"
    assert drifted(10.0, 10.6, 0.05) and not drifted(10.0, 10.4, 0.05)
    assert not drifted(None, 10.0, 0.05)
    assert shuffled(["a", "b", "c", "d"], 1, "x") == shuffled(["d", "c", "b", "a"], 1, "x")
    command = benchmark_command("benchmark_model", "models/m.tflite",
                                RunConfig(delegate="xnnpack", timeout_s=30), "80")
    assert command.startswith("cd /data/local/tmp/dnncost && { p=; trap ")
    assert "timeout -s KILL 30 taskset 80 ./benchmark_model --graph=models/m.tflite " \
        "--num_threads=1" in command and command.endswith(" & p=$!; wait $p; }")
    assert "--use_xnnpack=true" in command and "--num_runs=30" in command
    with pytest.raises(InputError, match="unknown delegate"):
        RunConfig(delegate="dsp")
    with pytest.raises(InputError, match="not hex"):
        RunConfig(core_mask="zz")


def test_binary_cached_or_offline_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with socket.socket() as sock:  # a port nobody listens on: the download cannot happen
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    with pytest.raises(ToolError) as error:
        resolve_binary("arm64-v8a", base_url=closed, timeout_s=5)
    cached = tmp_path / "cache" / "dnncost" / "android_aarch64_benchmark_model"
    assert f"fetch {closed}android_aarch64_benchmark_model and save it as {cached}" \
        in str(error.value)
    assert not cached.exists()
    cached.write_bytes(b"\x7fELF")
    assert resolve_binary("arm64-v8a", base_url=closed) == cached
    with pytest.raises(ToolError, match="no prebuilt benchmark_model for ABI 'x86'"):
        resolve_binary("x86", base_url=closed)
    with pytest.raises(InputError, match="is not a file"):
        resolve_binary("arm64-v8a", explicit=str(tmp_path / "missing"))


def test_signature_files_in_both_shapes(tmp_path):
    import json

    from dnncost.bench.signature import read_signature, select

    (tmp_path / "signature.json").write_text(json.dumps(
        {"networks": [{"id": "id1", "name": "net1"}, {"id": "id3"}]}))
    (tmp_path / "plain.json").write_text(json.dumps(["net2", "net4"]))
    assert read_signature(tmp_path) == ["net1", "id3"]
    assert [n.name for n in select(NETWORKS, read_signature(tmp_path), "sig")] == ["net1", "net3"]
    assert read_signature(tmp_path / "plain.json") == ["net2", "net4"]
    (tmp_path / "bad.json").write_text(json.dumps({"networks": []}))
    with pytest.raises(InputError, match="has no networks"):
        read_signature(tmp_path / "bad.json")
    with pytest.raises(InputError, match="names networks the store lacks"):
        select(NETWORKS, ["net9"], "sig")

"""The emulated Android device: the real adb server and adbutils talk to it end to end."""

from __future__ import annotations

import random
import re
import struct
import subprocess
import threading
import time
from pathlib import Path

import adbutils
import pytest

from dnncost.errors import InputError
from emulator.fixtures import AdbServer, EmulatedDevice, free_port

TINY = Path(__file__).resolve().parent / "emulator" / "models" / "tiny_int8.tflite"
WORK = "/data/local/tmp/dnncost"
STAT = re.compile(r"count=(\d+) first=(\d+) curr=(\d+) min=(\d+) max=(\d+) avg=([\d.e+]+) "
                  r"std=(\d+)")
RUN = (f"taskset 80 {WORK}/benchmark_model --graph={WORK}/tiny.tflite --num_threads=1 "
       "--num_runs=30 --warmup_runs=1 --warmup_min_secs=0 --min_secs=0")


def install_tool(dev: EmulatedDevice) -> adbutils.AdbDevice:
    """Push the stand-in benchmark_model and the tiny model, as the bench driver does."""
    d = dev.adb_device()
    d.shell(f"mkdir -p {WORK}")
    d.sync.push(dev.standin, f"{WORK}/benchmark_model", mode=0o755)
    d.sync.push(TINY, f"{WORK}/tiny.tflite")
    return d


def test_shell_v1_and_v2_exit_codes(emulated_device) -> None:
    d = emulated_device().adb_device()
    assert d.shell("echo hello; echo oops >&2") == "hello\noops"
    v1 = d.shell2("echo out; echo err >&2; (exit 3)")
    assert (v1.returncode, v1.output) == (3, "out\nerr\n")
    v2 = d.shell2("echo out; echo err >&2; exit 5", v2=True)
    assert (v2.returncode, v2.stdout, v2.stderr) == (5, "out\n", "err\n")


def test_profile_answers_getprop_proc_and_sys(emulated_device) -> None:
    dev = emulated_device(profile="pixel4", serial_hint="PIXEL-A")
    d, prof = dev.adb_device(), dev.profile
    assert d.shell("getprop ro.product.model") == prof["props"]["ro.product.model"]
    assert d.shell("getprop ro.serialno") == "PIXEL-A"
    listing = d.shell("getprop")
    assert "[ro.product.cpu.abi]: [arm64-v8a]" in listing.splitlines()
    freqs = d.shell("cat /sys/devices/system/cpu/cpu*/cpufreq/cpuinfo_max_freq").split()
    assert freqs == [str(c["max_khz"]) for c in dev.profile["cpus"]]
    assert d.shell("cat /sys/devices/system/cpu/possible") == f"0-{len(prof['cpus']) - 1}"
    assert d.shell("head -1 /proc/meminfo").split()[1] == str(prof["meminfo_kb"]["MemTotal"])
    zone1 = str(prof["thermal_zones"][1]["temp_mc"])
    assert d.shell("cat /sys/class/thermal/thermal_zone1/temp") == zone1
    dev.set_temperature(71.5, for_s=0.3)
    assert d.shell("cat /sys/class/thermal/thermal_zone1/temp") == "71500"
    deadline = time.monotonic() + 10
    while d.shell("cat /sys/class/thermal/thermal_zone1/temp") != zone1:  # cooled down
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert d.shell("cat /sys/class/power_supply/battery/capacity") == \
        str(prof["battery"]["capacity"])
    assert d.shell("cd /data/local/tmp && pwd") == "/data/local/tmp"  # host path hidden
    arm7 = emulated_device(profile="galaxy_j5").adb_device()
    assert arm7.shell("getprop ro.product.cpu.abi") == "armeabi-v7a"
    assert arm7.shell("grep -c ^processor /proc/cpuinfo") == "4"


def test_push_pull_1mb_byte_exact(emulated_device, tmp_path: Path) -> None:
    dev = emulated_device()
    d = dev.adb_device()
    payload = random.Random(7).randbytes(1 << 20)
    assert d.sync.push(payload, "/data/local/tmp/blob.bin") == len(payload)
    assert (dev.sandbox / "blob.bin").read_bytes() == payload
    assert d.sync.stat("/data/local/tmp/blob.bin").size == len(payload)
    assert "blob.bin" in [f.path for f in d.sync.list("/data/local/tmp")]
    d.sync.pull("/data/local/tmp/blob.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == payload
    assert d.shell("sha256sum /data/local/tmp/blob.bin").split()[0] == \
        __import__("hashlib").sha256(payload).hexdigest()
    with pytest.raises(adbutils.AdbError):
        d.sync.read_bytes("/data/local/tmp/missing.bin")


def _command_line_roundtrip(server: AdbServer, dev: EmulatedDevice, adb_path: str,
                            tmp_path: Path) -> None:
    serial, src = dev.serial, tmp_path / "cli.bin"
    src.write_bytes(random.Random(3).randbytes(300_000))
    r = server.adb("-s", serial, "shell", "getprop ro.product.model; exit 4", adb_path=adb_path)
    assert (r.returncode, r.stdout.strip()) == (4, dev.profile["props"]["ro.product.model"])
    r = server.adb("-s", serial, "push", str(src), "/data/local/tmp/", adb_path=adb_path)
    assert r.returncode == 0, r.stderr
    r = server.adb("-s", serial, "pull", "/data/local/tmp/cli.bin", str(tmp_path / "got.bin"),
                   adb_path=adb_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got.bin").read_bytes() == src.read_bytes()


def test_adb_command_line_bundled(adb_server: AdbServer, emulated_device, tmp_path: Path) -> None:
    dev = emulated_device()
    r = adb_server.adb("devices")
    assert f"{dev.serial}\tdevice" in r.stdout
    _command_line_roundtrip(adb_server, dev, adb_server.adb_path, tmp_path)


@pytest.mark.skipif(not Path("/usr/bin/adb").exists(), reason="Debian adb not installed")
def test_debian_adb_server_accepts_device(emulated_device, tmp_path: Path) -> None:
    dev = emulated_device()  # also attached to the fixture's adb 36 server
    server = AdbServer("127.0.0.1", free_port(), "/usr/bin/adb")
    assert server.adb("start-server").returncode == 0
    try:
        r = server.adb("connect", dev.serial)
        assert "connected" in r.stdout, r.stdout + r.stderr
        deadline = time.monotonic() + 10
        while f"{dev.serial}\tdevice" not in server.adb("devices").stdout:
            assert time.monotonic() < deadline, "Debian adb never saw the device"
            time.sleep(0.1)
        _command_line_roundtrip(server, dev, server.adb_path, tmp_path)
        assert server.client().device(dev.serial).shell2("(exit 2)", v2=True).returncode == 2
    finally:
        server.adb("kill-server")


def test_standin_benchmark_run_is_parseable(emulated_device) -> None:
    dev = emulated_device()
    d = install_tool(dev)
    out = d.shell2(RUN, v2=True, timeout=60)
    assert out.returncode == 0, out.output
    assert out.stdout == ""  # like TFLite's logger, everything goes to stderr
    lines = out.stderr.splitlines()
    assert lines[0] == "INFO: STARTING!"
    assert f"INFO: Graph: [{WORK}/tiny.tflite]" in lines
    stats = [STAT.search(line) for line in lines if STAT.search(line)]
    assert [int(m.group(1)) for m in stats] == [1, 30]
    timed = [float(x) for x in stats[1].groups()]
    assert 0 < timed[3] <= timed[5] <= timed[4]
    summary = re.search(r"INFO: Inference timings in us: Init: ([\d.e+]+), First inference: "
                        r"(\d+), Warmup \(avg\): ([\d.e+]+), Inference \(avg\): ([\d.e+]+)",
                        out.stderr)
    assert summary and float(summary.group(4)) == pytest.approx(timed[5], rel=1e-5)
    assert "INFO: Overall peak memory footprint (MB) via periodic monitoring:" in out.stderr
    assert dev.taskset_masks == ["80"]
    assert dev.commands[-1] == RUN
    record = dev.command_log[-1]
    assert record.command == RUN and record.exit_code == 0
    assert record.wall_s * 1e6 >= sum(int(m.group(1)) * float(m.group(6)) for m in stats)


def test_fault_tool_fails(emulated_device) -> None:
    dev = emulated_device()
    d = install_tool(dev)
    dev.inject("fail", message="Failed to apply GPU delegate.")
    out = d.shell2(RUN, v2=True, timeout=30)
    assert out.returncode == 1
    assert out.stderr.splitlines()[-2:] == ["ERROR: Failed to apply GPU delegate.",
                                            "ERROR: Benchmarking failed."]
    assert d.shell2(RUN, v2=True, timeout=60).returncode == 0  # one-shot by default
    dev.inject("fail", after_commands=1, times=2)
    d.shell("echo not a benchmark run")  # does not match "--graph": not counted
    codes = [d.shell2(RUN, v2=True, timeout=60).returncode for _ in range(4)]
    assert codes == [0, 1, 1, 0]
    assert dev.fired == ["fail"] * 3
    assert [r.exit_code for r in dev.command_log if r.command == RUN] == [1, 0, 0, 1, 1, 0]


def test_fault_garbage_output(emulated_device) -> None:
    dev = emulated_device()
    d = install_tool(dev)
    dev.inject("garbage", seed=1)
    out = d.shell(RUN, timeout=30)
    assert out and "count=" not in out and "Inference timings" not in out
    assert dev.fired == ["garbage"]


def test_fault_slow_stretches_reported_latency(emulated_device) -> None:
    dev = emulated_device()
    d = install_tool(dev)
    dev.inject("slow", factor=4, after_commands=2, times=-1)
    runs = [STAT.findall(d.shell(RUN, timeout=60)) for _ in range(4)]
    cold, warm, slow1, slow2 = (int(r[-1][3]) for r in runs)  # min of the timed runs, us
    base = min(cold, warm)  # the first run after the push is cold: not the base alone
    assert slow1 > 2 * base and slow2 > 2 * base
    assert dev.fired == ["slow", "slow"]


def test_a_closed_stream_hangs_up_the_shell_alone_as_adbd_does(emulated_device) -> None:
    """adbd sends SIGHUP to the shell only: a tool the shell started runs on (the command
    below, where the shell cannot exec the tool in its place), unless the shell kills it
    on the hangup (bench's commands do)."""
    from dnncost.bench.protocol import RunConfig, benchmark_command

    dev = emulated_device()
    d = install_tool(dev)
    dev.inject("hang", seconds=600, times=2)
    with pytest.raises(adbutils.AdbTimeout):
        d.shell(f"cd {WORK} && timeout -s KILL 600 {RUN}; echo done", timeout=1)
    time.sleep(0.5)
    assert len(_tools_running(dev)) == 1  # the shell is gone, its tool is not
    dev.daemon.kill_sessions()  # the device kills it (a reboot)
    _wait_until(lambda: not _tools_running(dev), "the device's kill")
    guarded = benchmark_command("benchmark_model", "tiny.tflite", RunConfig(timeout_s=600), "80")
    with pytest.raises(adbutils.AdbTimeout):
        d.shell(guarded, timeout=1)
    _wait_until(lambda: not _tools_running(dev) and not dev.daemon._sessions, "the hangup")
    assert d.shell("echo alive") == "alive"


def _tools_running(dev: EmulatedDevice) -> list[str]:
    return [line for line in _processes().splitlines()
            if str(dev.sandbox) in line and "benchmark_model" in line and "timeout" not in line]


def _wait_until(condition, what: str, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"the hung tool outlived {what}"
        time.sleep(0.05)


def _processes() -> str:
    return subprocess.run(["ps", "-ww", "-eo", "args"], capture_output=True, text=True).stdout


def test_fault_disk_full_on_push(adb_server: AdbServer, emulated_device) -> None:
    dev = emulated_device()
    d = dev.adb_device()
    dev.inject("disk_full", match=".tflite", times=2)
    with pytest.raises(adbutils.AdbError):  # adbutils reports only "FAIL"
        d.sync.push(TINY, "/data/local/tmp/a.tflite")
    r = adb_server.adb("-s", dev.serial, "push", str(TINY), "/data/local/tmp/a.tflite")
    assert r.returncode != 0 and "No space left on device" in r.stderr, r.stderr
    assert not (dev.sandbox / "a.tflite").exists()
    d.sync.push(TINY, "/data/local/tmp/a.tflite")
    assert (dev.sandbox / "a.tflite").read_bytes() == TINY.read_bytes()
    assert dev.pushes == ["/data/local/tmp/a.tflite"] * 3


def test_fault_drop_mid_run_then_device_returns(emulated_device) -> None:
    dev = emulated_device()
    d = install_tool(dev)
    dev.inject("drop", delay_s=0.2)
    with pytest.raises((adbutils.AdbError, EOFError)):  # adbutils: EOFError on a cut stream
        out = d.shell2(RUN.replace("--warmup_min_secs=0", "--warmup_min_secs=3"), v2=True,
                       timeout=20)
        raise adbutils.AdbError(f"run survived the drop: {out}")  # pragma: no cover
    assert dev.fired == ["drop"]
    dev.connect()  # the adb server may already have reconnected on its own
    assert d.shell("echo back") == "back"


def test_fault_drop_without_reconnect_leaves_device_offline(emulated_device) -> None:
    dev = emulated_device()
    d = dev.adb_device()
    dev.inject("drop", match="sleep", reconnect=False, delay_s=0.1)
    with pytest.raises((adbutils.AdbError, EOFError)):
        d.shell2("sleep 5", v2=True, timeout=20)
    dev.wait_state("offline", timeout_s=5)
    time.sleep(0.5)  # the adb server's reconnect attempts find nobody listening
    assert dev.state() == "offline"
    dev.connect()
    assert d.shell("echo back") == "back"


def test_sync_v2_requests(emulated_device) -> None:
    dev = emulated_device()
    (dev.sandbox / "f.bin").write_bytes(b"x" * 1234)
    with dev.adb_device().open_transport(timeout=10) as c:
        c.send_command("sync:")
        c.check_okay()
        for path in (b"/data/local/tmp/f.bin", b"/data/local/tmp/nope"):
            c.conn.sendall(b"STA2" + struct.pack("<I", len(path)) + path)
            tag, error, _dev, _ino, mode, _nlink, _uid, _gid, size = struct.unpack(
                "<4sIQQIIIIQ", c.read_exact(48))
            c.read_exact(24)  # atime, mtime, ctime
            assert tag == b"STA2"
            assert (error, size) == ((0, 1234) if path.endswith(b"bin") else (2, 0))
        c.conn.sendall(b"QUIT" + struct.pack("<I", 0))


def test_disconnect_makes_device_disappear(emulated_device) -> None:
    dev = emulated_device()
    dev.disconnect()
    dev.wait_state("offline", timeout_s=5)
    with pytest.raises(adbutils.AdbError):
        dev.adb_device().shell("echo hi", timeout=3)
    dev.connect()
    assert dev.adb_device().shell("echo hi") == "hi"
    dev.disconnect(forget=True)
    dev.wait_state(None, timeout_s=5)
    dev.connect()
    assert dev.adb_device().shell("echo again") == "again"


def test_concurrent_streams_on_one_device(emulated_device) -> None:
    d = emulated_device().adb_device()
    gate = "/data/local/tmp/gate"
    waiting = d.shell(f"while [ ! -e {gate} ]; do sleep 0.02; done; echo through", stream=True)
    assert [d.shell(f"echo {i}") for i in range(3)] == ["0", "1", "2"]
    d.shell(f"touch {gate}")  # served while the first stream still runs
    waiting.conn.settimeout(10)
    assert waiting.read_until_close().strip() == "through"


def test_bad_profile_and_fault_names_say_what_to_use(emulated_device) -> None:
    with pytest.raises(InputError, match="pixel4"):
        emulated_device(profile="nokia3310")
    with pytest.raises(InputError, match="disk_full"):
        emulated_device().inject("meteor")


def test_two_devices_at_once(emulated_device) -> None:
    a, b = emulated_device("pixel4"), emulated_device("galaxy_j5")
    assert a.serial != b.serial
    results: dict[str, str] = {}

    def run(dev: EmulatedDevice) -> None:
        d = install_tool(dev)
        results[dev.serial] = d.shell(RUN, timeout=60) + d.shell("getprop ro.product.model")

    threads = [threading.Thread(target=run, args=(dev,)) for dev in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    for dev in (a, b):
        assert "count=30" in results[dev.serial]
        assert results[dev.serial].endswith(dev.profile["props"]["ro.product.model"])
    assert a.commands[-2] == b.commands[-2] == RUN

"""The fault matrix's process cases: two sweeps of one device, kill -9 during a drift
cool-down and of gen, a lost adb server, many first opens of one new store."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnncost.store import Store
from test_bench_models import tiny_network_store

DNNCOST = str(Path(sys.executable).parent / "dnncost")


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([DNNCOST, "-q", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout: float = 60.0, what: str = "it") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _rows(store: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(store, timeout=30) as db:
        return db.execute(sql).fetchall()


def test_one_sweep_of_a_device_into_a_store_at_a_time(tmp_path_factory, tmp_path) -> None:
    store = tiny_network_store(tmp_path_factory, tmp_path / "s.sqlite")
    slow = ("--runs", "60000", "--warmup-runs", "0", "--canary-every", "0")
    first = _start("bench", "--device", "local", *slow, "--store", str(store))
    try:
        _wait_for(lambda: _rows(store, "SELECT COUNT(*) FROM devices")[0][0] > 0,
                  what="the first sweep to start")
        second = subprocess.run([DNNCOST, "bench", "--device", "local", "--store", str(store)],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert f"pid {first.pid} on {socket.gethostname()}" in second.stderr
        assert "already" in second.stderr and "--wait" in second.stderr
        other = subprocess.run([DNNCOST, "-q", "bench", "--device", "local", "--local-profile",
                                "t1-xnnpack", "--runs", "3", "--store", str(store)],
                               capture_output=True, text=True, timeout=120)
        assert other.returncode == 0, other.stderr  # another device: runs beside it
        first.send_signal(signal.SIGKILL)  # the lock dies with its process
        first.wait(30)
        third = subprocess.run([DNNCOST, "-q", "bench", "--device", "local", "--runs", "3",
                                "--store", str(store), "--wait"], capture_output=True,
                               text=True, timeout=120)
        assert third.returncode == 0, third.stderr
    finally:
        first.kill()
    rows = _rows(store, "SELECT device_id, COUNT(*), SUM(error IS NULL) FROM measurements "
                        "GROUP BY device_id")
    assert sorted(count for _, count, ok in rows if ok == count) == [4, 4]


def test_a_kill_during_the_drift_cool_down_keeps_no_drifted_row(
        tmp_path_factory, tmp_path, adb_server, emulated_device) -> None:
    from emulator.fixtures import STANDIN

    store = tiny_network_store(tmp_path_factory, tmp_path / "s.sqlite")
    dev = emulated_device(profile="pixel4")
    # From the 2nd canary on, every run takes 20 times as long: far past the 30 %
    # tolerance however much a loaded host stretches the (real, sub-ms) reference run.
    dev.inject("slow", after_commands=3, times=-1, factor=20.0)
    args = ("bench", "--device", dev.serial, "--adb", f"{adb_server.host}:{adb_server.port}",
            "--benchmark-binary", str(STANDIN), "--runs", "5", "--warmup-runs", "1",
            "--canary-every", "2", "--drift-tolerance", "0.3", "--store", str(store))
    sweep = _start(*args, "--drift-cooldown", "120")
    try:
        _wait_for(lambda: _rows(store, "SELECT COUNT(*) FROM measurements WHERE error LIKE "
                                "'%canary drifted%'")[0][0] >= 1, what="the drifted canary")
        time.sleep(0.5)  # in the cool-down now
        sweep.send_signal(signal.SIGKILL)
        sweep.wait(30)
    finally:
        sweep.kill()
    rows = _rows(store, "SELECT network_id, error FROM measurements")
    assert len(rows) == 2 and all("canary drifted" in (error or "") for _, error in rows)
    dev.clear_faults()
    again = subprocess.run([DNNCOST, "-q", *args, "--drift-cooldown", "0"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    rows = _rows(store, "SELECT network_id, error FROM measurements")
    assert len(rows) == 4 and all(error is None for _, error in rows)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_kill_9_of_gen_ends_its_worker(tmp_path: Path) -> None:
    gen = _start("gen", "--count", "6", "--jobs", "1", "--store", str(tmp_path / "s.sqlite"),
                 "--out", str(tmp_path / "models"))
    try:
        _wait_for(lambda: any(_alive(c) for c in _children(gen.pid)), what="the worker")
        time.sleep(3.0)  # the worker is busy converting now
        workers = [c for c in _children(gen.pid) if _alive(c)]
        gen.send_signal(signal.SIGKILL)
        gen.wait(30)
        _wait_for(lambda: not any(_alive(w) for w in workers), timeout=15,
                  what="the orphaned worker to end")
    finally:
        gen.kill()


def test_a_lost_adb_server_is_reported_not_replaced(tmp_path_factory, tmp_path) -> None:
    from emulator.fixtures import STANDIN, running_adb_server, start_device

    def listening(port: int) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    if listening(5037):
        pytest.skip("an adb server listens on 5037 already: cannot tell a new one from it")
    store = tiny_network_store(tmp_path_factory, tmp_path / "s.sqlite")
    with running_adb_server() as server:
        dev = start_device(server, tmp_path / "device", "pixel4")
        dev.inject("hang", times=-1, seconds=30)  # keeps the sweep inside a run
        sweep = _start("bench", "--device", dev.serial, "--adb", f"{server.host}:{server.port}",
                       "--benchmark-binary", str(STANDIN), "--canary-every", "0",
                       "--reconnect-wait", "2", "--store", str(store))
        try:
            _wait_for(lambda: bool(dev.tool_runs), what="a run")
            server.adb("kill-server", timeout=10)
            out, err = sweep.communicate(timeout=120)
        finally:
            sweep.kill()
            dev.stop()
    assert sweep.returncode == 2, err
    assert "stopped answering" in err and f":{server.port}" in err
    assert not listening(5037)  # dnncost started no server of its own


def test_many_first_opens_of_one_new_store(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    code = ("import sys; from dnncost.store import Store\n"
            f"with Store({str(path)!r}) as s: print(s.schema_version())")
    opens = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    results = [(p.wait(60), p.stdout.read().strip(), p.stderr.read()) for p in opens]
    assert [(code, out) for code, out, _ in results] == [(0, "1")] * 6, results
    with Store(path) as store:
        assert store.count("networks") == 0

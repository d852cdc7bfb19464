"""pytest fixtures: a private adb server (`adb_server`) and emulated devices (`emulated_device`).

    def test_x(adb_server, emulated_device):
        dev = emulated_device(profile="pixel4")
        client = adb_server.client()
        client.device(dev.serial).shell("getprop ro.product.model")

Outside pytest (benchmarks/ scripts, with tests/ on sys.path):

    with running_adb_server() as server:
        dev = start_device(server, Path(tmp), "pixel4")
        ...
        dev.stop()
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import adbutils
import pytest

from dnncost.errors import DeviceError

from .adbd import CommandRecord, EmulatedAdbd, Fault
from .device import load_profile
from .runs import ToolRun

HOST = "127.0.0.1"
STANDIN = Path(__file__).resolve().parent / "benchmark_model_standin.py"


def bundled_adb() -> str:
    """The adb binary shipped inside adbutils (adbutils.adb_path() prefers one on PATH)."""
    path = Path(adbutils.__file__).resolve().parent / "binaries" / "adb"
    return str(path) if path.exists() else adbutils.adb_path()


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class AdbServer:
    """An adb server this test session started on its own port (never 5037)."""

    host: str
    port: int
    adb_path: str

    def client(self) -> adbutils.AdbClient:
        """An adbutils client of this server."""
        return adbutils.AdbClient(host=self.host, port=self.port)

    def is_up(self) -> bool:
        """Whether the server still listens (adbutils would start one on 5037 if not)."""
        with socket.socket() as probe:
            return probe.connect_ex((self.host, self.port)) == 0

    def env(self) -> dict[str, str]:
        """Environment that points adb command lines at this server."""
        env = {k: v for k, v in os.environ.items() if k != "ANDROID_SERIAL"}
        env["ANDROID_ADB_SERVER_PORT"] = str(self.port)
        env["ADB_LIBUSB"] = "0"  # no USB scan: start-server takes 20 ms instead of 3 s
        # No scan of the emulator ports 5555-5585 either: an emulator someone runs there
        # (`python -m emulator --port 5555`) joined test servers as emulator-5554.
        # (ADB_LOCAL_TRANSPORT_MAX_PORT would race: adb reads it after its scan starts.)
        env["ADB_EMU"] = "0"
        return env

    def adb(self, *args: str, timeout: float = 30, adb_path: Optional[str] = None
            ) -> subprocess.CompletedProcess[str]:
        """Run an adb command line against this server (emulator tests only)."""
        return subprocess.run([adb_path or self.adb_path, "-P", str(self.port), *args],
                              env=self.env(), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


class EmulatedDevice:
    """A running emulated device, attached to an adb server as 127.0.0.1:PORT.

    Faults (`inject(kind, **params)`); each hits matching runs `times` times (default 1,
    negative: always) after skipping `after_commands` matching ones; `match` is a substring of
    the benchmark_model command line (default "--graph": every run, whether its shell runs one
    command or a loop), for a drop whose match does not start with "--" of the shell command,
    and for disk_full of the pushed device path (default "": any push):
      drop      cut the TCP connection `delay_s` (0.3) after the run (or command) starts; with
                reconnect=False the device also stops listening, so it stays gone
      fail      the stand-in prints `ERROR: <message>` (default "Failed to allocate tensors!",
                e.g. "Failed to apply GPU delegate.") and `ERROR: Benchmarking failed.`, exit 1
      hang      the stand-in prints its first lines, then sleeps `seconds` (600)
      garbage   the stand-in prints seeded random junk (`seed`) and exits 0
      slow      the stand-in stretches every run by `factor` (1.5): a throttled phone, for
                drift tests (e.g. after_commands=5, times=-1)
      disk_full sync SEND answered with FAIL "No space left on device" (`message`)
    """

    def __init__(self, server: AdbServer, daemon: EmulatedAdbd) -> None:
        self.server, self.daemon = server, daemon
        self.serial = f"{HOST}:{daemon.port}"
        self.sandbox: Path = daemon.fs.sandbox
        self.root: Path = daemon.fs.root
        self.profile: dict[str, Any] = daemon.profile
        self.standin = STANDIN

    @property
    def commands(self) -> list[str]:
        """Shell commands received, in order (as the host sent them)."""
        return self.daemon.commands

    @property
    def command_log(self) -> list[CommandRecord]:
        """Every finished shell command with its exit code and device-side wall time."""
        return self.daemon.command_log

    @property
    def tool_runs(self) -> list[str]:
        """benchmark_model command lines, in the order the runs started (one per run,
        whether its shell ran one command or a loop of them)."""
        return self.daemon.runs.commands

    @property
    def run_log(self) -> list[ToolRun]:
        """Every finished tool run with its exit code and device-side wall time."""
        return self.daemon.runs.log

    @property
    def pushes(self) -> list[str]:
        """Device paths pushed with sync SEND, in order."""
        return self.daemon.pushes

    @property
    def taskset_masks(self) -> list[str]:
        """Masks given to taskset, in order."""
        return self.daemon.fs.taskset_masks()

    @property
    def fired(self) -> list[str]:
        """Kinds of the faults that fired so far."""
        return self.daemon.fired

    def inject(self, kind: str, **params: Any) -> Fault:
        """Arm a fault (see the class docstring)."""
        return self.daemon.inject(kind, **params)

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self.daemon.clear_faults()

    def set_temperature(self, celsius: float, for_s: Optional[float] = None) -> None:
        """Make every thermal zone report celsius; after for_s seconds, the profile's again."""
        self.daemon.fs.set_temperature(celsius)
        if for_s is not None:
            timer = threading.Timer(for_s, self.daemon.fs.reset_temperatures)
            timer.daemon = True
            timer.start()

    def adb_device(self) -> adbutils.AdbDevice:
        """This device through the fixture's adb server."""
        return self.server.client().device(self.serial)

    def state(self) -> Optional[str]:
        """State in the adb server's list ('device', 'offline', ...) or None when absent."""
        for info in self.server.client().list():
            if info.serial == self.serial:
                return info.state
        return None

    def wait_state(self, want: Optional[str], timeout_s: float = 15) -> None:
        """Wait until the adb server lists this device in state `want` (None: absent)."""
        deadline = time.monotonic() + timeout_s
        while (state := self.state()) != want:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.serial} is {state!r}, not {want!r}")
            time.sleep(0.05)

    def connect(self, timeout_s: float = 15) -> None:
        """(Re)listen if needed, `adb connect` and wait for state device."""
        if self.daemon._listener is None:
            self.daemon.start()
        if self.state() is not None and self.state() != "device":
            # an offline transport answers "already connected" and retries only on its backoff
            self.server.client().disconnect(self.serial)
            self.wait_state(None, timeout_s=5)
        deadline = time.monotonic() + timeout_s
        while True:
            self.server.client().connect(self.serial, timeout=5)
            try:
                self.wait_state("device", timeout_s=min(3.0, max(0.1, deadline - time.monotonic())))
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def disconnect(self, forget: bool = False) -> None:
        """Drop the TCP connection and stop listening, as a phone that left the network.

        The adb server then lists the device as 'offline' (it keeps trying to reconnect) and
        every command to it fails; with forget=True it is also `adb disconnect`ed (absent).
        `connect()` brings it back.
        """
        self.daemon.stop_listening()
        self.daemon.drop_connections()
        if forget and self.server.is_up():
            try:
                self.server.client().disconnect(self.serial)
            except adbutils.AdbError:
                pass

    def stop(self) -> None:
        """`adb disconnect` this device and stop its daemon (kills what still runs)."""
        if self.server.is_up():
            try:
                self.server.client().disconnect(self.serial)
            except adbutils.AdbError:
                pass
        self.daemon.stop()


@contextmanager
def running_adb_server(adb_path: Optional[str] = None) -> Iterator[AdbServer]:
    """Start an adb server on a free port (bundled adb by default); kill it on exit."""
    server = AdbServer(HOST, free_port(), adb_path or bundled_adb())
    started = server.adb("start-server")
    if started.returncode != 0:
        raise DeviceError(f"adb start-server on port {server.port} failed: "
                          f"{started.stderr.strip()}; check {server.adb_path}")
    try:
        yield server
    finally:
        server.adb("kill-server", timeout=10)


def start_device(server: AdbServer, base: Path, profile: str = "pixel4",
                 serial_hint: Optional[str] = None) -> EmulatedDevice:
    """Start an emulated device under base/ and attach it to server (state `device`).

    serial_hint sets its ro.serialno; the adb serial is always 127.0.0.1:PORT.
    """
    prof = load_profile(profile)
    daemon = EmulatedAdbd(base, prof, serial=serial_hint or prof["props"]["ro.serialno"])
    daemon.start()
    dev = EmulatedDevice(server, daemon)
    try:
        dev.connect()
    except Exception:
        daemon.stop()
        raise
    return dev


@pytest.fixture(scope="session")
def adb_server() -> Iterator[AdbServer]:
    """Our own adb server (the adbutils-bundled adb) on a free port; killed at the end."""
    with running_adb_server() as server:
        yield server


@pytest.fixture()
def emulated_device(adb_server: AdbServer, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[Callable[..., EmulatedDevice]]:
    """Factory: make(profile="pixel4", serial_hint=None) -> a connected EmulatedDevice.

    Every device made is `adb disconnect`ed and stopped at teardown.
    """
    made: list[EmulatedDevice] = []

    def make(profile: str = "pixel4", serial_hint: Optional[str] = None) -> EmulatedDevice:
        base = tmp_path_factory.mktemp(f"device-{Path(profile).stem}")
        dev = start_device(adb_server, base, profile,
                           serial_hint or f"{load_profile(profile)['props']['ro.serialno']}"
                                          f"{len(made)}")
        made.append(dev)
        return dev

    try:
        yield make
    finally:
        for dev in made:
            dev.stop()

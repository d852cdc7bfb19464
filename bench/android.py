"""One Android device over adb (adbutils only): describe it, push files, run the tool.

The device id is ``<ro.product.model>_<adb serial>`` sanitized (for example
``Pixel_4_98AX1Y8LK`` or ``Pixel_4_192.168.1.7_5555``): readable in tables and unique
per attached phone. A phone reached over TCP under another address counts as
another device.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, TypeVar

import adbutils

from dnncost.bench import protocol
from dnncost.bench.binary import resolve_binary
from dnncost.bench.loop import LoopEnded, RunLoop
from dnncost.bench.parse import parse_output
from dnncost.bench.runner import DeviceGone, Outcome
from dnncost.bench.servers import ADB_FAILURES, listening
from dnncost.errors import DeviceError
from dnncost.records import Device, Network, NetworkFile, RunStats, sha256_file

_CPU = "/sys/devices/system/cpu"
_BATTERY = "/sys/class/power_supply/battery"
_WATCHED_ZONES = ("cpu", "soc", "tsens", "big", "little", "cluster", "ap")
_MARK = "__dnncost_tool_starts__"
_T = TypeVar("_T")


def _split_temperature(result: adbutils.ShellReturn) -> tuple[float | None, str]:
    """(hottest reading, the tool's output) of a run command prefixed by the zone reads."""
    stdout = result.stdout if _MARK in (result.stdout or "") else result.output
    readings, sep, _ = stdout.partition(_MARK + "\n")
    if not sep:
        return None, result.output
    return _hottest(readings), result.output.replace(readings + sep, "", 1)


def _hottest(readings: str) -> float | None:
    """The highest of whitespace-separated thermal readings, in degrees C."""
    values = [v for v in map(protocol.temperature_c, readings.split()) if v is not None]
    return max(values) if values else None


class AndroidRunner:
    """Runs benchmark_model on one phone; raises :class:`DeviceGone` when it vanishes."""

    file_format: str

    def __init__(self, client: adbutils.AdbClient, serial: str, run: protocol.RunConfig,
                 benchmark_binary: str | None = None, reconnect_wait_s: float = 10.0,
                 persistent_shell: bool = True) -> None:
        self.client, self.serial, self.run = client, serial, run
        self.reconnect_wait_s = reconnect_wait_s
        self.persistent_shell = persistent_shell  # False: one `adb shell` per run
        self.file_format = run.file_format
        self.benchmark_binary = benchmark_binary
        self.device_id = protocol.sanitize_id(serial)
        self._device = client.device(serial)
        self._mask: str | None = None
        self._zones: list[str] = []
        self._remote_models: set[str] = set()
        self._loop: RunLoop | None = None

    # -- adb plumbing --------------------------------------------------------------
    def present(self) -> bool:
        """Whether the device is online within ``reconnect_wait_s`` (TCP ones get
        `adb connect` meanwhile)."""
        deadline = time.monotonic() + self.reconnect_wait_s
        while True:
            try:
                if self._device.get_state() == "device":
                    return True
            except ADB_FAILURES:
                pass
            if time.monotonic() > deadline:
                return False
            if ":" in self.serial:
                try:
                    self.client.connect(self.serial, timeout=3)
                except ADB_FAILURES:
                    pass
            time.sleep(0.3)

    def shell(self, command: str, timeout_s: float = 30.0) -> adbutils.ShellReturn:
        """Run a shell command; adb failures become DeviceGone (or retry once if present)."""
        return self._retried(lambda: self._device.shell2(command, timeout=timeout_s, v2=True))

    def _retried(self, call: Callable[[], _T], before_retry: Callable[[], None] = lambda: None
                 ) -> _T:
        """``call()``, once more if it failed on adb and the device is back; DeviceGone
        when it is not (AdbTimeout passes through)."""
        for attempt in (1, 2):
            try:
                return call()
            except adbutils.AdbTimeout:
                raise
            except ADB_FAILURES as exc:
                before_retry()
                if not listening(self.client.host, self.client.port):
                    raise DeviceGone(f"the adb server {self.client.host}:{self.client.port} "
                                     "stopped answering: restart it (`adb start-server`) and "
                                     "rerun") from None
                if attempt == 2 or not self.present():
                    raise DeviceGone(f"device {self.serial} disappeared ({exc})") from None
        raise AssertionError("unreachable")

    def _text(self, command: str) -> str:
        return self.shell(command).stdout

    # -- describe ------------------------------------------------------------------
    def describe(self) -> Device:
        """The device record: props, cores and frequencies, RAM, thermal and battery."""
        props = protocol.parse_getprop(self._text("getprop"))
        cpu_lines = self._text(
            f"for c in {_CPU}/cpu[0-9]*; do echo \"${{c##*/cpu}} "
            f"$(cat $c/cpufreq/cpuinfo_max_freq 2>/dev/null || echo 0) "
            f"$(cat $c/cpufreq/scaling_governor 2>/dev/null || echo none)\"; done").splitlines()
        cpus = sorted((int(f[0]), float(f[1]) / 1000.0, f[2])
                      for f in (line.split() for line in cpu_lines) if len(f) == 3)
        max_freq = tuple(freq for _, freq, _ in cpus)
        zones = self._thermal_zones()
        watched = [path for path, kind, _ in zones
                   if any(word in kind.lower() for word in _WATCHED_ZONES)]
        self._zones = watched or [path for path, _, _ in zones]
        self._mask = protocol.pin_mask(self.run, max_freq)
        battery = self._text(f"cat {_BATTERY}/capacity {_BATTERY}/temp 2>/dev/null").split()
        model = props.get("ro.product.model") or self.serial
        self.device_id = protocol.sanitize_id(f"{model}_{self.serial}")
        info: dict[str, Any] = {
            "kind": "android", "governors": [g for _, _, g in cpus],
            "thermal_zones": {kind: protocol.temperature_c(temp) for _, kind, temp in zones},
            "battery_level": float(battery[0]) if battery else None,
            "battery_temperature_c": protocol.temperature_c(battery[1]) if len(battery) > 1
            else None,
            "pin_mask": self._mask, "fingerprint": props.get("ro.build.fingerprint"),
        }
        return Device(
            id=self.device_id, serial=self.serial, model=model,
            brand=props.get("ro.product.brand"),
            soc=props.get("ro.soc.model") or props.get("ro.board.platform")
            or props.get("ro.hardware"),
            abi=props.get("ro.product.cpu.abi"),
            android_version=props.get("ro.build.version.sdk"), cores=len(cpus) or None,
            max_freq_mhz=max_freq,
            ram_mb=protocol.parse_meminfo_mb(self._text("cat /proc/meminfo")), info=info)

    def _thermal_zones(self) -> list[tuple[str, str, str]]:
        lines = self._text("for z in /sys/class/thermal/thermal_zone*; do "
                           "echo \"$z $(cat $z/type 2>/dev/null) $(cat $z/temp 2>/dev/null)\"; "
                           "done").splitlines()
        return [(f[0] + "/temp", f[1], f[2]) for f in (line.split() for line in lines)
                if len(f) == 3]

    def _temperature_command(self) -> str:
        return ("cat " + " ".join(self._zones) + " 2>/dev/null") if self._zones else "true"

    def temperature_c(self) -> float | None:
        """The hottest watched thermal zone now, in degrees C (through the run loop once
        one is open)."""
        if not self.persistent_shell or self._loop is None:
            return _hottest(self._text(self._temperature_command()))
        try:
            return _hottest(self._in_loop(protocol.LOOP_PROBE, 30.0).before)
        except adbutils.AdbTimeout:
            self.close()
            return None

    # -- setup and runs ------------------------------------------------------------
    def setup(self, abi: str | None) -> dict[str, Any]:
        """Push the tool (unless the same sha256 is there); the measurement config."""
        local = resolve_binary(abi or "arm64-v8a", self.benchmark_binary)
        digest = sha256_file(str(local))
        self.shell(f"mkdir -p {protocol.WORKDIR}/models")
        remote = f"{protocol.WORKDIR}/benchmark_model"
        held = self._text(f"sha256sum {remote} 2>/dev/null").split()
        if not held or held[0] != digest:
            self._push(local, remote, 0o755)
        listing = self._text(f"ls {protocol.WORKDIR}/models 2>/dev/null")
        self._remote_models = set(listing.split())
        return protocol.measurement_config(self.run, "benchmark_model", digest)

    def _push(self, local: Path, remote: str, mode: int = 0o644) -> None:
        try:
            self._device.sync.push(str(local), remote, mode=mode, check=True)
        except ADB_FAILURES as exc:
            if not self.present():
                raise DeviceGone(f"device {self.serial} disappeared during a push ({exc})") \
                    from None
            raise DeviceError(f"push of {local.name} to {self.serial} failed ({exc or 'FAIL'}):"
                              " free space on the device and rerun") from None

    def measure(self, network: Network, file: NetworkFile) -> Outcome:
        """Push the model if the device lacks it, run the tool once, parse its output."""
        name = f"{file.sha256[:24]}.tflite"
        started = time.perf_counter()
        if name not in self._remote_models:
            try:
                self._push(Path(file.path), f"{protocol.WORKDIR}/models/{name}")
            except DeviceError as exc:
                if isinstance(exc, DeviceGone):
                    raise
                return Outcome(RunStats(error=str(exc)), None, time.perf_counter() - started)
            self._remote_models.add(name)
        model = f"models/{name}"
        timed_out = RunStats(error=f"benchmark_model timed out after {self.run.timeout_s:g} s")
        try:  # the device's `timeout` kills a hung tool; the socket timeout is a backstop
            if self.persistent_shell:
                result = self._in_loop(model, self.run.timeout_s + 30)
                output, code, temperature = result.output, result.exit_code, \
                    _hottest(result.before)
            else:
                output, code, temperature = self._run_shell(model)
        except adbutils.AdbTimeout:
            self.close()  # the loop is mid-run: the next measurement opens a new one
            return Outcome(timed_out, None, time.perf_counter() - started)
        if code in (124, 137):
            return Outcome(timed_out, output, time.perf_counter() - started, temperature)
        return Outcome(parse_output(output, code), output, time.perf_counter() - started,
                       temperature)

    def _in_loop(self, line: str, timeout_s: float) -> protocol.LoopResult:
        """One line through the run loop (opened on first use, reopened once if it broke
        while the device stayed)."""
        def run() -> protocol.LoopResult:
            if self._loop is None:
                script = protocol.run_loop_script("benchmark_model", self.run, self._mask,
                                                  self._temperature_command())
                self._loop = RunLoop(self._device, script)
            return self._loop.run(line, timeout_s)

        try:
            return self._retried(run, self.close)
        except LoopEnded:  # the device is there but its shell ended: one fresh loop
            self.close()
        try:
            return self._retried(run, self.close)
        except LoopEnded as exc:
            self.close()
            raise DeviceError(f"{exc} on {self.serial}, twice: check that `adb -s "
                              f"{self.serial} shell` works, then rerun") from None

    def _run_shell(self, model: str) -> tuple[str, int, float | None]:
        """One `adb shell` for one run: (output, exit code, temperature before it)."""
        command = protocol.benchmark_command("benchmark_model", model, self.run, self._mask)
        # One round trip: the thermal zones right before the tool starts, then the tool.
        result = self.shell(f"{self._temperature_command()}; echo {_MARK}; {command}",
                            timeout_s=self.run.timeout_s + 30)
        temperature, output = _split_temperature(result)
        return output, result.returncode, temperature

    def close(self) -> None:
        """End the run loop, if one is open (the device's sweep is over)."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.close()

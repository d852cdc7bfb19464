"""A device's filesystem on the host: sandbox for /data/local/tmp, /proc and /sys from a profile."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from dnncost.errors import InputError

PROFILES = Path(__file__).resolve().parent / "profiles"
# Device paths the shell rewrites into the fake root (all else is the host's, e.g. /bin/sh).
MAPPED = ("data", "sys", "proc", "sdcard", "storage")
_MAPPED_RE = re.compile(r"(?<![\w./~-])/(" + "|".join(MAPPED) + r")(?=/|\b|$)")


def load_profile(name: str) -> dict[str, Any]:
    """A device profile by name (tests/emulator/profiles/NAME.json) or by path."""
    path = Path(name) if name.endswith(".json") else PROFILES / f"{name}.json"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROFILES.glob("*.json")))
        raise InputError(f"device profile {name!r} not found: use one of {known}")
    return json.loads(path.read_text())


def profile_names() -> list[str]:
    """Names of the bundled device profiles."""
    return sorted(p.stem for p in PROFILES.glob("*.json"))


class DeviceFS:
    """The fake root of one device: BASE/root/{data/local/tmp,proc,sys}, stubs in BASE/bin."""

    def __init__(self, base: Path, profile: dict[str, Any], serial: str) -> None:
        self.base, self.profile = base, profile
        self.root = base / "root"
        self.sandbox = self.root / "data" / "local" / "tmp"
        self.bin = base / "bin"
        self.props = dict(profile["props"], **{"ro.serialno": serial})
        self.taskset_log = base / "taskset.log"
        self._write_tree()

    # -- paths --
    def host_path(self, device_path: str) -> Path:
        """Where a device path lives on the host (every absolute path maps under the root)."""
        parts = [p for p in device_path.split("/") if p not in ("", ".")]
        resolved: list[str] = []
        for part in parts:
            if part == "..":
                if resolved:
                    resolved.pop()
            else:
                resolved.append(part)
        return self.root.joinpath(*resolved)

    def rewrite_command(self, command: str) -> str:
        """The command with /data, /sys, /proc, /sdcard paths moved under the fake root."""
        root = str(self.root)
        return _MAPPED_RE.sub(lambda m: root + m.group(0), command)

    def environment(self) -> dict[str, str]:
        """Environment for device shell commands: stubs and the venv's python first on PATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANDROID_", "ADB"))}
        python_dir = str(Path(sys.executable).parent)
        env.update(PATH=f"{self.bin}:{python_dir}:/usr/bin:/bin", HOME=str(self.sandbox),
                   TMPDIR=str(self.sandbox), ANDROID_ROOT="/system",
                   ANDROID_DATA=str(self.root / "data"), EXTERNAL_STORAGE="/sdcard")
        return env

    def taskset_masks(self) -> list[str]:
        """Masks given to taskset, in order."""
        if not self.taskset_log.exists():
            return []
        return [line for line in self.taskset_log.read_text().splitlines() if line]

    def set_temperature(self, celsius: float) -> None:
        """Make every thermal zone read celsius (millidegrees, as Linux reports)."""
        for zone in sorted((self.root / "sys/class/thermal").glob("thermal_zone*")):
            (zone / "temp").write_text(f"{int(celsius * 1000)}\n")

    def reset_temperatures(self) -> None:
        """Thermal zones back to the profile's temperatures."""
        for i, zone in enumerate(self.profile.get("thermal_zones", [])):
            self._write(f"sys/class/thermal/thermal_zone{i}/temp", f"{zone['temp_mc']}\n")

    # -- building --
    def _write(self, rel: str, text: str, mode: int = 0o644) -> None:
        path = self.root / rel if not rel.startswith("/") else Path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)

    def _write_tree(self) -> None:
        p = self.profile
        self.sandbox.mkdir(parents=True, exist_ok=True)
        (self.root / "sdcard").mkdir(exist_ok=True)
        (self.root / "system/bin").mkdir(parents=True, exist_ok=True)
        cpus = p["cpus"]
        span = f"0-{len(cpus) - 1}\n" if len(cpus) > 1 else "0\n"
        for name in ("possible", "present", "online"):
            self._write(f"sys/devices/system/cpu/{name}", span)
        for i, cpu in enumerate(cpus):
            d = f"sys/devices/system/cpu/cpu{i}/cpufreq"
            self._write(f"{d}/cpuinfo_max_freq", f"{cpu['max_khz']}\n")
            self._write(f"{d}/cpuinfo_min_freq", f"{cpu.get('min_khz', 300000)}\n")
            self._write(f"{d}/scaling_max_freq", f"{cpu['max_khz']}\n")
            self._write(f"{d}/scaling_cur_freq", f"{cpu['max_khz']}\n")
            self._write(f"{d}/scaling_governor", f"{cpu.get('governor', 'schedutil')}\n")
        for i, zone in enumerate(p.get("thermal_zones", [])):
            self._write(f"sys/class/thermal/thermal_zone{i}/type", f"{zone['type']}\n")
            self._write(f"sys/class/thermal/thermal_zone{i}/temp", f"{zone['temp_mc']}\n")
        battery = p.get("battery", {})
        for key in ("capacity", "temp", "status", "health", "voltage_now"):
            if key in battery:
                self._write(f"sys/class/power_supply/battery/{key}", f"{battery[key]}\n")
        self._write("proc/meminfo", "".join(f"{k + ':':<16}{v:>8} kB\n"
                                            for k, v in p["meminfo_kb"].items()))
        self._write("proc/cpuinfo", self._cpuinfo())
        self._write("proc/version", f"Linux version {p.get('kernel', '4.14.190')} (android)\n")
        self._write_stubs()

    def _cpuinfo(self) -> str:
        p = self.profile
        v7 = p["props"]["ro.product.cpu.abi"].startswith("armeabi")
        blocks = []
        for i, cpu in enumerate(p["cpus"]):
            head = (f"processor\t: {i}\nmodel name\t: ARMv7 Processor rev 3 (v7l)\n"
                    if v7 else f"processor\t: {i}\n")
            blocks.append(head + f"BogoMIPS\t: 38.40\nFeatures\t: {p.get('cpu_features', 'fp asimd')}\n"
                          f"CPU implementer\t: 0x41\nCPU architecture: {7 if v7 else 8}\n"
                          f"CPU variant\t: 0x0\nCPU part\t: {cpu.get('part', '0xd05')}\n"
                          f"CPU revision\t: {cpu.get('revision', 0)}\n")
        return "\n".join(blocks) + f"\nHardware\t: {p.get('cpuinfo_hardware', 'Qualcomm')}\n"

    def _write_stubs(self) -> None:
        props = self.base / "props.txt"
        props.write_text("".join(f"{k}={v}\n" for k, v in sorted(self.props.items())))
        stubs = {
            "getprop": GETPROP.format(props=props),
            "taskset": TASKSET.format(log=self.taskset_log),
            "nproc": f"#!/bin/sh\necho {len(self.profile['cpus'])}\n",
            "dumpsys": DUMPSYS.format(battery=self.root / "sys/class/power_supply/battery"),
        }
        for name, text in stubs.items():
            self._write(str(self.bin / name), text, 0o755)


GETPROP = """#!/bin/sh
# getprop stub: answers from the device profile ({props})
if [ $# -eq 0 ]; then
  sed 's/^\\([^=]*\\)=\\(.*\\)$/[\\1]: [\\2]/' '{props}'
  exit 0
fi
v=$(awk -v k="$1" 'index($0, k "=") == 1 {{ print substr($0, length(k) + 2); exit }}' '{props}')
if [ -z "$v" ]; then v="$2"; fi
echo "$v"
"""

TASKSET = """#!/bin/sh
# taskset stub: records the mask, runs the command unpinned (the host has too few cores)
if [ "$1" = "-p" ] || [ "$1" = "-ap" ] || [ "$1" = "-pa" ]; then
  shift
  if [ $# -ge 2 ]; then echo "$1" >> '{log}'; echo "pid $2's new affinity mask: $1"
  else echo "pid $1's current affinity mask: ff"; fi
  exit 0
fi
if [ "$1" = "-a" ]; then shift; fi
if [ $# -lt 2 ]; then echo "usage: taskset [-ap] [mask] [PID | cmd [args...]]" >&2; exit 1; fi
echo "$1" >> '{log}'
shift
exec "$@"
"""

DUMPSYS = """#!/bin/sh
# dumpsys stub: only `dumpsys battery`
if [ "$1" != "battery" ]; then echo "Can't find service: $1" >&2; exit 1; fi
echo "Current Battery Service state:"
echo "  level: $(cat '{battery}/capacity' 2>/dev/null)"
echo "  temperature: $(cat '{battery}/temp' 2>/dev/null)"
"""

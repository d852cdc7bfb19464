"""Health checks of the measuring side for `dnncost doctor`: adb and the benchmark binary.

Returns plain (name, ok, detail) findings; nothing here changes a device.
"""

from __future__ import annotations

from typing import NamedTuple

import adbutils

from dnncost.bench.binary import ABI_BINARIES
from dnncost.bench.servers import listening
from dnncost.errors import shown
from dnncost.paths import cache_dir

_STATE_ADVICE = {
    "unauthorized": "unlock the phone and accept the USB debugging prompt",
    "offline": "reconnect the cable or run `adb reconnect`",
    "no permissions": "add a udev rule for the phone (see Android's 'Run apps on a "
                      "hardware device' guide)",
}


class Finding(NamedTuple):
    name: str
    ok: bool
    detail: str


def adb_findings(servers: list[str]) -> list[Finding]:
    """The adb binary, each adb server and every device it lists, with advice."""
    findings = [Finding("adb binary", True, adbutils.adb_path())]
    for server in servers or ["127.0.0.1:5037"]:
        host, _, port = server.rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            findings.append(Finding(f"adb server {shown(server)}", False,
                                    "not HOST:PORT (e.g. 192.168.1.5:5037): fix --adb"))
            continue
        address = (host or "127.0.0.1", int(port))
        if not listening(*address, timeout_s=2):
            findings.append(Finding(f"adb server {server}", False,
                                    "not running: run `adb start-server` there, "
                                    "or fix --adb HOST:PORT"))
            continue
        client = adbutils.AdbClient(host=address[0], port=address[1], socket_timeout=5)
        try:
            version = client.server_version()
            devices = client.list()
        except (adbutils.AdbError, OSError) as exc:
            findings.append(Finding(f"adb server {server}", False,
                                    f"unreachable ({exc}): run `adb start-server` there, "
                                    "or fix --adb HOST:PORT"))
            continue
        findings.append(Finding(f"adb server {server}", True, f"protocol version {version}"))
        if not devices:
            findings.append(Finding(f"devices on {server}", False,
                                    "none attached: enable USB debugging and plug a phone in "
                                    "(or use --device local)"))
        for info in devices:
            advice = _STATE_ADVICE.get(info.state, f"state {info.state!r}")
            findings.append(Finding(f"device {info.serial}", info.state == "device",
                                    "ready" if info.state == "device" else advice))
    return findings


def binary_findings() -> list[Finding]:
    """Whether a benchmark_model binary is cached for each supported ABI."""
    findings = []
    for abi, name in ABI_BINARIES.items():
        path = cache_dir() / name
        findings.append(Finding(
            f"benchmark_model {abi}", path.is_file(),
            str(path) if path.is_file() else
            f"not cached: it is downloaded on first use, or put TFLite's nightly {name} at "
            f"{path} (or pass --benchmark-binary PATH)"))
    return findings

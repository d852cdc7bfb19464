"""The device-side run loop in one `adb shell` kept open for a sweep.

The shell (v2 protocol, raw) runs :func:`dnncost.bench.protocol.run_loop_script`; each
measurement writes one model path to its stdin and reads stdout until that run's
result is complete, so a run costs no adb round trip of its own. The stream's packets
are the shell v2 protocol's (``id:u8 length:u32le data``).
"""

from __future__ import annotations

import struct
import time
from collections import deque

import adbutils

from dnncost.bench import protocol
from dnncost.errors import DeviceError

_STDIN, _STDOUT, _STDERR, _EXIT, _CLOSE_STDIN = 0, 1, 2, 3, 4


class LoopEnded(DeviceError):
    """The loop's shell exited on the device while the device stayed."""


class RunLoop:
    """One open loop on one device: :meth:`run` a model, :meth:`close` when done."""

    def __init__(self, device: adbutils.AdbDevice, script: str, open_timeout_s: float = 30.0
                 ) -> None:
        try:
            self._conn = device.open_transport(timeout=open_timeout_s)
        except adbutils.AdbTimeout as exc:  # an adb problem, not a run that timed out
            raise adbutils.AdbError(f"opening the run loop timed out ({exc})") from None
        self._results: deque[protocol.LoopResult] = deque()
        self._reader = protocol.LoopReader()
        self._stderr = b""
        try:
            self._conn.send_command(f"shell,v2,raw:{script}")
            self._conn.check_okay()
        except adbutils.AdbTimeout as exc:
            self.close()
            raise adbutils.AdbError(f"opening the run loop timed out ({exc})") from None
        except BaseException:
            self.close()
            raise

    def run(self, model: str, timeout_s: float) -> protocol.LoopResult:
        """Run the tool on ``model`` (a path under WORKDIR); AdbTimeout past ``timeout_s``,
        EOFError/OSError/AdbError when the stream breaks, LoopEnded when the shell exits."""
        if not model or any(c in model for c in "\n\r\0"):
            raise ValueError(f"model path {model!r} cannot go through the loop")
        data = (model + "\n").encode()
        self._conn.conn.sendall(struct.pack("<BI", _STDIN, len(data)) + data)
        deadline = time.monotonic() + timeout_s
        while not self._results:
            if time.monotonic() > deadline:  # output trickling in does not extend the run
                raise adbutils.AdbTimeout(f"no result for {model} in {timeout_s:g} s")
            ident, payload = self._packet(deadline)
            if ident == _STDOUT:
                self._results.extend(self._reader.feed(payload))
            elif ident == _STDERR:
                self._stderr = (self._stderr + payload)[-2000:]
            elif ident == _EXIT:
                why = self._stderr.decode(errors="replace").strip()[-200:]
                raise LoopEnded(f"the run loop exited with status "
                                f"{payload[0] if payload else 'unknown'}"
                                + (f": {why}" if why else ""))
        return self._results.popleft()

    def _packet(self, deadline: float) -> tuple[int, bytes]:
        self._conn.conn.settimeout(max(0.05, deadline - time.monotonic()))
        ident, length = struct.unpack("<BI", self._conn.read_exact(5))
        return ident, self._conn.read_exact(length) if length else b""

    def close(self) -> None:
        """Close stdin (the loop ends) and the stream (adbd hangs the shell up; the
        script's trap kills a run still going)."""
        try:
            self._conn.conn.sendall(struct.pack("<BI", _CLOSE_STDIN, 0))
        except (OSError, adbutils.AdbError):
            pass
        self._conn.close()

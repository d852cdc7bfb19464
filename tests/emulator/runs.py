"""How the device learns of each benchmark_model run, wherever it was started from.

A run may be a shell command of its own or one pass of a loop inside a long shell, so
faults aimed at runs are decided when the tool starts, not when a shell opens: the
stand-in connects to its daemon's :class:`RunChannel` (the address is in its
environment), sends ``{"command", "session"}``, acts out the fault in the reply, and
sends ``{"exit": code}`` before it exits (a killed run sends nothing). The stand-in's
side is in ``benchmark_model_standin.py``, which runs alone on the device.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

ADDRESS_ENV, SESSION_ENV = "DNNCOST_EMU_RUNS", "DNNCOST_EMU_SESSION"


@dataclass(frozen=True)
class ToolRun:
    """One run as the device saw it: the tool's command line, its exit code (None: killed
    before it reported one) and its wall time, start to exit (seconds)."""

    command: str
    exit_code: Optional[int]
    started_s: float  # time.monotonic()
    wall_s: float


class RunChannel:
    """A listener on 127.0.0.1; ``on_start(command, session)`` returns the reply (a fault)."""

    def __init__(self, on_start: Callable[[str, str], dict[str, Any]]) -> None:
        self.on_start = on_start
        self.commands: list[str] = []  # tool command lines, in the order the runs started
        self.log: list[ToolRun] = []  # finished runs, in the order they ended
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="emu-runs").start()

    def close(self) -> None:
        """Stop accepting runs (runs already connected finish their report)."""
        self._sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, client.makefile("rwb") as pipe:
            hello = json.loads(pipe.readline() or b"{}")
            command = str(hello.get("command", ""))
            started = time.monotonic()
            with self._lock:
                self.commands.append(command)
            pipe.write(json.dumps(self.on_start(command, str(hello.get("session")))).encode()
                       + b"\n")
            pipe.flush()
            try:
                end = json.loads(pipe.readline() or b"{}")
            except (OSError, ValueError):
                end = {}
            with self._lock:
                self.log.append(ToolRun(command, end.get("exit"), started,
                                        time.monotonic() - started))

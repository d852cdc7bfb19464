"""The emulated device: an ADB daemon on a TCP port, its services and injectable faults."""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from dnncost.errors import InputError

from .device import DeviceFS
from .protocol import Connection, Handler, Stream
from .runs import ADDRESS_ENV, SESSION_ENV, RunChannel
from .shell import ShellSession, parse_service
from .sync import serve_sync

log = logging.getLogger(__name__)

RUN_FAULTS = ("fail", "hang", "garbage", "slow")  # acted out by the stand-in benchmark_model
FAULT_KINDS = RUN_FAULTS + ("drop", "disk_full")
ALIASES = {"push_fail": "disk_full", "exit1": "fail", "timeout": "hang", "throttle": "slow"}
DEFAULT_MATCH = {"disk_full": "", "drop": "--graph", **{k: "--graph" for k in RUN_FAULTS}}


@dataclass
class Fault:
    """An armed fault: fires on matching tool runs, shell commands or pushed paths (`on`)
    after `after_commands` of them."""

    kind: str
    match: str
    after_commands: int = 0
    times: int = 1  # how many matching commands it hits; < 0: every one
    params: dict[str, Any] = field(default_factory=dict)
    on: str = "run"  # run (a benchmark_model start) | command (a shell opening) | push

    def fires(self, text: str) -> bool:
        """Count one matching command; True when the fault acts on it."""
        if self.times == 0 or self.match not in text:
            return False
        if self.after_commands > 0:
            self.after_commands -= 1
            return False
        if self.times > 0:
            self.times -= 1
        return True


@dataclass(frozen=True)
class CommandRecord:
    """One shell command as the device ran it: exit code (None: never started), wall time."""

    command: str
    exit_code: Optional[int]
    started_s: float  # time.monotonic() when the process was spawned
    wall_s: float  # spawn to exit, device side (what the host waited beyond is its overhead)


class EmulatedAdbd:
    """A device-side adbd on 127.0.0.1:port with a sandboxed filesystem from a profile."""

    def __init__(self, base: Path, profile: dict[str, Any], serial: str = "",
                 port: int = 0) -> None:
        self.profile = profile
        self.fs = DeviceFS(base, profile, serial or profile["props"]["ro.serialno"])
        self.commands: list[str] = []
        self.pushes: list[str] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._conns: list[Connection] = []
        self._sessions: list[ShellSession] = []
        self._listener: Optional[socket.socket] = None
        self.port = port
        self.fired: list[str] = []
        self.command_log: list[CommandRecord] = []
        self.runs = RunChannel(self._on_run)
        self._by_session: dict[str, tuple[Connection, ShellSession]] = {}
        self._session_ids = iter(range(1, 1 << 62))

    @property
    def banner(self) -> str:
        p = self.fs.props
        return (f"device::ro.product.name={p['ro.product.name']};"
                f"ro.product.model={p['ro.product.model']};"
                f"ro.product.device={p['ro.product.device']};features=shell_v2,cmd")

    # -- lifecycle --
    def start(self) -> int:
        """Listen (again) on the port; returns it."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(8)
        self.port = sock.getsockname()[1]
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True,
                         name=f"adbd-accept-{self.port}").start()
        return self.port

    def stop_listening(self) -> None:
        """Refuse new connections (the device is gone from the network)."""
        sock, self._listener = self._listener, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def drop_connections(self) -> None:
        """Cut every host connection at once; running shells are hung up."""
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            conn.drop()

    def stop(self) -> None:
        """Stop listening, cut connections, kill every command still running."""
        self.stop_listening()
        self.runs.close()
        self.drop_connections()
        self.kill_sessions()

    def kill_sessions(self) -> None:
        """Kill every command still running, whatever it started (a reboot)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.kill()

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                client, _ = sock.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Connection(client, self.banner, self._open)
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True,
                             name=f"adbd-conn-{self.port}").start()

    def _serve(self, conn: Connection) -> None:
        conn.serve()
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)

    # -- faults --
    def inject(self, kind: str, **params: Any) -> Fault:
        """Arm a fault: drop | fail | hang | garbage | slow | disk_full (see EmulatedDevice)."""
        kind = ALIASES.get(kind, kind)
        if kind not in FAULT_KINDS:
            raise InputError(f"unknown fault {kind!r}: use one of {', '.join(FAULT_KINDS)}")
        match = params.pop("match", DEFAULT_MATCH[kind])
        # A drop aimed at something other than the tool's flags cuts a shell command.
        on = params.pop("on", "push" if kind == "disk_full" else "command"
                        if kind == "drop" and not match.startswith("--") else "run")
        fault = Fault(kind, match, int(params.pop("after_commands", 0)),
                      int(params.pop("times", 1)), params, on)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self.faults.clear()

    def _firing(self, text: str, kinds: tuple[str, ...], on: str) -> list[Fault]:
        with self._lock:
            fired = [f for f in self.faults if f.kind in kinds and f.on == on and f.fires(text)]
            self.faults = [f for f in self.faults if f.times != 0]
            self.fired += [f.kind for f in fired]
            return fired

    # -- services --
    def _open(self, conn: Connection, service: str) -> Optional[Handler]:
        if service.startswith("sync:"):
            return lambda stream: serve_sync(stream, self.fs, self._on_push)
        shell = parse_service(service)
        if shell is None:
            log.info("unsupported service %r", service)
            return None
        v2, command = shell
        return lambda stream: self._shell(conn, stream, command, v2)

    def _on_push(self, device_path: str) -> Optional[str]:
        with self._lock:
            self.pushes.append(device_path)
        for fault in self._firing(device_path, ("disk_full",), "push"):
            return fault.params.get("message", "No space left on device")
        return None

    def _shell(self, conn: Connection, stream: Stream, command: str, v2: bool) -> None:
        with self._lock:
            self.commands.append(command)
        drops = self._firing(command, ("drop",), "command")
        session_id = str(next(self._session_ids))
        session = ShellSession(self.fs, command, v2,
                               {ADDRESS_ENV: self.runs.address, SESSION_ENV: session_id})
        with self._lock:
            self._sessions.append(session)
            self._by_session[session_id] = (conn, session)
        for drop in drops:
            threading.Thread(target=self._drop_later, args=(conn, session, drop),
                             daemon=True).start()
        try:
            session.run(stream)
        finally:
            proc = session.proc
            code = None if proc is None or proc.returncode is None else \
                (128 - proc.returncode if proc.returncode < 0 else proc.returncode)
            record = CommandRecord(command, code, session.started_s,
                                   max(0.0, (session.ended_s or time.monotonic())
                                       - session.started_s) if proc else 0.0)
            with self._lock:
                self.command_log.append(record)
                if session in self._sessions:
                    self._sessions.remove(session)
                self._by_session.pop(session_id, None)

    def _on_run(self, command: str, session_id: str) -> dict[str, Any]:
        """A tool run started in shell session ``session_id``: the fault it acts out."""
        reply: dict[str, Any] = {}
        for fault in self._firing(command, RUN_FAULTS + ("drop",), "run"):
            if fault.kind != "drop":
                reply = {"fault": fault.kind, "params": fault.params}
                continue
            with self._lock:
                pair = self._by_session.get(session_id)
            if pair is not None:
                threading.Thread(target=self._drop_later, args=(*pair, fault),
                                 daemon=True).start()
        return reply

    def _drop_later(self, conn: Connection, session: ShellSession, fault: Fault) -> None:
        session.started.wait(5)
        threading.Event().wait(float(fault.params.get("delay_s", 0.3)))
        if not fault.params.get("reconnect", True):
            self.stop_listening()
        conn.drop()

"""The `shell:` (v1) and `shell,v2,...:` services: /bin/sh inside the device sandbox."""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import threading
import time
from typing import Callable, Optional

from .device import DeviceFS
from .protocol import Stream, StreamClosed

ID_STDIN, ID_STDOUT, ID_STDERR, ID_EXIT, ID_CLOSE_STDIN, ID_WINDOW = 0, 1, 2, 3, 4, 5


def parse_service(service: str) -> Optional[tuple[bool, str]]:
    """('shell,v2,raw:ls' -> (True, 'ls')); None when not a shell service."""
    name, sep, command = service.partition(":")
    if not sep:
        return None
    args = name.split(",")
    if args[0] == "exec":
        return False, command
    if args[0] != "shell":
        return None
    return "v2" in args[1:], command


def session_members(sid: int) -> list[int]:
    """Pids of the live processes in session sid (from /proc/PID/stat)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after "pid (comm)": state ppid pgrp session
            pids.append(int(entry))
    return pids


class _Unroot:
    """Streaming replace of the host root path by '' in output (device paths shown back)."""

    def __init__(self, root: str) -> None:
        self.needle, self.held = root.encode(), b""

    def feed(self, data: bytes) -> bytes:
        data = (self.held + data).replace(self.needle, b"")
        keep = 0
        for k in range(min(len(self.needle) - 1, len(data)), 0, -1):
            if self.needle.startswith(data[-k:]):
                keep = k
                break
        self.held = data[len(data) - keep:] if keep else b""
        return data[:len(data) - keep] if keep else data

    def flush(self) -> bytes:
        held, self.held = self.held, b""
        return held


class ShellSession:
    """One shell command running for one stream: hung up when the host closes the stream
    (as adbd does), killed with its session when the device stops."""

    def __init__(self, fs: DeviceFS, command: str, v2: bool,
                 extra_env: Optional[dict[str, str]] = None) -> None:
        self.fs, self.command, self.v2 = fs, command, v2
        self.extra_env = extra_env or {}
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self._lock = threading.Lock()
        self.started = threading.Event()
        self.started_s = self.ended_s = 0.0  # time.monotonic() at spawn and at exit

    def hangup(self) -> None:
        """What adbd does when the host closes the stream: SIGHUP to the shell alone (what
        the shell started runs on unless the shell kills it)."""
        with self._lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGHUP)
            except (ProcessLookupError, PermissionError):
                pass

    def kill(self) -> None:
        """Kill every process of the command's session (the device stops).

        By session, not process group: `timeout` and others move into groups of their own.
        """
        with self._lock:
            proc = self.proc
        if proc is None:
            return
        for pid in [proc.pid] + session_members(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def run(self, stream: Stream) -> None:
        """Run the command, relaying stdin from the host and stdout/stderr (and exit code)."""
        argv = ["/bin/sh", "-c", self.fs.rewrite_command(self.command)] if self.command \
            else ["/bin/sh"]
        env = dict(self.fs.environment(), **self.extra_env)
        stream.on_close.append(self.hangup)
        with self._lock:
            if stream.closed:
                return
            self.proc = subprocess.Popen(
                argv, cwd=self.fs.root, env=env, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if self.v2 else subprocess.STDOUT,
                start_new_session=True)
        self.started_s = time.monotonic()
        self.started.set()
        proc = self.proc
        assert proc.stdin is not None and proc.stdout is not None
        pumps = [threading.Thread(target=self._pump, args=(proc.stdout.fileno(), stream, ID_STDOUT),
                                  daemon=True)]
        if self.v2:
            assert proc.stderr is not None
            pumps.append(threading.Thread(target=self._pump,
                                          args=(proc.stderr.fileno(), stream, ID_STDERR),
                                          daemon=True))
        threading.Thread(target=self._stdin, args=(stream, proc), daemon=True).start()
        for pump in pumps:
            pump.start()
        for pump in pumps:
            pump.join()
        code = proc.wait()
        code = 128 - code if code < 0 else code  # killed by a signal: 128 + signal, as adbd
        self.ended_s = time.monotonic()
        if self.v2 and not stream.closed:
            stream.write(self._packet(ID_EXIT, bytes([code & 0xFF])))

    def _packet(self, ident: int, data: bytes) -> bytes:
        return struct.pack("<BI", ident, len(data)) + data

    def _pump(self, fd: int, stream: Stream, ident: int) -> None:
        unroot = _Unroot(str(self.fs.root))
        send: Callable[[bytes], None] = (
            (lambda d: stream.write(self._packet(ident, d))) if self.v2 else stream.write)
        try:
            while True:
                data = os.read(fd, 64 * 1024)
                if not data:
                    break
                out = unroot.feed(data)
                if out:
                    send(out)
            tail = unroot.flush()
            if tail:
                send(tail)
        except (StreamClosed, OSError):
            self.hangup()

    def _stdin(self, stream: Stream, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None
        try:
            if not self.v2:
                while data := stream.read():
                    proc.stdin.write(data)
                    proc.stdin.flush()
                return
            while True:
                ident, length = struct.unpack("<BI", stream.read_exact(5))
                data = stream.read_exact(length) if length else b""
                if ident == ID_STDIN:
                    proc.stdin.write(data)
                    proc.stdin.flush()
                elif ident == ID_CLOSE_STDIN:
                    return
        except (StreamClosed, OSError, ValueError):
            pass
        finally:
            try:
                proc.stdin.close()
            except OSError:
                pass

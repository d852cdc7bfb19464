"""ADB transport protocol (AOSP adb/protocol.txt): packets, one connection, its streams."""

from __future__ import annotations

import logging
import socket
import struct
import threading
from typing import Callable, Optional

log = logging.getLogger(__name__)

A_SYNC, A_CNXN, A_OPEN, A_OKAY = 0x434E5953, 0x4E584E43, 0x4E45504F, 0x59414B4F
A_CLSE, A_WRTE, A_AUTH, A_STLS = 0x45534C43, 0x45545257, 0x48545541, 0x534C5453
A_VERSION = 0x01000001
MAX_PAYLOAD = 256 * 1024
HEADER = struct.Struct("<6I")
NAMES = {A_SYNC: "SYNC", A_CNXN: "CNXN", A_OPEN: "OPEN", A_OKAY: "OKAY",
         A_CLSE: "CLSE", A_WRTE: "WRTE", A_AUTH: "AUTH", A_STLS: "STLS"}


class StreamClosed(Exception):
    """The stream (or its whole connection) was closed while in use."""


def encode(command: int, arg0: int, arg1: int, data: bytes = b"") -> bytes:
    """One packet: 24-byte little-endian header (with byte-sum checksum and magic) + payload."""
    return HEADER.pack(command, arg0, arg1, len(data), sum(data) & 0xFFFFFFFF,
                       command ^ 0xFFFFFFFF) + data


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("peer closed")
        buf += chunk
    return bytes(buf)


def read_packet(sock: socket.socket) -> tuple[int, int, int, bytes]:
    """Read one packet; returns (command, arg0, arg1, payload)."""
    command, arg0, arg1, length, _crc, magic = HEADER.unpack(_recv_exact(sock, HEADER.size))
    if magic != command ^ 0xFFFFFFFF:
        raise EOFError(f"bad magic in packet {command:#x}")
    return command, arg0, arg1, _recv_exact(sock, length) if length else b""


class Stream:
    """One logical stream: an inbox fed by the host's WRTEs, writes with stop-and-wait."""

    def __init__(self, conn: "Connection", local_id: int, remote_id: int) -> None:
        self.conn, self.local_id, self.remote_id = conn, local_id, remote_id
        self._inbox = bytearray()
        self._cond = threading.Condition()
        self._write_lock = threading.Lock()
        self._acked = threading.Event()
        self.closed = False
        self.on_close: list[Callable[[], None]] = []

    # -- called by the service thread --
    def read(self, max_bytes: int = 1 << 20) -> bytes:
        """Up to max_bytes of host data; b"" once the stream is closed and drained."""
        with self._cond:
            while not self._inbox and not self.closed:
                self._cond.wait()
            data = bytes(self._inbox[:max_bytes])
            del self._inbox[:max_bytes]
            return data

    def read_exact(self, n: int) -> bytes:
        """Exactly n bytes of host data, or StreamClosed."""
        with self._cond:
            while len(self._inbox) < n and not self.closed:
                self._cond.wait()
            if len(self._inbox) < n:
                raise StreamClosed("stream closed")
            data = bytes(self._inbox[:n])
            del self._inbox[:n]
            return data

    def write(self, data: bytes) -> None:
        """Send data in WRTE packets, each acknowledged (OKAY) before the next."""
        with self._write_lock:
            for start in range(0, len(data), self.conn.max_payload):
                if self.closed:
                    raise StreamClosed("stream closed")
                self._acked.clear()
                self.conn.send(A_WRTE, self.local_id, self.remote_id,
                               data[start:start + self.conn.max_payload])
                while not self._acked.wait(0.5):
                    if self.closed:
                        raise StreamClosed("stream closed")

    def close(self) -> None:
        """Close from the device side (CLSE to the host)."""
        if not self.closed:
            self.conn.send(A_CLSE, self.local_id, self.remote_id)
        self._mark_closed()

    # -- called by the connection's reader thread --
    def _feed(self, data: bytes) -> None:
        with self._cond:
            self._inbox += data
            self._cond.notify_all()

    def _mark_closed(self) -> None:
        with self._cond:
            if self.closed:
                return
            self.closed = True
            self._cond.notify_all()
        self._acked.set()
        self.conn.forget(self.local_id)
        for callback in self.on_close:
            try:
                callback()
            except Exception:  # a cleanup failure must not kill the reader thread
                log.exception("stream close callback failed")


Handler = Callable[[Stream], None]


class Connection:
    """One host connection: handshake, packet dispatch, and a thread per opened service."""

    def __init__(self, sock: socket.socket, banner: str,
                 open_service: Callable[["Connection", str], Optional[Handler]]) -> None:
        self.sock, self.banner, self.open_service = sock, banner, open_service
        self.max_payload = MAX_PAYLOAD
        self.streams: dict[int, Stream] = {}
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._next_id = 1
        self.closed = False

    def send(self, command: int, arg0: int, arg1: int, data: bytes = b"") -> None:
        """Send one packet; a dead socket closes the connection."""
        try:
            with self._send_lock:
                self.sock.sendall(encode(command, arg0, arg1, data))
        except OSError as exc:
            self.drop()
            raise StreamClosed(f"connection lost: {exc}") from exc

    def forget(self, local_id: int) -> None:
        with self._lock:
            self.streams.pop(local_id, None)

    def drop(self) -> None:
        """Close the TCP connection at once, as a lost network would; all streams close."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            streams = list(self.streams.values())
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for stream in streams:
            stream._mark_closed()

    def serve(self) -> None:
        """Read and dispatch packets until the host or the device closes the connection."""
        try:
            while not self.closed:
                self._dispatch(*read_packet(self.sock))
        except (EOFError, OSError, StreamClosed):
            pass
        finally:
            self.drop()

    def _dispatch(self, command: int, arg0: int, arg1: int, data: bytes) -> None:
        if command == A_CNXN:
            self.max_payload = max(4096, min(MAX_PAYLOAD, arg1))
            self.send(A_CNXN, A_VERSION, MAX_PAYLOAD, self.banner.encode())
        elif command == A_OPEN:
            self._open(arg0, data.rstrip(b"\0").decode(errors="replace"))
        elif command == A_WRTE:
            stream = self.streams.get(arg1)
            if stream is None:
                self.send(A_CLSE, arg1, arg0)
                return
            stream._feed(data)
            self.send(A_OKAY, stream.local_id, stream.remote_id)
        elif command == A_OKAY:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream._acked.set()
        elif command == A_CLSE:
            stream = self.streams.get(arg1)
            if stream is not None:
                stream._mark_closed()
        else:
            log.warning("ignoring packet %s", NAMES.get(command, hex(command)))

    def _open(self, remote_id: int, service: str) -> None:
        handler = self.open_service(self, service)
        if handler is None:
            self.send(A_CLSE, 0, remote_id)
            return
        with self._lock:
            local_id, self._next_id = self._next_id, self._next_id + 1
            stream = self.streams[local_id] = Stream(self, local_id, remote_id)
        self.send(A_OKAY, local_id, remote_id)
        threading.Thread(target=self._run, args=(handler, stream), daemon=True,
                         name=f"adbd-{service[:20]}").start()

    @staticmethod
    def _run(handler: Handler, stream: Stream) -> None:
        try:
            handler(stream)
        except StreamClosed:
            pass
        except Exception:
            log.exception("service failed")
        finally:
            try:
                stream.close()
            except StreamClosed:
                pass

"""adb servers and the devices they list (adbutils only); no server is started behind
the user's back during a sweep."""

from __future__ import annotations

import socket

import adbutils
from adbutils._adb import AdbConnection

from dnncost.errors import DeviceError

ADB_FAILURES = (adbutils.AdbError, OSError, EOFError, socket.timeout)


class _NoStartConnection(AdbConnection):
    """adbutils' connection, except that it never runs `adb start-server` itself (it does
    on any failed connect): a lost server is reported, not silently replaced."""

    def _safe_connect(self) -> socket.socket:
        return self._create_socket()


class ServerClient(adbutils.AdbClient):
    """An AdbClient of one server that never starts another."""

    def make_connection(self, timeout: float | None = None) -> AdbConnection:
        connection = _NoStartConnection(self.host, self.port)
        if timeout:
            connection.conn.settimeout(timeout)
        return connection


def listening(host: str, port: int, timeout_s: float = 5.0) -> bool:
    """Whether something accepts TCP connections on host:port (without starting a server,
    as adbutils would)."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
        return True
    except OSError:
        return False


def connect_clients(servers: list[str]) -> list[adbutils.AdbClient]:
    """Clients of the ``HOST:PORT`` servers, or of the local server on 5037 (started now,
    as `adb devices` does, when it is not running). An explicit server must already
    listen; no server is ever started behind the user's back during a sweep."""
    if not servers:
        if not listening("127.0.0.1", 5037):
            try:  # adbutils' own client starts the server when it finds none
                adbutils.AdbClient(host="127.0.0.1", port=5037).server_version()
            except ADB_FAILURES:
                pass  # discover() reports it
        return [ServerClient(host="127.0.0.1", port=5037)]
    clients = []
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise DeviceError(f"--adb {server[:100]!r} is not HOST:PORT "
                              "(e.g. 192.168.1.5:5037)")
        if not listening(host, int(port)):
            raise DeviceError(f"adb server {server} is not reachable: run `adb start-server` "
                              "there, or fix --adb HOST:PORT")
        clients.append(ServerClient(host=host, port=int(port)))
    return clients


def discover(clients: list[adbutils.AdbClient],
             wanted: str) -> list[tuple[adbutils.AdbClient, str]]:
    """(client, serial) for ``wanted``: a serial, a comma list, or ``all`` online devices."""
    online: dict[str, adbutils.AdbClient] = {}
    for client in clients:
        try:
            for info in client.list():
                if info.state == "device":
                    online.setdefault(info.serial, client)
        except ADB_FAILURES as exc:
            raise DeviceError(f"adb server {client.host}:{client.port} is unreachable ({exc}): "
                              "start it (`adb start-server`) or fix --adb HOST:PORT") from None
    if wanted == "all":
        if not online:
            raise DeviceError("no device attached in the `device` state: check `adb devices` "
                              "(enable USB debugging and accept the host's key)")
        return [(client, serial) for serial, client in sorted(online.items())]
    serials = [s.strip() for s in wanted.split(",") if s.strip()]
    missing = [s for s in serials if s not in online]
    if missing:
        raise DeviceError(f"device(s) {', '.join(missing)} not attached (online: "
                          f"{', '.join(sorted(online)) or 'none'}): check `adb devices`")
    return [(online[s], s) for s in serials]

"""The `sync:` service (AOSP adb/SYNC.TXT): STAT, LIST, SEND, RECV, QUIT (+ STA2/LST2)."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path
from typing import Callable, Optional

from .device import DeviceFS
from .protocol import Stream

CHUNK = 64 * 1024
# A push hook gets the device path; returning a message fails the push with it.
PushHook = Callable[[str], Optional[str]]


def _fail(stream: Stream, message: str) -> None:
    data = message.encode()
    stream.write(b"FAIL" + struct.pack("<I", len(data)) + data)


def _stat_v1(path: Path) -> bytes:
    try:
        st = path.stat()
    except OSError:
        return b"STAT" + struct.pack("<III", 0, 0, 0)
    return b"STAT" + struct.pack("<III", st.st_mode, st.st_size & 0xFFFFFFFF, int(st.st_mtime))


def _stat_v2(tag: bytes, path: Path) -> bytes:
    try:
        st = path.stat()
    except OSError as exc:
        return tag + struct.pack("<IQQIIIIQqqq", exc.errno or 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    return tag + struct.pack("<IQQIIIIQqqq", 0, st.st_dev, st.st_ino, st.st_mode, st.st_nlink,
                             0, 0, st.st_size, int(st.st_atime), int(st.st_mtime),
                             int(st.st_ctime))


def serve_sync(stream: Stream, fs: DeviceFS, on_push: PushHook) -> None:
    """Serve sync requests until QUIT or the host closes the stream."""
    while True:
        ident, length = struct.unpack("<4sI", stream.read_exact(8))
        arg = stream.read_exact(length).decode(errors="replace") if length else ""
        if ident == b"QUIT":
            return
        if ident == b"STAT":
            stream.write(_stat_v1(fs.host_path(arg)))
        elif ident in (b"STA2", b"LST2"):
            stream.write(_stat_v2(ident, fs.host_path(arg)))
        elif ident in (b"LIST", b"LIS2"):
            _list(stream, fs.host_path(arg), v2=ident == b"LIS2")
        elif ident == b"SEND":
            _send(stream, fs, arg, on_push)
        elif ident == b"RECV":
            _recv(stream, fs.host_path(arg))
        else:
            _fail(stream, f"unknown sync command {ident!r}")
            return


def _list(stream: Stream, path: Path, v2: bool) -> None:
    out = bytearray()
    try:
        names = sorted(os.listdir(path)) if path.is_dir() else []
    except OSError:
        names = []
    for name in [".", ".."] + names:
        try:
            st = (path / name).lstat()
        except OSError:
            continue
        raw = name.encode()
        if v2:
            out += b"DNT2" + struct.pack("<IQQIIIIQqqqI", 0, st.st_dev, st.st_ino, st.st_mode,
                                         st.st_nlink, 0, 0, st.st_size, int(st.st_atime),
                                         int(st.st_mtime), int(st.st_ctime), len(raw)) + raw
        else:
            out += b"DENT" + struct.pack("<IIII", st.st_mode, st.st_size & 0xFFFFFFFF,
                                         int(st.st_mtime), len(raw)) + raw
    out += b"DONE" + (b"\0" * (68 if v2 else 16))
    stream.write(bytes(out))


def _send(stream: Stream, fs: DeviceFS, arg: str, on_push: PushHook) -> None:
    device_path, _, mode_text = arg.rpartition(",")
    if not device_path:
        device_path, mode_text = arg, "33188"
    error = on_push(device_path)
    target = fs.host_path(device_path)
    tmp = target.with_name(f".{target.name}.adbtmp")
    out = None
    if error is None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            out = open(tmp, "wb")
        except OSError as exc:
            error = f"couldn't create file: {exc.strerror}"
    mtime = 0
    try:
        while True:  # read through DONE even when failing, as adbd does
            ident, length = struct.unpack("<4sI", stream.read_exact(8))
            if ident == b"DONE":
                mtime = length
                break
            if ident != b"DATA":
                error = error or f"invalid data message {ident!r}"
                break
            data = stream.read_exact(length)
            if out is not None and error is None:
                out.write(data)
    finally:
        if out is not None:
            out.close()
    if error is not None:
        tmp.unlink(missing_ok=True)
        _fail(stream, error)
        return
    os.replace(tmp, target)
    mode = int(mode_text) if mode_text.isdigit() else 0o644
    os.chmod(target, stat.S_IMODE(mode) or 0o644)
    if mtime:
        os.utime(target, (mtime, mtime))
    stream.write(b"OKAY" + struct.pack("<I", 0))


def _recv(stream: Stream, path: Path) -> None:
    try:
        f = open(path, "rb")
    except OSError as exc:
        _fail(stream, f"open failed: {exc.strerror}")
        return
    with f:
        while chunk := f.read(CHUNK):
            stream.write(b"DATA" + struct.pack("<I", len(chunk)) + chunk)
    stream.write(b"DONE" + struct.pack("<I", 0))

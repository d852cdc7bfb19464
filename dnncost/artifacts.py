"""Files dnncost writes and reads back: one atomic write, one latency CSV.

:func:`write_atomic` writes bytes to a temporary file beside the target, fsyncs it and
renames it into place, so a crash or a full disk leaves the old file or none, never a
half one (the temporary file is removed). ``network,latency_ms`` CSV files (what
``adapt --measurements`` reads, what ``bench --signature`` and ``predict --csv`` write)
go through :func:`write_latency_csv` and :func:`read_latency_csv`.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import statistics
from pathlib import Path
from typing import Any, Iterable

from dnncost.errors import InputError

LATENCY_COLUMNS = ("network", "latency_ms")
_WRITE_ADVICE = {errno.ENOSPC: "free disk space, or pass another output path",
                 errno.EFBIG: "free disk space, or pass another output path",
                 errno.EDQUOT: "free disk space, or pass another output path",
                 errno.EISDIR: "pass a file path, not a directory"}


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file, fsync, rename)."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror or exc}): "
                         f"{_WRITE_ADVICE.get(exc.errno, 'pass another output path')}") from None
    finally:
        if temp.exists():
            temp.unlink()
    return path


def write_json(path: str | Path, value: Any) -> Path:
    """JSON (sorted keys, indented) written atomically."""
    return write_atomic(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def latency_csv(rows: Iterable[tuple[str, float]], decimals: int | None = None) -> str:
    """``network,latency_ms`` text of (name, ms) rows (all digits, or ``decimals``)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(LATENCY_COLUMNS)
    writer.writerows((name, repr(float(ms)) if decimals is None else f"{ms:.{decimals}f}")
                     for name, ms in rows)
    return text.getvalue()


def write_latency_csv(path: str | Path, rows: Iterable[tuple[str, float]],
                      decimals: int | None = None) -> Path:
    """A ``network,latency_ms`` file of (name, ms) rows, written atomically."""
    return write_atomic(path, latency_csv(rows, decimals).encode())


def read_latency_csv(path: str | Path) -> dict[str, float]:
    """A ``network,latency_ms`` CSV as name -> ms: each network's median latency over
    its timed runs (every latency a positive number). Instead of ``latency_ms`` a row
    may give ``runs``, its per-run latencies separated by spaces or ``;``, and the median
    is taken here (means score worse on noisy devices: one slow run moves them)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = [(reader.line_num, row) for row in reader]  # the line each row ends on
            header = [str(name) for name in reader.fieldnames or ()]
    except OSError as exc:
        raise InputError(f"measurements file {path} cannot be read ({exc.strerror}): pass "
                         "a CSV file with columns network,latency_ms") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"measurements file {path} is not a UTF-8 CSV file "
                         f"({type(exc).__name__}): save it as CSV with columns "
                         "network,latency_ms") from None
    if rows and ("network" not in reader.fieldnames or not {"latency_ms", "runs"}
                 & set(reader.fieldnames or ())):
        raise InputError(f"{path}:1: the header is {','.join(header)}; it must name the "
                         "columns network,latency_ms (or network,runs), without spaces")
    measured: dict[str, float] = {}
    for number, row in rows:
        name = str(row.get("network") or "").strip()
        latency = str(row.get("latency_ms") or "").strip()
        runs = str(row.get("runs") or "").replace(";", " ").split()
        if not name or not (latency or runs):
            raise InputError(f"{path}:{number}: need a network name and its latency_ms (or "
                             "runs)")
        try:
            values = [float(latency)] if latency else [float(r) for r in runs]
        except ValueError:
            shown = latency or " ".join(runs)
            raise InputError(f"{path}:{number}: {shown[:40]!r} is not a number of ms: give "
                             "latency_ms (the median of the runs) or runs as numbers") from None
        if not all(math.isfinite(v) and v > 0 for v in values):
            what = "latency_ms" if latency or not runs else "every one of the runs"
            raise InputError(f"{path}:{number}: {what} of {name[:60]} must be a positive "
                             "number")
        value = statistics.median(values)
        if name in measured:
            raise InputError(f"{path}:{number}: {name[:60]} is given twice: keep one row per "
                             "network")
        measured[name] = value
    if not measured:
        raise InputError(f"{path} holds no measurements: add rows network,latency_ms")
    return measured

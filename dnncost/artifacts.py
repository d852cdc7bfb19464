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
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InputError(f"measurements file {path} cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"measurements file {path} is not a UTF-8 CSV file "
                         f"({type(exc).__name__}): save it as CSV with columns "
                         "network,latency_ms") from None
    measured: dict[str, float] = {}
    for number, row in enumerate(rows, start=2):
        try:
            name = row["network"].strip()
            runs = (row.get("runs") or "").replace(";", " ").split()
            value = statistics.median(map(float, runs)) if runs and not \
                (row.get("latency_ms") or "").strip() else float(row["latency_ms"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise InputError(f"{path}:{number}: need columns network,latency_ms (a number: "
                             "the median of the runs) or network,runs") from None
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{path}:{number}: latency_ms of {name[:60]} must be a positive "
                             "number")
        if name in measured:
            raise InputError(f"{path}:{number}: {name[:60]} is given twice: keep one row per "
                             "network")
        measured[name] = value
    if not measured:
        raise InputError(f"{path} holds no measurements: add rows network,latency_ms")
    return measured

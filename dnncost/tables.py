"""Tidy tables out of the store: for `dnncost data export` and for a quick summary."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from dnncost.errors import InputError
from dnncost.store import Store

EXPORT_FORMATS = ("csv", "parquet")


def tidy_tables(store: Store) -> dict[str, list[dict[str, Any]]]:
    """Every table of the store as lists of dicts, names joined in."""
    tables = store.export_tables()
    tables["canaries"] = store.canary_rows()
    for row in tables["measurements"]:
        del row["device_id"]
    return tables


def export_tables(store: Store, out_dir: str | Path, fmt: str = "csv") -> list[Path]:
    """Write each tidy table as ``OUT_DIR/<table>.<fmt>``; returns the paths written."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {out} ({exc.strerror}): pass a writable -o DIR") from None
    written = []
    for name, rows in tidy_tables(store).items():
        path = out / f"{name}.{fmt}"
        columns = list(rows[0]) if rows else []
        if fmt == "csv":
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(rows)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.Table.from_pylist(rows), str(path))
        written.append(path)
    return written


def summary(store: Store) -> dict[str, Any]:
    """Counts per table and measurements per (config hash, ok/failed)."""
    counts = {t: store.count(t) for t in ("networks", "layers", "devices", "measurements")}
    configs = store.config_summary()
    return {"path": str(store.path), **counts, "configs": configs}

"""`dnncost export`: a device model directory to .onnx or C, checked on a store's networks."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from dnncost.errors import InputError
from dnncost.export.onnx_export import ExportResult

FORMATS = ("onnx", "c")


def describe(exportable: Any, info: Mapping[str, Any], device: str | None) -> dict[str, Any]:
    """The model's metadata completed from what adapt recorded in device_model.json:
    device, signature networks with their latencies, training metrics (export never
    opens the training directory)."""
    meta = dict(exportable.metadata)
    meta.update({k: v for k, v in {
        "device": device or meta.get("device") or info.get("device"),
        "signature_latency_ms": info.get("signature_latency_ms")
        or meta.get("signature_latency_ms"),
        "training_metrics": meta.get("training_metrics") or info.get("training_metrics"),
        "fit_score": info.get("fit_score"), "mode": info.get("mode"),
        "feature_ranges": info.get("feature_ranges"),
        "model": info.get("model")}.items() if v})
    return meta


def load_exportable(model_dir: str | os.PathLike[str], device: str | None = None) -> Any:
    """The ExportableModel of a device model directory written by `dnncost adapt`."""
    from dnncost.learn.model_io import load_device_model

    device_model = load_device_model(model_dir)
    exportable = device_model.to_exportable()
    return replace(exportable, metadata=describe(exportable, dict(device_model.info), device))


def store_tables(store_path: str | os.PathLike[str]) -> tuple[list[str], Sequence[Any]]:
    """Names and layer tables of every network with a layer table in the store."""
    from dnncost.store import Store

    if not Path(store_path).is_file():
        raise InputError(f"store {store_path} does not exist: pass --store with the networks "
                         "to check the export on")
    from dnncost.learn.dataset import network_tables

    with Store(store_path, create=False) as store:
        stored = store.networks_with_layers()
        networks = [n for n in store.networks() if n.id in stored or n.spec.get("spec")]
        if not networks:
            raise InputError(f"store {store_path} has no layer tables: import or generate "
                             "networks")
        return [n.name for n in networks], network_tables(store, networks)


def format_of(out_path: str, fmt: str | None) -> str:
    """The output format: given, else .c -> c, anything else -> onnx."""
    if fmt is None:
        fmt = "c" if str(out_path).endswith(".c") else "onnx"
    if fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    return fmt


def export_model(model: Any, out_path: str | os.PathLike[str], fmt: str,
                 tables: Sequence[Any]) -> ExportResult:
    """Write ``model`` as ``fmt`` to ``out_path`` after its parity check on the networks
    of ``tables`` (layer tables)."""
    if fmt == "c":
        from dnncost.export.c_source import export_c

        return export_c(model, out_path, tables)
    from dnncost.export.onnx_export import export_onnx

    return export_onnx(model, out_path, tables)


def export_model_dir(model_dir: str | os.PathLike[str], out_path: str, fmt: str | None,
                     store_path: str | os.PathLike[str],
                     device: str | None = None) -> ExportResult:
    """Export a device model directory, checked on every network of the store."""
    fmt = format_of(out_path, fmt)
    model = load_exportable(model_dir, device)
    _, tables = store_tables(store_path)
    return export_model(model, out_path, fmt, tables)

"""HELP's latency tables (Lee et al., NeurIPS 2021) into the store.

A HELP data directory (``data/nasbench201`` or ``data/fbnet`` of HayeonLee/HELP) holds
``latency/<setting>.pt``: one latency in ms per architecture, in the order of
``str_arch2idx.pt`` (NAS-Bench-201: architecture string -> index) or of
``metainfo.pt["arch"][i]["op_idx_list"]`` (FBNet: 22 block indices). Each setting is a
device (``1080ti_32``: a GTX 1080 Ti at batch 32; the batch goes in the config), each
architecture a network of gen's space (its layer table comes from its spec). The files
are read with ``torch.load(weights_only=True)``: plain numbers, lists and dicts only,
never code. Everything is validated first and written in one transaction.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from dnncost.errors import InputError
from dnncost.importers import ImportSummary
from dnncost.records import Device, Measurement
from dnncost.store import Store

HELP_SOURCE = "help"
HELP_SPACES = ("nasbench201", "fbnet", "fbnet224")
# Device type of a setting, by its hardware name (HELP's settings and the obvious kin).
DEVICE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("gpu", r"(gtx|rtx)?_?\d{3,4}ti|titan.*|v100|a100|p100|t4|k80|jetson.*|.*gpu.*"),
    ("cpu", r"(gold|silver|platinum|bronze)_?\d+[a-z]*|xeon.*|i[3579]_?\d*[a-z]*|raspi\d*"
            r"|ryzen.*|epyc.*|.*cpu.*"),
    ("phone", r"pixel\d*.*|samsung_.*|essential_.*|galaxy.*|.*phone.*"),
)


def setting_device(setting: str) -> Device:
    """The device of a HELP setting name: its hardware, type and batch size (a GPU
    setting ends in ``_<batch>``; every other setting runs batch 1)."""
    device_type, hardware, batch = "other", setting, 1
    for kind, pattern in DEVICE_PATTERNS:
        match = re.fullmatch(rf"({pattern})_(\d+)", setting) if kind == "gpu" else None
        if match:
            device_type, hardware, batch = kind, match.group(1), int(match.group(match.lastindex))
            break
        if re.fullmatch(pattern, setting):
            device_type = kind
            break
    return Device(setting, model=hardware, info={"source": HELP_SOURCE, "device_type":
                                                  device_type, "batch": batch,
                                                  "hardware": hardware})


def _load(path: Path) -> Any:
    """A .pt file of plain data, as Python lists and numbers."""
    import torch

    if not path.is_file():
        raise InputError(f"{path} not found: pass HELP's data directory of the space "
                         "(e.g. HELP/data/nasbench201)")
    try:
        value = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # UnpicklingError for code or objects, others for garbage
        raise InputError(f"{path} is not a file of plain numbers dnncost reads "
                         f"({type(exc).__name__}): use HELP's own files") from None
    return value.tolist() if isinstance(value, torch.Tensor) else value


def _archs(directory: Path, space: str) -> list[str]:
    """The architecture strings of the directory, in HELP's index order."""
    from dnncost.gen.archs import fbnet_arch, nb201_arch, nb201_code

    if space == "nasbench201":
        index_file = directory / "str_arch2idx.pt"
        if not index_file.is_file() and (directory / "metainfo.pt").is_file():
            raise InputError(f"{directory} holds FBNet data (metainfo.pt), not "
                             "NAS-Bench-201: pass --space fbnet")
        table = _load(index_file)
        if not isinstance(table, dict) or sorted(table.values()) != list(range(len(table))):
            raise InputError(f"{index_file} is not a dict of architecture -> index 0..N-1")
        return [nb201_arch(nb201_code(str(arch)))
                for arch, _ in sorted(table.items(), key=lambda item: item[1])]
    meta_file = directory / "metainfo.pt"
    if not meta_file.is_file() and (directory / "str_arch2idx.pt").is_file():
        raise InputError(f"{directory} holds NAS-Bench-201 data (str_arch2idx.pt), not "
                         "FBNet: pass --space nasbench201")
    meta = _load(meta_file)
    try:
        lists = [tuple(int(i) for i in entry["op_idx_list"]) for entry in meta["arch"]]
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{meta_file} has no arch list of op_idx_list entries") from None
    from dnncost.gen.archs import fbnet_indices

    return [fbnet_arch(*fbnet_indices(fbnet_arch(space, indices))) for indices in lists]


def _latencies(path: Path, count: int) -> list[float | None]:
    values = _load(path)
    if not isinstance(values, (list, tuple)) or len(values) != count or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise InputError(f"{path}: expected a list of {count} latencies in ms, one per "
                         "architecture")
    return [float(v) if math.isfinite(v) and v > 0 else None for v in values]


def import_help(store: Store, directory: str | Path, space: str = "nasbench201"
                ) -> ImportSummary:
    """Import one HELP data directory of ``space`` (every ``latency/*.pt`` setting)."""
    from dnncost.gen.spaces import arch_networks

    if space not in HELP_SPACES:
        raise InputError(f"unknown space {space!r} for HELP data: use one of "
                         f"{', '.join(HELP_SPACES)}")
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root} is not a directory: pass HELP's data directory of the "
                         "space (e.g. HELP/data/nasbench201)")
    settings = sorted((root / "latency").glob("*.pt"))
    if not settings:
        raise InputError(f"{root / 'latency'} holds no <setting>.pt files: pass HELP's data "
                         "directory of the space")
    archs = _archs(root, space)
    networks = [network for _, network in arch_networks(space, archs)]
    devices, measurements = [], []
    for path in settings:
        device = setting_device(path.stem)
        devices.append(device)
        config = {"source": HELP_SOURCE, "space": space, "batch": device.info["batch"]}
        for network, ms in zip(networks, _latencies(path, len(archs))):
            if ms is None:
                measurements.append(Measurement(device.id, network.id, config, source=HELP_SOURCE,
                                                error="HELP's table holds no positive latency"))
            else:
                measurements.append(Measurement(device.id, network.id, config, mean_ms=ms,
                                                median_ms=ms, source=HELP_SOURCE,
                                                tool_version="HELP latency table"))
    changed = store.put_all(((n, None) for n in networks), devices, measurements)
    return ImportSummary(len(networks), len(devices), len(measurements), changed)

"""The IISWC 2020 phone population, shipped inside dnncost (``dnncost/data/iiswc2020``).

84 phones x the study's 118 networks, every one of the 30 timed runs kept. The packed
form holds exactly what the dataset's files hold: the runs as integer nanoseconds in a
compressed numpy archive (``runs.npz``, read without pickle; ``repr(ns / 1e6)`` gives
back each value as the text files wrote it), the layer encodings gzipped, and the small
CSV files as they are. NOTICE.md beside them names the source; LICENSE is its license.

:func:`read_population` reads the packed copy or a dataset directory into one record;
:func:`pack_population` writes the packed copy from a directory (tests check that the
shipped files are what packing the published data gives).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from dnncost.errors import InputError

NETWORKS = 118  # rows 118-121 (EfficientNet B0-B3) are dropped, as in the paper
RUNS_FILE, EMBEDDINGS_FILE = "runs.npz", "onnxEmbeddings.csv.gz"
TEXT_FILES = ("Mob_list.csv", "flops.csv", "Properties.csv")


@dataclass(frozen=True)
class Population:
    """The dataset's contents: per device its runs (ms), plus the networks' encodings."""

    source: str  # where it was read from
    embedding_lines: tuple[str, ...]  # onnxEmbeddings.csv, one line per network
    devices: tuple[str, ...]  # device file names without .txt, sorted
    runs_ms: tuple[tuple[tuple[float, ...], ...], ...]  # [device][network] -> runs
    texts: dict[str, str]  # Mob_list.csv, flops.csv, Properties.csv (missing: "")


def embedded_dir() -> Path:
    """Where the packed population lives inside the installed package."""
    return Path(str(resources.files("dnncost") / "data" / "iiswc2020"))


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text: re-fetch the dataset file") from None


def _runs_of(path: Path) -> tuple[tuple[float, ...], ...]:
    rows = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            runs = tuple(float(x) for x in line.strip().split(","))
        except ValueError:
            raise InputError(f"{path}:{number}: not comma-separated latencies in ms") from None
        if not runs or any(not math.isfinite(x) or x <= 0 for x in runs):
            raise InputError(f"{path}:{number}: latencies must be positive numbers")
        rows.append(runs)
    if len(rows) < NETWORKS:
        raise InputError(f"{path}: {len(rows)} rows, expected at least {NETWORKS}")
    return tuple(rows[:NETWORKS])


def read_directory(directory: str | Path) -> Population:
    """The dataset as published (onnxEmbeddings.csv, mobileData/*.txt, the CSV files)."""
    root = Path(directory)
    embeddings, data_dir = root / "onnxEmbeddings.csv", root / "mobileData"
    for needed in (embeddings, data_dir):
        if not needed.exists():
            raise InputError(f"{needed} not found: pass the iiswc2020 dataset directory")
    lines = tuple(_read_text(embeddings).splitlines())
    if len(lines) < NETWORKS:
        raise InputError(f"{embeddings}: {len(lines)} lines, expected {NETWORKS}")
    files = sorted(data_dir.glob("*.txt"))
    if not files:
        raise InputError(f"{data_dir} holds no device files (*.txt)")
    texts = {name: _read_text(root / name) if (root / name).exists() else ""
             for name in TEXT_FILES}
    return Population(str(root), lines[:NETWORKS], tuple(p.stem for p in files),
                      tuple(_runs_of(p) for p in files), texts)


def read_population(directory: str | Path | None = None, runs: bool = True) -> Population:
    """The embedded population (``directory`` None) or a published dataset directory;
    ``runs=False`` reads only the networks' files of the embedded copy."""
    if directory is not None:
        return read_directory(directory)
    root = embedded_dir()
    try:
        runs_ns, names = np.zeros((0, NETWORKS, 30), np.int64), []
        if runs:
            with np.load(root / RUNS_FILE, allow_pickle=False) as archive:
                runs_ns, names = archive["runs_ns"], [str(n) for n in archive["devices"]]
        lines = gzip.decompress((root / EMBEDDINGS_FILE).read_bytes()).decode().splitlines()
        texts = {name: (root / name).read_text() for name in TEXT_FILES}
    except (OSError, KeyError, ValueError) as exc:
        raise InputError(f"the embedded IISWC population in {root} cannot be read ({exc}): "
                         "reinstall dnncost, or pass the dataset DIR") from None
    runs_ms = tuple(tuple(tuple(v / 1e6 for v in network) for network in device)
                    for device in runs_ns.astype(np.int64).tolist())
    return Population("embedded", tuple(lines[:NETWORKS]), tuple(names), runs_ms, texts)


def pack_population(directory: str | Path, out_dir: str | Path) -> Path:
    """Write the packed copy of a published dataset directory into ``out_dir``."""
    population = read_directory(directory)
    runs_ns = np.asarray([[[round(v * 1e6) for v in network] for network in device]
                          for device in population.runs_ms], np.int64)
    if runs_ns.max() >= 1 << 32 or not all(
            repr(ns / 1e6) == repr(v) for ns, v in zip(runs_ns.ravel().tolist(), (
                x for device in population.runs_ms for network in device for x in network))):
        raise InputError(f"{directory}: latencies with more than 6 decimals or over 4 s "
                         "do not pack into nanoseconds")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, runs_ns=runs_ns.astype(np.uint32),
                        devices=np.asarray(population.devices))
    (out / RUNS_FILE).write_bytes(buffer.getvalue())
    text = "\n".join(population.embedding_lines) + "\n"
    (out / EMBEDDINGS_FILE).write_bytes(gzip.compress(text.encode(), 9, mtime=0))
    for name, content in population.texts.items():
        (out / name).write_text(content)
    return out


def hardware_rows(population: Population) -> dict[str, dict[str, str]]:
    """Mob_list.csv rows by device name."""
    text = population.texts.get("Mob_list.csv", "")
    return {row["Device"]: row for row in csv.DictReader(io.StringIO(text)) if "Device" in row}


def reported_mmacs(population: Population) -> list[str]:
    """flops.csv: the MMACs the study reported for each network, as text."""
    return [line.split(",")[0] for line in population.texts.get("flops.csv", "").splitlines()
            if line.strip()]


def write_directory(population: Population, out_dir: str | Path) -> Path:
    """The population in the published layout (what :func:`read_directory` reads)."""
    out = Path(out_dir)
    (out / "mobileData").mkdir(parents=True, exist_ok=True)
    (out / "onnxEmbeddings.csv").write_text("\n".join(population.embedding_lines) + "\n")
    for name, content in population.texts.items():
        (out / name).write_text(content)
    for device, runs in zip(population.devices, population.runs_ms):
        (out / "mobileData" / f"{device}.txt").write_text(
            "".join(",".join(map(repr, network)) + "\n" for network in runs))
    return out

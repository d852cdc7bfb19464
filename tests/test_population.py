"""The IISWC population shipped with dnncost: compact, complete, the published data."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from dnncost.importers import import_iiswc
from dnncost.population import (NETWORKS, embedded_dir, pack_population, read_directory,
                                read_population, write_directory)
from dnncost.store import Store

from conftest import dump, shared_iiswc_path


def test_the_package_data_is_small_licensed_and_named() -> None:
    root = embedded_dir()
    sizes = {p.name: p.stat().st_size for p in root.iterdir()}
    assert sum(sizes.values()) < 1.5e6, sizes
    assert "Apache License" in (root / "LICENSE").read_text()
    notice = (root / "NOTICE.md").read_text()
    assert "Ganesan" in notice and "IISWC 2020" in notice and "0ee1170" in notice


def test_every_run_of_every_network_is_kept() -> None:
    population = read_population()
    assert len(population.devices) == 84 and len(population.embedding_lines) == NETWORKS
    assert {len(runs) for device in population.runs_ms for runs in device} == {30}
    assert all(len(device) == NETWORKS for device in population.runs_ms)
    assert min(v for device in population.runs_ms for runs in device for v in runs) > 0


def test_embedded_and_published_layout_import_the_same_rows(tmp_path: Path) -> None:
    directory = write_directory(read_population(), tmp_path / "iiswc2020")
    assert read_directory(directory) == read_population().__class__(
        str(directory), *list(vars(read_population()).values())[1:])
    stores = {}
    for name, source in (("embedded", None), ("directory", directory)):
        stores[name] = tmp_path / f"{name}.sqlite"
        with Store(stores[name]) as store:
            summary = import_iiswc(store, source)
        assert (summary.networks, summary.devices, summary.measurements) == (118, 84, 9912)

    def without_times(path: Path) -> dict[str, list[tuple]]:
        return {table: [tuple(v for v in row if not (isinstance(v, str) and v[:2] == "20"
                                                       and "T" in v and v.endswith("+00:00")))
                        for row in rows] for table, rows in dump(path).items()}

    assert without_times(stores["embedded"]) == without_times(stores["directory"])


def test_the_shipped_copy_is_what_packing_the_published_data_gives(tmp_path: Path) -> None:
    published = shared_iiswc_path()
    if not (published / "onnxEmbeddings.csv").exists():
        pytest.skip(f"the published IISWC data is not at {published} (set IISWC_DIR)")
    packed = pack_population(published, tmp_path / "packed")
    shipped = embedded_dir()
    with np.load(packed / "runs.npz") as ours, np.load(shipped / "runs.npz") as theirs:
        assert sorted(ours.files) == sorted(theirs.files)
        for name in ours.files:
            assert np.array_equal(ours[name], theirs[name])
    assert gzip.decompress((packed / "onnxEmbeddings.csv.gz").read_bytes()) == gzip.decompress(
        (shipped / "onnxEmbeddings.csv.gz").read_bytes())
    for name in ("Mob_list.csv", "flops.csv", "Properties.csv"):
        assert (packed / name).read_text() == (shipped / name).read_text()
    assert (published / "LICENSE").read_text() == (shipped / "LICENSE").read_text()
    lines = (published / "mobileData" / "GM1901_2.txt").read_text().splitlines()[:NETWORKS]
    population = read_population()
    device = population.runs_ms[population.devices.index("GM1901_2")]
    assert [",".join(map(repr, runs)) for runs in device] == lines

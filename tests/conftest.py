"""Shared fixtures: the IISWC 2020 population shipped with dnncost and stores built from it."""

from __future__ import annotations

pytest_plugins = ["emulator.fixtures"]

import os
import shutil
from pathlib import Path

import pytest

from dnncost.importers import import_iiswc
from dnncost.population import read_population, write_directory
from dnncost.store import Store

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"


def shared_iiswc_path() -> Path:
    """The published IISWC data beside the clone (only the provenance test reads it)."""
    return Path(os.environ.get("IISWC_DIR", REPO.parent / "shared/datasets/iiswc2020"))


@pytest.fixture(scope="session")
def iiswc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded IISWC population written out in the published layout."""
    return write_directory(read_population(), tmp_path_factory.mktemp("iiswc2020"))


@pytest.fixture(scope="session")
def iiswc_store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the whole IISWC dataset imported once per session (read it only)."""
    path = tmp_path_factory.mktemp("iiswc") / "iiswc.sqlite"
    with Store(path) as store:
        import_iiswc(store)  # the copy inside dnncost
    return path


@pytest.fixture()
def iiswc_store_copy(iiswc_store_path: Path, tmp_path: Path) -> Path:
    """A private copy of the IISWC store that a test may change."""
    copy = tmp_path / "store.sqlite"
    with Store(iiswc_store_path) as store:
        store.rows("PRAGMA wal_checkpoint(FULL)")
    shutil.copy(iiswc_store_path, copy)
    return copy


def dump(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, for before/after comparisons."""
    with Store(path) as store:
        tables = [r["name"] for r in store.rows(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: [tuple(r.values()) for r in store.rows(f"SELECT * FROM {t} ORDER BY 1, 2")]
                for t in tables}

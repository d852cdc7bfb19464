"""The model a new phone adapts to: trained on the embedded IISWC population, cached.

``population_model(options)`` trains the collaborative model (``make train``'s defaults
unless told otherwise) on the 84 phones shipped with dnncost the first time it is asked
for, and keeps it, with the store it was trained on, under the user's cache directory
(``~/.cache/dnncost/population/<key>``, the key naming the dnncost version and every
training option). Later calls reuse it. The directory holds data only (learn/state.py).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from dnncost import __version__
from dnncost.paths import cache_dir
from dnncost.records import canonical_json, stable_id
from dnncost.learn.training import TrainOptions

POPULATIONS = ("iiswc",)
MODEL, STORE = "model", "population.sqlite"


@dataclass(frozen=True)
class PopulationModel:
    """A trained population model: its MODEL_DIR and the store of its training data."""

    root: Path
    trained_now: bool

    @property
    def model_dir(self) -> Path:
        return self.root / MODEL

    @property
    def store_path(self) -> Path:
        return self.root / STORE


def population_key(options: TrainOptions, population: str = "iiswc") -> str:
    """The cache entry's name: population, model, signature and a hash of everything."""
    from dnncost.learn.model_io import MODEL_FORMAT

    digest = stable_id("dnncost-population", population, __version__, str(MODEL_FORMAT),
                       canonical_json(asdict(options)))
    return f"{population}-{options.model}-{options.sampling}-k{options.k}-{digest}"


def population_model(options: TrainOptions | None = None, population: str = "iiswc",
                     echo: Callable[[str], None] = lambda line: None) -> PopulationModel:
    """The cached population model for ``options``, trained now if there is none."""
    from dnncost.errors import InputError

    if population not in POPULATIONS:
        raise InputError(f"unknown population {population!r}: use one of "
                         f"{', '.join(POPULATIONS)}")
    options = options or TrainOptions()
    root = cache_dir() / "population" / population_key(options, population)
    if (root / MODEL / "model.json").is_file() and (root / STORE).is_file():
        return PopulationModel(root, False)
    from dnncost.importers import import_iiswc
    from dnncost.learn.workflow import train_to_dir
    from dnncost.store import Store

    echo(f"training the {population} population model once ({options.model}, "
         f"{options.sampling}, k={options.k}); it is kept in {root}")
    building = root.with_name(f"{root.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    try:
        with Store(building / STORE) as store:
            import_iiswc(store)
            store.checkpoint()
            train_to_dir(store, options, building / MODEL)
        try:
            os.replace(building, root)  # atomic: a half-trained model is never found
        except OSError:  # another process finished first: use its model
            if not (root / MODEL / "model.json").is_file():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return PopulationModel(root, True)

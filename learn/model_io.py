"""Model directories on disk: data only, never code.

``train`` writes MODEL_DIR: the fitted estimator in learn/state.py's data-only form
(``estimator.json``, ``arrays.npz``, ``booster_K.json``), ``signature.json``,
``model.json`` (the manifest) and ``report.md`` / ``report.json``.

``adapt`` writes DEVICE_MODEL_DIR: ``device_model.json`` (bias, weights, device vectors,
layer-cost term, feature set, per-network values) plus ``booster_J.json`` files
(XGBoost's JSON format) or ``module.pt`` (a torch state dict). No pickles, so export/
and other languages can read it; :func:`load_device_model` rebuilds the :class:`DeviceModel`.

Both manifests carry ``format_version``. A reader refuses a newer format rather than
ignore what it does not know (an unknown term would silently change every prediction).
Device models of an older format still load; a model directory of an older format (2
and before kept a pickle, which dnncost never loads) asks to be trained again, and either
made with features this dnncost no longer computes (agg-v1, before 0.3.0) asks to be
trained or adapted again. Reading a directory of any age or origin never runs code from
it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from dnncost import __version__
from dnncost.artifacts import write_atomic, write_json
from dnncost.errors import ModelError, shown
from dnncost.learn.device_model import DeviceModel
from dnncost.learn.exportable import (AnchorSmoother, CostSumTerm, ExportableModel, StoredBooster,
                                       TreeTerm)
from dnncost.learn.features import FEATURE_SET
from dnncost.learn.sequence import SEQUENCE_SET

MANIFEST = "model.json"
DEVICE_MANIFEST = "device_model.json"
MODEL_FORMAT = 3  # 3: data only (learn/state.py); 2 pickled the estimator
DEVICE_MODEL_FORMAT = 2  # 2: the optional "cost_sum" term; 1 had no format_version


def _format_of(path: Path, manifest: dict[str, Any], supported: int, what: str) -> int:
    version = manifest.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{path}: format_version {version!r} is not a positive integer: "
                         f"write the {what} again with dnncost")
    if version > supported:
        raise ModelError(f"{path} is a {what} of format {version}, newer than this dnncost "
                         f"{__version__} reads ({supported}): upgrade dnncost")
    return version


def _same_features(path: Path, feature_set: Any, what: str, command: str) -> None:
    """A ModelError when a directory was made with features this dnncost no longer computes
    (a model of agg-v1 features, before 0.3.0, read by a dnncost computing agg-v2)."""
    if feature_set is not None and feature_set != FEATURE_SET \
            and not str(feature_set).startswith(SEQUENCE_SET):
        raise ModelError(f"{path} is a {what} of {str(feature_set)[:40]!r} features; this "
                         f"dnncost {__version__} computes {FEATURE_SET}: {command} it again")


def out_dir(model_dir: str | Path) -> Path:
    """A directory to write a model into (made if missing; a file there is an error)."""
    path = Path(model_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ModelError(f"{shown(path)} is a file, not a directory: pass another -o DIR") \
            from None
    except OSError as exc:
        raise ModelError(f"cannot create {shown(path)} ({exc.strerror}): pass another -o DIR") \
            from None
    return path


def save_model(model_dir: str | Path, trained: Any, manifest: dict[str, Any],
               signature: list[dict[str, str]], report_md: str) -> Path:
    """Write a trained model directory; returns its path."""
    from dnncost.learn.state import dump_state

    path = out_dir(model_dir)
    dump_state(trained, path)
    write_json(path / "signature.json", {"networks": signature})
    write_json(path / "report.json", manifest.get("report", {}))
    write_atomic(path / "report.md", report_md.encode())
    write_json(path / MANIFEST, {**manifest, "dnncost_version": __version__,
                                  "format_version": MODEL_FORMAT})
    return path


def read_manifest(path: Path, name: str, what: str, command: str) -> dict[str, Any]:
    """A directory's JSON manifest as a dict (ModelError naming it if missing or damaged)."""
    if not path.exists():
        raise ModelError(f"{path} does not exist: pass the {what} `{command}` wrote")
    if not (path / name).is_file():
        raise ModelError(f"{path} is not a {what} (no {name}): pass the directory "
                         f"`{command}` wrote")
    try:
        manifest = json.loads((path / name).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{path / name} cannot be read ({type(exc).__name__}): write the "
                         f"{what} again with `{command}`") from None
    if not isinstance(manifest, dict):
        raise ModelError(f"{path / name} is not a JSON object: write the {what} again "
                         f"with `{command}`")
    return manifest


def load_model(model_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """The trained object and manifest of a model directory written by `train`."""
    from dnncost.learn.state import load_state

    path = Path(model_dir)
    manifest = read_manifest(path, MANIFEST, "model directory", "dnncost train -o")
    version = _format_of(path, manifest, MODEL_FORMAT, "model directory")
    if version < MODEL_FORMAT:
        raise ModelError(f"{path} is a model directory of format {version}, older than this "
                         f"dnncost's ({MODEL_FORMAT}): train it again with dnncost train")
    _same_features(path, manifest.get("feature_set"), "model directory", "train")
    from dnncost.learn.training import Trained

    trained = load_state(path)
    if not isinstance(trained, Trained):
        raise ModelError(f"{path} holds a damaged model (not a trained estimator): train it "
                         "again with dnncost train")
    return trained, manifest


def _cost_sum_json(term: CostSumTerm) -> dict[str, Any]:
    smoother = term.smoother
    return {"ms_per_unit": np.asarray(term.ms_per_unit, float).tolist(),
            "weight": term.weight, "columns": list(term.columns), "logged": list(term.logged),
            "smoother": None if smoother is None else {
                "centre": smoother.centre.tolist(), "scale": smoother.scale.tolist(),
                "anchors": smoother.anchors.tolist(), "bandwidth": smoother.bandwidth,
                "values": smoother.values.tolist()}}


def _cost_sum_from_json(cost: dict[str, Any]) -> CostSumTerm:
    smoother = cost.get("smoother")
    return CostSumTerm(
        np.asarray(cost["ms_per_unit"], np.float64), float(cost["weight"]),
        tuple(int(c) for c in cost["columns"]), tuple(bool(v) for v in cost["logged"]),
        None if smoother is None else AnchorSmoother(
            np.asarray(smoother["centre"], np.float64), np.asarray(smoother["scale"], np.float64),
            np.asarray(smoother["anchors"], np.float64).reshape(-1, len(smoother["centre"])),
            float(smoother["bandwidth"]), np.asarray(smoother["values"], np.float64)))


def save_device_model(model_dir: str | Path, model: DeviceModel) -> Path:
    """Write a device model directory readable by :func:`load_device_model`."""
    path = out_dir(model_dir)
    exp = model.exportable
    terms = []
    for j, term in enumerate(exp.trees):
        write_atomic(path / f"booster_{j}.json", bytes(term.booster.save_raw("json")))
        terms.append({"file": f"booster_{j}.json", "weight": term.weight,
                      "device_vector": None if term.device_vector is None
                      else np.asarray(term.device_vector, float).tolist()})
    if exp.module is not None:
        from dnncost.learn.lstm import save_module

        save_module(exp.module, path / "module.pt")
    write_json(path / DEVICE_MANIFEST, {
        "feature_set": exp.feature_set, "feature_names": list(exp.feature_names),
        "bias_log_ms": exp.bias_log_ms, "trees": terms,
        "cost_sum": None if exp.cost_sum is None else _cost_sum_json(exp.cost_sum),
        "module": "module.pt" if exp.module is not None else None,
        "metadata": dict(exp.metadata), "known_log_ms": dict(model.known_log_ms),
        "info": dict(model.info), "dnncost_version": __version__,
        "format_version": DEVICE_MODEL_FORMAT})
    return path


_MEMBER = re.compile(r"(booster_\d+\.json|module\.pt)")


def _member(path: Path, name: Any) -> Path:
    """A file the manifest names, inside the directory (no other path is ever read)."""
    if not isinstance(name, str) or not _MEMBER.fullmatch(name):
        raise ValueError(f"file name {str(name)[:60]!r} is not booster_N.json or module.pt")
    return path / name


def load_device_model(model_dir: str | Path) -> DeviceModel:
    """The device model in a directory written by `adapt` (has ``.to_exportable()``)."""
    path = Path(model_dir)
    spec = read_manifest(path, DEVICE_MANIFEST, "device model directory", "dnncost adapt -o")
    _format_of(path, spec, DEVICE_MODEL_FORMAT, "device model")
    _same_features(path, spec.get("feature_set"), "device model", "adapt")
    try:
        trees = []
        for term in spec["trees"]:
            member = _member(path, term["file"])
            booster = StoredBooster(member.read_bytes(), str(member))
            vector = None if term["device_vector"] is None \
                else np.asarray(term["device_vector"], np.float32)
            trees.append(TreeTerm(booster, float(term["weight"]), vector))
        module = None
        if spec["module"]:
            from dnncost.learn.lstm import load_module

            module = load_module(_member(path, spec["module"]), spec["metadata"])
        cost = spec.get("cost_sum")
        cost_sum = None if cost is None else _cost_sum_from_json(cost)
        exportable = ExportableModel(str(spec["feature_set"]), tuple(spec["feature_names"]),
                                     float(spec["bias_log_ms"]), tuple(trees), module,
                                     cost_sum, dict(spec["metadata"]))
        known = {str(k): float(v) for k, v in dict(spec["known_log_ms"]).items()}
        numbers = [exportable.bias_log_ms, *known.values()] + [
            t.weight for t in trees] + ([] if cost_sum is None else [cost_sum.weight])
        if not all(np.isfinite(numbers)):
            raise ValueError("a bias, weight or known latency is not a finite number")
        return DeviceModel(exportable, known, dict(spec["info"]))
    except Exception as exc:  # KeyError, TypeError, ValueError, xgboost's and torch's errors
        raise ModelError(f"{path} holds a damaged device model ({type(exc).__name__}: "
                         f"{str(exc)[:80]}): adapt it again with dnncost adapt") from None

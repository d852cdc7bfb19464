"""Model directories on disk.

``train`` writes MODEL_DIR: ``estimator.pkl`` (the fitted estimator; a pickle, so load
only model directories you made or trust), ``signature.json``, ``model.json`` (the
manifest) and ``report.md`` / ``report.json``.

``adapt`` writes DEVICE_MODEL_DIR: ``device_model.json`` (bias, weights, device vectors,
layer-cost term, feature set, per-network values) plus ``booster_J.json`` files
(XGBoost's JSON format) or ``module.pt`` (a torch state dict). No pickles, so export/
and other languages can read it; :func:`load_device_model` rebuilds the :class:`DeviceModel`.

Both manifests carry ``format_version``. A reader refuses a newer format rather than
ignore what it does not know (an unknown term would silently change every prediction).
Device models of an older format still load; a model directory of an older format does
not, because its pickled estimator may lack state this version needs: train it again.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from dnncost import __version__
from dnncost.errors import ModelError
from dnncost.learn.device_model import DeviceModel
from dnncost.learn.exportable import AnchorSmoother, CostSumTerm, ExportableModel, TreeTerm

MANIFEST = "model.json"
DEVICE_MANIFEST = "device_model.json"
MODEL_FORMAT = 2  # 2: the first with format_version (lowrank: layer-cost and neighbour state)
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


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n")


def save_model(model_dir: str | Path, trained: Any, manifest: dict[str, Any],
               signature: list[dict[str, str]], report_md: str) -> Path:
    """Write a trained model directory; returns its path."""
    path = Path(model_dir)
    path.mkdir(parents=True, exist_ok=True)
    with (path / "estimator.pkl").open("wb") as handle:
        pickle.dump(trained, handle)
    _write_json(path / "signature.json", {"networks": signature})
    _write_json(path / MANIFEST, {**manifest, "dnncost_version": __version__,
                                  "format_version": MODEL_FORMAT})
    _write_json(path / "report.json", manifest.get("report", {}))
    (path / "report.md").write_text(report_md)
    return path


def load_model(model_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """The trained object and manifest of a model directory written by `train`."""
    path = Path(model_dir)
    if not (path / MANIFEST).exists() or not (path / "estimator.pkl").exists():
        raise ModelError(f"{path} is not a dnncost model directory (no {MANIFEST}): "
                         "pass the directory `dnncost train -o` wrote")
    manifest = json.loads((path / MANIFEST).read_text())
    version = _format_of(path, manifest, MODEL_FORMAT, "model directory")
    if version < MODEL_FORMAT:
        raise ModelError(f"{path} is a model directory of format {version}, older than this "
                         f"dnncost's ({MODEL_FORMAT}): train it again with dnncost train")
    with (path / "estimator.pkl").open("rb") as handle:
        return pickle.load(handle), manifest


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
    path = Path(model_dir)
    path.mkdir(parents=True, exist_ok=True)
    exp = model.exportable
    terms = []
    for j, term in enumerate(exp.trees):
        term.booster.save_model(str(path / f"booster_{j}.json"))
        terms.append({"file": f"booster_{j}.json", "weight": term.weight,
                      "device_vector": None if term.device_vector is None
                      else np.asarray(term.device_vector, float).tolist()})
    if exp.module is not None:
        from dnncost.learn.lstm import save_module

        save_module(exp.module, path / "module.pt")
    _write_json(path / DEVICE_MANIFEST, {
        "feature_set": exp.feature_set, "feature_names": list(exp.feature_names),
        "bias_log_ms": exp.bias_log_ms, "trees": terms,
        "cost_sum": None if exp.cost_sum is None else _cost_sum_json(exp.cost_sum),
        "module": "module.pt" if exp.module is not None else None,
        "metadata": dict(exp.metadata), "known_log_ms": dict(model.known_log_ms),
        "info": dict(model.info), "dnncost_version": __version__,
        "format_version": DEVICE_MODEL_FORMAT})
    return path


def load_device_model(model_dir: str | Path) -> DeviceModel:
    """The device model in a directory written by `adapt` (has ``.to_exportable()``)."""
    path = Path(model_dir)
    if not (path / DEVICE_MANIFEST).exists():
        raise ModelError(f"{path} is not a device model directory (no {DEVICE_MANIFEST}): "
                         "pass the directory `dnncost adapt -o` wrote")
    spec = json.loads((path / DEVICE_MANIFEST).read_text())
    _format_of(path, spec, DEVICE_MODEL_FORMAT, "device model")
    trees = []
    if spec["trees"]:
        import xgboost as xgb

        for term in spec["trees"]:
            booster = xgb.Booster()
            booster.load_model(str(path / term["file"]))
            vector = None if term["device_vector"] is None \
                else np.asarray(term["device_vector"], np.float32)
            trees.append(TreeTerm(booster, float(term["weight"]), vector))
    module = None
    if spec["module"]:
        from dnncost.learn.lstm import load_module

        module = load_module(path / spec["module"], spec["metadata"])
    cost = spec.get("cost_sum")
    cost_sum = None if cost is None else _cost_sum_from_json(cost)
    exportable = ExportableModel(spec["feature_set"], tuple(spec["feature_names"]),
                                 float(spec["bias_log_ms"]), tuple(trees), module,
                                 cost_sum, spec["metadata"])
    return DeviceModel(exportable, spec["known_log_ms"], spec["info"])

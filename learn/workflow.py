"""The user's path, one function per command: train, adapt, predict.

Each reads its inputs, calls the stage functions and writes its outputs; the CLI only
parses options and prints what these return.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from dnncost.artifacts import read_latency_csv
from dnncost.errors import InputError, ModelError
from dnncost.records import Device
from dnncost.store import Store
from dnncost.learn.adaptation import adapt_estimator
from dnncost.learn.dataset import (config_hashes, device_type, load_dataset, network_tables,
                                   other_configs)
from dnncost.learn.features import FEATURE_SET, cost_amounts
from dnncost.learn.pruning import twins
from dnncost.learn.sequence import SEQUENCE_SET
from dnncost.learn.layercost import cost_sum_residuals
from dnncost.learn.ranges import feature_ranges
from dnncost.learn.lowrank import GROSS_RATIO, fit_score, measurement_residuals
from dnncost.learn.model_io import load_device_model, load_model, save_device_model, save_model

if TYPE_CHECKING:  # training and scoring import scipy and sklearn: only `train` needs them
    from dnncost.learn.training import TrainOptions

MAHALANOBIS_WARNING = 3.0
RESIDUAL_WARNING = 3.0  # times the training devices' RMS residual
SUSPECT_RATIO = 1.5  # a measurement this many times off what its others imply is suspect
UNIT_RATIO = 200.0  # a device this many times slower (or faster) than the training ones:
#                      microseconds (1000x) or seconds (0.001x) given as milliseconds?


def train_to_dir(store: Store, options: TrainOptions, out_dir: str | Path,
                 exclude_devices: Sequence[str] = (), config_hash: str | None = None
                 ) -> dict[str, Any]:
    """Train on every device of the store but ``exclude_devices`` and write MODEL_DIR;
    returns the manifest. One measurement protocol: that of ``config_hash``, else the
    most measured one (the others are listed in the manifest's ``other_configs``)."""
    from dnncost.learn.evaluation import metrics
    from dnncost.learn.training import train

    data = load_dataset(store, config_hash)
    unknown = sorted(set(exclude_devices) - set(data.device_ids))
    if unknown:
        raise InputError(f"unknown device(s) {', '.join(unknown)} to exclude: see "
                         "`dnncost data info` for the store's devices")
    if exclude_devices:
        data = data.select([i for i, d in enumerate(data.device_ids)
                            if d not in set(exclude_devices)])
    start = time.perf_counter()
    trained = train(data, options)
    seconds = time.perf_counter() - start
    fit: dict[str, Any] = {}
    if options.mode != "individual":  # in-sample: each training device from its signature
        true, pred, dev = [], [], []
        ignored = {(d, n) for d, n, _ in trained.ignored}  # scored on what it trained on
        for d, device in enumerate(data.devices):
            row = data.latency_ms[d]
            measured = {n: row[i] for i, n in enumerate(data.network_names) if n in
                        trained.signature}
            model, _ = adapt_estimator(trained.estimator, options.model, options.mode,
                                       measured, device)
            ok = np.isfinite(row) & np.asarray([(data.device_ids[d], n) not in ignored
                                                for n in data.network_names])
            true.append(row[ok]), dev.append(np.full(int(ok.sum()), d))
            pred.append(model.predict_ms(data.layers.select(np.flatnonzero(ok)),
                                         [n for n, o in zip(data.network_names, ok) if o]))
        fit = metrics(np.concatenate(true), np.concatenate(pred), np.concatenate(dev))
    name_of = dict(zip(data.network_names, data.network_ids))
    signature = [{"id": name_of[n], "name": n} for n in trained.signature]
    report = {"devices": len(data.device_ids), "networks": len(data.network_ids),
              "config": dict(data.config), "train_seconds": round(seconds, 2),
              "drift_scores_log": trained.drift, "drifting_devices": trained.flagged,
              "drifting_weight": 1.0 if options.keep_drifting else options.drift_weight,
              "ignored_measurements": [{"device": d, "network": n, "latency_ms": ms}
                                       for d, n, ms in trained.ignored],
              "pruning_devices": trained.pruning, "in_sample_fit": fit}
    manifest = {"mode": options.mode, "model": options.model, "sampling": options.sampling,
                "device_types": sorted({device_type(d) for d in data.devices}),
                "k": len(trained.signature),
                "feature_set": SEQUENCE_SET if options.model == "lstm" else FEATURE_SET,
                "options": asdict(options), "training_devices": trained.device_ids,
                "excluded_devices": list(exclude_devices), "signature": signature,
                "config_hashes": config_hashes(store, config_hash), "metrics": fit,
                "report": report,
                "other_configs": other_configs(store, config_hashes(store, config_hash))}
    save_model(out_dir, trained, manifest, signature, _report_md(options, report, signature))
    return manifest


def _report_md(options: TrainOptions, report: dict[str, Any],
               signature: list[dict[str, str]]) -> str:
    lines = [f"# Training report: {options.mode} {options.model}", "",
             f"- data: {report['devices']} devices x {report['networks']} networks, "
             f"config {report['config']}",
             f"- trained in {report['train_seconds']} s",
             f"- signature ({options.sampling}, k={len(signature)}): "
             + ", ".join(s["name"] for s in signature),
             f"- drifting devices (rolling-median residual range > "
             f"{options.drift_threshold_log} log ms): {', '.join(report['drifting_devices']) or 'none'}"
             f" (training weight {report['drifting_weight']})"]
    if report["ignored_measurements"]:
        lines.append(f"- measurements left out of training, more than {GROSS_RATIO:g}x off what "
                     "the other devices predict (the store keeps them): " + ", ".join(
                         f"{m['device']} {m['network']} {m['latency_ms']:.4g} ms"
                         for m in report["ignored_measurements"]))
    if report["pruning_devices"]:
        lines.append("- devices that prune dead compute (their NAS-Bench-201 cells with dead "
                     "edges read as their pruned twins, learn/pruning.py): "
                     + ", ".join(report["pruning_devices"]))
    if report["in_sample_fit"]:
        lines.append("- in-sample fit (training devices from their signature): " + ", ".join(
            f"{k} {v:.4g}" for k, v in report["in_sample_fit"].items()))
    return "\n".join(lines) + "\n"


def adapt_to_dir(model_dir: str | Path, measurements: str | Path | None, out_dir: str | Path,
                 device: Device | None = None) -> dict[str, Any]:
    """Fit MODEL_DIR to a new device from its measurements (a combined-mode model may
    take the device's hardware alone, as `evaluate` scores it); write DEVICE_MODEL_DIR
    and return the fit score and any warning."""
    trained, manifest = load_model(model_dir)
    if measurements is None and manifest["mode"] != "combined":
        raise InputError("give --measurements NEW.csv: the device's latencies of the "
                         "signature networks (signature.json of the model directory)")
    if measurements is None and not (device is not None and (
            device.max_freq_mhz or device.ram_mb or device.cores or device.info.get("cpu"))):
        raise InputError("a combined-mode model needs the device's hardware (--max-freq-mhz, "
                         "--ram-mb, --cores, --cpu) or its --measurements")
    measured = read_latency_csv(measurements) if measurements is not None else {}
    unknown = [n for n in measured if n not in set(trained.network_names)]
    if unknown:
        raise InputError(f"unknown network(s) {', '.join(unknown[:5])} in {measurements}: "
                         "use network names of the training store (e.g. iiswc-017)")
    missing = [n for n in trained.signature if n not in measured]
    if missing:
        raise InputError(f"signature network(s) {', '.join(missing)} missing from "
                         f"{measurements}: measure them on the device and add them")
    if device is not None and device.id in trained.device_ids:
        raise InputError(f"device {device.id} is already in the training data: adapt to a "
                         "new device, or evaluate with `dnncost evaluate`")
    sig = np.asarray([measured[n] for n in trained.signature])
    for device_id, known in trained.signature_ms.items():
        if len(sig) and np.allclose(sig, known, rtol=1e-9, atol=0):
            raise InputError(f"these signature latencies are training device {device_id}'s: "
                             "adapt to a device that is not in the training store")
    model, shift = adapt_estimator(trained.estimator, manifest["model"], manifest["mode"],
                                   measured, device)
    score: dict[str, Any] = {}
    suspect: dict[str, float] = {}
    speed_ratio = 1.0  # median of the device's latencies over the training devices' mean
    if trained.factors is not None and measured:
        where = [trained.network_names.index(n) for n in measured]
        if model.info.get("dead_compute") == "pruned":  # placed as its pruned twins
            where = list(twins(trained.network_names)[where])
        mean_log_ms, log_ms = trained.factors.mean_log_ms[where], np.log(list(measured.values()))
        args = (trained.factors, trained.factors.loadings[where], mean_log_ms, log_ms)
        score = fit_score(*args)
        speed_ratio = float(np.exp(np.median(log_ms - mean_log_ms)))
        residuals = measurement_residuals(*args)
        own_weight = float(model.info.get("own_cost_weight", 0.0))
        if own_weight > 0:  # judged by the placement as adapt mixes it with the own cost sum
            features = trained.estimator.features_[where]
            residuals = (1 - own_weight) * residuals + own_weight * cost_sum_residuals(
                cost_amounts(features), np.exp(log_ms))
        off = {n: float(r) for n, r in zip(measured, residuals)
               if abs(r) > math.log(SUSPECT_RATIO)}
        suspect = {n: float(f"{math.exp(off[n]):.3g}")
                   for n in sorted(off, key=lambda n: -abs(off[n]))}
    warnings = []
    kinds = manifest.get("device_types") or []
    typed = device is not None and any(device.info.get(key) for key in
                                       ("device_type", "kind", "source"))  # else unknown
    if typed and kinds and device_type(device) not in kinds:  # type: ignore[arg-type]
        kind = device_type(device)
        warnings.append(f"this device is {'an' if kind[0] in 'aeiou' else 'a'} {kind} device, "
                        f"the model learned from "
                        f"{' and '.join(k + 's' for k in kinds)} only: its predictions are "
                        "extrapolations, not the accuracy measured on those")
    if not 1 / UNIT_RATIO < speed_ratio < UNIT_RATIO:
        warnings.append(f"the measurements are {speed_ratio:.3g}x the training devices' "
                        "typical latency: are they milliseconds? (latency_ms; a value "
                        "in microseconds is 1000x, in seconds 0.001x)")
    if score and (score["mahalanobis"] > MAHALANOBIS_WARNING or score["rms_residual_log"]
                  > RESIDUAL_WARNING * score["train_rms_residual_log"]):
        warnings.append("this device looks unlike every training device (a little core, a "
                        "throttled phone?): predictions may be off; measure more networks "
                        "and pass them in the measurements file")
    if len(suspect) > len(measured) / 2:
        config = json.dumps(manifest.get("report", {}).get("config", {}), sort_keys=True)
        warnings.append(f"{len(suspect)} of {len(measured)} measurements disagree with what "
                        "the device's others imply: the device was likely measured another "
                        f"way than the training devices ({config}; another delegate, "
                        "precision or thread count?): measure it that way, or train on data "
                        "of its own config")
    elif suspect:
        named = ", ".join(f"{n} measured {ratio:g}x" for n, ratio in list(suspect.items())[:3])
        more = f" (and {len(suspect) - 3} more, in device_model.json)" if len(suspect) > 3 else ""
        warnings.append(f"{named}{more} the latency the device's other measurements imply: "
                        "re-measure (a background task or throttling during the run?)")
    warning = "; ".join(warnings)
    own_cost_weight = float(model.info.get("own_cost_weight", 0.0))  # lowrank and hybrid
    model.info = {**dict(model.info), "fit_score": score, "warning": warning,
                  "suspect_measurements": suspect,
                  "device": device.id if device else Path(out_dir).resolve().name,
                  "signature_latency_ms": {n: measured[n] for n in trained.signature},
                  "calibration_shift_log": shift,
                  "measured_networks": len(measured), "model_dir": str(model_dir),
                  "mode": manifest["mode"], "model": manifest["model"],
                  "training_metrics": manifest.get("metrics") or {},
                  "feature_ranges": feature_ranges(trained.estimator.features_)
                  if model.exportable.feature_set == FEATURE_SET else None}
    save_device_model(out_dir, model)
    return {"fit_score": score, "warning": warning, "suspect_measurements": suspect,
            "measured_networks": len(measured), "own_cost_weight": own_cost_weight,
            "dead_compute": model.info.get("dead_compute")}


def describe_fit(score: dict[str, float], devices: str = "the training devices") -> str:
    """:func:`fit_score` in words."""
    return (f"placement {score['mahalanobis']:.2f} from {devices} (Mahalanobis; above "
            f"{MAHALANOBIS_WARNING:g} is unlike every one of them), residual "
            f"{score['rms_residual_log']:.3f} log ms (theirs: "
            f"{score['train_rms_residual_log']:.3f})")


def predict_rows(device_model_dir: str | Path, store: Store,
                 names: Sequence[str] | None = None) -> list[tuple[str, float]]:
    """Predicted ``(network, latency_ms)`` for networks of the store (all by default; a
    network with no layer table, that the model does not know by name, is left out of
    all and refused by name: there is nothing to predict it from)."""
    model = load_device_model(device_model_dir)
    networks = store.networks(names)
    if not networks:
        raise ModelError(f"store {store.path} holds no networks: import or generate some")
    tables = network_tables(store, networks)
    bare = [i for i, n in enumerate(networks)
            if tables.counts[i] == 0 and n.name not in model.known_log_ms]
    if bare and names is not None:
        raise InputError(f"network(s) {', '.join(networks[i].name for i in bare[:5])} have no "
                         "layer table (imported by name only): import their layers with "
                         "`data import-csv --layers`, or generate them with `dnncost gen`")
    skipped = set(bare)
    keep = [i for i in range(len(networks)) if i not in skipped]
    if not keep:
        raise InputError(f"no network of store {store.path} has a layer table (they were "
                         "imported by name only): import their layers with `data import-csv "
                         "--layers`, or generate networks with `dnncost gen`")
    networks = [networks[i] for i in keep]
    predicted = model.predict_ms(tables.select(keep), [n.name for n in networks])
    return [(n.name, float(ms)) for n, ms in zip(networks, predicted)]



def tflite_predictions(model: str | Path, paths: Sequence[str | Path]
                       ) -> tuple[list[tuple[str, float]], str | None]:
    """Predicted ``(path, latency_ms)`` of .tflite files, from their layer tables, by a
    device model directory or an exported .onnx file; and the warning for files outside
    the training networks' range (None when none is)."""
    from dnncost.gen.tflite_layers import tflite_layer_table
    from dnncost.learn.features import features_matrix
    from dnncost.learn.ranges import range_warning

    tables = [tflite_layer_table(path) for path in paths]
    if str(model).endswith(".onnx"):
        from dnncost.export.runtime import Predictor

        predictor = Predictor.load(model)
        predicted = predictor.predict_layers(tables)
        ranges = predictor.model_metadata.get("feature_ranges")
    else:  # named by path: never a training network's name, so read from the table
        device_model = load_device_model(model)
        predicted = device_model.predict_ms(tables, [f"file:{p}" for p in paths])
        ranges = dict(device_model.info).get("feature_ranges")
    warning = range_warning(features_matrix(tables), ranges) if ranges else None
    return [(str(p), float(ms)) for p, ms in zip(paths, predicted)], warning


def spec_predictor(device_model_dir: str | Path) -> tuple[Callable[[str], float],
                                                         dict[str, Any] | None]:
    """A function from a spec string (see dnncost.gen.spec) to its predicted latency_ms,
    and the training networks' feature ranges (for an out-of-range warning)."""
    from dnncost.gen.archs import pruned_spec
    from dnncost.gen.layers import layer_table
    from dnncost.gen.spec import parse_spec

    model = load_device_model(device_model_dir)
    pruned = dict(model.info).get("dead_compute") == "pruned"

    def predict(text: str) -> float:
        runs = pruned_spec(text) if pruned else text  # the device runs the pruned twin
        return float(model.predict_ms([layer_table(parse_spec(runs))], [text])[0])

    return predict, dict(model.info).get("feature_ranges")

"""The method on a store's own devices: ``make demo-local`` (this host's profiles as
devices, ``dnncost demo --local``) and ``dnncost report`` (any store).

1. data: generate int8 ``mobileopt`` networks and measure them on local profiles, or
   import the IISWC dataset, or take the store as it is;
2. leave-devices-out evaluation of the collaborative model over signature sizes;
3. one held-out device: train without it, adapt from its signature measurements only,
   export ``model.onnx``, predict its other networks with ONNX Runtime;
4. the accuracy table and ``report/index.html``.
Every step reuses what the store already holds, so a second run is quick.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dnncost.artifacts import write_latency_csv
from dnncost.errors import InputError
from dnncost.paths import safe_name
from dnncost.records import Device
from dnncost.store import Store

# Two threads without XNNPACK ("t2") measure erratically on a 2-core host (a 42 and a
# 286 MMAC network took the same time), so the demo leaves that profile out; a one-core
# host cannot run two threads at all.
LOCAL_PROFILES = "t1,t1-xnnpack" + (",t2-xnnpack" if len(os.sched_getaffinity(0)) > 1 else "")
TABLE_COLUMNS = ("within10", "within5", "spearman", "mape")


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs on and how big it is."""

    store_path: str = "data/dnncost.sqlite"
    out_dir: str = "data"
    source: str = "local"  # "local" (gen + bench here), "iiswc" (import), "store" (as is)
    iiswc_dir: str = "../shared/datasets/iiswc2020"
    count: int = 36
    seed: int = 0
    profiles: str = LOCAL_PROFILES
    runs: int = 10
    warmup_runs: int = 3
    # With a handful of host profiles, hybrid + random signatures measured best; the
    # IISWC demo (84 phones) uses lowrank + d_optimal, nearly as accurate and ~8x faster.
    model: str = "hybrid"
    sampling: str = "random"
    k: int = 5
    ks: tuple[int, ...] = (3, 5, 8)
    samplings: tuple[str, ...] = ("random", "mutual_info", "d_optimal")
    folds: int | None = None  # None: leave one device group out
    held_out: str | None = None  # None: the last device
    jobs: int | None = None
    report_dir: str | None = None  # None: OUT_DIR/report


def collect(options: DemoOptions, show_progress: bool = True) -> str:
    """Fill the store (steps 1-2) and return a line saying what it holds."""
    with Store(options.store_path, create=options.source != "store") as store:
        if options.source == "iiswc":
            from dnncost.importers import import_iiswc

            import_iiswc(store, options.iiswc_dir)
        elif options.source == "store":
            pass
        elif options.source == "local":
            from dnncost.gen.pipeline import generate

            generate(store, "mobileopt", options.count, options.seed, ("int8",),
                     Path(options.out_dir) / "models", options.jobs)
        else:
            raise InputError(f"unknown demo source {options.source!r}: use local, iiswc "
                             "or store")
    if options.source == "local":
        from dnncost.bench.driver import bench
        from dnncost.bench.protocol import RunConfig
        from dnncost.bench.sweep import SweepOptions

        report = bench(options.store_path, "local",
                       RunConfig(warmup_runs=options.warmup_runs, runs=options.runs),
                       SweepOptions(seed=options.seed),
                       local_profiles=options.profiles,
                       show_progress=show_progress)
        if report.gone:
            raise InputError("a local profile stopped measuring: see the errors above")
    with Store(options.store_path) as store:
        return (f"{store.count('networks')} networks x {store.count('devices')} devices, "
                f"{store.count('measurements')} measurements in {options.store_path}")


def _rows_of(result: dict[str, Any], label: str) -> dict[str, Any]:
    return {"label": label, **{c: result["metrics"][c] for c in TABLE_COLUMNS}}


def evaluation_grid(data: Any, options: DemoOptions) -> list[dict[str, Any]]:
    """Leave-devices-out results of the collaborative model for each sampling and k."""
    from dnncost.learn.evaluation import evaluate
    from dnncost.learn.training import TrainOptions

    groups = len(set(data.device_groups))
    folds = min(options.folds or groups, groups)
    usable = [k for k in options.ks if k < len(data.network_ids)]
    results = []
    for sampling in options.samplings:
        for k in usable:
            train = TrainOptions("collaborative", options.model, sampling, k, options.seed)
            result = evaluate(data, train, "seen", n_folds=folds, seed=options.seed)
            results.append({**{key: value for key, value in result.items()
                                if key not in ("true_ms", "pred_ms")},
                            "cv": "LOO" if folds == groups else f"{folds}-fold"})
    return results


def held_out_check(options: DemoOptions, device_id: str,
                   group: tuple[str, ...]) -> dict[str, Any]:
    """Train without ``device_id`` and the other devices of its ``group`` (same phone
    model), adapt to it from its signature only, export ONNX, predict its other networks."""
    from dnncost.export.pipeline import export_model_dir
    from dnncost.export.runtime import Predictor
    from dnncost.learn.evaluation import metrics
    from dnncost.learn.training import TrainOptions
    from dnncost.learn.workflow import adapt_to_dir, train_to_dir

    out = Path(options.out_dir)
    model_dir = out / "models" / "collaborative"
    device_dir = out / "models" / safe_name(device_id)
    train = TrainOptions("collaborative", options.model, options.sampling, options.k,
                         options.seed)
    with Store(options.store_path) as store:
        manifest = train_to_dir(store, train, model_dir, exclude_devices=group)
        measured = {m.network_id: m.median_ms for m in store.measurements(device_id)
                    if m.ok and m.config_hash in manifest["config_hashes"]}
        networks = [n for n in store.networks() if n.id in measured]
        device = next((d for d in store.devices() if d.id == device_id), Device(device_id))
        layers = {n.id: store.layers(n.id) for n in networks}
    signature = {s["name"] for s in manifest["signature"]}
    signature_csv = write_latency_csv(out / f"{safe_name(device_id)}.signature.csv",
                                      [(n.name, measured[n.id]) for n in networks
                                       if n.name in signature])
    adapted = adapt_to_dir(model_dir, signature_csv, device_dir, device)
    onnx_path = out / "model.onnx"
    export_model_dir(device_dir, str(onnx_path), "onnx", options.store_path)
    rest = [n for n in networks if n.name not in signature]
    predicted = Predictor.load(onnx_path).predict_layers([layers[n.id] for n in rest])
    true = np.asarray([measured[n.id] for n in rest])
    by_macs = {n.name: n.macs for n in networks}
    return {"device": device_id, "onnx": str(onnx_path), "warning": adapted["warning"],
            "metrics": metrics(true, predicted, np.zeros(len(rest))),
            "predictions": {"true_ms": true.tolist(), "pred_ms": predicted.tolist(),
                            "device": [device_id] * len(rest), "network": [n.name for n in rest],
                            "label": f"{device_id}: adapted from {len(signature)} networks, "
                                     "predicted by model.onnx"},
            "signature": [{"name": s["name"], "macs": by_macs.get(s["name"])}
                          for s in manifest["signature"]]}


def run_demo(options: DemoOptions, echo: Callable[[str], None] = print,
             show_progress: bool = True) -> dict[str, Any]:
    """Steps 1-4; returns the evaluation (also written into the report)."""
    from dnncost.learn.dataset import config_hashes, load_dataset, other_configs
    from dnncost.report import build_report

    echo(f"[1/4] data: {collect(options, show_progress)}")
    out = Path(options.out_dir)
    with Store(options.store_path) as store:
        data = load_dataset(store)
        for other in other_configs(store, config_hashes(store)):  # e.g. a phone of `phone`
            echo(f"  left out: {other['n']} measurements under another config "
                 f"({json.dumps(other['config'], sort_keys=True)[:160]}); devices are "
                 "evaluated beside devices measured the same way")
    if all(d.info.get("kind") == "local" for d in data.devices):
        data = replace(data, device_groups=data.device_ids)  # each profile is a device
    if len(set(data.device_groups)) < 3:
        raise InputError(f"store {options.store_path} has measurements of fewer than 3 "
                         "devices for one config: measure more profiles or phones")
    if options.held_out is not None and options.held_out not in data.device_ids:
        raise InputError(f"unknown held-out device {options.held_out[:100]!r}: use one of "
                         + ", ".join(data.device_ids[:8]))  # before the long evaluation
    echo(f"[2/4] leave-devices-out evaluation over {len(data.device_ids)} devices")
    results = evaluation_grid(data, options)
    device_id = options.held_out or data.device_ids[-1]
    if device_id not in data.device_ids:
        raise InputError(f"unknown held-out device {device_id!r}: use one of "
                         + ", ".join(data.device_ids[:8]))
    echo(f"[3/4] held-out device {device_id}: train without it, adapt from its signature, "
         "export model.onnx, predict the rest")
    group_of = dict(zip(data.device_ids, data.device_groups))
    held = held_out_check(options, device_id, tuple(
        d for d in data.device_ids if group_of[d] == group_of[device_id]))
    table = [_rows_of(r, f"{r['cv']} {r['sampling']} k={r['k']}") for r in results]
    table.append(_rows_of(held, f"held-out {device_id} (ONNX)"))
    echo("[4/4] accuracy (% within 10%, % within 5%, Spearman, MAPE %):")
    echo(format_table(table))
    if held["warning"]:
        echo(f"warning: {held['warning']}")
    evaluation = {"results": results, "predictions": held["predictions"],
                  "signature": held["signature"], "held_out": held["metrics"]}
    with Store(options.store_path) as store:
        page = build_report(store, options.report_dir or out / "report", evaluation)
    echo(f"report: {page}   model: {held['onnx']}")
    return evaluation


def format_table(rows: list[dict[str, Any]]) -> str:
    """A fixed-width text table of the accuracy rows."""
    width = max(len(r["label"]) for r in rows)
    lines = [f"{'':{width}}  within10  within5  spearman   MAPE"]
    lines += [f"{r['label']:{width}}  {r['within10']:7.1f}%  {r['within5']:6.1f}%  "
              f"{r['spearman']:8.3f}  {r['mape']:5.1f}%" for r in rows]
    return "\n".join(lines)


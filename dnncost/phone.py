"""One phone, one command (``make phone DEVICE=SERIAL``, ``dnncost phone SERIAL``).

1. the population model: trained once on the 84 phones shipped with dnncost, cached;
2. its signature networks written as int8 .tflite (``gen --space iiswc``) if missing;
3. measured on the phone with benchmark_model, the paper's protocol (``bench``);
4. the model adapted to the phone from those measurements, written as a device model
   and as ``<phone>.onnx``; the fit score, any warning, and the predicted latency of the
   MobileNets of the study, so one can be checked against a measurement.

``measure_all`` measures the study's other networks too and scores the adapted model
on them: the honest check of what a signature predicts on this phone. Every
measurement is committed as it arrives; a phone that disappears loses nothing and the
same command measures only what is still pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dnncost.artifacts import write_latency_csv
from dnncost.errors import DeviceError
from dnncost.paths import safe_name

MOBILENETS = ("iiswc-100", "iiswc-101", "iiswc-102", "iiswc-103", "iiswc-104",
              "iiswc-115", "iiswc-116", "iiswc-117")


@dataclass(frozen=True)
class PhoneOptions:
    """Which phone, where things go, and the run protocol (the paper's by default)."""

    serial: str
    store_path: str = "data/dnncost.sqlite"
    out_dir: str = "data"
    adb_servers: tuple[str, ...] = ()
    benchmark_binary: str | None = None
    measure_all: bool = False
    warmup_runs: int = 5
    runs: int = 30
    timeout_s: float = 600.0
    jobs: int | None = None
    bench_extra: dict[str, Any] = field(default_factory=dict)  # SweepOptions fields


def _measure(options: PhoneOptions, names: list[str], show_progress: bool
             ) -> tuple[Any, dict[str, float]]:
    """Build ``names`` if missing, measure them on the phone: (its record, medians ms)."""
    from dnncost.bench.driver import bench
    from dnncost.bench.protocol import RunConfig
    from dnncost.bench.sweep import SweepOptions
    from dnncost.gen.pipeline import generate
    from dnncost.store import Store

    with Store(options.store_path) as store:
        generate(store, "iiswc", None, 0, ("int8",), Path(options.out_dir) / "models",
                 options.jobs, names=names)
    run = RunConfig(warmup_runs=options.warmup_runs, runs=options.runs,
                    timeout_s=options.timeout_s)
    report = bench(options.store_path, options.serial, run,
                   SweepOptions(**options.bench_extra), names, list(options.adb_servers),
                   options.benchmark_binary, show_progress=show_progress)
    summary = report.summaries[0]
    if summary.status != "ok":
        todo = "reconnect it" if summary.status.startswith("gone") else "fix that"
        raise DeviceError(f"phone {options.serial} did not finish ({summary.status}): "
                          f"{todo} and run the same command again; the "
                          f"{summary.done} networks measured are kept")
    with Store(options.store_path) as store:
        device = next(d for d in store.devices() if d.id == summary.device_id)
        by_id = {n.id: n.name for n in store.networks(names)}
        medians = {by_id[m.network_id]: float(m.median_ms) for m in store.measurements(
            summary.device_id, summary.config_hash) if m.ok and m.network_id in by_id}
    missing = [n for n in names if n not in medians]
    if missing:
        raise DeviceError(f"{len(missing)} network(s) failed on {summary.device_id} "
                          f"({', '.join(missing[:3])}): see `dnncost data info`, fix the "
                          "cause and run the same command again")
    return device, medians


def run_phone(options: PhoneOptions, echo: Callable[[str], None] = print,
              show_progress: bool = True) -> dict[str, Any]:
    """Steps 1-4 (and the check on every network with ``measure_all``)."""
    from dnncost.bench.signature import read_signature
    from dnncost.export.pipeline import export_model_dir
    from dnncost.export.runtime import Predictor
    from dnncost.learn.evaluation import metrics
    from dnncost.learn.population_model import population_model
    from dnncost.learn.workflow import adapt_to_dir, describe_fit
    from dnncost.store import Store

    population = population_model(echo=echo)
    signature = read_signature(population.model_dir)
    with Store(population.store_path) as store:
        networks = {n.name: n for n in store.networks()}
        layers = {name: store.layers(n.id) for name, n in networks.items()}
    names = list(networks) if options.measure_all else signature
    echo(f"[1/3] measuring {len(names)} networks on {options.serial} "
         f"({'all of the study' if options.measure_all else 'the signature'}; "
         f"int8, 1 thread on the fastest core, {options.runs} runs)")
    device, measured = _measure(options, names, show_progress)
    device_id = device.id
    out = Path(options.out_dir)
    csv_path = write_latency_csv(out / f"{safe_name(device_id)}.signature.csv",
                                 [(n, measured[n]) for n in signature])
    device_dir = out / "models" / safe_name(device_id)
    echo(f"[2/3] adapting the population model to {device_id} from its {len(signature)} "
         f"signature measurements ({csv_path})")
    adapted = adapt_to_dir(population.model_dir, csv_path, device_dir, device)
    onnx_path = out / f"{safe_name(device_id)}.onnx"
    export_model_dir(device_dir, str(onnx_path), "onnx", population.store_path, device_id)
    predictor = Predictor.load(onnx_path)
    echo(f"[3/3] {onnx_path} (device model: {device_dir})")
    score = adapted["fit_score"]
    if score:
        echo(f"fit: {describe_fit(score, 'the 84 phones')}")
    if adapted["warning"]:
        echo(f"warning: {adapted['warning']}")
    rows = [n for n in MOBILENETS if n in networks]
    predicted = dict(zip(rows, predictor.predict_layers([layers[n] for n in rows])))
    echo("predicted latency (int8, 1 thread):")
    for name in rows:
        seen = f"   measured {measured[name]:8.2f} ms" if name in measured else ""
        echo(f"  {name}  {networks[name].spec.get('network', ''):18} "
             f"{predicted[name]:8.2f} ms{seen}")
    result: dict[str, Any] = {"device": device_id, "onnx": str(onnx_path),
                              "device_model": str(device_dir), "fit_score": score,
                              "warning": adapted["warning"], "predicted_ms": predicted,
                              "signature": signature}
    if options.measure_all:
        rest = [n for n in networks if n not in set(signature)]
        true = np.asarray([measured[n] for n in rest])
        pred = predictor.predict_layers([layers[n] for n in rest])
        result["accuracy"] = metrics(true, pred, np.zeros(len(rest)))
        m = result["accuracy"]
        echo(f"measured accuracy on the {len(rest)} networks outside the signature: "
             f"{m['within10']:.1f} % within 10 %, {m['within5']:.1f} % within 5 %, "
             f"MAPE {m['mape']:.1f} %, Spearman {m['spearman']:.3f}")
    return result

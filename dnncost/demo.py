"""The main job on the embedded default (``make demo``): the method on real phones.

1. the 84 phones shipped with dnncost: grouped leave-devices-out accuracy of ``make
   train``'s default and of the most accurate model at k = 5/10/20, beside a MACs
   baseline and the paper's R^2;
2. three named phones held out end to end: the model trained without them, adapted to
   each from its 10 signature measurements, exported as ONNX; their other networks
   predicted through ONNX Runtime and scored;
3. this computer through the real bench path (``dnncost phone local``): the signature
   networks written as .tflite, measured, and the population model adapted to this CPU,
   whose fit score says how unlike a phone it is;
4. the NAS use: freshly generated ``mobileopt`` specs predicted on the three phones;
5. ``report/index.html``.
A second run reuses the store, the files, the cached population model and the
evaluation (``OUT/demo/evaluation.json``, keyed by what it was computed from).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dnncost import __version__
from dnncost.paths import safe_name
from dnncost.records import canonical_json, stable_id

MODELS = (("lowrank", "d_optimal", "`make train`'s default, the most accurate"),
          ("xgb", "mutual_info", "XGBoost alone"))
HELD_OUT = ("Pixel_4_XL_0", "Redmi_Note5_Pro_0", "MotoG3_0")  # flagship, mid-range, low-end


@dataclass(frozen=True)
class MainDemoOptions:
    """Where the demo writes, how it measures this host, what it evaluates."""

    store_path: str = "data/dnncost.sqlite"
    out_dir: str = "data"
    iiswc_dir: str | None = None  # None: the embedded population
    ks: tuple[int, ...] = (5, 10, 20)
    folds: int = 5
    seed: int = 0
    held_out: tuple[str, ...] = HELD_OUT
    host: bool = True  # measure this computer (step 3)
    host_runs: int = 10
    host_warmup_runs: int = 3
    nas_specs: int = 4
    jobs: int | None = None


def _evaluation(data: Any, options: MainDemoOptions, key: str, cache: Path) -> list[dict]:
    """Step 1's rows (cached in ``cache`` under ``key``)."""
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if saved.get("key") == key:
            return saved["rows"]
    from dnncost.learn.evaluation import evaluate, macs_baseline
    from dnncost.learn.training import TrainOptions

    rows = [{"label": "MACs baseline (10 networks)", "k": 10,
             **macs_baseline(data, "seen", options.folds, options.seed)["metrics"]}]
    for model, sampling, what in MODELS:
        for k in options.ks:
            train = TrainOptions("collaborative", model, sampling, k, options.seed)
            result = evaluate(data, train, "seen", options.folds, options.seed)
            rows.append({"label": f"{model} {sampling} k={k}", "what": what, "model": model,
                         "sampling": sampling, "k": k, **result["metrics"]})
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps({"key": key, "rows": rows}, indent=1))
    return rows


def _held_out(options: MainDemoOptions, data: Any, echo: Callable[[str], None]) -> dict:
    """Step 2: train without the named phones' models, adapt, export, predict, score."""
    from dnncost.export.pipeline import export_model_dir
    from dnncost.export.runtime import Predictor
    from dnncost.learn.evaluation import metrics
    from dnncost.learn.training import TrainOptions
    from dnncost.learn.workflow import adapt_to_dir, train_to_dir
    from dnncost.artifacts import write_latency_csv
    from dnncost.store import Store

    out = Path(options.out_dir) / "demo"
    group_of = dict(zip(data.device_ids, data.device_groups))
    phones = [p for p in options.held_out if p in group_of]
    excluded = [d for d in data.device_ids if group_of[d] in {group_of[p] for p in phones}]
    with Store(options.store_path) as store:
        manifest = train_to_dir(store, TrainOptions(seed=options.seed), out / "held-out-model",
                                exclude_devices=excluded)
    signature = [s["name"] for s in manifest["signature"]]
    rest = [n for n in data.network_names if n not in set(signature)]
    columns = data.network_index(rest)
    per_phone: dict[str, dict[str, Any]] = {}
    predictions: dict[str, list[Any]] = {"true_ms": [], "pred_ms": [], "device": [],
                                         "network": []}
    for phone in phones:
        row = data.latency_ms[data.device_ids.index(phone)]
        sig_csv = write_latency_csv(out / f"{safe_name(phone)}.signature.csv",
                                    [(n, row[data.network_names.index(n)]) for n in signature])
        device_dir = out / "models" / safe_name(phone)
        adapt_to_dir(out / "held-out-model", sig_csv, device_dir,
                     data.devices[data.device_ids.index(phone)])
        onnx_path = out / f"{safe_name(phone)}.onnx"
        export_model_dir(device_dir, str(onnx_path), "onnx", options.store_path, phone)
        measured = [(name, row[i]) for name, i in zip(rest, columns) if np.isfinite(row[i])]
        predicted = Predictor.load(onnx_path).predict_layers(
            [data.layers[data.network_names.index(name)] for name, _ in measured])
        true = np.asarray([ms for _, ms in measured])
        per_phone[phone] = {"onnx": str(onnx_path),
                            **metrics(true, predicted, np.zeros(len(true)))}
        predictions["true_ms"] += true.tolist()
        predictions["pred_ms"] += predicted.tolist()
        predictions["device"] += [phone] * len(measured)
        predictions["network"] += [name for name, _ in measured]
    predictions["label"] = (f"{len(phones)} held-out phones, adapted from {len(signature)} "
                            "measurements, predicted by ONNX")
    return {"phones": per_phone, "signature": signature, "excluded": excluded,
            "predictions": predictions}


def format_rows(rows: list[dict[str, Any]], extra: str = "") -> str:
    """A fixed-width accuracy table (R^2, % within 10 / 5 %, Spearman, MAPE)."""
    width = max(len(r["label"]) for r in rows)
    lines = [f"  {'':{width}}     R^2  within10  within5  Spearman   MAPE{extra}"]
    for r in rows:
        lines.append(f"  {r['label']:{width}}  {r['r2']:6.3f}   {r['within10']:6.1f}%  "
                     f"{r['within5']:6.1f}%     {r['spearman']:5.3f}  {r['mape']:5.1f}%"
                     + (f"  {r['what']}" if r.get("what") else ""))
    return "\n".join(lines)


def run_main_demo(options: MainDemoOptions, echo: Callable[[str], None] = print,
                  show_progress: bool = True) -> dict[str, Any]:
    """Steps 1-5; returns what the report shows."""
    from dnncost.importers import import_iiswc
    from dnncost.learn.dataset import load_dataset
    from dnncost.learn.report import PAPER_ROWS
    from dnncost.report import build_report
    from dnncost.store import Store

    out = Path(options.out_dir)
    with Store(options.store_path) as store:
        import_iiswc(store, options.iiswc_dir)
        data = load_dataset(store)
    key = stable_id("demo", __version__, canonical_json({**asdict(options), "store": None}),
                    canonical_json(np.nan_to_num(data.latency_ms).round(6).tolist()))
    echo(f"[1/5] the method on {len(data.device_ids)} phones x {len(data.network_ids)} "
         f"networks of the IISWC 2020 study (shipped with dnncost): {options.folds}-fold "
         "leave-phones-out, phones of one model kept together, seen networks")
    rows = _evaluation(data, options, key, out / "demo" / "evaluation.json")
    paper = ", ".join(f"{r['sampling']} {r['metrics']['r2']}" for r in PAPER_ROWS
                      if r["model"] == "xgb")
    echo(format_rows(rows) + f"\n  the paper (105 phones, 70/30 split, k=10): R^2 {paper}")
    echo(f"[2/5] {len(options.held_out)} phones held out end to end: trained without their "
         "phone models, adapted from 10 signature measurements, predicted by ONNX")
    held = _held_out(options, data, echo)
    echo(format_rows([{"label": phone, **m} for phone, m in held["phones"].items()]))
    host = None
    if options.host:
        host = _host(options, echo, show_progress)
    echo(f"[4/5] NAS: {options.nas_specs} new mobileopt networks predicted on the held-out "
         "phones (ms)")
    echo(_nas_table(options, held))
    evaluation = {"results": [_as_result(r) for r in rows if "model" in r],
                  "predictions": held["predictions"],
                  "signature": [{"name": n} for n in held["signature"]]}
    from dnncost.gen.spaces import iiswc_networks

    example = next(spec.to_string() for _, label, spec in iiswc_networks()
                   if label == "MobileNetV2 1.0")
    with Store(options.store_path) as store:
        page = build_report(store, out / "report", evaluation,
                            {p: m["onnx"] for p, m in held["phones"].items()}, example)
    echo(f"[5/5] report: {page}   phone models: {out / 'demo' / '*.onnx'}")
    return {"rows": rows, "held_out": held, "host": host, "report": str(page)}


def _as_result(row: dict[str, Any]) -> dict[str, Any]:
    metrics = {k: row[k] for k in ("r2", "spearman", "kendall", "mape", "rmspe", "within5",
                                   "within10") if k in row}
    return {"regime": "seen", "mode": "collaborative", "model": row["model"],
            "sampling": row["sampling"], "k": row["k"], "metrics": metrics}


def _host(options: MainDemoOptions, echo: Callable[[str], None],
          show_progress: bool) -> dict[str, Any]:
    """Step 3: ``dnncost phone local``, said plainly."""
    from dnncost.learn.workflow import describe_fit
    from dnncost.phone import PhoneOptions, run_phone

    echo("[3/5] this computer through the real bench path: the signature networks built as "
         ".tflite, measured here, the population model adapted to this CPU")
    result = run_phone(PhoneOptions("local", options.store_path, options.out_dir,
                                    warmup_runs=options.host_warmup_runs,
                                    runs=options.host_runs, jobs=options.jobs),
                       lambda line: None, show_progress)
    score = result["fit_score"]
    echo(f"  {result['device']}: {describe_fit(score, 'the 84 phones')}")
    if result["warning"]:
        echo(f"  warning: {result['warning']}")
    echo("  A desktop CPU is not a phone: the fit score says how far it lies outside the "
         "population, so predictions for it are extrapolations, not the phone accuracy above.")
    return result


def _nas_table(options: MainDemoOptions, held: dict[str, Any]) -> str:
    from dnncost.export.runtime import Predictor
    from dnncost.gen.layers import layer_table, total_macs
    from dnncost.gen.spaces import sample_specs

    specs = sample_specs("mobileopt", options.nas_specs, options.seed + 2026)
    phones = list(held["phones"])
    columns = {p: Predictor.load(held["phones"][p]["onnx"]).predict_specs(
        [s.to_string() for s in specs]) for p in phones}
    lines = ["  spec (first stages)                             MMACs  " + "  ".join(
        f"{p:>17}" for p in phones)]
    for i, spec in enumerate(specs):
        text = " ".join(spec.to_string().split()[:3]) + " ..."
        lines.append(f"  {text[:46]:46} {total_macs(layer_table(spec)) / 1e6:6.0f}  "
                     + "  ".join(f"{columns[p][i]:17.1f}" for p in phones))
    return "\n".join(lines)

"""`dnncost report`: one static HTML page (plots inline as PNG, no server, no CDN).

It shows the devices and what each measured, latency distributions per device, and,
from an evaluation (``dnncost evaluate --json``'s file, or a quick one run here):
predicted vs measured, accuracy vs signature size per sampling method, the signature
networks and the worst predictions.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from dnncost.errors import InputError
from dnncost.store import Store

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid
#eee;text-align:right}th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee}.note{color:#666;font-size:13px}
"""
# Marks the page once every image has decoded, so a headless browser can check it.
_SELF_CHECK = """<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.every(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images', images.length + (ok ? ' ok' : ' broken'));
});
</script>"""


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any, tag: str) -> str:
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        return f"<{tag}>{html.escape(text)}</{tag}>"

    head = "".join(cell(h, "th") for h in header)
    body = "".join("<tr>" + "".join(cell(v, "td") for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def device_rows(store: Store) -> list[list[Any]]:
    """Per device: id, model, SoC, networks measured OK, failed runs, median latency."""
    rows = store.device_summary()
    return [[r["id"], r["model"] or "", r["soc"] or "", r["ok"] or 0, r["failed"] or 0]
            for r in rows]


def _latency_plot(store: Store) -> str:
    import matplotlib.pyplot as plt

    per_device: dict[str, list[float]] = {}
    for r in store.usable_latencies():
        per_device.setdefault(r["device_id"], []).append(r["median_ms"])
    names = sorted(per_device, key=lambda d: float(np.median(per_device[d])))
    figure, axes = plt.subplots(figsize=(11, 0.18 * len(names) + 1.5))
    axes.boxplot([per_device[n] for n in names], orientation="horizontal", showfliers=False)
    axes.set_yticks(range(1, len(names) + 1), names, fontsize=7)
    axes.set_xscale("log")
    axes.set_xlabel("latency per network (ms, median of runs)")
    return _png(figure)


def _scatter(predictions: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    true, pred = np.asarray(predictions["true_ms"]), np.asarray(predictions["pred_ms"])
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.scatter(true, pred, s=4, alpha=0.35)
    low, high = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
    line = np.array([low, high])
    axes.plot(line, line, "k-", lw=1)
    axes.fill_between(line, line * 0.9, line * 1.1, color="green", alpha=0.12, label="+-10%")
    axes.set(xscale="log", yscale="log", xlabel="measured latency (ms)",
             ylabel="predicted latency (ms)", title=predictions.get("label", ""))
    axes.legend()
    return _png(figure)


def _accuracy_vs_k(results: Sequence[dict[str, Any]]) -> str:
    import matplotlib.pyplot as plt

    regimes = [r for r in ("seen", "unseen") if any(x["regime"] == r for x in results)]
    regimes = regimes or ["seen"]
    figure, panels = plt.subplots(1, len(regimes), figsize=(5.5 * len(regimes), 4),
                                  squeeze=False)
    for panel, regime in zip(panels[0], regimes):
        lines: dict[str, list[tuple[int, float]]] = {}
        for r in results:
            if r["regime"] == regime and r["mode"] == "collaborative":
                key = f"{r['model']} / {r['sampling']}"
                lines.setdefault(key, []).append((r["k"], r["metrics"]["within10"]))
        for key, points in sorted(lines.items()):
            ks, values = zip(*sorted(points))
            panel.plot(ks, values, marker="o", label=key)
        panel.set(title=f"{regime} networks", xlabel="signature size k",
                  ylabel="% predictions within 10%")
        panel.grid(alpha=0.3)
        if lines:
            panel.legend(fontsize=8)
    return _png(figure)


def worst_rows(predictions: dict[str, Any], count: int = 15) -> list[list[Any]]:
    """The ``count`` predictions with the largest relative error."""
    true, pred = np.asarray(predictions["true_ms"]), np.asarray(predictions["pred_ms"])
    error = (pred - true) / true
    order = np.argsort(-np.abs(error))[:count]
    devices, networks = predictions["device"], predictions["network"]
    return [[devices[i], networks[i], float(true[i]), float(pred[i]),
             f"{100 * error[i]:+.1f}%"] for i in order]


def web_runtime() -> Path | None:
    """ONNX Runtime Web's files (``make node-deps`` installs them in export/web), or None."""
    import dnncost.export

    dist = Path(dnncost.export.__file__).parent / "web/node_modules/onnxruntime-web/dist"
    return dist if all((dist / name).is_file() for name in WEB_RUNTIME_FILES) else None


WEB_RUNTIME_FILES = ("ort.wasm.min.js", "ort-wasm-simd-threaded.mjs",
                     "ort-wasm-simd-threaded.wasm")


def write_predictor_page(out: Path, phone_models: dict[str, str | Path], example: str
                         ) -> Path | None:
    """``OUT/predict.html``: pick a phone, give a spec or a .tflite, see its predicted
    latency (ONNX Runtime Web runs the phone's exported model); None without the runtime."""
    import json
    import shutil

    import dnncost.export
    from dnncost.paths import safe_name

    runtime = web_runtime()
    if runtime is None or not phone_models:
        return None
    web = Path(dnncost.export.__file__).parent / "web"
    (out / "ort").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(exist_ok=True)
    for name in WEB_RUNTIME_FILES:
        shutil.copyfile(runtime / name, out / "ort" / name)
    entries = []
    for phone, model in phone_models.items():
        file = f"{safe_name(phone)}.onnx"
        shutil.copyfile(model, out / "models" / file)
        entries.append({"phone": phone, "file": file, "example": example})
    (out / "models.json").write_text(json.dumps(entries, indent=1))
    for name in ("predict.html", "dnncost.js"):
        shutil.copyfile(web / name, out / name)
    return out / "predict.html"


def build_report(store: Store, out_dir: str | Path, evaluation: dict[str, Any],
                 phone_models: dict[str, str | Path] | None = None,
                 example_spec: str = "") -> Path:
    """Write ``OUT_DIR/index.html`` from the store and an evaluation; returns its path.

    ``evaluation`` holds ``results`` (rows with regime, mode, model, sampling, k and
    metrics), ``predictions`` (true_ms, pred_ms, device, network, label) and
    ``signature`` (network names with their MACs). With ``phone_models`` (phone ->
    exported .onnx) it also writes predict.html, the in-browser predictor.
    """
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {out} ({exc.strerror}): pass a writable -o DIR") from None
    import matplotlib

    matplotlib.use("Agg")
    devices = device_rows(store)
    if not devices:
        raise InputError(f"store {store.path} has no devices: measure or import first")
    results = evaluation.get("results", [])
    metric_rows = [[r["regime"], r["mode"], r["model"], r["sampling"], r["k"],
                    r["metrics"]["within10"], r["metrics"]["within5"],
                    r["metrics"]["spearman"], r["metrics"]["mape"], r["metrics"]["r2"]]
                   for r in results]
    sections = [
        f"<h1>dnncost report</h1><p class=note>store {html.escape(str(store.path))}: "
        f"{len(devices)} devices, {store.count('networks')} networks, "
        f"{store.count('measurements')} measurements.</p>",
        "<h2>Accuracy</h2>" + _table(
            ["regime", "mode", "model", "sampling", "k", "within 10 %", "within 5 %",
             "Spearman", "MAPE %", "R2"], metric_rows),
        "<h2>Accuracy vs signature size</h2>" + _accuracy_vs_k(results),
    ]
    predictions = evaluation.get("predictions")
    if predictions:
        sections += ["<h2>Predicted vs measured</h2>" + _scatter(predictions),
                     "<h2>Worst predictions</h2>" + _table(
                         ["device", "network", "measured ms", "predicted ms", "error"],
                         worst_rows(predictions))]
    signature = evaluation.get("signature", [])
    sections += [
        "<h2>Signature networks</h2>" + _table(["network", "MMACs"], [
            [s["name"], (s.get("macs") or 0) / 1e6] for s in signature]),
        "<h2>Devices</h2>" + _table(["device", "model", "SoC", "networks measured",
                                     "failed runs"], devices),
        "<h2>Latency distribution per device</h2>" + _latency_plot(store),
    ]
    predictor = write_predictor_page(out, phone_models or {}, example_spec)
    if predictor is not None:
        sections.insert(1, "<p>Predict any network on these phones in the browser: "
                           "<a href=predict.html>predict.html</a> <span class=note>(serve "
                           "this folder over http, e.g. <code>python -m http.server -d "
                           f"{html.escape(str(out))}</code>)</span></p>")
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>dnncost report"
            f"</title><style>{_STYLE}</style></head><body>{''.join(sections)}"
            f"{_SELF_CHECK}</body></html>")
    path = out / "index.html"
    path.write_text(page)
    return path

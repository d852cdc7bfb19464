"""Evaluation grids and their reports: markdown table, JSON and PNG plots."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from dnncost.learn.dataset import LatencyData
from dnncost.learn.evaluation import evaluate, macs_baseline
from dnncost.learn.training import TrainOptions

# The IISWC 2020 paper's own numbers (collaborative XGBoost, seen networks, R^2 in ms).
PAPER_ROWS: tuple[dict[str, Any], ...] = (
    {"regime": "seen", "mode": "paper", "model": "xgb", "sampling": "random", "k": 10,
     "metrics": {"r2": 0.9125}},
    {"regime": "seen", "mode": "paper", "model": "xgb", "sampling": "mutual_info", "k": 10,
     "metrics": {"r2": 0.944}},
    {"regime": "seen", "mode": "paper", "model": "xgb", "sampling": "spearmanCorr", "k": 10,
     "metrics": {"r2": 0.943}},
    {"regime": "seen", "mode": "paper", "model": "hw-spec descriptor", "sampling": "-",
     "k": 0, "metrics": {"r2": 0.13}},
)
COLUMNS = ("r2", "spearman", "spearman_band", "kendall", "mape", "rmspe", "within5",
           "within10")


def grid(base: TrainOptions, modes: Iterable[str], models: Iterable[str],
         samplings: Iterable[str], ks: Iterable[int]) -> list[TrainOptions]:
    """Every configuration to evaluate (combined and individual once, without k)."""
    out = []
    for mode in modes:
        for model in models:
            if mode != "collaborative":
                if model not in ("lowrank", "hybrid"):
                    out.append(replace(base, mode=mode, model=model))
                continue
            out += [replace(base, mode=mode, model=model, sampling=s, k=k)
                    for s in samplings for k in ks]
    return out


def is_iiswc(data: LatencyData) -> bool:
    """Whether the data is the IISWC 2020 study's (the paper's rows belong beside it)."""
    return data.config.get("source") == "iiswc2020"


def run_grid(data: LatencyData, configs: list[TrainOptions], regimes: Iterable[str],
             n_folds: int = 5, seed: int = 0, log: Any = None,
             group_by: str = "model") -> list[dict[str, Any]]:
    """Evaluate each configuration in each regime, plus the MACs-only baseline."""
    results = []
    for regime in regimes:
        results.append(macs_baseline(data, regime, n_folds, seed, group_by))
        for options in configs:
            if options.mode == "individual" and regime == "seen":
                continue  # individual trains on the device's own networks: unseen only
            start = time.perf_counter()
            result = evaluate(data, options, regime, n_folds, seed, group_by)
            result["seconds"] = round(time.perf_counter() - start, 1)
            results.append(result)
            if log:
                log(table_row(result))
    return results


def table_row(result: dict[str, Any]) -> str:
    """The result's row (and, held out by device type, one row per type after it)."""
    def row(regime: str, m: dict[str, Any]) -> str:
        cells = [regime, result["mode"], result["model"], result["sampling"],
                 str(result["k"])] + [_fmt(m.get(c), c) for c in COLUMNS]
        return "| " + " | ".join(cells) + " |"

    if "by_type" not in result:
        return row(result["regime"], result["metrics"])
    return "\n".join([row(f"{result['regime']}, every type held out", result["metrics"])]
                     + [row(f"{result['regime']}, {kind}s held out", m)
                        for kind, m in result["by_type"].items()])


def _fmt(value: float | None, column: str) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if column in ("r2", "spearman", "spearman_band", "kendall") \
        else f"{value:.1f}"


def markdown_table(results: list[dict[str, Any]], with_paper: bool = False) -> str:
    """The results (and, for the IISWC data, the paper's numbers) as one markdown table."""
    head = ("| regime | mode | model | sampling | k | R^2 (ms) | Spearman | Spearman 10-90% | "
            "Kendall | MAPE % | RMSPE % | within 5% | within 10% |")
    rows = [head, "|" + "---|" * 13]
    rows += [table_row(r) for r in results]
    if with_paper:
        rows += [table_row(r) for r in PAPER_ROWS]
    return "\n".join(rows) + "\n"


def write_report(results: list[dict[str, Any]], out_dir: str | Path,
                 with_paper: bool = False) -> list[Path]:
    """Write ``evaluation.md``, ``evaluation.json`` and PNG plots to ``out_dir``."""
    path = Path(out_dir)
    path.mkdir(parents=True, exist_ok=True)
    (path / "evaluation.md").write_text(markdown_table(results, with_paper))
    plain = [{k: v for k, v in r.items() if k not in ("true_ms", "pred_ms")}
             for r in results]
    (path / "evaluation.json").write_text(json.dumps(
        {"results": plain, "paper": list(PAPER_ROWS) if with_paper else []}, indent=2)
        + "\n")
    return [path / "evaluation.md", path / "evaluation.json"] + _plots(results, path)


def _plots(results: list[dict[str, Any]], path: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for regime in sorted({r["regime"] for r in results}):
        rows = [r for r in results if r["regime"] == regime and r["mode"] != "baseline"]
        if not rows:
            continue
        best = max(rows, key=lambda r: r["metrics"]["within10"])
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.loglog(best["true_ms"], best["pred_ms"], ".", ms=2, alpha=0.4)
        lo, hi = float(np.min(best["true_ms"])), float(np.max(best["true_ms"]))
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.set(xlabel="measured latency (ms)", ylabel="predicted latency (ms)",
               title=f"{regime}: {best['mode']} {best['model']} {best['sampling']} "
                     f"k={best['k']}")
        written.append(path / f"pred_vs_measured_{regime}.png")
        fig.savefig(written[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(6, 4))
        for key in sorted({(r["model"], r["sampling"]) for r in rows
                           if r["mode"] == "collaborative"}):
            points = sorted((r["k"], r["metrics"]["within10"]) for r in rows
                            if r["mode"] == "collaborative" and (r["model"], r["sampling"]) == key)
            ax.plot(*zip(*points), "o-", label=f"{key[0]} {key[1]}")
        ax.set(xlabel="signature size k", ylabel="within 10% (%)", title=regime)
        ax.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
        written.append(path / f"accuracy_vs_k_{regime}.png")
        fig.savefig(written[-1], dpi=100, bbox_inches="tight")
        plt.close(fig)
    return written

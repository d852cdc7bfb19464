"""Parse what TFLite's ``benchmark_model`` prints: pure functions over strings.

Formats understood (golden samples in tests/data/benchmark_outputs/):

- classic: ``count=.. first=.. curr=.. min=.. max=.. avg=.. std=..`` (microseconds,
  optional ``p5=.. median=.. p95=..``, values such as ``1.23457e+06``), with or without
  an ``INFO:`` prefix, plus ``Inference timings in us: Init: .., First inference: ..``
  and memory footprint lines;
- older: ``Average inference timings in us: Warmup: .., Init: .., Inference: ..``;
- LiteRT: a ``========== BENCHMARK RESULTS ==========`` block with lines such as
  ``Inference (avg): 12.34 ms (50 runs)`` (milliseconds).

Failures (``ERROR: Benchmarking failed.``, delegate failures, a non-zero exit status,
output with no timings) become a :class:`RunStats` with ``error`` set, never an
exception. When the tool prints no median, ``median_ms`` is its mean (as in the
IISWC 2020 data, which records averages).
"""

from __future__ import annotations

import math
import re

from dnncost.records import RunStats

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PREFIX = re.compile(r"^(?:(?:INFO|WARNING|VERBOSE):\s*)?(?:\[[^\]]*\]\s*)?")
_STAT_FIELD = re.compile(rf"\b(count|first|curr|min|max|avg|std|p5|median|p95)=({_NUMBER})")
_DELEGATE_FAILURE = re.compile(
    r"(failed to (?:apply|create|initialize)\b.*delegate|delegate.*(?:failed|not supported))",
    re.IGNORECASE)


def clean_lines(text: str) -> list[str]:
    """Output lines without ``INFO:`` prefixes or ``[file:line]`` source tags."""
    return [_PREFIX.sub("", line.strip()) for line in text.splitlines()]


def stat_lines(lines: list[str]) -> list[dict[str, float]]:
    """Every ``count=.. avg=..`` statistics line (warm-up, then timed runs), microseconds."""
    stats = []
    for line in lines:
        if not line.startswith("count="):
            continue
        values = {key: float(value) for key, value in _STAT_FIELD.findall(line)}
        if "count" in values and ("avg" in values or "curr" in values):
            stats.append(values)
    return stats


def _timing(lines: list[str], label: str) -> float | None:
    """The number after ``label:`` on a timings line (``Init: 1234,`` ...)."""
    pattern = re.compile(rf"(?:^|[\s,:]){re.escape(label)}:\s*({_NUMBER})")
    for line in lines:
        if "timings in us" in line:
            match = pattern.search(line.split("timings in us:", 1)[1])
            if match:
                return float(match.group(1))
    return None


def _find(lines: list[str], pattern: str) -> float | None:
    regex = re.compile(pattern)
    for line in lines:
        match = regex.search(line)
        if match:
            return float(match.group(1))
    return None


def _us(value: float | None) -> float | None:
    return None if value is None else value / 1000.0


def _peak_memory_mb(lines: list[str]) -> float | None:
    for pattern in (rf"peak memory footprint \(MB\) via periodic monitoring:\s*({_NUMBER})",
                    rf"^Peak memory footprint \(MB\):.*overall=({_NUMBER})",
                    rf"^Memory footprint delta.*overall=({_NUMBER})"):
        value = _find(lines, pattern)
        if value is not None:
            return value
    return None


def _classic(lines: list[str]) -> RunStats | None:
    stats = stat_lines(lines)
    if not stats:
        return None
    timed = stats[-1]
    mean_us = timed.get("avg", timed.get("curr"))
    same = "avg" not in timed  # `count=1 curr=X`: every statistic is that one value
    first_us = _timing(lines, "First inference")
    if first_us is None and len(stats) > 1:
        warmup = stats[0]
        first_us = warmup.get("first", warmup.get("curr") if warmup["count"] == 1 else None)
    init_us = _timing(lines, "Init")
    init_ms = _us(init_us) if init_us is not None else _find(
        lines, rf"^Initialized session in\s*({_NUMBER})\s*ms")
    return RunStats(
        mean_ms=_us(mean_us),
        std_ms=0.0 if same else _us(timed.get("std")),
        min_ms=_us(mean_us if same else timed.get("min")),
        max_ms=_us(mean_us if same else timed.get("max")),
        median_ms=_us(timed.get("median", mean_us)),
        runs=int(timed["count"]),
        init_ms=init_ms,
        first_run_ms=_us(first_us),
        peak_memory_mb=_peak_memory_mb(lines),
    )


def _older(lines: list[str]) -> RunStats | None:
    """``Average inference timings in us: Warmup: .., Init: .., Inference: ..`` alone."""
    inference_us = _timing(lines, "Inference")
    if inference_us is None:
        inference_us = _timing(lines, "no stats")
    if inference_us is None:
        return None
    return RunStats(mean_ms=_us(inference_us), median_ms=_us(inference_us),
                     init_ms=_us(_timing(lines, "Init")),
                     first_run_ms=_us(_timing(lines, "Warmup")))


def _litert(lines: list[str]) -> RunStats | None:
    if not any("BENCHMARK RESULTS" in line for line in lines):
        return None

    def value(label: str) -> float | None:
        return _find(lines, rf"^{re.escape(label)}:\s*({_NUMBER})")

    mean_ms = value("Inference (avg)")
    if mean_ms is None:
        return None
    runs = _find(lines, rf"^Inference \(avg\):.*\(({_NUMBER}) runs?\)")
    median_ms = value("Inference (median)")
    return RunStats(
        mean_ms=mean_ms, std_ms=value("Inference (std)"), min_ms=value("Inference (min)"),
        max_ms=value("Inference (max)"),
        median_ms=mean_ms if median_ms is None else median_ms,
        runs=None if runs is None else int(runs),
        init_ms=value("Model initialization"),
        first_run_ms=value("Warmup (first)") or value("First inference"),
        peak_memory_mb=value("Peak memory") or value("Overall"),
    )


def failure(lines: list[str], exit_code: int | None) -> str | None:
    """The error a run reported (delegate failure, ERROR line, exit status), or None."""
    errors = [line for line in lines if line.startswith("ERROR:")]
    delegate = [line for line in lines if _DELEGATE_FAILURE.search(line)]
    failed = any("Benchmarking failed" in line for line in errors)
    if delegate:
        return "delegate failure: " + delegate[-1].removeprefix("ERROR:").strip()
    if failed or (exit_code not in (0, None)):
        detail = next((e for e in errors if "Benchmarking failed" not in e), None)
        if detail is None and errors:
            detail = errors[0]
        status = f" (exit status {exit_code})" if exit_code not in (0, None) else ""
        if detail:
            return f"benchmark_model failed{status}: {detail.removeprefix('ERROR:').strip()}"
        return f"benchmark_model failed{status}"
    return None


MAX_PLAUSIBLE_MS = 3.6e6  # an hour a run: above it, the numbers are not timings


def impossible(stats: RunStats) -> str | None:
    """Why parsed statistics cannot be a measurement (non-finite or non-positive times,
    min above max, a negative spread, no runs), or None."""
    times = {name: getattr(stats, name) for name in ("mean_ms", "median_ms", "min_ms",
                                                     "max_ms", "first_run_ms")}
    given = {k: v for k, v in times.items() if v is not None}
    if any(not math.isfinite(v) or v <= 0 for v in given.values()):
        return "a time is zero, negative or not a number"
    if any(v > MAX_PLAUSIBLE_MS for v in given.values()):
        return f"a time over {MAX_PLAUSIBLE_MS:g} ms"
    low, high = given.get("min_ms"), given.get("max_ms")
    if low is not None and high is not None and low > high * (1 + 1e-9):
        return "min above max"
    if low is not None and high is not None and any(
            not low * (1 - 1e-9) <= given[k] <= high * (1 + 1e-9)
            for k in ("mean_ms", "median_ms") if k in given):
        return "the mean or median outside [min, max]"
    if stats.std_ms is not None and (not math.isfinite(stats.std_ms) or stats.std_ms < 0):
        return "a negative or non-finite spread"
    if stats.runs is not None and stats.runs < 1:
        return "no timed runs"
    return None


def parse_output(text: str, exit_code: int | None = 0) -> RunStats:
    """Parse one benchmark_model output; failures give a RunStats with ``error`` set, and
    so do timings that cannot be true (the raw output is kept beside the row)."""
    lines = clean_lines(text)
    error = failure(lines, exit_code)
    if error is not None:
        return RunStats(error=error)
    announced = sum(line.startswith("Running benchmark for at least") for line in lines)
    if announced > len(stat_lines(lines)) and not any(
            "BENCHMARK RESULTS" in line for line in lines):
        return RunStats(error="benchmark_model announced timed runs but reported only "
                              f"{len(stat_lines(lines))} of {announced} sections (the "
                              "warm-up?): re-run it")
    for parser in (_litert, _classic, _older):
        parsed = parser(lines)
        if parsed is not None and parsed.median_ms is not None:
            reason = impossible(parsed)
            if reason:
                return RunStats(error=f"impossible timings from benchmark_model ({reason}): "
                                      "re-run it; the raw output is kept")
            return parsed
    return RunStats(error="unrecognized benchmark_model output: no timings found")

"""The benchmark_model output parser against every golden output format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dnncost.bench.parse import parse_output
from dnncost.records import RunStats

GOLDEN = Path(__file__).resolve().parent / "data" / "benchmark_outputs"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())


def test_every_golden_file_has_an_expectation():
    assert sorted(p.name for p in GOLDEN.glob("*.txt")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_golden_output(name: str):
    parsed = parse_output((GOLDEN / name).read_text())
    expected = EXPECTED[name]
    if "error_contains" in expected:
        assert not parsed.ok
        assert expected["error_contains"] in parsed.error
        assert parsed.median_ms is None
        return
    assert parsed.ok, parsed.error
    for key, value in expected.items():
        got = getattr(parsed, key)
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-9), key
        else:
            assert got == value, key


def test_nonzero_exit_is_an_error_even_with_timings():
    text = (GOLDEN / "classic_plain.txt").read_text()
    parsed = parse_output(text, exit_code=139)
    assert parsed.error == "benchmark_model failed (exit status 139)"


def test_empty_and_truncated_output_are_errors_not_crashes():
    assert parse_output("").error.startswith("unrecognized")
    truncated = (GOLDEN / "classic_info.txt").read_text()[:300]
    assert parse_output(truncated).error.startswith("unrecognized")


def test_single_value_stat_line_has_zero_spread():
    parsed = parse_output("count=1 curr=2500\n")
    assert (parsed.mean_ms, parsed.min_ms, parsed.max_ms, parsed.std_ms, parsed.runs) == (
        2.5, 2.5, 2.5, 0.0, 1)


def test_fields_match_measurement_keywords():
    from dnncost.records import Measurement

    Measurement("d", "n", {}, **RunStats(mean_ms=1.0, median_ms=1.0).fields())


_WARMUP = ("INFO: Running benchmark for at least 5 iterations and at least 0.5 seconds.\n"
           "INFO: count=5 first=9000 curr=8700 min=8650 max=9000 avg=8790 std=120\n")
IMPOSSIBLE = {  # tool output -> the error row it must become (never an OK row)
    "count=30 first=1 curr=1 min=1 max=2 avg=-5000 std=1\n": "zero, negative",
    "count=30 first=0 curr=0 min=0 max=0 avg=0 std=0\n": "zero, negative",
    "count=30 first=1e+300 curr=1e+300 min=1e+300 max=1e+300 avg=1e+300 std=0\n": "a time over",
    "count=30 first=900 curr=900 min=950 max=900 avg=920 std=1\n": "min above max",
    "count=30 first=900 curr=900 min=800 max=900 avg=1200 std=1\n": "outside [min, max]",
    "count=30 first=900 curr=900 min=800 max=950 avg=900 std=-3\n": "negative",
    "count=0 first=900 curr=900 min=800 max=950 avg=900 std=3\n": "no timed runs",
    _WARMUP + "INFO: Running benchmark for at least 30 iterations and at least 1 seconds.\n":
        "reported only 1 of 2",
}


@pytest.mark.parametrize("text", sorted(IMPOSSIBLE))
def test_impossible_timings_are_error_rows(text: str):
    parsed = parse_output(text)
    assert not parsed.ok and IMPOSSIBLE[text] in parsed.error, parsed
    assert parsed.median_ms is None

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

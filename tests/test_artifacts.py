"""dnncost/artifacts.py: the network,latency_ms CSV that adapt reads."""

from __future__ import annotations

import pytest

from dnncost.artifacts import read_latency_csv, write_latency_csv
from dnncost.errors import InputError


def test_latencies_or_runs_give_each_network_its_median(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("network,latency_ms,runs\nnet-a,12.5,\nnet-b,,3;1 2\n")
    assert read_latency_csv(path) == {"net-a": 12.5, "net-b": 2.0}
    assert read_latency_csv(write_latency_csv(tmp_path / "w.csv", [("n", 1.25)])) == {"n": 1.25}


@pytest.mark.parametrize("text, message", [
    ("network,latency\nn,1\n", r":1: the header is network,latency; it must name"),
    ("network, latency_ms\nn,1\n", r":1: the header is network, latency_ms; it must name"),
    ("network,latency_ms\nn,abc\n", r":2: 'abc' is not a number of ms"),
    ("network,runs\nn,1 -1 2\n", r":2: every one of the runs of n must be a positive"),
    ("network,latency_ms\nn,0\n", r":2: latency_ms of n must be a positive"),
    ("network,latency_ms\n,3\n", r":2: need a network name"),
    ("network,latency_ms\nn,1\nn,2\n", r":3: n is given twice"),
    ("network,latency_ms\n", r"holds no measurements"),
    ("network,latency_ms\n\nn,1.5\n\nm,abc\n", r":5: 'abc' is not a number"),  # blank lines
    ("network,latency_ms\nn,\n", r":2: need a network name and its latency_ms"),
])
def test_a_bad_measurements_file_names_its_line_and_problem(tmp_path, text, message):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        read_latency_csv(path)


def test_a_missing_file_says_what_to_pass(tmp_path):
    with pytest.raises(InputError, match="cannot be read .*: pass a CSV file"):
        read_latency_csv(tmp_path / "nope.csv")

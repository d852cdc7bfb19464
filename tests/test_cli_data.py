import csv
import subprocess
import sys

import pyarrow.parquet as pq
from click.testing import CliRunner

from dnncost.cli import cli


def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_python_m_and_version():
    result = subprocess.run([sys.executable, "-m", "dnncost", "--version"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "dnncost, version" in result.stdout


def test_every_command_has_help():
    def walk(group, path):
        for name in group.list_commands(None):  # the root loads its commands lazily
            command = group.get_command(None, name)
            result = _run(*path, name, "--help")
            assert result.exit_code == 0, (path, name)
            assert "Example" in result.output or hasattr(command, "commands"), (path, name)
            if hasattr(command, "commands"):
                walk(command, [*path, name])
    walk(cli, [])


def test_import_info_export(iiswc_dir, tmp_path):
    store = str(tmp_path / "s.sqlite")
    result = _run("data", "import-iiswc", str(iiswc_dir), "--store", store)
    assert result.exit_code == 0
    assert "118 networks, 84 devices, 9912 measurements" in result.output
    result = _run("data", "info", "--store", store)
    assert "84 devices x 118 networks, 9912 ok, 0 failed" in result.output
    out = tmp_path / "csv"
    assert _run("data", "export", "--store", store, "-o", str(out)).exit_code == 0
    with open(out / "measurements.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 9912 and {"device", "network", "median_ms", "config"} <= set(rows[0])
    assert _run("data", "export", "--format", "parquet", "--store", store,
                "-o", str(tmp_path / "pq")).exit_code == 0
    table = pq.read_table(tmp_path / "pq" / "layers.parquet")
    assert table.num_rows > 118 and "op_type" in table.column_names


def _one_line_error(result, *words):
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dnncost: error:"), result.output
    for word in words:
        assert word in lines[0]


def test_error_paths(tmp_path):
    store = str(tmp_path / "s.sqlite")
    _one_line_error(_run("data", "import-iiswc", str(tmp_path / "missing"), "--store", store),
                    "missing", "not found")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x00garbage" * 1000)
    _one_line_error(_run("data", "info", "--store", str(garbage)), str(garbage))
    _one_line_error(_run("data", "info", "--store", str(tmp_path / "none.sqlite")),
                    "does not exist")
    _one_line_error(_run("data", "import-csv", str(tmp_path / "nope.csv"), "--store", store),
                    "nope.csv not found")
    bad = tmp_path / "bad.csv"
    bad.write_text("device,network,latency_ms\nd,n,1\nd,n,x\n")
    _one_line_error(_run("data", "import-csv", str(bad), "--store", store), "bad.csv:3")


def test_subprocess_error_exit_status(tmp_path):
    result = subprocess.run([sys.executable, "-m", "dnncost", "data", "import-iiswc",
                             str(tmp_path / "nope"), "--store", str(tmp_path / "s.sqlite")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not found" in result.stderr

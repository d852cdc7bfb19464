import socket

from click.testing import CliRunner

from dnncost.cli import cli


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_doctor_reports_each_problem_with_advice(iiswc_store_path, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    port = _closed_port()
    result = CliRunner().invoke(cli, ["doctor", "--store", str(iiswc_store_path),
                                      "--adb", f"127.0.0.1:{port}"])
    lines = result.output.splitlines()
    assert result.exit_code == 1
    assert any(l.startswith("[ok] python package xgboost") for l in lines)
    assert any(l.startswith(f"[ok] store {iiswc_store_path}: schema version 1, 118 networks")
               for l in lines)
    assert any(l.startswith(f"[!!] adb server 127.0.0.1:{port}: not running: run `adb start") for l in lines)
    assert any("benchmark_model arm64-v8a: not cached" in l and "--benchmark-binary" in l
               for l in lines)
    # Nothing was started on the closed port.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_doctor_on_missing_and_garbage_store(tmp_path):
    garbage = tmp_path / "g.sqlite"
    garbage.write_bytes(b"garbage" * 100)
    result = CliRunner().invoke(cli, ["doctor", "--store", str(garbage),
                                      "--adb", f"127.0.0.1:{_closed_port()}"])
    assert result.exit_code == 1
    assert f"[!!] store {garbage}: store {garbage} is not a readable dnncost store" in \
        result.output
